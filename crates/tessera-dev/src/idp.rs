//! The development OIDC provider: **not for production**. It stands in for the company's
//! identity provider (the seeds use Microsoft Entra ID) so that `tessera dev` shows the whole
//! flow on one machine: OpenID discovery, JWKS, the authorization code flow with PKCE (S256,
//! required), refresh tokens (rotated on every use), a plain sign-in page, and ID tokens shaped
//! like Entra's (`iss` `…/{tenant}/v2.0`, `aud` the client id, `oid`, `tid`, `name`,
//! `preferred_username`), signed ES256.
//!
//! Paths, under the issuer `http://host:port/{tenant}/v2.0`:
//! `/.well-known/openid-configuration`, `/keys`, `/authorize` (GET: the sign-in page; POST: its
//! form), `/token` (`authorization_code`, `refresh_token`).

use crate::state::{DevUser, IdpState};
use crate::web::{self, Req, Resp, esc};
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_crypto::token::TokenSigner;

/// How long an authorization code may wait for its exchange.
const CODE_TTL: Duration = Duration::from_secs(60);
/// ID and access tokens.
const TOKEN_SECS: i64 = 3600;
/// Refresh tokens.
const REFRESH_SECS: i64 = 8 * 3600;

/// An authorization code waiting for its exchange.
#[derive(Debug, Clone)]
struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    username: String,
    scope: String,
    issued: Instant,
}

/// A refresh token's grant (tokens are kept by SHA-256).
#[derive(Debug, Clone)]
struct Refresh {
    client_id: String,
    username: String,
    scope: String,
    expires_at: i64,
}

/// The client id of `tip` at the development provider: a public, native client whose
/// redirect may use any loopback port (RFC 8252, section 7.3).
pub const TIP_CLIENT_ID: &str = "tip";

#[derive(Debug)]
pub struct Idp {
    pub issuer: String,
    /// The demo application's client id.
    pub client_id: String,
    tenant_id: String,
    users: Vec<DevUser>,
    signer: TokenSigner,
    /// Redirect URIs the client may use (the demo's callback).
    redirect_uris: Mutex<Vec<String>>,
    codes: Mutex<HashMap<String, Code>>,
    /// Codes already exchanged: a second exchange is refused.
    spent: Mutex<HashMap<String, Instant>>,
    refresh: Mutex<HashMap<String, Refresh>>,
}

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The PKCE S256 challenge of `verifier`.
pub fn challenge_of(verifier: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn token_error(code: &str, description: &str) -> Resp {
    web::json(
        StatusCode::BAD_REQUEST,
        &json!({"error": code, "error_description": description}),
    )
}

impl Idp {
    /// The provider for `state`, listening at `base` (`http://host:port`).
    pub fn new(state: &IdpState, base: &str) -> anyhow::Result<Idp> {
        use base64::Engine as _;
        let pkcs8 = base64::engine::general_purpose::STANDARD.decode(&state.signing_key)?;
        let signer = TokenSigner::from_pkcs8("dev-idp-1", &pkcs8)
            .map_err(|e| anyhow::anyhow!("the dev IdP's signing key: {e}"))?;
        Ok(Idp {
            issuer: format!("{}/{}/v2.0", base.trim_end_matches('/'), state.tenant_id),
            client_id: state.client_id.clone(),
            tenant_id: state.tenant_id.clone(),
            users: state.users.clone(),
            signer,
            redirect_uris: Mutex::new(Vec::new()),
            codes: Mutex::new(HashMap::new()),
            spent: Mutex::new(HashMap::new()),
            refresh: Mutex::new(HashMap::new()),
        })
    }

    /// A new provider's lasting state: tenant, client id, signing key, users.
    pub fn new_state(port: u16) -> IdpState {
        use base64::Engine as _;
        let signer = TokenSigner::generate("dev-idp-1");
        IdpState {
            port,
            tenant_id: uuid::Uuid::new_v4().to_string(),
            client_id: uuid::Uuid::new_v4().to_string(),
            signing_key: base64::engine::general_purpose::STANDARD.encode(signer.pkcs8()),
            users: crate::state::seeded_users(),
        }
    }

    /// Is `uri` a loopback redirect a native client may use: `http://127.0.0.1:PORT/callback`
    /// or `http://localhost:PORT/callback`, any port?
    fn loopback_redirect(uri: &str) -> bool {
        let rest = uri
            .strip_prefix("http://127.0.0.1:")
            .or_else(|| uri.strip_prefix("http://localhost:"));
        rest.and_then(|r| r.strip_suffix("/callback"))
            .is_some_and(|port| port.parse::<u16>().is_ok_and(|p| p > 0))
    }

    /// Let the client redirect to `uri` (the demo registers its callback).
    pub fn allow_redirect(&self, uri: &str) {
        let mut r = self.redirect_uris.lock().expect("redirect uris");
        if !r.iter().any(|u| u == uri) {
            r.push(uri.to_owned());
        }
    }

    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.issuer)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    fn path<'a>(&self, full: &'a str) -> Option<&'a str> {
        let base = format!("/{}/v2.0", self.tenant_id);
        full.strip_prefix(&base)
    }

    pub async fn handle(self: Arc<Self>, r: Req) -> Resp {
        let Some(sub) = self.path(&r.path) else {
            return web::html(
                StatusCode::NOT_FOUND,
                page("Not found", "<p>There is nothing here.</p>"),
            );
        };
        match (r.method.as_str(), sub) {
            ("GET", "/.well-known/openid-configuration") => {
                web::json(StatusCode::OK, &self.discovery())
            }
            ("GET", "/keys") => web::json(StatusCode::OK, &json!({"keys": [self.signer.jwk()]})),
            ("GET", "/authorize") => self.authorize_page(&r),
            ("POST", "/authorize") => self.sign_in(&r),
            ("POST", "/token") => self.token(&r),
            _ => web::html(
                StatusCode::NOT_FOUND,
                page("Not found", "<p>There is nothing here.</p>"),
            ),
        }
    }

    fn discovery(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.authorize_url(),
            "token_endpoint": self.token_url(),
            "jwks_uri": format!("{}/keys", self.issuer),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "name", "preferred_username", "email", "nonce"],
        })
    }

    /// The parameters of an authorization request that must be right before anyone is shown a
    /// sign-in page (a wrong client or redirect is never redirected to).
    fn check_request(&self, p: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        let client = p("client_id").unwrap_or_default();
        let redirect = p("redirect_uri").unwrap_or_default();
        let registered = if client == self.client_id {
            self.redirect_uris
                .lock()
                .expect("redirect uris")
                .contains(&redirect)
        } else if client == TIP_CLIENT_ID {
            Self::loopback_redirect(&redirect)
        } else {
            return Err("unknown client_id".into());
        };
        if !registered {
            return Err("redirect_uri is not registered for this client".into());
        }
        if p("response_type").as_deref() != Some("code") {
            return Err("response_type must be code".into());
        }
        let challenge = p("code_challenge").unwrap_or_default();
        if p("code_challenge_method").as_deref() != Some("S256")
            || challenge.len() != 43
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("PKCE is required: code_challenge_method=S256 and a code_challenge".into());
        }
        if p("state").is_none_or(|s| s.is_empty() || s.len() > 512) {
            return Err("state is required".into());
        }
        Ok(())
    }

    fn authorize_page(&self, r: &Req) -> Resp {
        let p = |k: &str| r.q(k).map(str::to_owned);
        if let Err(why) = self.check_request(&p) {
            return web::html(
                StatusCode::BAD_REQUEST,
                page("Sign-in request refused", &format!("<p>{}</p>", esc(&why))),
            );
        }
        web::html(StatusCode::OK, self.sign_in_form(&p, None))
    }

    fn sign_in_form(&self, p: &dyn Fn(&str) -> Option<String>, error: Option<&str>) -> String {
        let hidden: String = [
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        ]
        .iter()
        .filter_map(|k| {
            p(k).map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(&v)))
        })
        .collect();
        let err = error
            .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
            .unwrap_or_default();
        let users: String = self
            .users
            .iter()
            .map(|u| {
                format!(
                    "<li><code>{}</code> ({})</li>",
                    esc(&u.username),
                    esc(&u.display_name())
                )
            })
            .collect();
        let body = format!(
            r#"<p class="warn"><strong>Development identity provider.</strong> Not for production: it exists so that <code>tessera dev</code> can show the whole flow on one machine.</p>
{err}
<form method="post" action="authorize">
{hidden}
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<section aria-labelledby="who"><h2 id="who">Users of this directory</h2><ul>{users}</ul>
<p>Their passwords are in the <code>tessera dev</code> banner and its manifest.</p></section>"#
        );
        page("Sign in — Example Corp (development)", &body)
    }

    fn sign_in(&self, r: &Req) -> Resp {
        let p = |k: &str| r.f(k).map(str::to_owned);
        if let Err(why) = self.check_request(&p) {
            return web::html(
                StatusCode::BAD_REQUEST,
                page("Sign-in request refused", &format!("<p>{}</p>", esc(&why))),
            );
        }
        let username = r.f("username").unwrap_or("").trim().to_ascii_lowercase();
        let password = r.f("password").unwrap_or("");
        let user = self.users.iter().find(|u| {
            (u.username == username || u.email == username)
                && subtle::ConstantTimeEq::ct_eq(u.password.as_bytes(), password.as_bytes()).into()
        });
        let Some(user) = user else {
            return web::html(
                StatusCode::UNAUTHORIZED,
                self.sign_in_form(
                    &p,
                    Some("That user name and password do not match. Try again."),
                ),
            );
        };
        let code = web::random_token();
        self.codes.lock().expect("codes").insert(
            code.clone(),
            Code {
                client_id: p("client_id").unwrap_or_default(),
                redirect_uri: p("redirect_uri").unwrap_or_default(),
                challenge: p("code_challenge").unwrap_or_default(),
                nonce: p("nonce"),
                username: user.username.clone(),
                scope: p("scope").unwrap_or_else(|| "openid".into()),
                issued: Instant::now(),
            },
        );
        let redirect = p("redirect_uri").unwrap_or_default();
        let sep = if redirect.contains('?') { '&' } else { '?' };
        web::redirect(&format!(
            "{redirect}{sep}code={}&state={}",
            web::enc(&code),
            web::enc(&p("state").unwrap_or_default())
        ))
    }

    fn token(&self, r: &Req) -> Resp {
        let client = r.f("client_id").unwrap_or("");
        if client != self.client_id && client != TIP_CLIENT_ID {
            return token_error("invalid_client", "unknown client_id");
        }
        match r.f("grant_type") {
            Some("authorization_code") => self.exchange_code(r),
            Some("refresh_token") => self.exchange_refresh(r),
            _ => token_error(
                "unsupported_grant_type",
                "authorization_code or refresh_token",
            ),
        }
    }

    fn exchange_code(&self, r: &Req) -> Resp {
        let code = r.f("code").unwrap_or("");
        // A code is used once: the second exchange is refused, and the first one's refresh
        // tokens are not affected (they were issued to the client that got the code).
        let Some(c) = self.codes.lock().expect("codes").remove(code) else {
            let reused = self.spent.lock().expect("spent").contains_key(code);
            return token_error(
                "invalid_grant",
                if reused {
                    "the authorization code has already been used"
                } else {
                    "unknown authorization code"
                },
            );
        };
        {
            let mut spent = self.spent.lock().expect("spent");
            spent.retain(|_, t| t.elapsed() < Duration::from_secs(600));
            spent.insert(code.to_owned(), Instant::now());
        }
        if c.issued.elapsed() > CODE_TTL {
            return token_error("invalid_grant", "the authorization code has expired");
        }
        if r.f("client_id") != Some(c.client_id.as_str()) {
            return token_error(
                "invalid_grant",
                "the authorization code was issued to another client",
            );
        }
        if r.f("redirect_uri") != Some(c.redirect_uri.as_str()) {
            return token_error(
                "invalid_grant",
                "redirect_uri does not match the authorization request",
            );
        }
        let verifier = r.f("code_verifier").unwrap_or("");
        let ok = verifier.len() >= 43
            && verifier.len() <= 128
            && subtle::ConstantTimeEq::ct_eq(
                challenge_of(verifier).as_bytes(),
                c.challenge.as_bytes(),
            )
            .into();
        if !ok {
            return token_error(
                "invalid_grant",
                "the code_verifier does not match the code_challenge",
            );
        }
        self.tokens(&c.client_id, &c.username, &c.scope, c.nonce.as_deref())
    }

    fn exchange_refresh(&self, r: &Req) -> Resp {
        let token = r.f("refresh_token").unwrap_or("");
        let now = chrono::Utc::now().timestamp();
        let Some(g) = self.refresh.lock().expect("refresh").remove(&digest(token)) else {
            return token_error("invalid_grant", "unknown or used refresh token");
        };
        if g.expires_at < now {
            return token_error("invalid_grant", "the refresh token has expired");
        }
        if r.f("client_id") != Some(g.client_id.as_str()) {
            return token_error(
                "invalid_grant",
                "the refresh token was issued to another client",
            );
        }
        self.tokens(&g.client_id, &g.username, &g.scope, None)
    }

    /// The ID token of `user` for `client`, as Entra shapes them (the fields seed 000 decodes;
    /// `sub` is pairwise: it differs per client, `oid` does not).
    pub fn id_token(&self, client: &str, user: &DevUser, nonce: Option<&str>) -> String {
        let now = chrono::Utc::now().timestamp();
        let mut claims = json!({
            "iss": self.issuer,
            "aud": client,
            "sub": digest(&format!("{client}:{}", user.oid))[..43].to_owned(),
            "oid": user.oid,
            "tid": self.tenant_id,
            "name": user.display_name(),
            "preferred_username": user.email,
            "email": user.email,
            "ver": "2.0",
            "iat": now,
            "nbf": now,
            "auth_time": now,
            "exp": now + TOKEN_SECS,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        self.signer.sign(&claims)
    }

    fn tokens(&self, client: &str, username: &str, scope: &str, nonce: Option<&str>) -> Resp {
        let Some(user) = self.users.iter().find(|u| u.username == username) else {
            return token_error("invalid_grant", "the user no longer exists");
        };
        let id_token = self.id_token(client, user, nonce);
        let refresh = web::random_token();
        self.refresh.lock().expect("refresh").insert(
            digest(&refresh),
            Refresh {
                client_id: client.to_owned(),
                username: username.to_owned(),
                scope: scope.to_owned(),
                expires_at: chrono::Utc::now().timestamp() + REFRESH_SECS,
            },
        );
        web::json(
            StatusCode::OK,
            &json!({
                "token_type": "Bearer",
                "scope": scope,
                "expires_in": TOKEN_SECS,
                "access_token": id_token,
                "id_token": id_token,
                "refresh_token": refresh,
            }),
        )
    }
}

/// A page of the provider, styled apart from the demo so nobody confuses the two.
fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: #f3f4f6; color: #1f2937; margin: 0; }}
main {{ max-width: 26rem; margin: 3rem auto; background: #fff; padding: 1.5rem 1.75rem; border-radius: .75rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
h1 {{ font-size: 1.35rem; margin-top: 0; }} h2 {{ font-size: 1rem; }}
label {{ display: block; margin-top: .9rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .55rem .6rem; margin-top: .3rem; border: 1px solid #6b7280; border-radius: .4rem; font-size: 1rem; }}
button {{ margin-top: 1.2rem; width: 100%; padding: .65rem; font-size: 1rem; font-weight: 600; color: #fff; background: #1d4ed8; border: 0; border-radius: .4rem; cursor: pointer; }}
button:focus-visible, input:focus-visible {{ outline: 3px solid #f59e0b; outline-offset: 2px; }}
.warn {{ background: #fef3c7; border: 1px solid #b45309; padding: .6rem .75rem; border-radius: .4rem; font-size: .92rem; }}
.error {{ background: #fee2e2; border: 1px solid #b91c1c; color: #7f1d1d; padding: .6rem .75rem; border-radius: .4rem; }}
code {{ font-size: .92em; }}
</style></head>
<body><main><h1>{t}</h1>
{body}
</main></body></html>"#,
        t = esc(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_cli_client_may_use_any_loopback_port() {
        assert!(Idp::loopback_redirect("http://127.0.0.1:8090/callback"));
        assert!(Idp::loopback_redirect("http://localhost:51234/callback"));
        assert!(!Idp::loopback_redirect("http://127.0.0.1:0/callback"));
        assert!(!Idp::loopback_redirect("http://127.0.0.1:8090/other"));
        assert!(!Idp::loopback_redirect("http://evil.example:8090/callback"));
        assert!(!Idp::loopback_redirect(
            "http://127.0.0.1:8090/callback?x=1"
        ));
        assert!(!Idp::loopback_redirect("https://127.0.0.1:8090/callback"));
    }
}
