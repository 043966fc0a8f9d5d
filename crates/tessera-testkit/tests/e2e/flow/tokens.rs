//! The flow's tokens: Mateo's id_token exchanged (CreateTokenWithIAM), bad assertions
//! refused, the identity-enhanced session, token exchange between applications, refresh
//! tokens and assignment.

use super::{Flow, MATEO_SUB};
use crate::support::{ROOT, creds, json, python, string};
use std::process::Command;
use tessera_testkit::http_get;

/// The payload of a compact JWT.
pub(super) fn jwt_claims(token: &str) -> serde_json::Value {
    jwt_part(token, 1, "JSON claims")
}

fn jwt_header(token: &str) -> serde_json::Value {
    jwt_part(token, 0, "JSON header")
}

fn jwt_part(token: &str, n: usize, what: &str) -> serde_json::Value {
    use base64::Engine;
    let p = token.split('.').nth(n).expect("a JWT");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p)
        .expect("base64url");
    serde_json::from_slice(&raw).expect(what)
}

/// A token with `alg: none`, or HS256 keyed with `key` (a confused verifier would take the
/// issuer's public key as an HMAC secret).
fn forged_token(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    hs256_key: Option<&[u8]>,
) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    match hs256_key {
        None => format!("{input}."),
        Some(key) => {
            // HMAC-SHA256 through the test Python (the crates here have no HMAC dependency).
            let out = Command::new(python())
                .args([
                    "-c",
                    "import hmac,hashlib,base64,sys; k=bytes.fromhex(sys.argv[1]); m=sys.argv[2].encode(); print(base64.urlsafe_b64encode(hmac.new(k,m,hashlib.sha256).digest()).decode().rstrip('='))",
                    &key.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                    &input,
                ])
                .output()
                .unwrap();
            format!("{input}.{}", String::from_utf8_lossy(&out.stdout).trim())
        }
    }
}

impl Flow<'_> {
    /// The user signs in at the IdP; the application exchanges the id_token: its tokens, the
    /// claims of Tessera's idToken, the issuer's discovery and keys; a replay is refused.
    pub(super) fn exchange_mateos_token(&mut self) {
        let server = self.server();
        let (ids, app) = (&self.ids, &self.sessions.app);
        let id_token = self
            .w
            .idp
            .login("example-cli", "mateo.jackson", "mateo-password");
        // Not the role the ActorPolicy names (its own policy allows the call).
        self.exchange(&self.sessions.other, &id_token)
            .fails("AccessDeniedException");
        let tokens = self.exchange(app, &id_token).ok();
        assert_eq!(tokens["tokenType"], "Bearer");
        assert_eq!(tokens["expiresIn"], 3600);
        assert_eq!(
            tokens["issuedTokenType"],
            "urn:ietf:params:oauth:token-type:refresh_token"
        );
        let scopes: Vec<&str> = tokens["scope"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            scopes.contains(&"s3:access_grants:read_write")
                && scopes.contains(&"sts:identity_context"),
            "{scopes:?}"
        );
        let claims = jwt_claims(tokens["idToken"].as_str().unwrap());
        assert_eq!(claims["sub"], ids.mateo.as_str());
        assert_eq!(claims["aud"], ids.app.as_str());
        assert_eq!(claims["aws:instance_arn"], ids.instance.as_str());
        assert_eq!(claims["aws:identity_store_id"], ids.store_id.as_str());
        assert_eq!(claims["act"]["sub"], ids.tti.as_str());
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3600
        );
        let context = claims["sts:identity_context"].as_str().unwrap().to_owned();
        assert_eq!(
            tokens["awsAdditionalDetails"]["identityContext"],
            context.as_str()
        );
        // The issuer publishes discovery and the key the idToken names.
        let iss = claims["iss"].as_str().unwrap();
        let path = iss
            .strip_prefix(&server.manifest.endpoint)
            .expect("issuer under the endpoint");
        let (status, body) = http_get(
            &server.manifest.endpoint,
            &format!("{path}/.well-known/openid-configuration"),
        );
        assert_eq!(status, 200, "{body}");
        let discovery = json(&body);
        assert_eq!(discovery["issuer"], iss);
        let jwks_path = discovery["jwks_uri"]
            .as_str()
            .unwrap()
            .strip_prefix(&server.manifest.endpoint)
            .unwrap()
            .to_owned();
        let (status, body) = http_get(&server.manifest.endpoint, &jwks_path);
        assert_eq!(status, 200);
        let kid = jwt_header(tokens["idToken"].as_str().unwrap())["kid"].clone();
        assert_eq!(json(&body)["keys"][0]["kid"], kid);

        // The same id_token again: its jti was seen.
        self.exchange(app, &id_token).fails("InvalidGrantException");
        self.tokens.id_token = id_token;
        self.tokens.first = tokens;
        self.tokens.context = context;
    }

    /// Refused assertions (minted with the IdP's own key unless forged), each refused for the
    /// one thing it changes; a megabyte assertion is refused before any parsing.
    pub(super) fn refuse_bad_assertions(&mut self) {
        let idp = &self.w.idp;
        let app = &self.sessions.app;
        let now = chrono::Utc::now().timestamp();
        let base = serde_json::json!({"iss": idp.issuer, "sub": MATEO_SUB,
            "aud": "example-cli", "email": "mateo.jackson@example.com", "iat": now, "exp": now + 600});
        let with = |k: &str, v: serde_json::Value| {
            let mut c = base.clone();
            c["jti"] = serde_json::json!(format!("j-{k}-{now}"));
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v;
            }
            c
        };
        let idp_jwks = json(&http_get(&idp.issuer, "/jwks").1);
        let rsa_n = idp_jwks["keys"][0]["n"].as_str().unwrap_or("n").to_owned();
        let cases: Vec<(&str, String)> = vec![
            (
                "wrong aud",
                idp.mint(&with("aud", serde_json::json!("another-client"))),
            ),
            (
                "wrong iss",
                idp.mint(&with(
                    "iss",
                    serde_json::json!(format!("{}/other", idp.issuer)),
                )),
            ),
            (
                "expired",
                idp.mint(&with("exp", serde_json::json!(now - 3600))),
            ),
            (
                "nbf in the future",
                idp.mint(&with("nbf", serde_json::json!(now + 3600))),
            ),
            (
                "missing jti",
                idp.mint(&{
                    let mut c = base.clone();
                    c.as_object_mut().unwrap().remove("jti");
                    c
                }),
            ),
            (
                // Undatable: it could not be compared with a revocation.
                "missing iat",
                idp.mint(&with("iat", serde_json::Value::Null)),
            ),
            (
                "no such user",
                idp.mint(&with("email", serde_json::json!("nobody@example.com"))),
            ),
            (
                "two users",
                idp.mint(&with("email", serde_json::json!("eve.blue@example.com"))),
            ),
            (
                "alg none",
                forged_token(
                    &serde_json::json!({"alg": "none", "typ": "JWT"}),
                    &with("jti", serde_json::json!("n1")),
                    None,
                ),
            ),
            (
                "HS256 with the public key",
                forged_token(
                    &serde_json::json!({"alg": "HS256", "typ": "JWT"}),
                    &with("jti", serde_json::json!("h1")),
                    Some(rsa_n.as_bytes()),
                ),
            ),
            (
                "unknown kid",
                forged_token(
                    &serde_json::json!({"alg": "RS256", "kid": "no-such-key"}),
                    &with("jti", serde_json::json!("k1")),
                    None,
                ) + "c2ln",
            ),
            (
                "kid with path and SQL characters",
                forged_token(
                    &serde_json::json!({"alg": "RS256", "kid": "../../etc/passwd' OR '1'='1"}),
                    &with("jti", serde_json::json!("k2")),
                    None,
                ) + "c2ln",
            ),
            ("not a JWT", "not-a-jwt".into()),
        ];
        // The control: the same minted claims with a fresh jti are accepted, so each case
        // below is refused for the one thing it changes.
        self.exchange(
            app,
            &idp.mint(&with("jti", serde_json::json!(format!("control-{now}")))),
        )
        .ok();
        for (what, token) in &cases {
            let (accepted, _, err) = self.exchange(app, token).raw();
            assert!(!accepted, "{what} was accepted");
            assert!(err.contains("InvalidGrantException"), "{what}: {err}");
        }
        // A megabyte assertion: refused before any parsing (the body limit or the token limit).
        let big = serde_json::json!({"clientId": self.ids.app, "grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": "a".repeat(1 << 20)});
        let (accepted, _, _) = self.session(app).run(&[
            "sso-oidc",
            "create-token-with-iam",
            "--cli-input-json",
            &self.file("big.json", &big),
        ]);
        assert!(!accepted);
    }

    /// Identity-enhanced session: IdentityBearerRole admits the application role's session
    /// with the context, and refuses it without one, or with one byte of it changed.
    pub(super) fn assume_role_with_context(&mut self) {
        self.assume(Some(&self.sessions.app), "IdentityBearerRole", &[])
            .fails("AccessDenied");
        let bearer = creds(&self.assume_bearer_with(&self.tokens.context).ok());
        let me = self.session(&bearer).ok(&["sts", "get-caller-identity"]);
        assert_eq!(
            me["Arn"],
            format!("arn:aws:sts::{ROOT}:assumed-role/IdentityBearerRole/s1")
        );
        // One byte changed.
        let mut tampered = self.tokens.context.clone().into_bytes();
        let i = tampered.len() / 2;
        tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        self.assume_bearer_with(&tampered).fails("ValidationError");
        self.sessions.bearer = bearer;
    }

    /// Token exchange: a second application accepts the first one's access token once the
    /// first names it among its scope's AuthorizedTargets.
    pub(super) fn exchange_for_another_application(&mut self) {
        let root = &self.root;
        let analytics = root.create_application(&self.ids.instance, "Analytics");
        root.require_assignment(&analytics, false);
        root.put_application_grant(
            &analytics,
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "{\"TokenExchange\":{}}",
        );
        let analytics_actor = serde_json::json!({"Iam": {"ActorPolicy": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sso-oauth:CreateTokenWithIAM", "Resource": analytics}]}}});
        root.put_iam_authentication_method(
            &analytics,
            &self.file("analytics-auth.json", &analytics_actor),
        );
        root.put_role_policy(
            "ApplicationRole",
            "analytics",
            &serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sso-oauth:CreateTokenWithIAM", "Resource": analytics}]})
            .to_string(),
        );
        let access = self.tokens.first["accessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let token_exchange = |subject: &str| {
            self.create_token(
                &self.sessions.app,
                &analytics,
                "urn:ietf:params:oauth:grant-type:token-exchange",
                &[
                    "--subject-token",
                    subject,
                    "--subject-token-type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ],
            )
            .raw()
        };
        let (allowed, _, err) = token_exchange(&access);
        assert!(!allowed, "exchanged without an authorized target");
        assert!(err.contains("InvalidGrantException"), "{err}");
        root.ok(&[
            "sso-admin",
            "put-application-access-scope",
            "--application-arn",
            &self.ids.app,
            "--scope",
            "s3:access_grants:read_write",
            "--authorized-targets",
            &analytics,
        ]);
        let (done, out, err) = token_exchange(&access);
        assert!(done, "{err}");
        let exchanged = json(&out);
        let xc = jwt_claims(exchanged["idToken"].as_str().unwrap());
        assert_eq!(
            (xc["sub"].as_str(), xc["aud"].as_str()),
            (Some(self.ids.mateo.as_str()), Some(analytics.as_str()))
        );
        assert!(
            xc.get("sts:audit_context").is_none() && xc.get("act").is_none(),
            "{xc}"
        );
        assert!(exchanged.get("refreshToken").is_none());
        let (tampered_ok, _, err) = token_exchange(&format!("{access}x"));
        assert!(!tampered_ok);
        assert!(err.contains("InvalidGrantException"), "{err}");
        self.ids.analytics = analytics;
        self.tokens.access = access;
        self.tokens.exchanged = exchanged;
    }

    /// Refresh: rotation, and a reused refresh token revokes the family.
    pub(super) fn refresh_tokens(&mut self) {
        let app = &self.sessions.app;
        let first = self.tokens.first["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let second = self.refresh(app, &first).ok();
        assert_eq!(
            jwt_claims(second["idToken"].as_str().unwrap())["sub"],
            self.ids.mateo.as_str()
        );
        let second_token = second["refreshToken"].as_str().unwrap().to_owned();
        assert_ne!(second_token, first);
        self.refresh(app, &first).fails("InvalidGrantException");
        let (after, _, _) = self.refresh(app, &second_token).raw();
        assert!(!after, "the family was revoked");
        self.tokens.refresh = first;
        self.tokens.rotated_refresh = second_token;
    }

    /// Assignment required: only assigned users (directly or through a group) may exchange.
    /// Zoe, assigned through a group, gets an identity-enhanced session of her own.
    pub(super) fn require_assignment(&mut self) {
        let (root, idp) = (&self.root, &self.w.idp);
        let store_id = &self.ids.store_id;
        let zoe = root.create_user(
            store_id,
            "zoe.green",
            "Zoe Green",
            "GivenName=Zoe,FamilyName=Green",
            Some("Value=zoe.green@example.com,Primary=true"),
        );
        let zoe = string(&zoe, "UserId");
        let zoe_token = |n: &str| {
            let now = chrono::Utc::now().timestamp();
            idp.mint(&serde_json::json!({"iss": idp.issuer, "sub": "zoe", "aud": "example-cli",
                "email": "zoe.green@example.com", "iat": now, "exp": now + 600, "jti": format!("zoe-{n}-{now}")}))
        };
        root.require_assignment(&self.ids.app, true);
        let (assigned, _, err) = self.exchange(&self.sessions.app, &zoe_token("1")).raw();
        assert!(!assigned, "an unassigned user exchanged a token");
        assert!(err.contains("AccessDeniedException"), "{err}");
        let group = root.create_group(store_id, "Green Project Group");
        root.add_to_group(store_id, &group, &zoe);
        root.ok(&[
            "sso-admin",
            "create-application-assignment",
            "--application-arn",
            &self.ids.app,
            "--principal-id",
            &group,
            "--principal-type",
            "GROUP",
        ]);
        let zoe_tokens = self.exchange(&self.sessions.app, &zoe_token("2")).ok();
        let zoe_ctx = zoe_tokens["awsAdditionalDetails"]["identityContext"]
            .as_str()
            .unwrap()
            .to_owned();
        let zoe_bearer = creds(&self.assume_bearer_with(&zoe_ctx).ok());
        root.require_assignment(&self.ids.app, false);
        self.tokens.zoe = zoe_tokens;
        self.sessions.zoe_bearer = zoe_bearer;
    }
}
