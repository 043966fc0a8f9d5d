//! End-to-end tests: the real `tessera dev` binary on an ephemeral port, driven by the AWS CLI,
//! boto3 and aws-sdk-rust.

use std::path::{Path, PathBuf};
use std::process::Command;
use tessera_testkit::{DevServer, http_get, tessera_command};

const ROOT: &str = "111111111111";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn trust_policy() -> String {
    std::fs::read_to_string(fixture("fixtures/application-role-trust.json")).unwrap()
}

/// Run the AWS CLI; returns (success, stdout, stderr).
fn aws(server: &DevServer, key: (&str, &str), args: &[&str]) -> (bool, String, String) {
    let cli = std::env::var("TESSERA_TEST_AWS_CLI").unwrap_or_else(|_| "aws".into());
    let out = Command::new(&cli)
        .args(args)
        .envs(server.cli_env(key.0, key.1))
        .output()
        .unwrap_or_else(|e| panic!("running {cli}: {e} (the test script installs the AWS CLI)"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn aws_cli_flow() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let trust_file = fixture("fixtures/application-role-trust.json");
    let trust_arg = format!("file://{}", trust_file.display());

    let (ok, out, err) = aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "ApplicationRole",
            "--assume-role-policy-document",
            &trust_arg,
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["Role"]["Arn"],
        "arn:aws:iam::111111111111:role/ApplicationRole"
    );
    assert_eq!(
        v["Role"]["AssumeRolePolicyDocument"],
        serde_json::from_str::<serde_json::Value>(&trust_policy()).unwrap()
    );

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sso-oauth:CreateTokenWithIAM","Resource":"arn:aws:sso::222222222222:application/ssoins-12345678/apl-87654321"},{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111111111111:role/IdentityBearerRole"}]}"#;
    let (ok, _, err) = aws(
        &server,
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "ApplicationRole",
            "--policy-name",
            "app",
            "--policy-document",
            policy,
        ],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = aws(
        &server,
        key,
        &[
            "iam",
            "get-role-policy",
            "--role-name",
            "ApplicationRole",
            "--policy-name",
            "app",
        ],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["PolicyDocument"],
        serde_json::from_str::<serde_json::Value>(policy).unwrap()
    );

    let (ok, out, err) = aws(
        &server,
        key,
        &["iam", "list-roles", "--query", "Roles[].RoleName"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"ApplicationRole\""), "{out}");

    let (ok, out, err) = aws(
        &server,
        key,
        &[
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "arn:aws:iam::111111111111:root");

    let (ok, _, err) = aws(
        &server,
        (key.0, "not-the-secret"),
        &["sts", "get-caller-identity"],
    );
    assert!(!ok);
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");

    let (ok, _, err) = aws(
        &server,
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "ApplicationRole",
            "--policy-name",
            "bad",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}"#,
        ],
    );
    assert!(!ok);
    assert!(err.contains("MalformedPolicyDocument"), "{err}");

    let (ok, _, err) = aws(
        &server,
        key,
        &["iam", "create-user", "--user-name", "carol"],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = aws(
        &server,
        key,
        &["iam", "create-access-key", "--user-name", "carol"],
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let carol = (
        v["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        v["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let (ok, _, err) = aws(&server, (&carol.0, &carol.1), &["iam", "list-roles"]);
    assert!(!ok);
    assert!(err.contains("AccessDenied"), "{err}");
    let (ok, out, _) = aws(
        &server,
        (&carol.0, &carol.1),
        &[
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ],
    );
    assert!(ok);
    assert_eq!(out.trim(), "arn:aws:iam::111111111111:user/carol");
}

#[test]
fn boto3_flow() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let python = std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(fixture("boto3_flow.py"))
        .arg(&server.manifest_path)
        .arg(fixture("fixtures/application-role-trust.json"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(
        out.status.success(),
        "boto3 flow failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn code<E: aws_sdk_iam::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_flow_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    let sts = aws_sdk_sts::Client::new(&cfg);

    let id = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(id.arn(), Some("arn:aws:iam::111111111111:root"));
    assert_eq!(id.account(), Some(ROOT));

    let role = iam
        .create_role()
        .role_name("ApplicationRole")
        .assume_role_policy_document(trust_policy())
        .max_session_duration(7200)
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.arn(), "arn:aws:iam::111111111111:role/ApplicationRole");
    assert!(role.role_id().starts_with("AROA"));
    assert_eq!(role.max_session_duration(), Some(7200));

    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"arn:aws:s3:us-east-1:111111111111:access-grants/default"}]}"#;
    iam.put_role_policy()
        .role_name("ApplicationRole")
        .policy_name("grants")
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    let got = iam
        .get_role_policy()
        .role_name("ApplicationRole")
        .policy_name("grants")
        .send()
        .await
        .unwrap();
    // IAM returns the document URL-encoded; the Rust SDK hands it over as is.
    let decoded = percent_decode(got.policy_document());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&decoded).unwrap(),
        serde_json::from_str::<serde_json::Value>(doc).unwrap()
    );
    let roles = iam.list_roles().send().await.unwrap();
    assert_eq!(
        roles
            .roles()
            .iter()
            .map(|r| r.role_name())
            .collect::<Vec<_>>(),
        ["ApplicationRole"]
    );

    let mp = iam.create_policy().policy_name("ReadOnly").policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#).send().await.unwrap();
    let mp_arn = mp.policy().unwrap().arn().unwrap().to_owned();
    iam.attach_role_policy()
        .role_name("ApplicationRole")
        .policy_arn(&mp_arn)
        .send()
        .await
        .unwrap();
    let attached = iam
        .list_attached_role_policies()
        .role_name("ApplicationRole")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    let e = iam
        .delete_policy()
        .policy_arn(&mp_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");
    let e = iam
        .delete_role()
        .role_name("ApplicationRole")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");

    let e = iam
        .create_role()
        .role_name("Bad")
        .assume_role_policy_document("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
        "a".repeat(7000)
    );
    let e = iam
        .create_policy()
        .policy_name("Huge")
        .policy_document(huge)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceeded");

    // An IAM user without permission is refused; with an allowing policy it may act.
    iam.create_user().user_name("dave").send().await.unwrap();
    let k = iam
        .create_access_key()
        .user_name("dave")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let dcfg = server
        .sdk_config(k.access_key_id(), k.secret_access_key())
        .await;
    let dave = aws_sdk_iam::Client::new(&dcfg);
    let e = dave.list_roles().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let did = aws_sdk_sts::Client::new(&dcfg)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(did.arn(), Some("arn:aws:iam::111111111111:user/dave"));
    assert!(did.user_id().unwrap().starts_with("AIDA"));

    // Wrong secret.
    let bad = server.sdk_config(&root.access_key_id, "wrong-secret").await;
    let e = aws_sdk_sts::Client::new(&bad)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(|s| aws_sdk_sts::error::ProvideErrorMetadata::code(s)),
        Some("SignatureDoesNotMatch")
    );

    // Every request produced exactly one audit record, and none holds a secret.
    let requests = 17; // the calls above, one HTTP request each (retries are off)
    let records = server.audit_records();
    assert_eq!(records.len(), requests, "one audit record per request");
    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(!text.contains(&root.secret_access_key));
    assert!(!text.contains(k.secret_access_key()));
    let create = records
        .iter()
        .find(|r| r["eventName"] == "CreateRole" && r["errorCode"].is_null())
        .unwrap();
    assert_eq!(create["eventSource"], "iam.amazonaws.com");
    assert_eq!(create["userIdentity"]["type"], "Root");
    assert_eq!(
        create["resources"][0]["ARN"],
        "arn:aws:iam::111111111111:role/ApplicationRole"
    );
    let denied = records
        .iter()
        .find(|r| r["errorCode"] == "AccessDenied")
        .unwrap();
    assert_eq!(denied["userIdentity"]["userName"], "dave");
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = DevServer::start(dir.path());
    let first_keys = server.account(ROOT).clone();
    {
        let cfg = server
            .sdk_config(&first_keys.access_key_id, &first_keys.secret_access_key)
            .await;
        let iam = aws_sdk_iam::Client::new(&cfg);
        iam.create_role()
            .role_name("Durable")
            .assume_role_policy_document(trust_policy())
            .send()
            .await
            .unwrap();
        iam.put_role_policy().role_name("Durable").policy_name("p").policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#).send().await.unwrap();
    }
    assert!(server.stop(), "tessera dev exits cleanly on SIGTERM");

    let server = DevServer::start(dir.path());
    let again = server.account(ROOT).clone();
    assert_eq!(
        again.access_key_id, first_keys.access_key_id,
        "same keys after restart"
    );
    assert_eq!(again.secret_access_key, first_keys.secret_access_key);
    let cfg = server
        .sdk_config(&again.access_key_id, &again.secret_access_key)
        .await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    let role = iam.get_role().role_name("Durable").send().await.unwrap();
    assert_eq!(role.role().unwrap().role_name(), "Durable");
    let names = iam
        .list_role_policies()
        .role_name("Durable")
        .send()
        .await
        .unwrap();
    assert_eq!(names.policy_names(), ["p"]);
}

#[test]
fn operator_commands_and_admin_listener() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert!(tessera_command(&["migrate", "--data-dir", d]).contains("migrations applied"));
    tessera_command(&["account", "create", "333333333333", "--data-dir", d]);
    let out = tessera_command(&[
        "key",
        "create",
        "--account",
        "333333333333",
        "--data-dir",
        d,
    ]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("{name} missing in {out}"))
    };
    let (key_id, secret) = (field("AccessKeyId:"), field("SecretAccessKey:"));
    assert!(key_id.starts_with("AKIA"));

    let server = DevServer::start_with(dir.path(), &["--admin-listen", "127.0.0.1:0"]);
    let (ok, out, err) = aws(
        &server,
        (&key_id, &secret),
        &[
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "arn:aws:iam::333333333333:root");

    let admin = server
        .manifest
        .admin_endpoint
        .clone()
        .expect("admin endpoint in manifest");
    let (status, body) = http_get(&admin, "/healthz");
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, body) = http_get(&admin, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.contains(
            "tessera_requests_total{service=\"sts\",action=\"GetCallerIdentity\",status=\"200\"} 1"
        ),
        "{body}"
    );
    assert!(body.contains(
        "tessera_request_duration_seconds_count{service=\"sts\",action=\"GetCallerIdentity\"} 1"
    ));
    assert_eq!(http_get(&admin, "/nope").0, 404);
}
