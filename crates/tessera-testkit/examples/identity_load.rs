//! Identity Center throughput over HTTP, against a real `tessera dev` on loopback:
//!
//! 1. `CreateTokenWithIAM` (jwt-bearer) per second, signed by aws-sdk-ssooidc as the
//!    application role, each with a fresh assertion (its own `jti`, so the replay check runs
//!    on every request) from an OIDC issuer served by this program (ES256, its JWKS fetched
//!    once by Tessera and then cached);
//! 2. `AssumeRole` with `ProvidedContexts` per second (aws-sdk-sts);
//! 3. SCIM user creates per second.
//!
//! `cargo run --release -p tessera-testkit --example identity_load -- [SECONDS] [CONCURRENCY]`
//! (defaults 10 s, 16). Needs the release `tessera` binary (`cargo build --release --bin
//! tessera`, or `TESSERA_BIN`) and the AWS CLI for the set-up (`TESSERA_TEST_AWS_CLI`, which
//! the test script installs).

use std::process::Command;
use std::sync::Arc;
use tessera_crypto::token::TokenSigner;
use tessera_testkit::{DevServer, load};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCT: &str = "111111111111";
const AUDIENCE: &str = "load-client";

/// A minimal OIDC issuer on loopback: discovery and JWKS.
async fn serve_issuer(signer: Arc<TokenSigner>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let iss = issuer.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let (iss, signer) = (iss.clone(), signer.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]);
                let path = req.split_whitespace().nth(1).unwrap_or("");
                let body = if path.ends_with("/.well-known/openid-configuration") {
                    serde_json::json!({"issuer": iss, "jwks_uri": format!("{iss}/jwks")})
                        .to_string()
                } else {
                    serde_json::json!({"keys": [signer.jwk()]}).to_string()
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    issuer
}

fn cli(server: &DevServer, key: (&str, &str), args: &[&str]) -> serde_json::Value {
    let cli = std::env::var("TESSERA_TEST_AWS_CLI").unwrap_or_else(|_| "aws".into());
    let out = Command::new(&cli)
        .args(args)
        .envs(server.cli_env(key.0, key.1))
        .output()
        .expect("run the AWS CLI");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

#[tokio::main]
async fn main() {
    let (secs, conc) = load::secs_and_clients(10, 16);
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(DevServer::start(dir.path()));
    let root = server.account(ACCT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let signer = Arc::new(TokenSigner::generate("load-key"));
    let issuer = serve_issuer(signer.clone()).await;

    // Identity Center: instance, user, issuer, application with its grant and ActorPolicy.
    let instance = cli(&server, key, &["sso-admin", "create-instance"])["InstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = cli(
        &server,
        key,
        &[
            "sso-admin",
            "describe-instance",
            "--instance-arn",
            &instance,
        ],
    )["IdentityStoreId"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(
        &server,
        key,
        &[
            "identitystore",
            "create-user",
            "--identity-store-id",
            &store,
            "--user-name",
            "load",
            "--display-name",
            "Load",
            "--name",
            "GivenName=Lo,FamilyName=Ad",
            "--emails",
            "Value=load@example.com,Primary=true",
        ],
    );
    let conf = serde_json::json!({"OidcJwtConfiguration": {"IssuerUrl": issuer, "ClaimAttributePath": "email",
        "IdentityStoreAttributePath": "emails.value", "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}});
    let tti = cli(
        &server,
        key,
        &[
            "sso-admin",
            "create-trusted-token-issuer",
            "--instance-arn",
            &instance,
            "--name",
            "load",
            "--trusted-token-issuer-type",
            "OIDC_JWT",
            "--trusted-token-issuer-configuration",
            &conf.to_string(),
        ],
    )["TrustedTokenIssuerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = cli(
        &server,
        key,
        &[
            "sso-admin",
            "create-application",
            "--instance-arn",
            &instance,
            "--application-provider-arn",
            "arn:aws:sso::aws:applicationProvider/custom",
            "--name",
            "load",
        ],
    )["ApplicationArn"]
        .as_str()
        .unwrap()
        .to_owned();
    cli(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-assignment-configuration",
            "--application-arn",
            &app,
            "--no-assignment-required",
        ],
    );
    let grant = serde_json::json!({"JwtBearer": {"AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": [AUDIENCE]}]}});
    cli(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-grant",
            "--application-arn",
            &app,
            "--grant-type",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "--grant",
            &grant.to_string(),
        ],
    );
    let actor = serde_json::json!({"Iam": {"ActorPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": ACCT}, "Action": "sso-oauth:CreateTokenWithIAM", "Resource": app,
        "Condition": {"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{ACCT}:role/ApplicationRole")}}}]}}});
    cli(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-authentication-method",
            "--application-arn",
            &app,
            "--authentication-method-type",
            "IAM",
            "--authentication-method",
            &actor.to_string(),
        ],
    );

    // IAM: the application role (assumed by a user) and the identity-bearer role.
    let root_cfg = server.sdk_config(key.0, key.1).await;
    let iam = aws_sdk_iam::Client::new(&root_cfg);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ACCT}"}},"Action":["sts:AssumeRole","sts:SetContext"]}}]}}"#
    );
    let allow = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["sts:AssumeRole", "sts:SetContext", "sso-oauth:CreateTokenWithIAM"], "Resource": "*"}]}).to_string();
    for role in ["ApplicationRole", "IdentityBearerRole"] {
        iam.create_role()
            .role_name(role)
            .assume_role_policy_document(&trust)
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name(role)
            .policy_name("p")
            .policy_document(&allow)
            .send()
            .await
            .unwrap();
    }
    iam.create_user().user_name("load").send().await.unwrap();
    iam.put_user_policy()
        .user_name("load")
        .policy_name("p")
        .policy_document(&allow)
        .send()
        .await
        .unwrap();
    let k = iam
        .create_access_key()
        .user_name("load")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let user_cfg = server
        .sdk_config(k.access_key_id(), k.secret_access_key())
        .await;
    let sts_user = aws_sdk_sts::Client::new(&user_cfg);
    let c = sts_user
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCT}:role/ApplicationRole"))
        .role_session_name("app")
        .duration_seconds(3600)
        .send()
        .await
        .unwrap();
    let c = c.credentials().unwrap();
    let app_cfg = server
        .sdk_session_config(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token()),
        )
        .await;
    let oidc = aws_sdk_ssooidc::Client::new(&app_cfg);
    let sts_app = aws_sdk_sts::Client::new(&app_cfg);

    let mint = {
        let (signer, issuer) = (signer.clone(), issuer.clone());
        move || {
            let now = chrono::Utc::now().timestamp();
            signer.sign(
                &serde_json::json!({"iss": issuer, "sub": "load", "aud": AUDIENCE,
                "email": "load@example.com", "iat": now, "exp": now + 600,
                "jti": uuid::Uuid::new_v4().to_string()}),
            )
        }
    };
    // One exchange up front, so a misconfiguration fails loudly.
    let first = oidc
        .create_token_with_iam()
        .client_id(&app)
        .grant_type("urn:ietf:params:oauth:grant-type:jwt-bearer")
        .assertion(mint())
        .send()
        .await
        .expect("CreateTokenWithIAM works before the load starts");
    let context = first
        .aws_additional_details()
        .and_then(|d| d.identity_context())
        .expect("an identity context")
        .to_owned();

    let run = {
        let (oidc, app, mint) = (oidc.clone(), app.clone(), Arc::new(mint));
        load::run(secs, conc, move |_, _| {
            let (oidc, app, mint) = (oidc.clone(), app.clone(), mint.clone());
            async move {
                oidc.create_token_with_iam()
                    .client_id(&app)
                    .grant_type("urn:ietf:params:oauth:grant-type:jwt-bearer")
                    .assertion(mint())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            }
        })
        .await
    };
    run.report("CreateTokenWithIAM (jwt-bearer, jti checked)");

    let run = {
        let (sts, context) = (sts_app.clone(), context.clone());
        load::run(secs, conc, move |i, _| {
            let (sts, context) = (sts.clone(), context.clone());
            async move {
                sts.assume_role()
                    .role_arn(format!("arn:aws:iam::{ACCT}:role/IdentityBearerRole"))
                    .role_session_name(format!("bearer-{i}"))
                    .provided_contexts(
                        aws_sdk_sts::types::ProvidedContext::builder()
                            .provider_arn("arn:aws:iam::aws:contextProvider/IdentityCenter")
                            .context_assertion(context)
                            .build(),
                    )
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}"))
            }
        })
        .await
    };
    run.report("AssumeRole with ProvidedContexts");

    // SCIM user creates (a connection per request).
    let d = server.data_dir.to_str().unwrap().to_owned();
    let out = tessera_testkit::tessera_command(&[
        "scim-token",
        "create",
        "--identity-store-id",
        &store,
        "--data-dir",
        &d,
    ]);
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("Token:"))
        .unwrap()
        .trim()
        .to_owned();
    let run = {
        let (server, token, store) = (server.clone(), token.clone(), store.clone());
        load::run(secs, conc, move |i, n| {
            let (server, token, store) = (server.clone(), token.clone(), store.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    let body = serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": format!("u-{i}-{n}"), "displayName": "U",
                        "name": {"givenName": "U", "familyName": "V"},
                        "emails": [{"value": format!("u-{i}-{n}@example.com"), "primary": true}]});
                    let auth = format!("Bearer {token}");
                    let (status, out) = tessera_testkit::http_request(
                        &server.manifest.endpoint,
                        "POST",
                        &format!("/{store}/scim/v2/Users"),
                        &[("Authorization", &auth), ("Content-Type", "application/scim+json")],
                        &body.to_string(),
                    );
                    if status == 201 { Ok(()) } else { Err(format!("{status}: {out}")) }
                })
                .await
                .unwrap()
            }
        })
        .await
    };
    run.report("SCIM POST /Users");
}
