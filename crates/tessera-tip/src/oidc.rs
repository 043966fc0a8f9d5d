//! Signing in at the identity provider: OpenID discovery, the authorization code flow with
//! PKCE (S256) for a native client (RFC 8252: a loopback redirect on 127.0.0.1), `state` and
//! `nonce` checked, the ID token verified (signature from the provider's JWKS, issuer,
//! audience, expiry, nonce), refresh tokens.

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The parts of the discovery document tip uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

/// An HTTP client for the identity provider: timeouts, no redirects followed, rustls.
pub fn http() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tip/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot make an HTTP client")
}

/// Fetch and check the discovery document: its `issuer` must be exactly the configured one.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery> {
    crate::config::check_url("the issuer", issuer)?;
    let url = tessera_oidc::discovery_url(issuer);
    let resp = http.get(&url).send().await.map_err(|e| {
        anyhow!(
            "the identity provider at {issuer} is not reachable: {}",
            plain(&e)
        )
    })?;
    let status = resp.status();
    if !status.is_success() {
        bail!("the identity provider's discovery document {url} answered HTTP {status}");
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| anyhow!("reading {url} failed: {}", plain(&e)))?;
    let d: Discovery = serde_json::from_slice(&body)
        .map_err(|e| anyhow!("{url} is not an OpenID discovery document: {e}"))?;
    if d.issuer != issuer {
        bail!(
            "the identity provider says its issuer is {:?}, not {issuer:?} as configured: fix the issuer URL (it must match exactly, trailing slash included)",
            d.issuer
        );
    }
    for (what, u) in [
        ("authorization_endpoint", &d.authorization_endpoint),
        ("token_endpoint", &d.token_endpoint),
    ] {
        crate::config::check_url(what, u.split('?').next().unwrap_or(u))
            .with_context(|| format!("in {url}"))?;
    }
    if let Some(m) = &d.code_challenge_methods_supported
        && !m.iter().any(|x| x == "S256")
    {
        bail!("the identity provider does not offer PKCE with S256, which tip requires");
    }
    Ok(d)
}

/// A reqwest error without the URL's query (which could carry a code or token).
fn plain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        let mut u = u.clone();
        u.set_query(None);
        s = s.replace(e.url().map(|x| x.as_str()).unwrap_or(""), u.as_str());
    }
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        s.push_str(": ");
        s.push_str(&c.to_string());
        source = c.source();
    }
    s
}

fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::Rng::fill(&mut rand::rng(), &mut b[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The PKCE S256 challenge of `verifier` (RFC 7636).
pub fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// One authorization request's secrets.
#[derive(Debug)]
pub struct AuthRequest {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub redirect_uri: String,
}

pub fn authorization_request(
    d: &Discovery,
    client_id: &str,
    scopes: &[String],
    redirect_uri: &str,
) -> AuthRequest {
    let state = random_b64(32);
    let nonce = random_b64(32);
    let verifier = random_b64(48);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge_of(&verifier))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let sep = if d.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    AuthRequest {
        url: format!("{}{sep}{query}", d.authorization_endpoint),
        state,
        nonce,
        verifier,
        redirect_uri: redirect_uri.to_owned(),
    }
}

/// Why a sign-in did not complete.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error(
        "the sign-in callback carried a state this sign-in did not send: it may be forged, or it belongs to another tip auth; nothing was saved"
    )]
    ForgedState,
    #[error(
        "the sign-in callback arrived for {0}, not for http://127.0.0.1:{1}/callback where tip listens; nothing was saved"
    )]
    WrongHost(String, u16),
    #[error(
        "the sign-in callback says it comes from {0:?}, not from the configured issuer {1:?}; nothing was saved"
    )]
    WrongIssuer(String, String),
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("the sign-in callback has no authorization code")]
    NoCode,
    #[error(
        "no sign-in arrived at http://127.0.0.1:{0}/callback within {1} s; if the browser went elsewhere, check the redirect URI registered for this client at the identity provider"
    )]
    Timeout(u16, u64),
}

/// A request that reached the loopback listener.
struct Request {
    path: String,
    query: Vec<(String, String)>,
    host: Option<String>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                return Some(());
            }
            if buf.len() > 16 * 1024 {
                return None;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?;
    let target = first.next()?;
    if method != "GET" {
        return Some(Request {
            path: String::new(),
            query: Vec::new(),
            host: None,
        });
    }
    let mut host = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("host")
        {
            host = Some(v.trim().to_owned());
        }
    }
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    Some(Request {
        path: path.to_owned(),
        query: form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        host,
    })
}

/// Answer the browser with a small page.
pub async fn respond(stream: &mut TcpStream, status: &str, title: &str, message: &str) {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>tip: {t}</title>\
<style>body{{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;background:#f3f4f6;color:#1f2937;margin:0}}\
main{{max-width:30rem;margin:4rem auto;background:#fff;padding:1.5rem 1.75rem;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}}\
h1{{font-size:1.3rem;margin-top:0}}</style></head>\
<body><main><h1 id=\"title\">{t}</h1><p id=\"message\">{m}</p></main></body></html>",
        t = esc(title),
        m = esc(message)
    );
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Wait for the identity provider's redirect to `http://127.0.0.1:{port}/callback`. Returns
/// the authorization code and the browser's connection (answered once the code is exchanged).
/// Requests to other paths are answered 404 and ignored; a callback with another `state`, for
/// another host or port, from another issuer, or with an error ends the sign-in.
pub async fn receive_callback(
    listener: &TcpListener,
    port: u16,
    state: &str,
    issuer: &str,
    timeout: Duration,
) -> Result<(String, TcpStream), CallbackError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let accepted = tokio::time::timeout_at(deadline, listener.accept()).await;
        let Ok(Ok((mut stream, _))) = accepted else {
            if accepted.is_err() {
                return Err(CallbackError::Timeout(port, timeout.as_secs()));
            }
            continue;
        };
        let Some(req) = read_request(&mut stream).await else {
            continue;
        };
        if req.path != "/callback" {
            respond(
                &mut stream,
                "404 Not Found",
                "Not here",
                "This is tip's sign-in callback; nothing else is served.",
            )
            .await;
            continue;
        }
        let param = |k: &str| {
            req.query
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        let expected_host = format!("127.0.0.1:{port}");
        let host = req.host.clone().unwrap_or_default();
        if host != expected_host {
            respond(
                &mut stream,
                "400 Bad Request",
                "Sign-in refused",
                "This callback was sent to another address than the one tip listens on.",
            )
            .await;
            return Err(CallbackError::WrongHost(
                if host.is_empty() {
                    "no host".into()
                } else {
                    host
                },
                port,
            ));
        }
        let got = param("state").unwrap_or("");
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            got.as_bytes(),
            state.as_bytes(),
        )) {
            respond(&mut stream, "400 Bad Request", "Sign-in refused", "The callback's state does not match the sign-in tip started. Nothing was saved; run tip auth again.").await;
            return Err(CallbackError::ForgedState);
        }
        if let Some(iss) = param("iss")
            && iss != issuer
        {
            respond(
                &mut stream,
                "400 Bad Request",
                "Sign-in refused",
                "The callback names another identity provider than the one configured.",
            )
            .await;
            return Err(CallbackError::WrongIssuer(
                iss.to_owned(),
                issuer.to_owned(),
            ));
        }
        if let Some(err) = param("error") {
            let desc = param("error_description").unwrap_or("");
            let msg = if desc.is_empty() {
                err.to_owned()
            } else {
                format!("{err}: {desc}")
            };
            respond(
                &mut stream,
                "200 OK",
                "Sign-in did not complete",
                &format!("The identity provider answered {msg}. You can close this tab."),
            )
            .await;
            return Err(CallbackError::Refused(msg));
        }
        let Some(code) = param("code").filter(|c| !c.is_empty()) else {
            respond(
                &mut stream,
                "400 Bad Request",
                "Sign-in refused",
                "The callback has no authorization code.",
            )
            .await;
            return Err(CallbackError::NoCode);
        };
        return Ok((code.to_owned(), stream));
    }
}

/// The token endpoint's answer.
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

async fn token_call(
    http: &reqwest::Client,
    d: &Discovery,
    form: &[(&str, &str)],
) -> Result<TokenResponse> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let resp = http
        .post(&d.token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| anyhow!("the token endpoint is not reachable: {}", plain(&e)))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let err = v["error"].as_str().unwrap_or("");
        let desc = v["error_description"].as_str().unwrap_or("");
        bail!(
            "the identity provider's token endpoint refused (HTTP {status}): {}{}{}",
            if err.is_empty() { "no error code" } else { err },
            if desc.is_empty() { "" } else { ": " },
            desc
        );
    }
    serde_json::from_str(&text).map_err(|_| anyhow!("the token endpoint's answer is not JSON"))
}

pub async fn exchange_code(
    http: &reqwest::Client,
    d: &Discovery,
    client_id: &str,
    req: &AuthRequest,
    code: &str,
) -> Result<TokenResponse> {
    token_call(
        http,
        d,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &req.redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &req.verifier),
        ],
    )
    .await
}

/// Use a refresh token. No `scope` is sent: the grant's own scopes apply (RFC 6749, section 6);
/// providers drop `offline_access` from what they grant, and asking for it again is refused.
pub async fn refresh(
    http: &reqwest::Client,
    d: &Discovery,
    client_id: &str,
    refresh_token: &str,
) -> Result<TokenResponse> {
    token_call(
        http,
        d,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
    )
    .await
}

/// Revoke a refresh token (RFC 7009), best effort.
pub async fn revoke(http: &reqwest::Client, d: &Discovery, client_id: &str, token: &str) {
    let Some(url) = &d.revocation_endpoint else {
        return;
    };
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("token_type_hint", "refresh_token")
        .append_pair("client_id", client_id)
        .finish();
    let _ = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
}

/// What tip keeps of a verified ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub issuer: String,
    pub subject: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl User {
    /// How to name the user to them.
    pub fn display(&self) -> String {
        match (&self.name, self.username.as_ref().or(self.email.as_ref())) {
            (Some(n), Some(u)) => format!("{n} ({u})"),
            (Some(n), None) => n.clone(),
            (None, Some(u)) => u.clone(),
            (None, None) => self.subject.clone(),
        }
    }

    /// An STS role session name for the user: `tip-` and their user name, in the characters
    /// STS allows.
    pub fn session_name(&self) -> String {
        let base = self
            .username
            .as_deref()
            .or(self.email.as_deref())
            .unwrap_or(&self.subject);
        let clean: String = base
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let mut s = format!("tip-{clean}");
        s.truncate(64);
        s
    }
}

/// Verifies ID tokens against the provider's published keys.
pub struct Verifier {
    inner: tessera_oidc::OidcVerifier,
}

impl Verifier {
    pub fn new() -> Result<Verifier> {
        // A workforce provider may live on the company network: every address may be reached,
        // plain http only to loopback (checked by the fetcher).
        let policy = tessera_oidc::FetchPolicy {
            allow_insecure_loopback: true,
            allowed_networks: vec![
                "0.0.0.0/0".parse().expect("a network"),
                "::/0".parse().expect("a network"),
            ],
        };
        let fetch = tessera_oidc::ReqwestFetch::new(policy)
            .map_err(|e| anyhow!("cannot make an HTTP client: {e}"))?;
        Ok(Self::with_fetch(Arc::new(fetch)))
    }

    pub fn with_fetch(fetch: Arc<dyn tessera_oidc::HttpFetch>) -> Verifier {
        Verifier {
            inner: tessera_oidc::OidcVerifier::new(fetch, tessera_oidc::VerifierConfig::default()),
        }
    }

    /// Verify `token`: signed with a key from the issuer's JWKS, `iss` the issuer, `aud`
    /// including the client id (and `azp`, when there are several audiences, the client id),
    /// not expired; with `nonce` given, the token's `nonce` must equal it.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        client_id: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<(User, i64)> {
        use tessera_oidc::OidcError as E;
        let v = self
            .inner
            .verify(token, issuer, &[client_id.to_owned()], now)
            .await
            .map_err(|e| match e {
                E::AudienceMismatch => anyhow!(
                    "the ID token is for another client (its audience is {:?}, tip's client id is {client_id:?})",
                    audience_of(token)
                ),
                E::WrongIssuer { got, .. } => anyhow!(
                    "the ID token was issued by {got:?}, not by the configured issuer {issuer:?}"
                ),
                E::Expired => anyhow!("the ID token has expired"),
                other => anyhow!("the ID token is not valid: {other}"),
            })?;
        if v.audiences.len() > 1 && v.authorized_party.as_deref() != Some(client_id) {
            bail!("the ID token has several audiences and its azp is not tip's client id");
        }
        if let Some(n) = nonce {
            let got = v.claims.get("nonce").and_then(|x| x.as_str()).unwrap_or("");
            if !bool::from(subtle::ConstantTimeEq::ct_eq(got.as_bytes(), n.as_bytes())) {
                bail!(
                    "the ID token's nonce is not the one this sign-in sent: it was issued for another sign-in (a replayed or injected token); nothing was saved"
                );
            }
        }
        let s = |k: &str| v.claims.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        Ok((
            User {
                issuer: v.issuer.clone(),
                subject: v.subject.clone(),
                name: s("name"),
                username: s("preferred_username"),
                email: s("email"),
            },
            v.expires_at,
        ))
    }
}

/// The unverified `aud` of a token, for error messages.
fn audience_of(token: &str) -> String {
    claims_unverified(token)
        .map(|c| c["aud"].to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A JWT's payload, not verified (for tokens that came straight from AWS over TLS, and for
/// messages).
pub fn claims_unverified(token: &str) -> Option<serde_json::Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_crypto::token::TokenSigner;
    use tessera_oidc::MemoryFetch;

    const ISSUER: &str = "https://idp.example.com";

    fn setup() -> (TokenSigner, Verifier) {
        let signer = TokenSigner::generate("k1");
        let fetch = Arc::new(MemoryFetch::new());
        fetch.set(
            tessera_oidc::discovery_url(ISSUER),
            serde_json::json!({"issuer": ISSUER, "jwks_uri": format!("{ISSUER}/jwks")}).to_string(),
        );
        fetch.set(
            format!("{ISSUER}/jwks"),
            serde_json::json!({"keys": [signer.jwk()]}).to_string(),
        );
        (signer, Verifier::with_fetch(fetch))
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn claims(aud: &str, iss: &str, nonce: &str) -> serde_json::Value {
        serde_json::json!({"iss": iss, "aud": aud, "sub": "u-1", "nonce": nonce,
            "iat": now(), "exp": now() + 600, "name": "Mateo Jackson",
            "preferred_username": "mateo.jackson"})
    }

    #[tokio::test]
    async fn a_good_token_is_accepted_and_bad_ones_are_named() {
        let (signer, v) = setup();
        let good = signer.sign(&claims("tip", ISSUER, "n1"));
        let (user, exp) = v
            .verify(&good, ISSUER, "tip", Some("n1"), now())
            .await
            .unwrap();
        assert_eq!(user.subject, "u-1");
        assert_eq!(user.display(), "Mateo Jackson (mateo.jackson)");
        assert_eq!(user.session_name(), "tip-mateo.jackson");
        assert!(exp > now());

        let e = v
            .verify(&good, ISSUER, "tip", Some("other"), now())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("nonce"), "{e}");

        let other_aud = signer.sign(&claims("someone-else", ISSUER, "n1"));
        let e = v
            .verify(&other_aud, ISSUER, "tip", Some("n1"), now())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("another client"), "{e}");

        let other_iss = signer.sign(&claims("tip", "https://evil.example.com", "n1"));
        let e = v
            .verify(&other_iss, ISSUER, "tip", Some("n1"), now())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("not by the configured issuer"),
            "{e}"
        );

        let mut c = claims("tip", ISSUER, "n1");
        c["exp"] = serde_json::json!(now() - 3600);
        c["iat"] = serde_json::json!(now() - 7200);
        let old = signer.sign(&c);
        let e = v
            .verify(&old, ISSUER, "tip", Some("n1"), now())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");

        let stranger = TokenSigner::generate("k1").sign(&claims("tip", ISSUER, "n1"));
        assert!(
            v.verify(&stranger, ISSUER, "tip", Some("n1"), now())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_callback_is_checked() {
        async fn call(port: u16, host: &str, path: &str) -> String {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
        let listener: &'static TcpListener =
            Box::leak(Box::new(TcpListener::bind("127.0.0.1:0").await.unwrap()));
        let port = listener.local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        let wait = |l: &'static TcpListener| {
            receive_callback(l, port, "s1", ISSUER, Duration::from_secs(5))
        };

        // Another path is ignored; then a good callback.
        let h2 = host.clone();
        let client = tokio::spawn(async move {
            let a = call(port, &h2, "/favicon.ico").await;
            let b = call(port, &h2, "/callback?code=c1&state=s1").await;
            (a, b)
        });
        let (code, mut stream) = wait(listener).await.unwrap();
        assert_eq!(code, "c1");
        respond(&mut stream, "200 OK", "Signed in", "ok").await;
        let (a, b) = client.await.unwrap();
        assert!(a.starts_with("HTTP/1.1 404"), "{a}");
        assert!(b.contains("Signed in"), "{b}");

        for (h, path, want) in [
            (host.clone(), "/callback?code=c&state=forged", "state"),
            (
                "127.0.0.1:1".to_owned(),
                "/callback?code=c&state=s1",
                "arrived for 127.0.0.1:1,",
            ),
            (
                host.clone(),
                "/callback?code=c&state=s1&iss=https%3A%2F%2Fevil",
                "comes from",
            ),
            (
                host.clone(),
                "/callback?error=access_denied&state=s1",
                "refused",
            ),
        ] {
            let p = path.to_owned();
            let client = tokio::spawn(async move { call(port, &h, &p).await });
            let e = wait(listener).await.unwrap_err().to_string();
            assert!(e.contains(want), "{path}: {e}");
            client.await.unwrap();
        }
        let e = receive_callback(listener, port, "s1", ISSUER, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(e, CallbackError::Timeout(..)));
    }
}
