//! AssumeRoleWithWebIdentity against the real test OIDC provider: the AWS CLI and
//! aws-sdk-rust exchange a signed-in user's token; wrong audiences, tampered, expired and
//! foreign tokens are refused; issuers under a path name their provider with it.

use crate::support::cli::aws_cli;
use crate::support::sdk::{account_config, code, create_role};
use crate::support::{Cli, IDC, ROOT, creds, json};
use std::process::Command;
use tessera_testkit::{DevServer, TestIdp};

/// `aws sts assume-role-with-web-identity` (unsigned: no credentials in the environment);
/// returns its JSON output, failing the test if the call fails.
fn cli_web_identity(
    server: &DevServer,
    role_arn: &str,
    session: &str,
    token: &str,
) -> serde_json::Value {
    let out = Command::new(aws_cli())
        .args([
            "sts",
            "assume-role-with-web-identity",
            "--role-arn",
            role_arn,
            "--role-session-name",
            session,
            "--web-identity-token",
            token,
        ])
        .env("AWS_ENDPOINT_URL", &server.manifest.endpoint)
        .env("AWS_DEFAULT_REGION", &server.manifest.region)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&String::from_utf8_lossy(&out.stdout))
}

/// Register `idp` as an OIDC provider of [`ROOT`] for the client `example-cli`: its ARN, named
/// with the issuer's host and path.
async fn register_provider(iam: &aws_sdk_iam::Client, idp: &TestIdp) -> String {
    let provider = iam
        .create_open_id_connect_provider()
        .url(&idp.issuer)
        .client_id_list("example-cli")
        .send()
        .await
        .unwrap();
    let provider_arn = provider.open_id_connect_provider_arn().unwrap().to_owned();
    assert_eq!(
        provider_arn,
        format!(
            "arn:aws:iam::111111111111:oidc-provider/{}",
            idp.host_path()
        )
    );
    provider_arn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_with_a_real_oidc_provider() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let idp = tessera_testkit::TestIdp::start(dir.path());
    let iam = aws_sdk_iam::Client::new(&account_config(&server, ROOT).await);
    let host = idp.host_path();
    let provider_arn = register_provider(&iam, &idp).await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider_arn}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{host}:aud":"example-cli"}},"StringLike":{{"{host}:sub":"0b4e7a0e-*"}}}}}}]}}"#
    );
    create_role(&iam, "WebRole", &trust).await;
    let role_arn = "arn:aws:iam::111111111111:role/WebRole";

    // A real login (authorization code + PKCE through the IdP's login form) gives an id_token.
    let mateo = idp.login("example-cli", "mateo.jackson", "mateo-password");

    // The AWS CLI exchanges it (the call is unsigned) and the credentials work.
    let v = cli_web_identity(&server, role_arn, "mateo", &mateo);
    assert_eq!(
        v["SubjectFromWebIdentityToken"],
        "0b4e7a0e-5b8c-4f62-9a51-3f1b2c6d7e01"
    );
    assert_eq!(v["Audience"], "example-cli");
    assert_eq!(v["Provider"], host);
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111111111111:assumed-role/WebRole/mateo"
    );
    let c = creds(&v);
    assert_eq!(
        Cli::session(&server, &c).caller_arn(),
        "arn:aws:sts::111111111111:assumed-role/WebRole/mateo"
    );

    // Refusals, through the Rust SDK (the call is unsigned there too).
    let anon = aws_sdk_sts::Client::new(&server.sdk_config("AKIAUNUSEDUNUSED0000", "unused").await);
    let web = |token: String| {
        anon.assume_role_with_web_identity()
            .role_arn(role_arn)
            .role_session_name("s1")
            .web_identity_token(token)
            .send()
    };
    let code_of = |e: aws_sdk_sts::error::SdkError<_>| code(&e);
    // Wrong audience: the web client's token is not for a registered client id.
    let eve_web = idp.login("example-web", "eve.blue", "eve-password");
    assert_eq!(
        code_of(web(eve_web).await.unwrap_err()),
        "InvalidIdentityToken"
    );
    // Tampered signature.
    let mut tampered = mateo.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        code_of(web(tampered).await.unwrap_err()),
        "InvalidIdentityToken"
    );
    // Expired (signed with the IdP's own key, so only the time is wrong).
    let now = chrono::Utc::now().timestamp();
    let claims = |iss: &str, exp: i64| {
        serde_json::json!({"iss": iss, "sub": "0b4e7a0e-5b8c-4f62-9a51-3f1b2c6d7e01", "aud": "example-cli",
            "iat": exp - 3600, "exp": exp, "jti": format!("j-{exp}")})
    };
    assert_eq!(
        code_of(
            web(idp.mint(&claims(&idp.issuer, now - 300)))
                .await
                .unwrap_err()
        ),
        "ExpiredTokenException"
    );
    // Within the 60 s leeway it is still accepted.
    web(idp.mint(&claims(&idp.issuer, now - 20))).await.unwrap();
    // Unknown issuer: no OIDC provider for it in the role's account.
    assert_eq!(
        code_of(
            web(idp.mint(&claims("http://127.0.0.1:1", now + 600)))
                .await
                .unwrap_err()
        ),
        "InvalidIdentityToken"
    );
    // Variants of the issuer URL do not name the provider.
    assert_eq!(
        code_of(
            web(idp.mint(&claims(&format!("{}//", idp.issuer), now + 600)))
                .await
                .unwrap_err()
        ),
        "InvalidIdentityToken"
    );
    // Trust-policy conditions on the provider's sub: eve may not assume the role.
    let eve_cli = idp.login("example-cli", "eve.blue", "eve-password");
    // A provider registered without client ids accepts no audience at all.
    let iam_b = aws_sdk_iam::Client::new(&account_config(&server, IDC).await);
    iam_b
        .create_open_id_connect_provider()
        .url(&idp.issuer)
        .send()
        .await
        .unwrap();
    let trust_b = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::222222222222:oidc-provider/{host}"}},"Action":"sts:AssumeRoleWithWebIdentity"}}]}}"#
    );
    iam_b
        .create_role()
        .role_name("OpenRole")
        .assume_role_policy_document(trust_b)
        .send()
        .await
        .unwrap();
    let e = anon
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::222222222222:role/OpenRole")
        .role_session_name("s1")
        .web_identity_token(mateo.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code_of(e), "InvalidIdentityToken");
    assert_eq!(code_of(web(eve_cli).await.unwrap_err()), "AccessDenied");
}

/// Seed 004's Okta issuer has a path (`https://dev-12345678.okta.com/oauth2/default`): the
/// provider is named with it, and trust-policy conditions use keys prefixed with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_with_an_issuer_under_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let idp = tessera_testkit::TestIdp::start_under(dir.path(), "/oauth2/default");
    assert!(idp.issuer.ends_with("/oauth2/default"), "{}", idp.issuer);
    let iam = aws_sdk_iam::Client::new(&account_config(&server, ROOT).await);
    let host = idp.host_path(); // 127.0.0.1:PORT/oauth2/default
    let provider_arn = register_provider(&iam, &idp).await;
    let mateo_sub = "0b4e7a0e-5b8c-4f62-9a51-3f1b2c6d7e01";
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider_arn}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{host}:aud":"example-cli","{host}:sub":"{mateo_sub}"}}}}}}]}}"#
    );
    iam.create_role()
        .role_name("PathRole")
        .assume_role_policy_document(trust)
        .send()
        .await
        .expect("a trust policy conditioning on a path issuer's keys is accepted");
    let role_arn = "arn:aws:iam::111111111111:role/PathRole";
    // Seed 004's own provider and trust policy (no port in the URL): accepted as well.
    let okta = iam
        .create_open_id_connect_provider()
        .url("https://dev-12345678.okta.com/oauth2/default")
        .client_id_list("aBc12345dBe6789FgH0")
        .send()
        .await
        .unwrap();
    let okta_arn = okta.open_id_connect_provider_arn().unwrap();
    assert_eq!(
        okta_arn,
        "arn:aws:iam::111111111111:oidc-provider/dev-12345678.okta.com/oauth2/default"
    );
    iam.create_role()
        .role_name("OktaRole")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{okta_arn}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"dev-12345678.okta.com/oauth2/default:aud":"aBc12345dBe6789FgH0"}},"StringLike":{{"dev-12345678.okta.com/oauth2/default:sub":"*"}}}}}}]}}"#
        ))
        .send()
        .await
        .expect("the seed's trust policy is accepted");

    // The right subject, logged in through the IdP's form: the AWS CLI exchanges the token.
    let mateo = idp.login("example-cli", "mateo.jackson", "mateo-password");
    let v = cli_web_identity(&server, role_arn, "mateo", &mateo);
    assert_eq!(v["SubjectFromWebIdentityToken"], mateo_sub);
    assert_eq!(v["Provider"], host);
    assert_eq!(
        v["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111111111111:assumed-role/PathRole/mateo"
    );

    // Another subject of the same IdP and client: the :sub condition refuses it.
    let anon = aws_sdk_sts::Client::new(&server.sdk_config("AKIAUNUSEDUNUSED0000", "unused").await);
    let eve = idp.login("example-cli", "eve.blue", "eve-password");
    let e = anon
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name("eve")
        .web_identity_token(eve)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // The same token is also accepted through aws-sdk-rust.
    let ok = anon
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name("mateo2")
        .web_identity_token(mateo)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.provider(), Some(host.as_str()));

    // An IdP that cannot be reached: AWS's generic IDPCommunicationError, nothing about why.
    let gone = "http://127.0.0.1:1/oauth2/default";
    iam.create_open_id_connect_provider()
        .url(gone)
        .client_id_list("example-cli")
        .send()
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    let token = idp.mint(
        &serde_json::json!({"iss": gone, "sub": mateo_sub, "aud": "example-cli",
        "iat": now, "exp": now + 600, "jti": "unreachable-1"}),
    );
    iam.create_role()
        .role_name("GoneRole")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111111111111:oidc-provider/127.0.0.1:1/oauth2/default"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let e = anon
        .assume_role_with_web_identity()
        .role_arn("arn:aws:iam::111111111111:role/GoneRole")
        .role_session_name("unreachable")
        .web_identity_token(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "IDPCommunicationError");
    let message = aws_sdk_sts::error::ProvideErrorMetadata::message(&e)
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.starts_with("Couldn't retrieve verification key from your identity provider"),
        "{message}"
    );
    assert!(
        !message.contains("127.0.0.1") && !message.contains("refused"),
        "{message}"
    );
}
