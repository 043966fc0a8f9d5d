//! End-to-end tests: the real `tessera dev` binary on an ephemeral port, driven by the AWS CLI,
//! boto3 and aws-sdk-rust.

use std::path::PathBuf;
use std::process::Command;
use tessera_testkit::{DevServer, http_get, tessera_command};

const ROOT: &str = "111111111111";

#[path = "e2e/tip.rs"]
mod tip;

fn fixture(name: &str) -> PathBuf {
    tessera_testkit::manifest_dir().join("tests").join(name)
}

fn trust_policy() -> String {
    std::fs::read_to_string(fixture("fixtures/application-role-trust.json")).unwrap()
}

/// How the AWS CLI reaches s3control, which prepends `{AccountId}.` to the endpoint host
/// (a name that does not resolve here): through Tessera itself as the HTTP proxy, so the
/// name is never looked up and the request keeps the labelled Host it was signed with
/// (README, "s3control and the account host label").
fn s3control_env(server: &DevServer, args: &[&str]) -> Vec<(String, String)> {
    if args.first() != Some(&"s3control") {
        return Vec::new();
    }
    let e = server.manifest.endpoint.clone();
    vec![
        ("HTTP_PROXY".into(), e.clone()),
        ("http_proxy".into(), e),
        ("NO_PROXY".into(), String::new()),
        ("no_proxy".into(), String::new()),
    ]
}

/// Run the AWS CLI; returns (success, stdout, stderr).
fn aws(server: &DevServer, key: (&str, &str), args: &[&str]) -> (bool, String, String) {
    let cli = std::env::var("TESSERA_TEST_AWS_CLI").unwrap_or_else(|_| "aws".into());
    let out = Command::new(&cli)
        .args(args)
        .envs(server.cli_env(key.0, key.1))
        .envs(s3control_env(server, args))
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
        // The flow's checks are not `assert`s: they must hold with assertions stripped too.
        .env("PYTHONOPTIMIZE", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "boto3 flow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().last(),
        Some("boto3 flow ok"),
        "the boto3 flow did not reach its end:\n{stdout}"
    );
}

/// Run `s3_api.py` (boto3 over the whole S3 API, its bad inputs included) against `server`.
fn run_s3_api(server: &DevServer, bucket_prefix: &str, backend: &str) {
    let python = std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(fixture("s3_api.py"))
        .arg(&server.manifest_path)
        .arg(bucket_prefix)
        .arg(backend)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("PYTHONOPTIMIZE", "1")
        .env("NO_PROXY", "")
        .env("no_proxy", "")
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the boto3 S3 suite failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().last(),
        Some("s3 api ok"),
        "the boto3 S3 suite did not reach its end:\n{stdout}"
    );
}

/// boto3 drives the S3 API with Garage keeping the objects (the upstream backend).
#[test]
fn boto3_s3_api_upstream_backend() {
    let dir = tempfile::tempdir().unwrap();
    let garage = tessera_testkit::GarageNode::start(dir.path());
    let server = DevServer::start_upstream(&dir.path().join("tessera"), &garage);
    run_s3_api(&server, "garage", "upstream");
}

/// boto3 drives the S3 API on the local filesystem backend.
#[test]
fn boto3_s3_api_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    run_s3_api(&server, "local", "local");
    // Nothing is left in the object store's temp directory.
    let tmp = dir.path().join("objects").join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
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
    let text = serde_json::to_string(&records).unwrap();
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

    // The operator endpoints answer only an operator token, at an expected Host, from no
    // other site — and every attempt, allowed or refused, is in the audit trail.
    let out = tessera_command(&[
        "operator-token",
        "create",
        "--description",
        "on-call",
        "--data-dir",
        d,
    ]);
    let op_token = out
        .lines()
        .find_map(|l| l.strip_prefix("Token:"))
        .unwrap()
        .trim()
        .to_owned();
    let op_id = out
        .lines()
        .find_map(|l| l.strip_prefix("TokenId:"))
        .unwrap()
        .trim()
        .to_owned();
    let listed = tessera_command(&["operator-token", "list", "--data-dir", d]);
    assert!(
        listed.contains(&op_id) && listed.contains("on-call"),
        "{listed}"
    );
    assert!(
        !listed.contains(&op_token),
        "the token itself is listed: {listed}"
    );
    let bearer = format!("Bearer {op_token}");
    let addr = admin.trim_start_matches("http://").to_owned();
    let call = |method: &str, path: &str, headers: &[(&str, &str)]| {
        tessera_testkit::http_request(&admin, method, path, headers, "")
    };
    let authed = |path: &str| call("GET", path, &[("Authorization", bearer.as_str())]);
    for (method, path) in [
        ("GET", "/audit/events"),
        ("GET", "/audit/explain?requestId=x"),
        ("POST", "/sessions/revoke?user=someone"),
    ] {
        // No token, a wrong one: 401.
        assert_eq!(call(method, path, &[]).0, 401, "{method} {path}");
        assert_eq!(
            call(method, path, &[("Authorization", "Bearer not-a-token")]).0,
            401,
            "{method} {path}"
        );
        // A name an attacker's DNS could point here (rebinding), even with the token: 403.
        let host = addr.replace("127.0.0.1", "rebind.attacker.example");
        let (status, _) =
            raw_admin_request(&addr, method, path, &host, &[("Authorization", &bearer)]);
        assert_eq!(status, 403, "{method} {path} with Host {host}");
        // A browser page on another site, even with the token: 403.
        for h in [
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "http://evil.example"),
        ] {
            assert_eq!(
                call(method, path, &[("Authorization", bearer.as_str()), h]).0,
                403,
                "{method} {path} {h:?}"
            );
        }
    }
    // Metrics and health stay open, whatever the Host.
    assert_eq!(
        raw_admin_request(&addr, "GET", "/metrics", "scraper.internal:9100", &[]).0,
        200
    );
    assert_eq!(
        raw_admin_request(&addr, "GET", "/healthz", "anything", &[]).0,
        200
    );

    // The audit trail over HTTP: the same query and explanation as the CLI's.
    let (denied, _, _) = aws(
        &server,
        (&key_id, "wrong-secret"),
        &["sts", "get-caller-identity"],
    );
    assert!(!denied);
    let http_get = |_: &str, path: &str| authed(path);
    let (status, body) = http_get(&admin, "/audit/events?event=GetCallerIdentity&limit=10");
    assert_eq!(status, 200, "{body}");
    let records = json(&body)["Records"].as_array().unwrap().clone();
    assert_eq!(records.len(), 2, "{body}");
    // Newest first: the refused call, then the one that succeeded.
    assert_eq!(records[0]["errorCode"], "SignatureDoesNotMatch");
    assert!(records[1]["errorCode"].is_null());
    assert_eq!(
        records[1]["userIdentity"]["arn"],
        "arn:aws:iam::333333333333:root"
    );
    let id = records[1]["requestID"].as_str().unwrap();
    let (status, text) = http_get(&admin, &format!("/audit/explain?requestId={id}"));
    assert_eq!(status, 200);
    assert!(
        text.contains(&format!("Request {id} at "))
            && text.contains("sts GetCallerIdentity")
            && text.contains("Result: allowed"),
        "{text}"
    );
    let (status, text) = http_get(
        &admin,
        &format!(
            "/audit/explain?requestId={}",
            records[0]["requestID"].as_str().unwrap()
        ),
    );
    assert_eq!(status, 200);
    assert!(
        text.contains("Result: SignatureDoesNotMatch")
            && text.contains("refused before authorisation"),
        "{text}"
    );
    assert_eq!(http_get(&admin, "/audit/explain?requestId=nope").0, 404);
    assert_eq!(http_get(&admin, "/audit/explain").0, 400);
    assert_eq!(http_get(&admin, "/audit/events?since=yesterday").0, 400);
    assert_eq!(http_get(&admin, "/audit/events?limit=0").0, 400);
    let (status, body) = http_get(
        &admin,
        "/audit/events?since=1h&principal=arn:aws:iam::333333333333:root",
    );
    assert_eq!(status, 200);
    assert_eq!(
        json(&body)["Records"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    // A revocation by an operator, then the trail of operator actions: the revocation names
    // the token and the user; the refused attempts are there too, with no one's name.
    let (status, body) = call(
        "POST",
        "/sessions/revoke?user=0b4e7a0e-5b8c-4f62-9a51-000000000001",
        &[("Authorization", bearer.as_str())],
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = authed("/audit/events?event=RevokeUserSessions&limit=100");
    assert_eq!(status, 200, "{body}");
    let records = json(&body)["Records"].as_array().unwrap().clone();
    let done: Vec<_> = records
        .iter()
        .filter(|r| r["errorCode"].is_null())
        .collect();
    assert_eq!(done.len(), 1, "{body}");
    assert_eq!(done[0]["eventSource"], "tessera.admin");
    assert_eq!(done[0]["userIdentity"]["principalId"], op_id.as_str());
    assert_eq!(done[0]["userIdentity"]["description"], "on-call");
    assert_eq!(
        done[0]["requestParameters"]["user"],
        "0b4e7a0e-5b8c-4f62-9a51-000000000001"
    );
    let refused: Vec<_> = records
        .iter()
        .filter(|r| !r["errorCode"].is_null())
        .collect();
    assert_eq!(refused.len(), 5, "{body}");
    assert!(refused.iter().any(|r| r["errorCode"] == "Unauthorized"));
    assert!(refused.iter().any(|r| r["errorCode"] == "UnexpectedHost"));
    assert!(refused.iter().any(|r| r["errorCode"] == "CrossSiteRequest"));
    assert!(
        !body.contains(&op_token),
        "an operator token reached the audit trail"
    );
    let (status, body) = authed("/audit/events?event=LookupAuditEvents&limit=100");
    assert_eq!(status, 200);
    assert!(
        json(&body)["Records"].as_array().unwrap().len() >= 5,
        "{body}"
    );
    // A revoked token is refused at once.
    tessera_command(&[
        "operator-token",
        "revoke",
        "--token-id",
        &op_id,
        "--data-dir",
        d,
    ]);
    assert_eq!(authed("/audit/events").0, 401);
}

/// One request to the admin listener with an exact `Host` header: (status, body).
fn raw_admin_request(
    addr: &str,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn creds(v: &serde_json::Value) -> (String, String, String) {
    let c = &v["Credentials"];
    (
        c["AccessKeyId"].as_str().unwrap().to_owned(),
        c["SecretAccessKey"].as_str().unwrap().to_owned(),
        c["SessionToken"].as_str().unwrap().to_owned(),
    )
}

/// The AWS CLI with temporary credentials.
fn aws_session(
    server: &DevServer,
    c: &(String, String, String),
    args: &[&str],
) -> (bool, String, String) {
    let cli = std::env::var("TESSERA_TEST_AWS_CLI").unwrap_or_else(|_| "aws".into());
    let out = Command::new(&cli)
        .args(args)
        .envs(server.cli_env(&c.0, &c.1))
        .envs(s3control_env(server, args))
        .env("AWS_SESSION_TOKEN", &c.2)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The seed's application flow with the AWS CLI: the root assumes `ApplicationRole`, which
/// assumes `IdentityBearerRole` under the seed's trust policy (`ArnEquals aws:PrincipalArn`);
/// another role is refused; get-caller-identity shows the assumed-role ARNs.
#[test]
fn cli_assume_role_chain_with_the_seed_trust_policies() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let ok = |r: (bool, String, String)| {
        assert!(r.0, "{}", r.2);
        r.1
    };
    // ApplicationRole: the seed's Lambda trust, plus this account (the CLI stands in for the
    // Lambda runtime); and the seed's permissions.
    let app_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com.rproxy.govskope.ca"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "ApplicationRole",
            "--assume-role-policy-document",
            app_trust,
        ],
    ));
    let app_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sso-oauth:CreateTokenWithIAM","Resource":"arn:aws:sso::222222222222:application/ssoins-12345678/apl-87654321"},{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111111111111:role/IdentityBearerRole"}]}"#;
    ok(aws(
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
            app_policy,
        ],
    ));
    // IdentityBearerRole with the seed's trust policy minus the Identity Center context
    // condition (ProvidedContexts arrive with Identity Center); a second role with the seed's
    // exact trust policy.
    let fixture_arg = |n: &str| format!("file://{}", fixture(&format!("fixtures/{n}")).display());
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "IdentityBearerRole",
            "--assume-role-policy-document",
            &fixture_arg("identity-bearer-trust-no-context.json"),
        ],
    ));
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "SeedIdentityBearerRole",
            "--assume-role-policy-document",
            &fixture_arg("identity-bearer-trust.json"),
        ],
    ));
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "OtherRole",
            "--assume-role-policy-document",
            app_trust,
        ],
    ));
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "OtherRole",
            "--policy-name",
            "any",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        ],
    ));

    // Roles may not be assumed by the account root (as in AWS): a developer user does it.
    ok(aws(
        &server,
        key,
        &["iam", "create-user", "--user-name", "developer"],
    ));
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "developer",
            "--policy-name",
            "assume",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        ],
    ));
    let dev_key = json(&ok(aws(
        &server,
        key,
        &["iam", "create-access-key", "--user-name", "developer"],
    )));
    let dev_id = dev_key["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev_secret = dev_key["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev = (dev_id.as_str(), dev_secret.as_str());
    let (success, _, err) = aws(
        &server,
        key,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111111111111:role/ApplicationRole",
            "--role-session-name",
            "root",
        ],
    );
    assert!(
        !success && err.contains("Roles may not be assumed by root accounts"),
        "{err}"
    );

    let app = creds(&json(&ok(aws(
        &server,
        dev,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111111111111:role/ApplicationRole",
            "--role-session-name",
            "app",
        ],
    ))));
    assert!(app.0.starts_with("ASIA"));
    let who = json(&ok(aws_session(
        &server,
        &app,
        &["sts", "get-caller-identity"],
    )));
    assert_eq!(
        who["Arn"],
        "arn:aws:sts::111111111111:assumed-role/ApplicationRole/app"
    );
    assert!(
        who["UserId"].as_str().unwrap().starts_with("AROA")
            && who["UserId"].as_str().unwrap().ends_with(":app")
    );

    let bearer = json(&ok(aws_session(
        &server,
        &app,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111111111111:role/IdentityBearerRole",
            "--role-session-name",
            "webapp",
        ],
    )));
    assert_eq!(
        bearer["AssumedRoleUser"]["Arn"],
        "arn:aws:sts::111111111111:assumed-role/IdentityBearerRole/webapp"
    );
    let bearer = creds(&bearer);
    let who = json(&ok(aws_session(
        &server,
        &bearer,
        &["sts", "get-caller-identity"],
    )));
    assert_eq!(
        who["Arn"],
        "arn:aws:sts::111111111111:assumed-role/IdentityBearerRole/webapp"
    );

    // Another caller is refused by the ArnEquals aws:PrincipalArn condition.
    let other = creds(&json(&ok(aws(
        &server,
        dev,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111111111111:role/OtherRole",
            "--role-session-name",
            "other",
        ],
    ))));
    let (success, _, err) = aws_session(
        &server,
        &other,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111111111111:role/IdentityBearerRole",
            "--role-session-name",
            "xx",
        ],
    );
    assert!(!success && err.contains("AccessDenied"), "{err}");
    // The developer is refused too: the condition names ApplicationRole only.
    let (success, _, err) = aws(
        &server,
        dev,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111111111111:role/IdentityBearerRole",
            "--role-session-name",
            "xx",
        ],
    );
    assert!(!success && err.contains("AccessDenied"), "{err}");
    // The seed's exact trust policy also requires an Identity Center context.
    let (success, _, err) = aws_session(
        &server,
        &app,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111111111111:role/SeedIdentityBearerRole",
            "--role-session-name",
            "xx",
        ],
    );
    assert!(!success && err.contains("AccessDenied"), "{err}");
    // Chained sessions are capped at one hour.
    let (success, _, err) = aws_session(
        &server,
        &app,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::111111111111:role/IdentityBearerRole",
            "--role-session-name",
            "xx",
            "--duration-seconds",
            "7200",
        ],
    );
    assert!(
        !success && err.contains("ValidationError") && err.contains("role chaining"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_policies_tags_source_identity_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    // Roles are assumed by an IAM user allowed to (root may not assume roles).
    iam.create_user().user_name("dev").send().await.unwrap();
    iam.put_user_policy()
        .user_name("dev")
        .policy_name("sts")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let k = iam
        .create_access_key()
        .user_name("dev")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let sts = aws_sdk_sts::Client::new(
        &server
            .sdk_config(k.access_key_id(), k.secret_access_key())
            .await,
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Condition":{"StringEquals":{"sts:ExternalId":"ext-1234"}}}]}"#;
    iam.create_role()
        .role_name("Reader")
        .assume_role_policy_document(trust)
        .max_session_duration(7200)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("Reader")
        .policy_name("read")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetRole","iam:ListRoles"],"Resource":"*"},{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let arn = "arn:aws:iam::111111111111:role/Reader";

    // The trust policy's sts:ExternalId condition is honoured.
    let e = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("s1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("s1")
        .external_id("wrong-id")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Duration bounds: above the role's maximum, below 900.
    let e = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("s1")
        .external_id("ext-1234")
        .duration_seconds(7201)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    let e = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("s1")
        .external_id("ext-1234")
        .duration_seconds(899)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    let e = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("bad name!")
        .external_id("ext-1234")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError");
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:GetRole","Resource":"arn:aws:iam::111111111111:role/{}"}}]}}"#,
        "r".repeat(2100)
    );
    let e = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("s1")
        .external_id("ext-1234")
        .policy(huge)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "PackedPolicyTooLarge");
    let e = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("s1")
        .external_id("ext-1234")
        .policy("{nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");

    // A session policy narrows the session to GetRole; tags and source identity are set.
    let out = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("narrow")
        .external_id("ext-1234")
        .duration_seconds(7200)
        .source_identity("mateo.jackson")
        .tags(aws_sdk_sts::types::Tag::builder().key("team").value("red").build().unwrap())
        .transitive_tag_keys("team")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetRole","sts:*"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(out.source_identity(), Some("mateo.jackson"));
    #[allow(deprecated)]
    let packed = out.packed_policy_size();
    assert!(packed.unwrap() > 0);
    let c = out.credentials().unwrap();
    let expires = c.expiration().secs() - chrono::Utc::now().timestamp();
    assert!(
        (7100..=7200).contains(&expires),
        "duration honoured: {expires}"
    );
    let scfg = session_config(&server, c).await;
    let siam = aws_sdk_iam::Client::new(&scfg);
    siam.get_role().role_name("Reader").send().await.unwrap();
    let e = siam.list_roles().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "session policy ∩ role policy");

    // Chaining keeps the source identity (it cannot change) and transitive tags.
    let ssts = aws_sdk_sts::Client::new(&scfg);
    let e = ssts
        .assume_role()
        .role_arn(arn)
        .role_session_name("c1")
        .external_id("ext-1234")
        .source_identity("someone.else")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let chained = ssts
        .assume_role()
        .role_arn(arn)
        .role_session_name("chained")
        .external_id("ext-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(chained.source_identity(), Some("mateo.jackson"));

    // Revoke older sessions the AWS way: deny everything for tokens issued before now.
    let plain = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("plain")
        .external_id("ext-1234")
        .send()
        .await
        .unwrap();
    let pcfg = session_config(&server, plain.credentials().unwrap()).await;
    let piam = aws_sdk_iam::Client::new(&pcfg);
    piam.list_roles().send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let cutoff = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let revoke = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff}"}}}}}}]}}"#
    );
    iam.put_role_policy()
        .role_name("Reader")
        .policy_name("AWSRevokeOlderSessions")
        .policy_document(revoke)
        .send()
        .await
        .unwrap();
    let e = piam.list_roles().send().await.unwrap_err();
    assert_eq!(
        code(&e),
        "AccessDenied",
        "sessions issued before the cutoff are revoked"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("fresh")
        .external_id("ext-1234")
        .send()
        .await
        .unwrap();
    let fiam =
        aws_sdk_iam::Client::new(&session_config(&server, fresh.credentials().unwrap()).await);
    fiam.list_roles().send().await.unwrap();

    // The audit trail names the session and its source identity, never the secret or token.
    let records = server.audit_records();
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains(c.secret_access_key()) && !text.contains(c.session_token()));
    let by_session = records
        .iter()
        .find(|r| r["eventName"] == "GetRole" && r["userIdentity"]["type"] == "AssumedRole")
        .unwrap();
    assert_eq!(
        by_session["userIdentity"]["sessionContext"]["sourceIdentity"],
        "mateo.jackson"
    );
    assert_eq!(
        by_session["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
        arn
    );
}

async fn session_config(
    server: &DevServer,
    c: &aws_sdk_sts::types::Credentials,
) -> aws_config::SdkConfig {
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "session",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&server.manifest.endpoint)
        .region(aws_config::Region::new(server.manifest.region.clone()))
        .credentials_provider(creds)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

/// `aws sts assume-role-with-web-identity` (unsigned: no credentials in the environment);
/// returns its JSON output, failing the test if the call fails.
fn cli_web_identity(
    server: &DevServer,
    role_arn: &str,
    session: &str,
    token: &str,
) -> serde_json::Value {
    let cli = std::env::var("TESSERA_TEST_AWS_CLI").unwrap_or_else(|_| "aws".into());
    let out = Command::new(&cli)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_with_a_real_oidc_provider() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let idp = tessera_testkit::TestIdp::start(dir.path());
    let root = server.account(ROOT).clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    let host = idp.host_path();
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
        format!("arn:aws:iam::111111111111:oidc-provider/{host}")
    );
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider_arn}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{host}:aud":"example-cli"}},"StringLike":{{"{host}:sub":"0b4e7a0e-*"}}}}}}]}}"#
    );
    iam.create_role()
        .role_name("WebRole")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
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
    let (ok, out, err) = aws_session(
        &server,
        &c,
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
    assert_eq!(
        out.trim(),
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
    let b = server.account("222222222222").clone();
    let iam_b = aws_sdk_iam::Client::new(
        &server
            .sdk_config(&b.access_key_id, &b.secret_access_key)
            .await,
    );
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

/// Across accounts both sides must allow: the role's trust policy in 222222222222 and the
/// caller's identity policy in 111111111111.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_assume_role_needs_both_policies() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let a = server.account(ROOT).clone();
    let b = server.account("222222222222").clone();
    let iam_a = aws_sdk_iam::Client::new(
        &server
            .sdk_config(&a.access_key_id, &a.secret_access_key)
            .await,
    );
    let iam_b = aws_sdk_iam::Client::new(
        &server
            .sdk_config(&b.access_key_id, &b.secret_access_key)
            .await,
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;
    iam_b
        .create_role()
        .role_name("Shared")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam_a.create_user().user_name("alice").send().await.unwrap();
    let k = iam_a
        .create_access_key()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let sts = aws_sdk_sts::Client::new(
        &server
            .sdk_config(k.access_key_id(), k.secret_access_key())
            .await,
    );
    let arn = "arn:aws:iam::222222222222:role/Shared";
    // Trust allows account A, but alice's identity policy does not allow yet.
    let e = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("x1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    iam_a
        .put_user_policy()
        .user_name("alice")
        .policy_name("assume-shared")
        .policy_document(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{arn}"}}]}}"#))
        .send()
        .await
        .unwrap();
    let out = sts
        .assume_role()
        .role_arn(arn)
        .role_session_name("x2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::222222222222:assumed-role/Shared/x2"
    );
    let who = aws_sdk_sts::Client::new(&session_config(&server, out.credentials().unwrap()).await)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.account(), Some("222222222222"));
    // A role in B that does not trust A refuses alice even with her identity policy allowing *.
    iam_b
        .create_role()
        .role_name("Private")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    iam_a
        .put_user_policy()
        .user_name("alice")
        .policy_name("assume-any")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let e = sts
        .assume_role()
        .role_arn("arn:aws:iam::222222222222:role/Private")
        .role_session_name("x3")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

/// Sessions of a deleted role can do nothing, even where a trust policy names that role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_a_deleted_role_are_powerless() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let iam = aws_sdk_iam::Client::new(
        &server
            .sdk_config(&root.access_key_id, &root.secret_access_key)
            .await,
    );
    iam.create_user().user_name("dev").send().await.unwrap();
    iam.put_user_policy()
        .user_name("dev")
        .policy_name("sts")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let k = iam
        .create_access_key()
        .user_name("dev")
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    let sts = aws_sdk_sts::Client::new(
        &server
            .sdk_config(k.access_key_id(), k.secret_access_key())
            .await,
    );
    iam.create_role()
        .role_name("First")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    iam.create_role()
        .role_name("Second")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/First"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let first = sts
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/First")
        .role_session_name("s1")
        .send()
        .await
        .unwrap();
    let s1 = aws_sdk_sts::Client::new(&session_config(&server, first.credentials().unwrap()).await);
    s1.assume_role()
        .role_arn("arn:aws:iam::111111111111:role/Second")
        .role_session_name("s2")
        .send()
        .await
        .unwrap();
    iam.delete_role().role_name("First").send().await.unwrap();
    let e = s1
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/Second")
        .role_session_name("s3")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Re-creating a role of the same name does not revive old sessions.
    iam.create_role()
        .role_name("First")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let e = s1
        .assume_role()
        .role_arn("arn:aws:iam::111111111111:role/Second")
        .role_session_name("s4")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // As in AWS, the session still authenticates.
    let who = s1.get_caller_identity().send().await.unwrap();
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::111111111111:assumed-role/First/s1")
    );
}

/// Seed 004's Okta issuer has a path (`https://dev-12345678.okta.com/oauth2/default`): the
/// provider is named with it, and trust-policy conditions use keys prefixed with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_with_an_issuer_under_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let idp = tessera_testkit::TestIdp::start_under(dir.path(), "/oauth2/default");
    assert!(idp.issuer.ends_with("/oauth2/default"), "{}", idp.issuer);
    let root = server.account(ROOT).clone();
    let iam = aws_sdk_iam::Client::new(
        &server
            .sdk_config(&root.access_key_id, &root.secret_access_key)
            .await,
    );
    let host = idp.host_path(); // 127.0.0.1:PORT/oauth2/default
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
        format!("arn:aws:iam::111111111111:oidc-provider/{host}")
    );
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

/// AWS resolves the users and roles a trust policy names to their unique ids when it is
/// saved: a principal deleted and re-created under the same name is not trusted any more, and
/// GetRole shows the old unique id where the ARN was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_follows_the_principal_not_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let iam = aws_sdk_iam::Client::new(
        &server
            .sdk_config(&root.access_key_id, &root.secret_access_key)
            .await,
    );
    let may_assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    // A user with a key and the right to assume roles; returns an STS client as that user.
    let make_bob = || async {
        let user = iam.create_user().user_name("bob").send().await.unwrap();
        let id = user.user().unwrap().user_id().to_owned();
        iam.put_user_policy()
            .user_name("bob")
            .policy_name("assume")
            .policy_document(may_assume)
            .send()
            .await
            .unwrap();
        let k = iam
            .create_access_key()
            .user_name("bob")
            .send()
            .await
            .unwrap();
        let k = k.access_key().unwrap().clone();
        let sts = aws_sdk_sts::Client::new(
            &server
                .sdk_config(k.access_key_id(), k.secret_access_key())
                .await,
        );
        (id, k.access_key_id().to_owned(), sts)
    };
    let bob_arn = "arn:aws:iam::111111111111:user/bob";
    let assume = |sts: &aws_sdk_sts::Client, role: &str| {
        sts.assume_role()
            .role_arn(format!("arn:aws:iam::111111111111:role/{role}"))
            .role_session_name("s1")
            .send()
    };

    // Allow + NotPrincipal can only widen who may assume a role: refused in trust policies.
    let e = iam
        .create_role()
        .role_name("Wide")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","NotPrincipal":{{"AWS":"{bob_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
    // A trust policy may only name principals that exist.
    let e = iam
        .create_role()
        .role_name("ForBob")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{bob_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");

    let (old_id, old_key, bob) = make_bob().await;
    let trust_bob = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{bob_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    iam.create_role()
        .role_name("ForBob")
        .assume_role_policy_document(&trust_bob)
        .send()
        .await
        .unwrap();
    assume(&bob, "ForBob").await.expect("bob is trusted");

    // Delete bob and create another bob: the trust does not carry over.
    iam.delete_access_key()
        .user_name("bob")
        .access_key_id(old_key)
        .send()
        .await
        .unwrap();
    // The key was used a moment ago (its secret is cached): deleted, it is refused at once.
    let e = assume(&bob, "ForBob").await.unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
    iam.delete_user_policy()
        .user_name("bob")
        .policy_name("assume")
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name("bob").send().await.unwrap();
    let (new_id, _, new_bob) = make_bob().await;
    assert_ne!(old_id, new_id);
    let e = assume(&new_bob, "ForBob").await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let shown = iam.get_role().role_name("ForBob").send().await.unwrap();
    let doc = percent_decode(shown.role().unwrap().assume_role_policy_document().unwrap());
    assert!(doc.contains(&format!("\"{old_id}\"")), "{doc}");
    assert!(!doc.contains(bob_arn), "{doc}");
    let listed = iam.list_roles().send().await.unwrap();
    let listed_doc = listed
        .roles()
        .iter()
        .find(|r| r.role_name() == "ForBob")
        .and_then(|r| r.assume_role_policy_document())
        .map(percent_decode)
        .unwrap();
    assert_eq!(listed_doc, doc);
    // Saving the policy again trusts the new bob.
    iam.update_assume_role_policy()
        .role_name("ForBob")
        .policy_document(&trust_bob)
        .send()
        .await
        .unwrap();
    assume(&new_bob, "ForBob")
        .await
        .expect("the new bob is trusted once named again");
    let shown = iam.get_role().role_name("ForBob").send().await.unwrap();
    let doc = percent_decode(shown.role().unwrap().assume_role_policy_document().unwrap());
    assert!(doc.contains(bob_arn), "{doc}");

    // The same for a role: Target trusts the role Source, whose sessions then assume Target.
    let source_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{bob_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let make_source = || async {
        let r = iam
            .create_role()
            .role_name("Source")
            .assume_role_policy_document(&source_trust)
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name("Source")
            .policy_name("assume")
            .policy_document(may_assume)
            .send()
            .await
            .unwrap();
        r.role().unwrap().role_id().to_owned()
    };
    let old_role_id = make_source().await;
    let source_arn = "arn:aws:iam::111111111111:role/Source";
    iam.create_role()
        .role_name("Target")
        .assume_role_policy_document(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{source_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    let s = assume(&new_bob, "Source").await.unwrap();
    let source = aws_sdk_sts::Client::new(&session_config(&server, s.credentials().unwrap()).await);
    assume(&source, "Target").await.expect("Source is trusted");
    iam.delete_role_policy()
        .role_name("Source")
        .policy_name("assume")
        .send()
        .await
        .unwrap();
    iam.delete_role().role_name("Source").send().await.unwrap();
    let new_role_id = make_source().await;
    assert_ne!(old_role_id, new_role_id);
    let s = assume(&new_bob, "Source").await.unwrap();
    let source = aws_sdk_sts::Client::new(&session_config(&server, s.credentials().unwrap()).await);
    let e = assume(&source, "Target").await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let shown = iam.get_role().role_name("Target").send().await.unwrap();
    let doc = percent_decode(shown.role().unwrap().assume_role_policy_document().unwrap());
    assert!(doc.contains(&format!("\"{old_role_id}\"")), "{doc}");
}

/// sso-admin instances with the AWS CLI (awsJson1.1, signing name `sso`): the instance and
/// its identity store, one per account, and AWS's error shape for a missing instance.
#[test]
fn cli_sso_admin_instances() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let (ok, out, err) = aws(
        &server,
        key,
        &["sso-admin", "create-instance", "--name", "acme"],
    );
    assert!(ok, "{err}");
    let arn = json(&out)["InstanceArn"].as_str().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:sso:::instance/ssoins-"), "{arn}");

    let (ok, out, err) = aws(
        &server,
        key,
        &["sso-admin", "describe-instance", "--instance-arn", &arn],
    );
    assert!(ok, "{err}");
    let d = json(&out);
    assert_eq!(d["Name"], "acme");
    assert_eq!(d["OwnerAccountId"], "111111111111");
    assert_eq!(d["Status"], "ACTIVE");
    assert!(d["IdentityStoreId"].as_str().unwrap().starts_with("d-"));

    let (ok, out, err) = aws(&server, key, &["sso-admin", "list-instances"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out)["Instances"][0]["InstanceArn"], arn.as_str());

    // One instance per account (the CLI sends a fresh idempotency token each time).
    let (ok, _, err) = aws(&server, key, &["sso-admin", "create-instance"]);
    assert!(!ok);
    assert!(err.contains("ConflictException"), "{err}");
    let (ok, _, err) = aws(
        &server,
        key,
        &[
            "sso-admin",
            "describe-instance",
            "--instance-arn",
            "arn:aws:sso:::instance/ssoins-0000000000000000",
        ],
    );
    assert!(!ok);
    assert!(err.contains("ResourceNotFoundException"), "{err}");

    // The other account has none and cannot see this one.
    let other = server.account("222222222222").clone();
    let okey = (
        other.access_key_id.as_str(),
        other.secret_access_key.as_str(),
    );
    let (ok, out, err) = aws(&server, okey, &["sso-admin", "list-instances"]);
    assert!(ok, "{err}");
    assert_eq!(json(&out)["Instances"], serde_json::json!([]));
    let (ok, _, err) = aws(
        &server,
        okey,
        &["sso-admin", "describe-instance", "--instance-arn", &arn],
    );
    assert!(!ok);
    assert!(err.contains("ResourceNotFoundException"), "{err}");

    // Each call has its audit record, with sso-admin's event source.
    let records = server.audit_records();
    let sso: Vec<_> = records
        .iter()
        .filter(|r| r["eventSource"] == "sso.amazonaws.com")
        .collect();
    assert_eq!(sso.len(), 7, "{sso:?}");
    assert_eq!(sso[0]["eventName"], "CreateInstance");
    assert_eq!(sso[3]["errorCode"], "ConflictException");
}

/// identitystore users with the AWS CLI, in the identity store of the account's instance:
/// create, describe, list, look up by user name and by email, duplicates refused, delete.
#[test]
fn cli_identity_store_users() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let run = |args: &[&str]| {
        let (ok, out, err) = aws(&server, key, args);
        assert!(ok, "{args:?}: {err}");
        // An empty result (`{}`) prints nothing.
        if out.trim().is_empty() {
            serde_json::Value::Null
        } else {
            json(&out)
        }
    };
    let arn = run(&["sso-admin", "create-instance"])["InstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = run(&["sso-admin", "describe-instance", "--instance-arn", &arn])["IdentityStoreId"]
        .as_str()
        .unwrap()
        .to_owned();

    let created = run(&[
        "identitystore",
        "create-user",
        "--identity-store-id",
        &store,
        "--user-name",
        "mateo",
        "--display-name",
        "Mateo Jackson",
        "--name",
        "GivenName=Mateo,FamilyName=Jackson",
        "--emails",
        "Value=mateo@example.com,Type=work,Primary=true",
    ]);
    let user_id = created["UserId"].as_str().unwrap().to_owned();
    assert_eq!(created["IdentityStoreId"], store.as_str());
    assert_eq!(user_id.len(), 47, "{user_id}");

    let d = run(&[
        "identitystore",
        "describe-user",
        "--identity-store-id",
        &store,
        "--user-id",
        &user_id,
    ]);
    assert_eq!(d["UserName"], "mateo");
    assert_eq!(d["DisplayName"], "Mateo Jackson");
    assert_eq!(d["Name"]["FamilyName"], "Jackson");
    assert_eq!(d["Emails"][0]["Value"], "mateo@example.com");
    assert_eq!(d["Emails"][0]["Primary"], true);

    let by_name = run(&[
        "identitystore",
        "get-user-id",
        "--identity-store-id",
        &store,
        "--alternate-identifier",
        r#"{"UniqueAttribute":{"AttributePath":"userName","AttributeValue":"MATEO"}}"#,
    ]);
    assert_eq!(by_name["UserId"], user_id.as_str());
    let by_email = run(&[
        "identitystore",
        "get-user-id",
        "--identity-store-id",
        &store,
        "--alternate-identifier",
        r#"{"UniqueAttribute":{"AttributePath":"emails.value","AttributeValue":"mateo@example.com"}}"#,
    ]);
    assert_eq!(by_email["UserId"], user_id.as_str());

    // User names are unique without regard to case.
    let (ok, _, err) = aws(
        &server,
        key,
        &[
            "identitystore",
            "create-user",
            "--identity-store-id",
            &store,
            "--user-name",
            "Mateo",
            "--display-name",
            "Another",
            "--name",
            "GivenName=A,FamilyName=B",
        ],
    );
    assert!(!ok);
    assert!(err.contains("ConflictException"), "{err}");
    run(&[
        "identitystore",
        "create-user",
        "--identity-store-id",
        &store,
        "--user-name",
        "eve",
        "--display-name",
        "Eve",
        "--name",
        "GivenName=Eve,FamilyName=Doe",
    ]);
    let listed = run(&["identitystore", "list-users", "--identity-store-id", &store]);
    let mut names: Vec<&str> = listed["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["eve", "mateo"]);
    // The (deprecated, still honoured) Filters: UserName for users, DisplayName for groups.
    let one = run(&[
        "identitystore",
        "list-users",
        "--identity-store-id",
        &store,
        "--filters",
        "AttributePath=UserName,AttributeValue=eve",
    ]);
    assert_eq!(one["Users"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["Users"][0]["UserName"], "eve");
    let (done, _, err) = aws(
        &server,
        key,
        &[
            "identitystore",
            "list-users",
            "--identity-store-id",
            &store,
            "--filters",
            "AttributePath=DisplayName,AttributeValue=Eve",
        ],
    );
    assert!(!done && err.contains("ValidationException"), "{err}");

    run(&[
        "identitystore",
        "update-user",
        "--identity-store-id",
        &store,
        "--user-id",
        &user_id,
        "--operations",
        r#"[{"AttributePath":"displayName","AttributeValue":"Mateo J."}]"#,
    ]);
    let d = run(&[
        "identitystore",
        "describe-user",
        "--identity-store-id",
        &store,
        "--user-id",
        &user_id,
    ]);
    assert_eq!(d["DisplayName"], "Mateo J.");

    // A group and Mateo's membership of it, as DIRECTORY_GROUP grants will read them.
    let group = run(&[
        "identitystore",
        "create-group",
        "--identity-store-id",
        &store,
        "--display-name",
        "Engineering",
    ])["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    run(&[
        "identitystore",
        "create-group",
        "--identity-store-id",
        &store,
        "--display-name",
        "Sales",
    ]);
    for name in ["Engineering", "Sales"] {
        let found = run(&[
            "identitystore",
            "list-groups",
            "--identity-store-id",
            &store,
            "--filters",
            &format!("AttributePath=DisplayName,AttributeValue={name}"),
        ]);
        assert_eq!(found["Groups"].as_array().unwrap().len(), 1, "{found}");
        assert_eq!(found["Groups"][0]["DisplayName"], name);
    }
    let member = format!("UserId={user_id}");
    run(&[
        "identitystore",
        "create-group-membership",
        "--identity-store-id",
        &store,
        "--group-id",
        &group,
        "--member-id",
        &member,
    ]);
    let of = run(&[
        "identitystore",
        "list-group-memberships-for-member",
        "--identity-store-id",
        &store,
        "--member-id",
        &member,
    ]);
    assert_eq!(of["GroupMemberships"][0]["GroupId"], group.as_str());
    let is = run(&[
        "identitystore",
        "is-member-in-groups",
        "--identity-store-id",
        &store,
        "--member-id",
        &member,
        "--group-ids",
        &group,
    ]);
    assert_eq!(is["Results"][0]["MembershipExists"], true);

    run(&[
        "identitystore",
        "delete-user",
        "--identity-store-id",
        &store,
        "--user-id",
        &user_id,
    ]);
    let after = run(&[
        "identitystore",
        "list-group-memberships",
        "--identity-store-id",
        &store,
        "--group-id",
        &group,
    ]);
    assert_eq!(
        after["GroupMemberships"],
        serde_json::json!([]),
        "the membership went with the user"
    );
    let (ok, _, err) = aws(
        &server,
        key,
        &[
            "identitystore",
            "describe-user",
            "--identity-store-id",
            &store,
            "--user-id",
            &user_id,
        ],
    );
    assert!(!ok);
    assert!(err.contains("ResourceNotFoundException"), "{err}");

    // Another account's identity store is not there for this one.
    let other = server.account("222222222222").clone();
    let (ok, _, err) = aws(
        &server,
        (
            other.access_key_id.as_str(),
            other.secret_access_key.as_str(),
        ),
        &["identitystore", "list-users", "--identity-store-id", &store],
    );
    assert!(!ok);
    assert!(err.contains("ResourceNotFoundException"), "{err}");

    // The audit trail hides the users' personal data.
    let records = server.audit_records();
    let create = records
        .iter()
        .find(|r| {
            r["eventSource"] == "identitystore.amazonaws.com" && r["eventName"] == "CreateUser"
        })
        .unwrap();
    assert_eq!(
        create["requestParameters"]["userName"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    let text = serde_json::to_string(&server.audit_records()).unwrap();
    assert!(
        !text.contains("mateo@example.com")
            && !text.contains("Mateo Jackson")
            && !text.contains("Mateo J.")
    );
}

/// The payload of a compact JWT.
fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let p = token.split('.').nth(1).expect("a JWT");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("JSON claims")
}

fn jwt_header(token: &str) -> serde_json::Value {
    use base64::Engine;
    let p = token.split('.').next().expect("a JWT");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(p)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("JSON header")
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
            let py = std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
            let out = Command::new(py)
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

/// Seeds 001, 002 and 000 with the AWS CLI against the real OIDC provider: an instance, a
/// trusted token issuer pointing at the provider, an application with its grants, scope,
/// ActorPolicy and assignment configuration; a user signs in at the provider; the
/// application role exchanges the id_token (CreateTokenWithIAM), assumes the seed's
/// IdentityBearerRole with the identity context, and the user is then revoked.
#[test]
fn cli_trusted_identity_propagation() {
    trusted_identity_propagation(false);
}

/// The seed flow again with the objects in Garage (the upstream backend).
#[test]
fn cli_trusted_identity_propagation_on_garage() {
    trusted_identity_propagation(true);
}

fn trusted_identity_propagation(on_garage: bool) {
    let dir = tempfile::tempdir().unwrap();
    let idp = tessera_testkit::TestIdp::start(dir.path());
    let garage = on_garage.then(|| tessera_testkit::GarageNode::start(dir.path()));
    let server = match &garage {
        Some(g) => DevServer::start_upstream(&dir.path().join("tessera"), g),
        None => DevServer::start(dir.path()),
    };
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let ok = |r: (bool, String, String)| -> serde_json::Value {
        assert!(r.0, "{}", r.2);
        if r.1.trim().is_empty() {
            serde_json::Value::Null
        } else {
            json(&r.1)
        }
    };
    let file = |name: &str, v: &serde_json::Value| -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        format!("file://{}", p.display())
    };

    let instance = ok(aws(
        &server,
        key,
        &["sso-admin", "create-instance", "--name", "acme"],
    ))["InstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let store_id = ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "describe-instance",
            "--instance-arn",
            &instance,
        ],
    ))["IdentityStoreId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Mateo is provisioned through SCIM, as an IdP would.
    let d = server.data_dir.to_str().unwrap();
    let out = tessera_command(&[
        "scim-token",
        "create",
        "--identity-store-id",
        &store_id,
        "--data-dir",
        d,
    ]);
    let scim_token = out
        .lines()
        .find_map(|l| l.strip_prefix("Token:"))
        .unwrap()
        .trim()
        .to_owned();
    let (status, created) = scim(
        &server,
        &scim_token,
        &store_id,
        "POST",
        "/Users",
        Some(&scim_user(
            "mateo.jackson",
            "mateo.jackson@example.com",
            "0b4e7a0e-5b8c-4f62-9a51-3f1b2c6d7e01",
        )),
    );
    assert_eq!(status, 201, "{created}");
    let mateo = created["id"].as_str().unwrap().to_owned();
    // Two users with Eve's email: her token maps to more than one user.
    for name in ["eve.blue", "eve.blue.2"] {
        ok(aws(
            &server,
            key,
            &[
                "identitystore",
                "create-user",
                "--identity-store-id",
                &store_id,
                "--user-name",
                name,
                "--display-name",
                "Eve Blue",
                "--name",
                "GivenName=Eve,FamilyName=Blue",
                "--emails",
                "Value=eve.blue@example.com,Primary=true",
            ],
        ));
    }

    // Step A (seed 002): the trusted token issuer.
    let conf = serde_json::json!({"OidcJwtConfiguration": {"IssuerUrl": idp.issuer,
        "ClaimAttributePath": "email", "IdentityStoreAttributePath": "emails.value",
        "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}});
    let tti = ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "create-trusted-token-issuer",
            "--instance-arn",
            &instance,
            "--name",
            "MyEntraIDTrustedIssuer",
            "--trusted-token-issuer-type",
            "OIDC_JWT",
            "--trusted-token-issuer-configuration",
            &file("oidc-configuration.json", &conf),
        ],
    ))["TrustedTokenIssuerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "describe-trusted-token-issuer",
            "--trusted-token-issuer-arn",
            &tti,
        ],
    ));
    assert_eq!(
        d["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"]["IssuerUrl"],
        idp.issuer.as_str()
    );

    // Steps B–E (seed 001).
    let app = ok(aws(
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
            "MyDataApplication",
        ],
    ))["ApplicationArn"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-assignment-configuration",
            "--application-arn",
            &app,
            "--no-assignment-required",
        ],
    ));
    let grant = serde_json::json!({"JwtBearer": {"AuthorizedTokenIssuers": [
        {"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": ["example-cli"]}]}});
    ok(aws(
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
            &file("grant.json", &grant),
        ],
    ));
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-grant",
            "--application-arn",
            &app,
            "--grant-type",
            "refresh_token",
            "--grant",
            "{\"RefreshToken\":{}}",
        ],
    ));
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-access-scope",
            "--application-arn",
            &app,
            "--scope",
            "s3:access_grants:read_write",
        ],
    ));
    let actor = serde_json::json!({"Iam": {"ActorPolicy": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sso-oauth:CreateTokenWithIAM",
        "Resource": app, "Condition": {"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{ROOT}:role/ApplicationRole")}}}]}}});
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-authentication-method",
            "--application-arn",
            &app,
            "--authentication-method",
            &file("authentication-method.json", &actor),
            "--authentication-method-type",
            "IAM",
        ],
    ));
    let grants = ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "list-application-grants",
            "--application-arn",
            &app,
        ],
    ));
    assert_eq!(grants["Grants"].as_array().unwrap().len(), 2, "{grants}");

    // The application role and a role the ActorPolicy does not name; IdentityBearerRole
    // with the seed's exact trust policy, for this instance.
    let root_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let app_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sso-oauth:CreateTokenWithIAM", "Resource": app},
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetContext"], "Resource": format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole")}]});
    for role in ["ApplicationRole", "OtherRole"] {
        ok(aws(
            &server,
            key,
            &[
                "iam",
                "create-role",
                "--role-name",
                role,
                "--assume-role-policy-document",
                &root_trust,
            ],
        ));
        ok(aws(
            &server,
            key,
            &[
                "iam",
                "put-role-policy",
                "--role-name",
                role,
                "--policy-name",
                "app",
                "--policy-document",
                &app_policy.to_string(),
            ],
        ));
    }
    let bearer_trust = std::fs::read_to_string(fixture("fixtures/identity-bearer-trust.json"))
        .unwrap()
        .replace("arn:aws:sso:::instance/ssoins-12345678", &instance);
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "IdentityBearerRole",
            "--assume-role-policy-document",
            &bearer_trust,
        ],
    ));
    // Roles may not be assumed by the account root: a developer user does it.
    ok(aws(
        &server,
        key,
        &["iam", "create-user", "--user-name", "developer"],
    ));
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "developer",
            "--policy-name",
            "assume",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        ],
    ));
    let dev_key = ok(aws(
        &server,
        key,
        &["iam", "create-access-key", "--user-name", "developer"],
    ));
    let dev_id = dev_key["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev_secret = dev_key["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let dev = (dev_id.as_str(), dev_secret.as_str());
    let assume = |c: Option<&(String, String, String)>, role: &str, extra: &[&str]| {
        let arn = format!("arn:aws:iam::{ROOT}:role/{role}");
        let mut args = vec![
            "sts",
            "assume-role",
            "--role-arn",
            arn.as_str(),
            "--role-session-name",
            "s1",
        ];
        args.extend_from_slice(extra);
        match c {
            None => aws(&server, dev, &args),
            Some(c) => aws_session(&server, c, &args),
        }
    };
    let app_creds = creds(&ok(assume(None, "ApplicationRole", &[])));
    let other_creds = creds(&ok(assume(None, "OtherRole", &[])));

    // The user signs in at the IdP; the application exchanges the id_token.
    let exchange = |c: &(String, String, String), assertion: &str| {
        aws_session(
            &server,
            c,
            &[
                "sso-oidc",
                "create-token-with-iam",
                "--client-id",
                &app,
                "--grant-type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "--assertion",
                assertion,
            ],
        )
    };
    let id_token = idp.login("example-cli", "mateo.jackson", "mateo-password");
    // Not the role the ActorPolicy names (its own policy allows the call).
    let (ok_other, _, err) = exchange(&other_creds, &id_token);
    assert!(!ok_other);
    assert!(err.contains("AccessDeniedException"), "{err}");
    let tokens = ok(exchange(&app_creds, &id_token));
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
        scopes.contains(&"s3:access_grants:read_write") && scopes.contains(&"sts:identity_context"),
        "{scopes:?}"
    );
    let claims = jwt_claims(tokens["idToken"].as_str().unwrap());
    assert_eq!(claims["sub"], mateo.as_str());
    assert_eq!(claims["aud"], app.as_str());
    assert_eq!(claims["aws:instance_arn"], instance.as_str());
    assert_eq!(claims["aws:identity_store_id"], store_id.as_str());
    assert_eq!(claims["act"]["sub"], tti.as_str());
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
    let (replayed, _, err) = exchange(&app_creds, &id_token);
    assert!(!replayed);
    assert!(err.contains("InvalidGrantException"), "{err}");

    // Refused assertions (minted with the IdP's own key unless forged).
    let now = chrono::Utc::now().timestamp();
    let base = serde_json::json!({"iss": idp.issuer, "sub": "0b4e7a0e-5b8c-4f62-9a51-3f1b2c6d7e01",
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
    // The control: the same minted claims with a fresh jti are accepted, so each case below
    // is refused for the one thing it changes.
    ok(exchange(
        &app_creds,
        &idp.mint(&with("jti", serde_json::json!(format!("control-{now}")))),
    ));
    for (what, token) in &cases {
        let (accepted, _, err) = exchange(&app_creds, token);
        assert!(!accepted, "{what} was accepted");
        assert!(err.contains("InvalidGrantException"), "{what}: {err}");
    }
    // A megabyte assertion: refused before any parsing (the body limit or the token limit).
    let big = serde_json::json!({"clientId": app, "grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": "a".repeat(1 << 20)});
    let (accepted, _, _) = aws_session(
        &server,
        &app_creds,
        &[
            "sso-oidc",
            "create-token-with-iam",
            "--cli-input-json",
            &file("big.json", &big),
        ],
    );
    assert!(!accepted);

    // Identity-enhanced session: IdentityBearerRole admits the application role's session
    // with the context, and refuses it without one.
    let pc = format!(
        "ProviderArn=arn:aws:iam::aws:contextProvider/IdentityCenter,ContextAssertion={context}"
    );
    let (no_ctx, _, err) = assume(Some(&app_creds), "IdentityBearerRole", &[]);
    assert!(!no_ctx);
    assert!(err.contains("AccessDenied"), "{err}");
    let bearer = creds(&ok(assume(
        Some(&app_creds),
        "IdentityBearerRole",
        &["--provided-contexts", &pc],
    )));
    let me = ok(aws_session(
        &server,
        &bearer,
        &["sts", "get-caller-identity"],
    ));
    assert_eq!(
        me["Arn"],
        format!("arn:aws:sts::{ROOT}:assumed-role/IdentityBearerRole/s1")
    );
    // One byte changed.
    let mut tampered = context.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (accepted, _, err) = assume(
        Some(&app_creds),
        "IdentityBearerRole",
        &[
            "--provided-contexts",
            &format!(
                "ProviderArn=arn:aws:iam::aws:contextProvider/IdentityCenter,ContextAssertion={tampered}"
            ),
        ],
    );
    assert!(!accepted);
    assert!(err.contains("ValidationError"), "{err}");

    // Token exchange: a second application accepts the first one's access token once the
    // first names it among its scope's AuthorizedTargets.
    let analytics = ok(aws(
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
            "Analytics",
        ],
    ))["ApplicationArn"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-assignment-configuration",
            "--application-arn",
            &analytics,
            "--no-assignment-required",
        ],
    ));
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-grant",
            "--application-arn",
            &analytics,
            "--grant-type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "--grant",
            "{\"TokenExchange\":{}}",
        ],
    ));
    let analytics_actor = serde_json::json!({"Iam": {"ActorPolicy": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sso-oauth:CreateTokenWithIAM", "Resource": analytics}]}}});
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-authentication-method",
            "--application-arn",
            &analytics,
            "--authentication-method",
            &file("analytics-auth.json", &analytics_actor),
            "--authentication-method-type",
            "IAM",
        ],
    ));
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "ApplicationRole",
            "--policy-name",
            "analytics",
            "--policy-document",
            &serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sso-oauth:CreateTokenWithIAM", "Resource": analytics}]})
            .to_string(),
        ],
    ));
    let access = tokens["accessToken"].as_str().unwrap().to_owned();
    let token_exchange = |subject: &str| {
        aws_session(
            &server,
            &app_creds,
            &[
                "sso-oidc",
                "create-token-with-iam",
                "--client-id",
                &analytics,
                "--grant-type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "--subject-token",
                subject,
                "--subject-token-type",
                "urn:ietf:params:oauth:token-type:access_token",
            ],
        )
    };
    let (allowed, _, err) = token_exchange(&access);
    assert!(!allowed, "exchanged without an authorized target");
    assert!(err.contains("InvalidGrantException"), "{err}");
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-access-scope",
            "--application-arn",
            &app,
            "--scope",
            "s3:access_grants:read_write",
            "--authorized-targets",
            &analytics,
        ],
    ));
    let exchanged = ok(token_exchange(&access));
    let xc = jwt_claims(exchanged["idToken"].as_str().unwrap());
    assert_eq!(
        (xc["sub"].as_str(), xc["aud"].as_str()),
        (Some(mateo.as_str()), Some(analytics.as_str()))
    );
    assert!(
        xc.get("sts:audit_context").is_none() && xc.get("act").is_none(),
        "{xc}"
    );
    assert!(exchanged.get("refreshToken").is_none());
    let (tampered_ok, _, err) = token_exchange(&format!("{access}x"));
    assert!(!tampered_ok);
    assert!(err.contains("InvalidGrantException"), "{err}");

    // Refresh: rotation, and a reused refresh token revokes the family.
    let refresh = |c: &(String, String, String), t: &str| {
        aws_session(
            &server,
            c,
            &[
                "sso-oidc",
                "create-token-with-iam",
                "--client-id",
                &app,
                "--grant-type",
                "refresh_token",
                "--refresh-token",
                t,
            ],
        )
    };
    let first = tokens["refreshToken"].as_str().unwrap().to_owned();
    let second = ok(refresh(&app_creds, &first));
    assert_eq!(
        jwt_claims(second["idToken"].as_str().unwrap())["sub"],
        mateo.as_str()
    );
    let second_token = second["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first);
    let (reused, _, err) = refresh(&app_creds, &first);
    assert!(!reused);
    assert!(err.contains("InvalidGrantException"), "{err}");
    let (after, _, _) = refresh(&app_creds, &second_token);
    assert!(!after, "the family was revoked");

    // Assignment required: only assigned users (directly or through a group) may exchange.
    let zoe = ok(aws(
        &server,
        key,
        &[
            "identitystore",
            "create-user",
            "--identity-store-id",
            &store_id,
            "--user-name",
            "zoe.green",
            "--display-name",
            "Zoe Green",
            "--name",
            "GivenName=Zoe,FamilyName=Green",
            "--emails",
            "Value=zoe.green@example.com,Primary=true",
        ],
    ))["UserId"]
        .as_str()
        .unwrap()
        .to_owned();
    let zoe_token = |n: &str| {
        let now = chrono::Utc::now().timestamp();
        idp.mint(&serde_json::json!({"iss": idp.issuer, "sub": "zoe", "aud": "example-cli",
            "email": "zoe.green@example.com", "iat": now, "exp": now + 600, "jti": format!("zoe-{n}-{now}")}))
    };
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-assignment-configuration",
            "--application-arn",
            &app,
            "--assignment-required",
        ],
    ));
    let (assigned, _, err) = exchange(&app_creds, &zoe_token("1"));
    assert!(!assigned, "an unassigned user exchanged a token");
    assert!(err.contains("AccessDeniedException"), "{err}");
    let group = ok(aws(
        &server,
        key,
        &[
            "identitystore",
            "create-group",
            "--identity-store-id",
            &store_id,
            "--display-name",
            "Green Project Group",
        ],
    ))["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(aws(
        &server,
        key,
        &[
            "identitystore",
            "create-group-membership",
            "--identity-store-id",
            &store_id,
            "--group-id",
            &group,
            "--member-id",
            &format!("UserId={zoe}"),
        ],
    ));
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "create-application-assignment",
            "--application-arn",
            &app,
            "--principal-id",
            &group,
            "--principal-type",
            "GROUP",
        ],
    ));
    let zoe_tokens = ok(exchange(&app_creds, &zoe_token("2")));
    let zoe_ctx = zoe_tokens["awsAdditionalDetails"]["identityContext"]
        .as_str()
        .unwrap()
        .to_owned();
    let zoe_bearer = creds(&ok(assume(
        Some(&app_creds),
        "IdentityBearerRole",
        &[
            "--provided-contexts",
            &format!(
                "ProviderArn=arn:aws:iam::aws:contextProvider/IdentityCenter,ContextAssertion={zoe_ctx}"
            ),
        ],
    )));
    ok(aws(
        &server,
        key,
        &[
            "sso-admin",
            "put-application-assignment-configuration",
            "--application-arn",
            &app,
            "--no-assignment-required",
        ],
    ));

    // Step 4 (seed 000): S3 Access Grants. The Red Project Group has READ on
    // s3://example-bucket/projects/red/*; Mateo is a member, Zoe is not.
    let red = ok(aws(
        &server,
        key,
        &[
            "identitystore",
            "create-group",
            "--identity-store-id",
            &store_id,
            "--display-name",
            "Red Project Group",
        ],
    ))["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    let red_membership = ok(aws(
        &server,
        key,
        &[
            "identitystore",
            "create-group-membership",
            "--identity-store-id",
            &store_id,
            "--group-id",
            &red,
            "--member-id",
            &format!("UserId={mateo}"),
        ],
    ))["MembershipId"]
        .as_str()
        .unwrap()
        .to_owned();
    // The seed's permissions: the Identity Bearer role may call GetDataAccess; the S3 Access
    // Grants role trusts the service, for this account's instance.
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "IdentityBearerRole",
            "--policy-name",
            "data-access",
            "--policy-document",
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:GetDataAccess","s3:ListCallerAccessGrants"],"Resource":"arn:aws:s3:us-east-1:{ROOT}:access-grants/default"}}]}}"#
            ),
        ],
    ));
    let ag_trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "access-grants.s3.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ROOT},
            "ArnEquals": {"aws:SourceArn": format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")}}}]});
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "s3-access-grants-role",
            "--assume-role-policy-document",
            &ag_trust.to_string(),
        ],
    ));
    // The location role's own permissions (the AWS guide's policy for a location role): the
    // vended credentials are this role's, narrowed to the matched grant.
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "s3-access-grants-role",
            "--policy-name",
            "location-data",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:ListBucket","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":["arn:aws:s3:::example-bucket","arn:aws:s3:::example-bucket/*"]}]}"#,
        ],
    ));
    // The data, written by the account root.
    let s3_ok = |r: (bool, String, String)| {
        assert!(r.0, "aws s3 failed: {}\n{}", r.1, r.2);
        r.1
    };
    s3_ok(aws(&server, key, &["s3", "mb", "s3://example-bucket"]));
    let seed = dir.path().join("seed-object.csv");
    std::fs::write(&seed, "variety,colour\nroma,red\n").unwrap();
    for dest in [
        "s3://example-bucket/projects/red/tomatoes/roma.csv",
        "s3://example-bucket/projects/blue/berries.csv",
        "s3://example-bucket/bob/notes.txt",
    ] {
        s3_ok(aws(
            &server,
            key,
            &[
                "s3",
                "cp",
                "--only-show-errors",
                seed.to_str().unwrap(),
                dest,
            ],
        ));
    }
    let ctl = |args: &[&str]| {
        let mut a = vec!["s3control"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--account-id", ROOT]);
        ok(aws(&server, key, &a))
    };
    let ag = ctl(&[
        "create-access-grants-instance",
        "--identity-center-arn",
        &instance,
    ]);
    assert_eq!(ag["IdentityCenterArn"], instance.as_str());
    assert!(
        ag["IdentityCenterApplicationArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:sso::"),
        "{ag}"
    );
    ctl(&[
        "create-access-grants-location",
        "--location-scope",
        "s3://",
        "--iam-role-arn",
        &format!("arn:aws:iam::{ROOT}:role/s3-access-grants-role"),
    ]);
    let grant_to = |kind: &str, who: &str, sub: &str, extra: &[&str]| {
        let cfg = format!("S3SubPrefix={sub}");
        let grantee = format!("GranteeType={kind},GranteeIdentifier={who}");
        let mut a = vec![
            "create-access-grant",
            "--access-grants-location-id",
            "default",
            "--access-grants-location-configuration",
            cfg.as_str(),
            "--grantee",
            grantee.as_str(),
            "--permission",
            "READ",
        ];
        a.extend_from_slice(extra);
        ctl(&a)
    };
    let red_grant = grant_to(
        "DIRECTORY_GROUP",
        &red,
        "example-bucket/projects/red/*",
        &[],
    )["AccessGrantId"]
        .as_str()
        .unwrap()
        .to_owned();
    let gda = |c: &(String, String, String), target: &str, extra: &[&str]| {
        let mut a = vec![
            "s3control",
            "get-data-access",
            "--account-id",
            ROOT,
            "--target",
            target,
            "--permission",
            "READ",
        ];
        a.extend_from_slice(extra);
        aws_session(&server, c, &a)
    };
    let data = ok(gda(
        &bearer,
        "s3://example-bucket/projects/red/tomatoes/",
        &[],
    ));
    assert_eq!(
        data["MatchedGrantTarget"],
        "s3://example-bucket/projects/red/*"
    );
    assert_eq!(data["Grantee"]["GranteeType"], "DIRECTORY_GROUP");
    assert_eq!(data["Grantee"]["GranteeIdentifier"], red.as_str());
    let vended = creds(&data);
    let me = ok(aws_session(
        &server,
        &vended,
        &["sts", "get-caller-identity"],
    ));
    assert!(
        me["Arn"].as_str().unwrap().starts_with(&format!(
            "arn:aws:sts::{ROOT}:assumed-role/s3-access-grants-role/access-grants-"
        )),
        "{me}"
    );
    // Step 5: Mateo's application reads the red data with the vended credentials, and
    // nothing outside the grant.
    let listing = s3_ok(aws_session(
        &server,
        &vended,
        &["s3", "ls", "s3://example-bucket/projects/red/tomatoes/"],
    ));
    assert!(listing.contains("roma.csv"), "{listing}");
    let content = s3_ok(aws_session(
        &server,
        &vended,
        &[
            "s3",
            "cp",
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
            "-",
        ],
    ));
    assert_eq!(content, "variety,colour\nroma,red\n");
    for args in [
        vec!["s3", "ls", "s3://example-bucket/projects/blue/"],
        vec!["s3", "ls", "s3://example-bucket/"],
        vec![
            "s3",
            "cp",
            "s3://example-bucket/projects/blue/berries.csv",
            "-",
        ],
        vec![
            "s3",
            "cp",
            seed.to_str().unwrap(),
            "s3://example-bucket/projects/red/tomatoes/new.csv",
        ],
        vec![
            "s3",
            "rm",
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
        ],
        vec![
            "s3",
            "cp",
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
            "s3://example-bucket/projects/red/tomatoes/copy.csv",
        ],
        vec!["s3", "ls"],
    ] {
        let (done, out, err) = aws_session(&server, &vended, &args);
        assert!(!done, "{args:?} went beyond the READ grant: {out}");
        // `cp` starts with HeadObject, whose 403 has no body to carry the code.
        assert!(
            err.contains("AccessDenied") || err.contains("(403) when calling the HeadObject"),
            "{args:?}: {err}"
        );
    }
    // The data event names the person, the grant and the GetDataAccess call behind it.
    let audit = server
        .audit_records()
        .into_iter()
        .find(|r| {
            r["eventName"] == "GetObject"
                && r["userIdentity"]["accessKeyId"] == vended.0.as_str()
                && r["errorCode"].is_null()
        })
        .expect("an audit record of Mateo's GetObject");
    assert_eq!(audit["eventCategory"], "Data", "{audit}");
    assert_eq!(audit["managementEvent"], false, "{audit}");
    assert_eq!(
        audit["userIdentity"]["onBehalfOf"]["userId"],
        mateo.as_str(),
        "{audit}"
    );
    assert_eq!(
        audit["requestParameters"]["key"], "projects/red/tomatoes/roma.csv",
        "{audit}"
    );
    assert_eq!(
        audit["additionalEventData"]["accessGrants"]["grantScope"],
        "s3://example-bucket/projects/red/*",
        "{audit}"
    );
    assert!(
        audit["additionalEventData"]["accessGrants"]["getDataAccessRequestId"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{audit}"
    );
    // `tessera audit query` finds his reads by his user name, and the calls that led to them.
    let query = |args: &[&str]| -> Vec<serde_json::Value> {
        let data = server.data_dir.display().to_string();
        let mut all = vec!["audit", "query", "--data-dir", data.as_str(), "--json"];
        all.extend_from_slice(args);
        tessera_command(&all)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let reads = query(&["--user", "mateo.jackson", "--event", "GetObject"]);
    assert!(!reads.is_empty());
    for r in &reads {
        assert_eq!(r["eventName"], "GetObject", "{r}");
        assert_eq!(
            r["userIdentity"]["onBehalfOf"]["userId"],
            mateo.as_str(),
            "{r}"
        );
    }
    assert!(reads.iter().any(|r| r["requestID"] == audit["requestID"]));
    let vending = query(&[
        "--user",
        "mateo.jackson",
        "--event",
        "GetDataAccess",
        "--since",
        "1h",
    ]);
    assert!(
        vending.iter().any(|r| r["requestID"]
            == audit["additionalEventData"]["accessGrants"]["getDataAccessRequestId"]),
        "the GetDataAccess call that vended the credentials is listed for Mateo"
    );
    let exchanges = query(&["--user", mateo.as_str(), "--event", "CreateTokenWithIAM"]);
    assert!(!exchanges.is_empty(), "Mateo's token exchanges are listed");
    let table = tessera_command(&[
        "audit",
        "query",
        "--data-dir",
        &server.data_dir.display().to_string(),
        "--user",
        "mateo.jackson",
    ]);
    assert!(table.starts_with("TIME"), "{table}");
    assert!(
        table.contains("GetObject") && table.contains(mateo.as_str()),
        "{table}"
    );
    // Mateo asks for the blue data: refused, and `tessera audit explain` says why — no grant
    // for him or his groups, the red grant nearest — while the reply says only what AWS says.
    let (denied, _, err) = gda(
        &bearer,
        "s3://example-bucket/projects/blue/berries.csv",
        &[],
    );
    assert!(!denied);
    assert!(err.contains("(AccessDenied)"), "{err}");
    assert!(!err.contains(&red_grant), "the reply names a grant: {err}");
    // `tessera audit explain` of Mateo's newest `event`, which must have been refused.
    let explain_newest = |event: &str| {
        let newest = query(&["--user", "mateo.jackson", "--event", event, "--limit", "1"]);
        assert_eq!(newest[0]["errorCode"], "AccessDenied", "{}", newest[0]);
        tessera_command(&[
            "audit",
            "explain",
            newest[0]["requestID"].as_str().unwrap(),
            "--data-dir",
            &server.data_dir.display().to_string(),
        ])
    };
    let why = explain_newest("GetDataAccess");
    assert!(
        why.contains("no grant matched s3://example-bucket/projects/blue/berries.csv (READ) for the caller or their groups")
            && why.contains(&format!("directory user {mateo} (mateo.jackson)"))
            && why.contains(&format!("groups {red} (")),
        "{why}"
    );
    let nearest = why
        .lines()
        .skip_while(|l| !l.contains("nearest grants:"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        nearest.contains(&red_grant)
            && nearest.contains("s3://example-bucket/projects/red/* (READ) to DIRECTORY_GROUP")
            && nearest.contains("scope does not cover the target"),
        "{why}"
    );
    // An explicit deny names the policy and the statement.
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "IdentityBearerRole",
            "--policy-name",
            "freeze",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Deny","Action":"iam:*","Resource":"*"},{"Sid":"NoDataAccessToday","Effect":"Deny","Action":"s3:GetDataAccess","Resource":"*"}]}"#,
        ],
    ));
    let (denied, _, err) = gda(&bearer, "s3://example-bucket/projects/red/tomatoes/", &[]);
    assert!(!denied);
    assert!(
        err.contains("with an explicit deny in an identity-based policy"),
        "{err}"
    );
    assert!(
        !err.contains("NoDataAccessToday"),
        "the reply names the statement: {err}"
    );
    let why = explain_newest("GetDataAccess");
    assert!(
        why.contains("explicit deny of s3:GetDataAccess on arn:aws:s3:")
            && why.contains(
                "denied by statement 1 (Sid \"NoDataAccessToday\") of identity-based policy inline policy freeze"
            ),
        "{why}"
    );
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "delete-role-policy",
            "--role-name",
            "IdentityBearerRole",
            "--policy-name",
            "freeze",
        ],
    ));
    // A read outside the vended grant's scope is explained by that grant.
    let (done, _, _) = aws_session(
        &server,
        &vended,
        &[
            "s3api",
            "get-object",
            "--bucket",
            "example-bucket",
            "--key",
            "projects/blue/berries.csv",
            "/dev/null",
        ],
    );
    assert!(!done);
    let why = explain_newest("GetObject");
    assert!(
        why.contains("s3:GetObject on arn:aws:s3:::example-bucket/projects/blue/berries.csv is outside the scope of the Access Grants credentials")
            && why.contains(&format!("grant {red_grant} allows s3://example-bucket/projects/red/* (READ)")),
        "{why}"
    );
    let bearer_role_arn = format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole");
    // Vended credentials act only within their grant, whatever the location role allows.
    // With the location role allowed everything, Mateo's READ credentials try the review's
    // escalation — list the grants, grant himself READWRITE on the whole bucket, take over
    // the instance's resource policy, read blue data — and every step is refused, as are
    // IAM, STS and another GetDataAccess.
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "s3-access-grants-role",
            "--policy-name",
            "everything",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ],
    ));
    let grants_before = ctl(&["list-access-grants"])["AccessGrantsList"]
        .as_array()
        .map_or(0, Vec::len);
    let whole_bucket_for_mateo = format!("GranteeType=DIRECTORY_USER,GranteeIdentifier={mateo}");
    let takeover = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "*"}, "Action": "s3:*",
        "Resource": format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")}]})
    .to_string();
    for args in [
        vec!["s3control", "list-access-grants", "--account-id", ROOT],
        vec![
            "s3control",
            "create-access-grant",
            "--account-id",
            ROOT,
            "--access-grants-location-id",
            "default",
            "--access-grants-location-configuration",
            "S3SubPrefix=example-bucket/*",
            "--grantee",
            whole_bucket_for_mateo.as_str(),
            "--permission",
            "READWRITE",
        ],
        vec![
            "s3control",
            "put-access-grants-instance-resource-policy",
            "--account-id",
            ROOT,
            "--policy",
            takeover.as_str(),
        ],
        vec![
            "s3control",
            "get-data-access",
            "--account-id",
            ROOT,
            "--target",
            "s3://example-bucket/projects/blue/",
            "--permission",
            "READ",
        ],
        vec!["iam", "list-roles"],
        vec!["iam", "create-user", "--user-name", "mateo-was-here"],
        vec![
            "sts",
            "assume-role",
            "--role-arn",
            &bearer_role_arn,
            "--role-session-name",
            "escape",
        ],
        vec![
            "s3",
            "cp",
            "s3://example-bucket/projects/blue/berries.csv",
            "-",
        ],
        vec!["s3", "ls", "s3://example-bucket/"],
        // Uploads in progress are writes: listing them takes WRITE, even under the scope.
        vec![
            "s3api",
            "list-multipart-uploads",
            "--bucket",
            "example-bucket",
            "--prefix",
            "projects/red/",
        ],
    ] {
        let (done, out, err) = aws_session(&server, &vended, &args);
        assert!(!done, "{args:?} went beyond the READ grant: {out}");
        assert!(
            err.contains("AccessDenied") || err.contains("(403) when calling the HeadObject"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        ctl(&["list-access-grants"])["AccessGrantsList"]
            .as_array()
            .map_or(0, Vec::len),
        grants_before,
        "a grant was created with vended credentials"
    );
    let (has_policy, out, _) = aws(
        &server,
        key,
        &[
            "s3control",
            "get-access-grants-instance-resource-policy",
            "--account-id",
            ROOT,
        ],
    );
    assert!(!has_policy || !out.contains("\"*\""), "{out}");
    // The refusal says what AWS says: no session policy allows it.
    let (_, _, err) = aws_session(
        &server,
        &vended,
        &["s3control", "list-access-grants", "--account-id", ROOT],
    );
    assert!(err.contains("because no session policy allows"), "{err}");
    // The red data is still readable: the session policy allows the grant's reads.
    let content = s3_ok(aws_session(
        &server,
        &vended,
        &[
            "s3",
            "cp",
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
            "-",
        ],
    ));
    assert_eq!(content, "variety,colour\nroma,red\n");
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "delete-role-policy",
            "--role-name",
            "s3-access-grants-role",
            "--policy-name",
            "everything",
        ],
    ));

    // A chained AssumeRole does not smuggle Mateo's identity context: a role whose trust
    // policy allows Mateo's bearer session only sts:AssumeRole refuses the chain; one that
    // also allows sts:SetContext carries the context on (and GetDataAccess matches it).
    for (role, actions) in [
        ("ChainNoContext", serde_json::json!(["sts:AssumeRole"])),
        (
            "ChainWithContext",
            serde_json::json!(["sts:AssumeRole", "sts:SetContext"]),
        ),
    ] {
        let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": &bearer_role_arn}, "Action": actions}]});
        ok(aws(
            &server,
            key,
            &[
                "iam",
                "create-role",
                "--role-name",
                role,
                "--assume-role-policy-document",
                &trust.to_string(),
            ],
        ));
        ok(aws(
            &server,
            key,
            &[
                "iam",
                "put-role-policy",
                "--role-name",
                role,
                "--policy-name",
                "data-access",
                "--policy-document",
                &format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"arn:aws:s3:us-east-1:{ROOT}:access-grants/default"}}]}}"#
                ),
            ],
        ));
    }
    let (chained, out, err) = assume(Some(&bearer), "ChainNoContext", &[]);
    assert!(
        !chained,
        "a chain without sts:SetContext kept Mateo's context: {out}"
    );
    assert!(
        err.contains("AccessDenied") && err.contains("sts:SetContext"),
        "{err}"
    );
    let with_context = creds(&ok(assume(Some(&bearer), "ChainWithContext", &[])));
    let data = ok(gda(
        &with_context,
        "s3://example-bucket/projects/red/tomatoes/",
        &[],
    ));
    assert_eq!(data["Grantee"]["GranteeIdentifier"], red.as_str());

    // A user outside the group.
    let (denied, _, err) = gda(
        &zoe_bearer,
        "s3://example-bucket/projects/red/tomatoes/",
        &[],
    );
    assert!(!denied);
    assert!(err.contains("(AccessDenied)"), "{err}");
    // AWS's directory case: the role's own grant and the user's grant both count, and the
    // most restrictive match wins, whichever identity holds it.
    let bearer_role = format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole");
    grant_to("IAM", &bearer_role, "example-bucket/bob/*", &[]);
    grant_to("DIRECTORY_USER", &mateo, "example-bucket/bob/images/*", &[]);
    grant_to("IAM", &bearer_role, "example-bucket/alice/images/*", &[]);
    grant_to("DIRECTORY_USER", &mateo, "example-bucket/alice/*", &[]);
    for (target, privilege, scope, kind) in [
        (
            "s3://example-bucket/bob/images/image1.jpeg",
            "Default",
            "s3://example-bucket/bob/images/*",
            "DIRECTORY_USER",
        ),
        (
            "s3://example-bucket/bob/images/image1.jpeg",
            "Minimal",
            "s3://example-bucket/bob/images/image1.jpeg",
            "DIRECTORY_USER",
        ),
        (
            "s3://example-bucket/bob/notes.txt",
            "Default",
            "s3://example-bucket/bob/*",
            "IAM",
        ),
        (
            "s3://example-bucket/alice/images/image1.jpeg",
            "Default",
            "s3://example-bucket/alice/images/*",
            "IAM",
        ),
        (
            "s3://example-bucket/alice/images/image1.jpeg",
            "Minimal",
            "s3://example-bucket/alice/images/image1.jpeg",
            "IAM",
        ),
    ] {
        let out = ok(gda(&bearer, target, &["--privilege", privilege]));
        assert_eq!(out["MatchedGrantTarget"], scope, "{target} {privilege}");
        assert_eq!(out["Grantee"]["GranteeType"], kind, "{target} {privilege}");
    }
    // The role's grant reaches Zoe's session too (same role), the user grant does not.
    let out = ok(gda(
        &zoe_bearer,
        "s3://example-bucket/bob/images/image1.jpeg",
        &[],
    ));
    assert_eq!(out["MatchedGrantTarget"], "s3://example-bucket/bob/*");
    let zoe_vended = creds(&out);
    // Application-scoped grants apply only to callers who came through that application.
    grant_to(
        "DIRECTORY_USER",
        &mateo,
        "example-bucket/appdata/*",
        &["--application-arn", &app],
    );
    grant_to(
        "DIRECTORY_USER",
        &mateo,
        "example-bucket/analytics/*",
        &["--application-arn", &analytics],
    );
    let out = ok(gda(&bearer, "s3://example-bucket/appdata/x.csv", &[]));
    assert_eq!(out["MatchedGrantTarget"], "s3://example-bucket/appdata/*");
    let (denied, _, err) = gda(&bearer, "s3://example-bucket/analytics/x.csv", &[]);
    assert!(!denied, "a grant for another application was used");
    assert!(err.contains("(AccessDenied)"), "{err}");
    // Mateo's caller grants: his group's, his own, and the role's.
    let mine = ok(aws_session(
        &server,
        &bearer,
        &[
            "s3control",
            "list-caller-access-grants",
            "--account-id",
            ROOT,
            "--allowed-by-application",
        ],
    ));
    let scopes: Vec<&str> = mine["CallerAccessGrantsList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["GrantScope"].as_str().unwrap())
        .collect();
    assert!(
        scopes.contains(&"s3://example-bucket/projects/red/*"),
        "{scopes:?}"
    );
    assert!(
        scopes.contains(&"s3://example-bucket/appdata/*"),
        "{scopes:?}"
    );
    assert!(
        !scopes.contains(&"s3://example-bucket/analytics/*"),
        "{scopes:?}"
    );
    // Removed from the Red group, Mateo's next request for red data is refused (the test
    // allows the second the other replicas would take).
    ok(aws(
        &server,
        key,
        &[
            "identitystore",
            "delete-group-membership",
            "--identity-store-id",
            &store_id,
            "--membership-id",
            &red_membership,
        ],
    ));
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let (denied, _, err) = gda(&bearer, "s3://example-bucket/projects/red/tomatoes/", &[]);
    assert!(!denied, "a removed member still got red data");
    assert!(err.contains("(AccessDenied)"), "{err}");

    // Revoke Mateo: his identity-enhanced session and refresh tokens stop working within a
    // second (the test waits a little longer, for a loaded machine); the application role's
    // own session and another user's identity-enhanced session keep working.
    let fresh = ok(exchange(
        &app_creds,
        &idp.login("example-cli", "mateo.jackson", "mateo-password"),
    ));
    let d = server.data_dir.to_str().unwrap();
    let out = tessera_command(&["sessions", "revoke", "--user", &mateo, "--data-dir", d]);
    assert!(out.contains("revoked"), "{out}");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (still, _, err) = aws_session(&server, &bearer, &["sts", "get-caller-identity"]);
    assert!(!still, "a revoked user's session still works");
    assert!(err.contains("ExpiredToken"), "{err}");
    // The chained session that carried his context on is revoked with it.
    let (still, _, err) = aws_session(&server, &with_context, &["sts", "get-caller-identity"]);
    assert!(
        !still,
        "a chained session with a revoked user's context still works"
    );
    assert!(err.contains("ExpiredToken"), "{err}");
    // So are the credentials Access Grants vended for him, at STS and at S3; Zoe's keep
    // working.
    let (still, _, err) = aws_session(&server, &vended, &["sts", "get-caller-identity"]);
    assert!(!still, "credentials vended to a revoked user still work");
    assert!(err.contains("ExpiredToken"), "{err}");
    let (still, _, err) = aws_session(
        &server,
        &vended,
        &[
            "s3",
            "cp",
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
            "-",
        ],
    );
    assert!(!still, "S3 served credentials vended to a revoked user");
    assert!(err.contains("(403) when calling the HeadObject"), "{err}");
    let (still, _, err) = aws_session(
        &server,
        &vended,
        &["s3", "ls", "s3://example-bucket/projects/red/tomatoes/"],
    );
    assert!(!still, "S3 listed for credentials vended to a revoked user");
    assert!(err.contains("AccessDenied"), "{err}");
    let zoe_read = s3_ok(aws_session(
        &server,
        &zoe_vended,
        &["s3", "cp", "s3://example-bucket/bob/notes.txt", "-"],
    ));
    assert_eq!(zoe_read, "variety,colour\nroma,red\n");
    let (r, _, err) = refresh(&app_creds, fresh["refreshToken"].as_str().unwrap());
    assert!(!r);
    assert!(err.contains("InvalidGrantException"), "{err}");
    let fresh_ctx = jwt_claims(fresh["idToken"].as_str().unwrap())["sts:identity_context"]
        .as_str()
        .unwrap()
        .to_owned();
    let (r, _, err) = assume(
        Some(&app_creds),
        "IdentityBearerRole",
        &[
            "--provided-contexts",
            &format!(
                "ProviderArn=arn:aws:iam::aws:contextProvider/IdentityCenter,ContextAssertion={fresh_ctx}"
            ),
        ],
    );
    assert!(!r);
    assert!(err.contains("AccessDenied"), "{err}");
    ok(aws_session(
        &server,
        &app_creds,
        &["sts", "get-caller-identity"],
    ));
    // Another user's identity-enhanced session keeps working.
    let me = ok(aws_session(
        &server,
        &zoe_bearer,
        &["sts", "get-caller-identity"],
    ));
    assert_eq!(
        me["Arn"],
        format!("arn:aws:sts::{ROOT}:assumed-role/IdentityBearerRole/s1")
    );

    // A user deleted through SCIM can no longer exchange tokens.
    let again = idp.login("example-cli", "mateo.jackson", "mateo-password");
    let (status, _) = scim(
        &server,
        &scim_token,
        &store_id,
        "DELETE",
        &format!("/Users/{mateo}"),
        None,
    );
    assert_eq!(status, 204);
    let (accepted, _, err) = exchange(&app_creds, &again);
    assert!(!accepted, "a deleted user exchanged a token");
    assert!(err.contains("InvalidGrantException"), "{err}");

    // The exchange's audit record names the resolved user and hides the tokens.
    let records = server.audit_records();
    let ct: Vec<_> = records
        .iter()
        .filter(|r| r["eventName"] == "CreateTokenWithIAM" && r["errorCode"].is_null())
        .collect();
    assert!(!ct.is_empty());
    assert_eq!(ct[0]["eventSource"], "sso-oauth.amazonaws.com");
    assert_eq!(
        ct[0]["additionalEventData"]["identitystore:UserId"],
        mateo.as_str()
    );
    assert_eq!(
        ct[0]["requestParameters"]["assertion"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    // userIdentity, per principal type, as CloudTrail shapes it.
    let by_key = |id: &str| {
        records
            .iter()
            .find(|r| r["userIdentity"]["accessKeyId"] == id)
            .unwrap_or_else(|| panic!("no record made with {id}"))["userIdentity"]
            .clone()
    };
    let user = by_key(&dev_id);
    assert_eq!(user["type"], "IAMUser", "{user}");
    assert_eq!(user["userName"], "developer", "{user}");
    assert_eq!(user["arn"], format!("arn:aws:iam::{ROOT}:user/developer"));
    assert_eq!(user["accountId"], ROOT);
    assert!(
        user["principalId"].as_str().unwrap().starts_with("AIDA"),
        "{user}"
    );
    let root_id = by_key(&root.access_key_id);
    assert_eq!(root_id["type"], "Root", "{root_id}");
    assert_eq!(root_id["arn"], format!("arn:aws:iam::{ROOT}:root"));
    // An identity-enhanced session: the role session, its issuer, and the user it acts for.
    let enhanced = by_key(&bearer.0);
    assert_eq!(enhanced["type"], "AssumedRole", "{enhanced}");
    let issuer = &enhanced["sessionContext"]["sessionIssuer"];
    assert_eq!(issuer["type"], "Role");
    assert_eq!(issuer["userName"], "IdentityBearerRole");
    assert_eq!(
        issuer["arn"],
        format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole")
    );
    assert!(
        enhanced["principalId"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}:", issuer["principalId"].as_str().unwrap())),
        "{enhanced}"
    );
    assert_eq!(enhanced["onBehalfOf"]["userId"], mateo.as_str());
    assert!(
        enhanced["onBehalfOf"]["identityStoreArn"]
            .as_str()
            .unwrap()
            .ends_with(&format!("identitystore/{store_id}")),
        "{enhanced}"
    );
    // Access Grants credentials: the location role's session, on behalf of the same user.
    let vended_id = by_key(&vended.0);
    assert_eq!(
        vended_id["sessionContext"]["sessionIssuer"]["userName"],
        "s3-access-grants-role"
    );
    assert_eq!(vended_id["onBehalfOf"]["userId"], mateo.as_str());
    // Nothing secret of this whole run is in any record: not in the store's trail, not in
    // the export. Every secret key, session token, id / access / refresh token, assertion,
    // password and SCIM token the run used is looked for.
    let mut secrets: Vec<(&str, String)> = vec![
        ("root secret key", root.secret_access_key.clone()),
        ("developer secret key", dev_secret.clone()),
        ("id token", id_token.clone()),
        ("identity context assertion", context.clone()),
        ("fresh identity context assertion", fresh_ctx.to_string()),
        ("later id token", again.clone()),
        ("refresh token", first.clone()),
        ("rotated refresh token", second_token.clone()),
        ("access token", access.clone()),
        ("SCIM token", scim_token.clone()),
        ("password", "mateo-password".into()),
    ];
    for (what, t) in [
        ("tokens", &tokens),
        ("exchanged", &exchanged),
        ("zoe", &zoe_tokens),
        ("fresh", &fresh),
    ] {
        for field in ["idToken", "accessToken", "refreshToken"] {
            if let Some(v) = t[field].as_str() {
                secrets.push((what, v.to_owned()));
            }
        }
    }
    for (what, c) in [
        ("application", &app_creds),
        ("other", &other_creds),
        ("bearer", &bearer),
        ("zoe bearer", &zoe_bearer),
        ("vended", &vended),
        ("zoe vended", &zoe_vended),
    ] {
        secrets.push((what, c.1.clone()));
        secrets.push((what, c.2.clone()));
    }
    let stored = tessera_command(&[
        "audit",
        "query",
        "--data-dir",
        &server.data_dir.display().to_string(),
        "--json",
        "--limit",
        "100000",
    ]);
    let stored_count = stored.lines().count();
    assert!(
        stored_count >= records.len() && stored_count > 100,
        "only {stored_count} records in the trail, {} exported",
        records.len()
    );
    let exported = serde_json::to_string(&records).unwrap();
    for (what, secret) in &secrets {
        assert!(secret.len() >= 12, "{what}: too short to look for");
        // JSON escapes `/` nowhere and `+` nowhere, but a token inside a JSON string could be
        // escaped: look for the escaped form too.
        let escaped = serde_json::to_string(secret).unwrap();
        let escaped = escaped.trim_matches('"');
        for (place, text) in [("the store's trail", &stored), ("the export", &exported)] {
            assert!(
                !text.contains(secret.as_str()) && !text.contains(escaped),
                "a {what} reached {place}"
            );
        }
    }
}

/// An instance for the account root, and a SCIM token for its identity store: (identity
/// store id, token).
fn scim_setup(server: &DevServer, key: (&str, &str)) -> (String, String) {
    let (ok, out, err) = aws(
        server,
        key,
        &["sso-admin", "create-instance", "--name", "scim"],
    );
    assert!(ok, "{err}");
    let instance = json(&out)["InstanceArn"].as_str().unwrap().to_owned();
    let (ok, out, err) = aws(
        server,
        key,
        &[
            "sso-admin",
            "describe-instance",
            "--instance-arn",
            &instance,
        ],
    );
    assert!(ok, "{err}");
    let store = json(&out)["IdentityStoreId"].as_str().unwrap().to_owned();
    let d = server.data_dir.to_str().unwrap();
    let out = tessera_command(&[
        "scim-token",
        "create",
        "--identity-store-id",
        &store,
        "--data-dir",
        d,
    ]);
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("Token:"))
        .map(|t| t.trim().to_owned())
        .unwrap_or_else(|| panic!("no token in {out}"));
    (store, token)
}

/// A SCIM call: (status, JSON body or Null).
fn scim(
    server: &DevServer,
    token: &str,
    store: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {token}");
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, out) = tessera_testkit::http_request(
        &server.manifest.endpoint,
        method,
        &format!("/{store}/scim/v2{path}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/scim+json"),
        ],
        &text,
    );
    let v = if out.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    (status, v)
}

fn scim_user(user_name: &str, email: &str, external_id: &str) -> serde_json::Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": user_name, "externalId": external_id,
        "name": {"givenName": "Given", "familyName": "Family"},
        "displayName": format!("{user_name} display"), "active": true,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Data"},
    })
}

/// The SCIM endpoint passes every scim2-tester check (`.search` is unsupported, as in
/// Identity Center, and reported SKIPPED).
#[test]
fn scim_passes_scim2_tester() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let (store, token) = scim_setup(&server, key);
    let py = std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let results = dir.path().join("scim-results.json");
    let out = Command::new(py)
        .arg(fixture("../scim/scim_check.py"))
        .args(["--json", results.to_str().unwrap()])
        .env(
            "SCIM_URL",
            format!("{}/{store}/scim/v2", server.manifest.endpoint),
        )
        .env("SCIM_TOKEN", &token)
        .output()
        .expect("run scim_check.py (the test script installs scim2-tester)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let success = all.iter().filter(|r| r["status"] == "SUCCESS").count();
    assert!(success >= 100, "{stdout}");
    for r in &all {
        assert!(
            r["status"] == "SUCCESS"
                || (r["status"] == "SKIPPED" && r["title"] == "search_with_attributes"),
            "{r}"
        );
    }
}

/// What scim2-tester does not check: tokens per tenant, uniqueness, filters, paging, the
/// PATCH shapes Entra ID and Okta send, oversized bodies, and that SCIM and the identitystore
/// API share one store.
#[test]
fn scim_filters_paging_and_idp_patch_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let (store, token) = scim_setup(&server, key);
    let call =
        |m: &str, p: &str, b: Option<&serde_json::Value>| scim(&server, &token, &store, m, p, b);

    // Tokens: none, wrong, another tenant's.
    let (s, e) = scim(&server, "", &store, "GET", "/Users", None);
    assert_eq!(s, 401, "{e}");
    assert_eq!(
        e["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(
        scim(&server, "not-a-token", &store, "GET", "/Users", None).0,
        401
    );
    let other = server.account("222222222222").clone();
    let (other_store, other_token) = scim_setup(
        &server,
        (
            other.access_key_id.as_str(),
            other.secret_access_key.as_str(),
        ),
    );
    assert_eq!(
        scim(&server, &other_token, &store, "GET", "/Users", None).0,
        401
    );
    assert_eq!(
        scim(&server, &other_token, &other_store, "GET", "/Users", None).0,
        200
    );

    // Create; duplicates and invalid users refused; nothing half-written.
    let (s, mateo) = call(
        "POST",
        "/Users",
        Some(&scim_user("mateo.jackson", "mateo@example.com", "E-1")),
    );
    assert_eq!(s, 201, "{mateo}");
    let mateo_id = mateo["id"].as_str().unwrap().to_owned();
    let (s, e) = call(
        "POST",
        "/Users",
        Some(&scim_user("MATEO.JACKSON", "x@example.com", "E-9")),
    );
    assert_eq!(
        (s, e["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{e}"
    );
    let mut nameless = scim_user("nameless", "n@example.com", "E-8");
    nameless.as_object_mut().unwrap().remove("name");
    let (s, e) = call("POST", "/Users", Some(&nameless));
    assert_eq!(s, 400, "{e}");
    let mut two = scim_user("two.emails", "a@example.com", "E-7");
    two["emails"] = serde_json::json!([{"value": "a@example.com"}, {"value": "b@example.com"}]);
    assert_eq!(call("POST", "/Users", Some(&two)).0, 400);
    let mut huge = scim_user("huge", "h@example.com", "E-6");
    huge["title"] = serde_json::json!("x".repeat(300 * 1024));
    assert_eq!(call("POST", "/Users", Some(&huge)).0, 413);
    for (n, e) in [("eve.blue", "E-2"), ("zoe.green", "E-3")] {
        let (s, _) = call(
            "POST",
            "/Users",
            Some(&scim_user(n, &format!("{n}@example.com"), e)),
        );
        assert_eq!(s, 201);
    }
    let (_, all) = call("GET", "/Users", None);
    assert_eq!(
        all["totalResults"], 3,
        "nothing of a refused create was kept: {all}"
    );

    // Filters.
    let q = |f: &str| {
        format!(
            "/Users?filter={}",
            form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
        )
    };
    let (_, r) = call("GET", &q(r#"userName eq "Mateo.Jackson""#), None);
    assert_eq!(r["totalResults"], 1);
    assert_eq!(r["Resources"][0]["id"], mateo_id.as_str());
    let (_, r) = call("GET", &q(r#"externalId eq "E-2""#), None);
    assert_eq!(r["Resources"][0]["userName"], "eve.blue");
    let (_, r) = call(
        "GET",
        &q(r#"userName eq "eve.blue" and externalId eq "E-1""#),
        None,
    );
    assert_eq!(r["totalResults"], 0);
    for bad in [
        r#"userName co "m""#,
        r#"userName eq "a" or userName eq "b""#,
        r#"a eq "1" and b eq "2" and c eq "3""#,
        r#"userName eq "unterminated"#,
    ] {
        let (s, e) = call("GET", &q(bad), None);
        assert_eq!(
            (s, e["scimType"].as_str()),
            (400, Some("invalidFilter")),
            "{bad}: {e}"
        );
    }
    // Paging.
    let (_, p1) = call("GET", "/Users?startIndex=1&count=2", None);
    assert_eq!(
        (p1["totalResults"].as_u64(), p1["itemsPerPage"].as_u64()),
        (Some(3), Some(2))
    );
    let (_, p2) = call("GET", "/Users?startIndex=3&count=2", None);
    assert_eq!(p2["itemsPerPage"], 1);
    assert_ne!(p1["Resources"][0]["id"], p2["Resources"][0]["id"]);

    // Entra ID's PATCH: capitalised ops, several operations, filtered paths, the extension.
    let entra = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "displayName", "value": "Mateo J."},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "mateo.jackson@example.com"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Red"},
        {"op": "Replace", "path": "name.givenName", "value": "Mateo"}]});
    let (s, u) = call("PATCH", &format!("/Users/{mateo_id}"), Some(&entra));
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["displayName"], "Mateo J.");
    assert_eq!(u["emails"][0]["value"], "mateo.jackson@example.com");
    assert_eq!(
        u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Red"
    );
    // Okta's: no path.
    let okta = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"id": mateo_id, "active": false}}]});
    let (_, u) = call("PATCH", &format!("/Users/{mateo_id}"), Some(&okta));
    assert_eq!(u["active"], false);
    let back = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": true}}]});
    call("PATCH", &format!("/Users/{mateo_id}"), Some(&back));
    // A PATCH that would break the identity store's rules changes nothing.
    let bad = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "ok"}, {"op": "remove", "path": "name"}]});
    assert_eq!(
        call("PATCH", &format!("/Users/{mateo_id}"), Some(&bad)).0,
        400
    );
    assert_eq!(
        call("GET", &format!("/Users/{mateo_id}"), None).1["displayName"],
        "Mateo J."
    );

    // The identitystore API sees the same user (email lookup, external id).
    let (ok, out, err) = aws(
        &server,
        key,
        &[
            "identitystore",
            "get-user-id",
            "--identity-store-id",
            &store,
            "--alternate-identifier",
            r#"{"UniqueAttribute":{"AttributePath":"emails.value","AttributeValue":"mateo.jackson@example.com"}}"#,
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(&out)["UserId"], mateo_id.as_str());
    let (ok, out, err) = aws(
        &server,
        key,
        &[
            "identitystore",
            "get-user-id",
            "--identity-store-id",
            &store,
            "--alternate-identifier",
            r#"{"ExternalId":{"Issuer":"scim","Id":"E-1"}}"#,
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(&out)["UserId"], mateo_id.as_str());

    // Groups: create with members; Entra's add and remove-with-value; Okta's filtered remove.
    let eve_id = call("GET", &q(r#"userName eq "eve.blue""#), None).1["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, g) = call(
        "POST",
        "/Groups",
        Some(
            &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Red Project Group", "externalId": "G-1", "members": [{"value": mateo_id}]}),
        ),
    );
    assert_eq!(s, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();
    let patch = |ops: serde_json::Value| serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let (s, _) = call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&patch(
            serde_json::json!([{"op": "Add", "path": "members", "value": [{"value": eve_id}]}]),
        )),
    );
    assert_eq!(s, 200);
    let gq = |f: &str| {
        format!(
            "/Groups?filter={}",
            form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
        )
    };
    let (_, r) = call(
        "GET",
        &gq(&format!(
            r#"displayName eq "Red Project Group" and members.value eq "{eve_id}""#
        )),
        None,
    );
    assert_eq!(r["totalResults"], 1, "{r}");
    let (ok, out, err) = aws(
        &server,
        key,
        &[
            "identitystore",
            "list-group-memberships",
            "--identity-store-id",
            &store,
            "--group-id",
            &gid,
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(json(&out)["GroupMemberships"].as_array().unwrap().len(), 2);
    call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&patch(
            serde_json::json!([{"op": "Remove", "path": "members", "value": [{"value": eve_id}]}]),
        )),
    );
    call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&patch(
            serde_json::json!([{"op": "remove", "path": format!("members[value eq \"{mateo_id}\"]")}]),
        )),
    );
    let (_, g) = call("GET", &format!("/Groups/{gid}"), None);
    assert_eq!(g["members"], serde_json::json!([]), "{g}");
    // A member who is not a user of this store is refused.
    let (s, _) = call(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&patch(
            serde_json::json!([{"op": "add", "path": "members", "value": [{"value": "0000000000-00000000-0000-0000-0000-000000000000"}]}]),
        )),
    );
    assert_eq!(s, 400);
    let (_, r) = call("GET", &gq(r#"externalId eq "G-1""#), None);
    assert_eq!(r["Resources"][0]["id"], gid.as_str());

    // Delete.
    assert_eq!(call("DELETE", &format!("/Users/{eve_id}"), None).0, 204);
    assert_eq!(call("GET", &format!("/Users/{eve_id}"), None).0, 404);
    assert_eq!(call("DELETE", &format!("/Users/{eve_id}"), None).0, 404);

    // SCIM calls are audited with the tenant, bodies hidden.
    let records = server.audit_records();
    let scim_events: Vec<_> = records
        .iter()
        .filter(|r| r["eventSource"] == "identitystore-scim.amazonaws.com")
        .collect();
    assert!(
        scim_events.iter().any(|r| r["eventName"] == "CreateUser"
            && r["requestParameters"]["tenantId"] == store.as_str())
    );
    let text = serde_json::to_string(&scim_events).unwrap();
    assert!(
        !text.contains("mateo.jackson@example.com"),
        "personal data reached the audit log"
    );
}

/// S3 Access Grants with IAM grantees, through the AWS CLI: AWS's documented Default/Minimal
/// table (grants `s3://…/bob/*` and `s3://…/bob/reports/*`), object grants, the location
/// role's trust policy, the control plane's validation and "not empty" rules, tags, paging,
/// and the instance resource policy across accounts.
/// An Access Grants instance may use its own account's Identity Center instance or one of its
/// organization's (the seeds' shape: the application in 111111111111, Identity Center in
/// 222222222222, one organization under `tessera dev`), never another tenant's: the
/// association is refused as if the instance did not exist, so grantee validation cannot be
/// used to probe another tenant's user and group ids.
#[test]
fn access_grants_use_only_their_organizations_identity_center() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let ic_owner = server.account("222222222222").clone();
    let ic_key = (
        ic_owner.access_key_id.as_str(),
        ic_owner.secret_access_key.as_str(),
    );
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let ok = |r: (bool, String, String)| -> serde_json::Value {
        assert!(r.0, "{}", r.2);
        if r.1.trim().is_empty() {
            serde_json::Value::Null
        } else {
            json(&r.1)
        }
    };
    let instance = ok(aws(
        &server,
        ic_key,
        &["sso-admin", "create-instance", "--name", "org"],
    ))["InstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let store_id = ok(aws(
        &server,
        ic_key,
        &[
            "sso-admin",
            "describe-instance",
            "--instance-arn",
            &instance,
        ],
    ))["IdentityStoreId"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = ok(aws(
        &server,
        ic_key,
        &[
            "identitystore",
            "create-user",
            "--identity-store-id",
            &store_id,
            "--user-name",
            "mateo.jackson",
            "--display-name",
            "Mateo Jackson",
            "--name",
            "GivenName=Mateo,FamilyName=Jackson",
        ],
    ))["UserId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another tenant: an account outside the organization, with its own root key.
    let d = server.data_dir.to_str().unwrap();
    let out = tessera_command(&["account", "create", "333333333333", "--data-dir", d]);
    assert!(out.contains("created"), "{out}");
    let out = tessera_command(&[
        "root-key",
        "create",
        "--account",
        "333333333333",
        "--data-dir",
        d,
    ]);
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in {out}"))
    };
    let (other_id, other_secret) = (field("AccessKeyId:"), field("SecretAccessKey:"));
    let other = (other_id.as_str(), other_secret.as_str());
    let ctl = |k: (&str, &str), account: &str, args: &[&str]| {
        let mut a = vec!["s3control"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--account-id", account]);
        aws(&server, k, &a)
    };
    let location_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"access-grants.s3.amazonaws.com"},"Action":["sts:AssumeRole","sts:SetContext"]}]}"#;
    for k in [other, key] {
        ok(aws(
            &server,
            k,
            &[
                "iam",
                "create-role",
                "--role-name",
                "location",
                "--assume-role-policy-document",
                location_trust,
            ],
        ));
    }
    let (done, out, err) = ctl(
        other,
        "333333333333",
        &[
            "create-access-grants-instance",
            "--identity-center-arn",
            &instance,
        ],
    );
    assert!(
        !done,
        "another tenant associated the organization's instance: {out}"
    );
    assert!(
        err.contains("(InvalidIdentityCenterInstance)") && err.contains("does not exist"),
        "{err}"
    );
    // Unassociated, then associated later: the same refusal, and no directory grantee can
    // be checked against the organization's store.
    ok(ctl(
        other,
        "333333333333",
        &["create-access-grants-instance"],
    ));
    let (done, _, err) = ctl(
        other,
        "333333333333",
        &[
            "associate-access-grants-identity-center",
            "--identity-center-arn",
            &instance,
        ],
    );
    assert!(!done);
    assert!(err.contains("(InvalidIdentityCenterInstance)"), "{err}");
    ok(ctl(
        other,
        "333333333333",
        &[
            "create-access-grants-location",
            "--location-scope",
            "s3://",
            "--iam-role-arn",
            "arn:aws:iam::333333333333:role/location",
        ],
    ));
    let grantee = format!("GranteeType=DIRECTORY_USER,GranteeIdentifier={user}");
    let (done, _, err) = ctl(
        other,
        "333333333333",
        &[
            "create-access-grant",
            "--access-grants-location-id",
            "default",
            "--access-grants-location-configuration",
            "S3SubPrefix=bucket/*",
            "--grantee",
            &grantee,
            "--permission",
            "READ",
        ],
    );
    assert!(!done);
    assert!(err.contains("(InvalidAccessGrant)"), "{err}");

    // The application account of the organization associates it, and its directory grantee
    // is validated against the organization's store.
    ok(ctl(
        key,
        ROOT,
        &[
            "create-access-grants-instance",
            "--identity-center-arn",
            &instance,
        ],
    ));
    ok(ctl(
        key,
        ROOT,
        &[
            "create-access-grants-location",
            "--location-scope",
            "s3://",
            "--iam-role-arn",
            &format!("arn:aws:iam::{ROOT}:role/location"),
        ],
    ));
    ok(ctl(
        key,
        ROOT,
        &[
            "create-access-grant",
            "--access-grants-location-id",
            "default",
            "--access-grants-location-configuration",
            "S3SubPrefix=bucket/*",
            "--grantee",
            &grantee,
            "--permission",
            "READ",
        ],
    ));
    // Once the account leaves the organization, grantee validation refuses too.
    tessera_command(&[
        "account",
        "set-organization",
        ROOT,
        "--none",
        "--data-dir",
        d,
    ]);
    let (done, _, err) = ctl(
        key,
        ROOT,
        &[
            "create-access-grant",
            "--access-grants-location-id",
            "default",
            "--access-grants-location-configuration",
            "S3SubPrefix=bucket/other/*",
            "--grantee",
            &grantee,
            "--permission",
            "READ",
        ],
    );
    assert!(!done);
    assert!(err.contains("(InvalidAccessGrant)"), "{err}");
}

#[test]
fn cli_access_grants_with_iam_grantees() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let key = (root.access_key_id.as_str(), root.secret_access_key.as_str());
    let ok = |r: (bool, String, String)| -> serde_json::Value {
        assert!(r.0, "{}", r.2);
        if r.1.trim().is_empty() {
            serde_json::Value::Null
        } else {
            json(&r.1)
        }
    };
    let fails = |r: (bool, String, String), code: &str| {
        assert!(!r.0, "expected {code}, got {}", r.1);
        assert!(
            r.2.contains(&format!("({code})")),
            "expected {code}: {}",
            r.2
        );
    };
    let ctl = |args: &[&str]| {
        let mut a = vec!["s3control"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--account-id", ROOT]);
        aws(&server, key, &a)
    };

    // Nothing exists yet.
    fails(
        ctl(&["get-access-grants-instance"]),
        "AccessGrantsInstanceNotExistsError",
    );
    let listed = ok(ctl(&["list-access-grants-instances"]));
    assert!(
        listed["AccessGrantsInstancesList"]
            .as_array()
            .is_none_or(|l| l.is_empty()),
        "{listed}"
    );
    let inst = ok(ctl(&[
        "create-access-grants-instance",
        "--tags",
        "Key=team,Value=data",
    ]));
    assert_eq!(
        inst["AccessGrantsInstanceArn"],
        format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")
    );
    assert_eq!(inst["AccessGrantsInstanceId"], "default");
    fails(
        ctl(&["create-access-grants-instance"]),
        "AccessGrantsInstanceAlreadyExists",
    );

    // The location role: the seed's trust policy for the service principal.
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "access-grants.s3.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ROOT},
            "ArnEquals": {"aws:SourceArn": format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")}}}]});
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "ag-location-role",
            "--assume-role-policy-document",
            &trust.to_string(),
        ],
    ));
    // A role whose trust policy does not admit the service.
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "create-role",
            "--role-name",
            "not-for-grants",
            "--assume-role-policy-document",
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"sts:AssumeRole"}}]}}"#
            ),
        ],
    ));
    let role = format!("arn:aws:iam::{ROOT}:role/ag-location-role");
    fails(
        ctl(&[
            "create-access-grants-location",
            "--location-scope",
            "s3://",
            "--iam-role-arn",
            &format!("arn:aws:iam::{ROOT}:role/missing"),
        ]),
        "InvalidIamRole",
    );
    for bad in [
        "s3://Bad_Bucket/",
        "s3://bucket1/*",
        "s3://bucket1/a/../b",
        "gs:bucket1",
    ] {
        fails(
            ctl(&[
                "create-access-grants-location",
                "--location-scope",
                bad,
                "--iam-role-arn",
                &role,
            ]),
            "InvalidAccessGrantsLocation",
        );
    }
    let loc = ok(ctl(&[
        "create-access-grants-location",
        "--location-scope",
        "s3://",
        "--iam-role-arn",
        &role,
    ]));
    assert_eq!(loc["AccessGrantsLocationId"], "default");
    fails(
        ctl(&[
            "create-access-grants-location",
            "--location-scope",
            "s3://",
            "--iam-role-arn",
            &role,
        ]),
        "AccessGrantsLocationAlreadyExistsError",
    );
    let other_loc = ok(ctl(&[
        "create-access-grants-location",
        "--location-scope",
        "s3://other-bucket/team/",
        "--iam-role-arn",
        &format!("arn:aws:iam::{ROOT}:role/not-for-grants"),
    ]));
    let other_loc_id = other_loc["AccessGrantsLocationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let locs = ok(ctl(&["list-access-grants-locations"]));
    assert_eq!(
        locs["AccessGrantsLocationsList"].as_array().unwrap().len(),
        2
    );

    // The caller: an IAM user allowed GetDataAccess, and the grants of AWS's table.
    ok(aws(
        &server,
        key,
        &["iam", "create-user", "--user-name", "bob"],
    ));
    ok(aws(
        &server,
        key,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "bob",
            "--policy-name",
            "data",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetDataAccess","s3:ListCallerAccessGrants"],"Resource":"*"}]}"#,
        ],
    ));
    let bob_key = ok(aws(
        &server,
        key,
        &["iam", "create-access-key", "--user-name", "bob"],
    ));
    let bob_id = bob_key["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_secret = bob_key["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_arn = format!("arn:aws:iam::{ROOT}:user/bob");
    let grant = |sub: &str, perm: &str, extra: &[&str]| {
        let cfg = format!("S3SubPrefix={sub}");
        let grantee = format!("GranteeType=IAM,GranteeIdentifier={bob_arn}");
        let mut a = vec![
            "create-access-grant",
            "--access-grants-location-id",
            "default",
            "--access-grants-location-configuration",
            cfg.as_str(),
            "--grantee",
            grantee.as_str(),
            "--permission",
            perm,
        ];
        a.extend_from_slice(extra);
        ctl(&a)
    };
    let g1 = ok(grant("bucket1/bob/*", "READ", &[]));
    assert_eq!(g1["GrantScope"], "s3://bucket1/bob/*");
    let g1_id = g1["AccessGrantId"].as_str().unwrap().to_owned();
    ok(grant("bucket1/bob/reports/*", "READ", &[]));
    ok(grant(
        "bucket1/shared/data.csv",
        "READWRITE",
        &["--s3-prefix-type", "Object"],
    ));
    fails(
        grant("bucket1/bob/*", "READ", &[]),
        "AccessGrantAlreadyExists",
    );
    for bad in [
        "bucket1/a*b*",
        "bucket1/../x/*",
        "bucket1//x*",
        "bucket1/a%2Fb*",
        "Bad_Bucket/x*",
    ] {
        fails(grant(bad, "READ", &[]), "InvalidAccessGrant");
    }
    fails(
        grant("bucket1/x*", "READ", &["--s3-prefix-type", "Object"]),
        "InvalidAccessGrant",
    );
    fails(grant("bucket1/x*", "OWNER", &[]), "InvalidRequest");
    fails(
        ctl(&[
            "create-access-grant",
            "--access-grants-location-id",
            "default",
            "--access-grants-location-configuration",
            "S3SubPrefix=bucket1/x*",
            "--grantee",
            &format!("GranteeType=IAM,GranteeIdentifier=arn:aws:iam::{ROOT}:user/nobody"),
            "--permission",
            "READ",
        ]),
        "InvalidAccessGrant",
    );
    fails(
        ctl(&[
            "create-access-grant",
            "--access-grants-location-id",
            "default",
            "--access-grants-location-configuration",
            "S3SubPrefix=bucket1/x*",
            "--grantee",
            "GranteeType=DIRECTORY_USER,GranteeIdentifier=a1b2c3d4e5-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
            "--permission",
            "READ",
        ]),
        "InvalidAccessGrant",
    );
    // A grant on the prefix location stays inside it.
    let inner = ok(ctl(&[
        "create-access-grant",
        "--access-grants-location-id",
        &other_loc_id,
        "--access-grants-location-configuration",
        "S3SubPrefix=reports*",
        "--grantee",
        &format!("GranteeType=IAM,GranteeIdentifier={bob_arn}"),
        "--permission",
        "READ",
    ]));
    assert_eq!(inner["GrantScope"], "s3://other-bucket/team/reports*");
    fails(
        ctl(&[
            "delete-access-grants-location",
            "--access-grants-location-id",
            &other_loc_id,
        ]),
        "AccessGrantsLocationNotEmptyError",
    );
    fails(
        ctl(&["delete-access-grants-instance"]),
        "AccessGrantsInstanceNotEmptyError",
    );
    let listed = ok(ctl(&["list-access-grants", "--max-results", "2"]));
    assert_eq!(listed["AccessGrantsList"].as_array().unwrap().len(), 2);
    let token = listed["NextToken"].as_str().unwrap().to_owned();
    let rest = ok(ctl(&[
        "list-access-grants",
        "--max-results",
        "10",
        "--next-token",
        &token,
    ]));
    assert_eq!(rest["AccessGrantsList"].as_array().unwrap().len(), 2);
    let filtered = ok(ctl(&[
        "list-access-grants",
        "--grant-scope",
        "s3://bucket1/bob/*",
    ]));
    assert_eq!(filtered["AccessGrantsList"].as_array().unwrap().len(), 1);

    let bob = (bob_id.as_str(), bob_secret.as_str());
    let gda = |target: &str, perm: &str, extra: &[&str]| {
        let mut a = vec![
            "s3control",
            "get-data-access",
            "--account-id",
            ROOT,
            "--target",
            target,
            "--permission",
            perm,
        ];
        a.extend_from_slice(extra);
        aws(&server, bob, &a)
    };
    // AWS's table.
    for (target, privilege, scope) in [
        ("s3://bucket1/bob/*", "Default", "s3://bucket1/bob/*"),
        ("s3://bucket1/bob/", "Minimal", "s3://bucket1/bob/"),
        (
            "s3://bucket1/bob/images/*",
            "Minimal",
            "s3://bucket1/bob/images/*",
        ),
        (
            "s3://bucket1/bob/reports/file.txt",
            "Default",
            "s3://bucket1/bob/reports/*",
        ),
        (
            "s3://bucket1/bob/reports/file.txt",
            "Minimal",
            "s3://bucket1/bob/reports/file.txt",
        ),
    ] {
        let out = ok(gda(target, "READ", &["--privilege", privilege]));
        assert_eq!(out["MatchedGrantTarget"], scope, "{target} {privilege}");
        assert_eq!(out["Grantee"]["GranteeType"], "IAM");
        assert_eq!(out["Grantee"]["GranteeIdentifier"], bob_arn.as_str());
    }
    // Default privilege is Default; the credentials are a session of the location role.
    let out = ok(gda(
        "s3://bucket1/bob/x",
        "READ",
        &["--duration-seconds", "900"],
    ));
    assert_eq!(out["MatchedGrantTarget"], "s3://bucket1/bob/*");
    let vended = creds(&out);
    assert!(vended.0.starts_with("ASIA"));
    let me = ok(aws_session(
        &server,
        &vended,
        &["sts", "get-caller-identity"],
    ));
    let arn = me["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{ROOT}:assumed-role/ag-location-role/access-grants-"
        )),
        "{arn}"
    );
    // Object grants: exactly that object, READWRITE covers both permissions.
    let out = ok(gda(
        "s3://bucket1/shared/data.csv",
        "WRITE",
        &["--target-type", "Object"],
    ));
    assert_eq!(out["MatchedGrantTarget"], "s3://bucket1/shared/data.csv");
    fails(
        gda("s3://bucket1/shared/data.csv.bak", "READ", &[]),
        "AccessDenied",
    );
    fails(gda("s3://bucket1/shared/*", "READ", &[]), "AccessDenied");
    // No covering grant, the wrong permission, a character prefix that is not a grant.
    fails(gda("s3://bucket1/bo", "READ", &[]), "AccessDenied");
    fails(gda("s3://bucket1/bob/x", "WRITE", &[]), "AccessDenied");
    fails(gda("s3://bucket1/*", "READ", &[]), "AccessDenied");
    // The prefix location's role does not trust the service.
    fails(
        gda("s3://other-bucket/team/reports/q1", "READ", &[]),
        "StsNotAuthorizedError",
    );
    // Bad input.
    for bad in [
        "bucket1/bob/x",
        "s3://bucket1",
        "s3://bucket1/",
        "s3://BUCKET/x",
        "s3://bucket1/bob/../x",
        "s3://bucket1/bob//x",
        "s3://bucket1/bob/%2e%2e/x",
        "s3://bucket1/b*b",
    ] {
        fails(gda(bad, "READ", &[]), "InvalidRequest");
    }
    let long = format!("s3://bucket1/bob/{}", "k".repeat(1100));
    fails(gda(&long, "READ", &[]), "InvalidRequest");
    fails(
        gda("s3://bucket1/bob/x", "READ", &["--privilege", "Maximal"]),
        "InvalidRequest",
    );
    fails(
        gda("s3://bucket1/bob/*", "READ", &["--target-type", "Object"]),
        "InvalidRequest",
    );
    fails(
        gda(
            "s3://bucket1/bob/x",
            "READ",
            &["--duration-seconds", "43201"],
        ),
        "InvalidRequest",
    );
    // The location role's maximum session is one hour: longer credentials are refused.
    fails(
        gda(
            "s3://bucket1/bob/x",
            "READ",
            &["--duration-seconds", "7200"],
        ),
        "StsValidationError",
    );
    // The root of the account (no policy grants it data) and another account.
    fails(
        aws(
            &server,
            key,
            &[
                "s3control",
                "get-data-access",
                "--account-id",
                ROOT,
                "--target",
                "s3://bucket1/bob/x",
                "--permission",
                "READ",
            ],
        ),
        "AccessDenied",
    );
    let caller_grants = ok(aws(
        &server,
        bob,
        &[
            "s3control",
            "list-caller-access-grants",
            "--account-id",
            ROOT,
            "--grant-scope",
            "s3://bucket1/bob/",
        ],
    ));
    // The list's order is the store's (creation second, then grant id), not a promise: compare
    // as a set. (Two grants made within one second used to make this test flaky.)
    let mut scopes: Vec<&str> = caller_grants["CallerAccessGrantsList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["GrantScope"].as_str().unwrap())
        .collect();
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        ["s3://bucket1/bob/*", "s3://bucket1/bob/reports/*"],
        "{caller_grants}"
    );

    // Cross-account: a user of 222222222222 needs the instance's resource policy too.
    let other = server.account("222222222222").clone();
    let okey = (
        other.access_key_id.as_str(),
        other.secret_access_key.as_str(),
    );
    let oaws = |args: &[&str]| aws(&server, okey, args);
    ok(oaws(&["iam", "create-user", "--user-name", "partner"]));
    ok(oaws(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "partner",
        "--policy-name",
        "data",
        "--policy-document",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"*"}]}"#,
    ]));
    let pk = ok(oaws(&[
        "iam",
        "create-access-key",
        "--user-name",
        "partner",
    ]));
    let (pid, psecret) = (
        pk["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        pk["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let partner_arn = "arn:aws:iam::222222222222:user/partner";
    ok(ctl(&[
        "create-access-grant",
        "--access-grants-location-id",
        "default",
        "--access-grants-location-configuration",
        "S3SubPrefix=bucket1/partner/*",
        "--grantee",
        &format!("GranteeType=IAM,GranteeIdentifier={partner_arn}"),
        "--permission",
        "READ",
    ]));
    let partner_gda = || {
        aws(
            &server,
            (&pid, &psecret),
            &[
                "s3control",
                "get-data-access",
                "--account-id",
                ROOT,
                "--target",
                "s3://bucket1/partner/a",
                "--permission",
                "READ",
            ],
        )
    };
    fails(partner_gda(), "AccessDenied");
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": partner_arn}, "Action": "s3:GetDataAccess",
        "Resource": format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")}]});
    fails(
        ctl(&[
            "put-access-grants-instance-resource-policy",
            "--policy",
            "{not json",
        ]),
        "InvalidResourcePolicy",
    );
    ok(ctl(&[
        "put-access-grants-instance-resource-policy",
        "--policy",
        &policy.to_string(),
    ]));
    let got = ok(ctl(&["get-access-grants-instance-resource-policy"]));
    assert!(got["Policy"].as_str().unwrap().contains(partner_arn));
    let out = ok(partner_gda());
    assert_eq!(out["MatchedGrantTarget"], "s3://bucket1/partner/*");
    ok(ctl(&["delete-access-grants-instance-resource-policy"]));
    fails(
        ctl(&["get-access-grants-instance-resource-policy"]),
        "AccessGrantsInstanceResourcePolicyNotExists",
    );
    fails(partner_gda(), "AccessDenied");

    // Tags on a grant; the instance for a prefix.
    let g1_arn = format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default/grant/{g1_id}");
    ok(ctl(&[
        "tag-resource",
        "--resource-arn",
        &g1_arn,
        "--tags",
        "Key=owner,Value=bob",
        "Key=tier,Value=gold",
    ]));
    ok(ctl(&[
        "untag-resource",
        "--resource-arn",
        &g1_arn,
        "--tag-keys",
        "tier",
    ]));
    let tags = ok(ctl(&["list-tags-for-resource", "--resource-arn", &g1_arn]));
    assert_eq!(
        tags["Tags"],
        serde_json::json!([{"Key": "owner", "Value": "bob"}])
    );
    fails(
        ctl(&[
            "tag-resource",
            "--resource-arn",
            &g1_arn,
            "--tags",
            "Key=aws:x,Value=y",
        ]),
        "InvalidTag",
    );
    let for_prefix = ok(ctl(&[
        "get-access-grants-instance-for-prefix",
        "--s3-prefix",
        "s3://bucket1/bob/",
    ]));
    assert_eq!(
        for_prefix["AccessGrantsInstanceArn"],
        format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")
    );

    // Deleting a grant takes effect at once; then the prefix location can go.
    ok(ctl(&["delete-access-grant", "--access-grant-id", &g1_id]));
    fails(
        ctl(&["get-access-grant", "--access-grant-id", &g1_id]),
        "NoSuchAccessGrantError",
    );
    fails(gda("s3://bucket1/bob/x", "READ", &[]), "AccessDenied");
    let inner_id = inner["AccessGrantId"].as_str().unwrap();
    ok(ctl(&["delete-access-grant", "--access-grant-id", inner_id]));
    ok(ctl(&[
        "delete-access-grants-location",
        "--access-grants-location-id",
        &other_loc_id,
    ]));
    fails(
        ctl(&[
            "get-access-grants-location",
            "--access-grants-location-id",
            &other_loc_id,
        ]),
        "NoSuchAccessGrantsLocationError",
    );

    // The audit trail has a record per call; GetDataAccess names the matched grant.
    let records = server.audit_records();
    let gda_ok: Vec<_> = records
        .iter()
        .filter(|r| r["eventName"] == "GetDataAccess" && r["errorCode"].is_null())
        .collect();
    assert!(!gda_ok.is_empty());
    assert_eq!(gda_ok[0]["eventSource"], "s3.amazonaws.com");
    assert_eq!(
        gda_ok[0]["requestParameters"]["target"],
        "s3://bucket1/bob/*"
    );
    assert_eq!(
        gda_ok[0]["additionalEventData"]["matchedGrantId"],
        g1_id.as_str()
    );
    let text = serde_json::to_string(&records).unwrap();
    assert!(
        !text.contains(&vended.1) && !text.contains(&vended.2),
        "credentials reached the audit log"
    );
}

/// aws-sdk-rust drives the S3 API (every operation of the data plane, a 100 MiB multipart
/// upload, ranged and conditional reads, presigned GET and PUT, bad inputs) against `server`.
async fn rust_sdk_s3_api(server: &DevServer, bucket: &str, upstream: bool) {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
    let root = server.account(ROOT).clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    );
    let code = |e: &dyn aws_sdk_s3::error::ProvideErrorMetadata| e.code().unwrap_or("").to_owned();
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.head_bucket().bucket(bucket).send().await.unwrap();
    let names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert!(names.contains(&bucket.to_owned()), "{names:?}");
    let loc = s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert!(
        loc.location_constraint()
            .is_none_or(|c| c.as_str().is_empty())
    );
    let e = s3
        .create_bucket()
        .bucket("Bad_Bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidBucketName");

    // Put, get, head with metadata; the SDK's default CRC32 checksums are verified.
    let body = b"rust sdk object\n".repeat(64);
    let put = s3
        .put_object()
        .bucket(bucket)
        .key("docs/r.txt")
        .content_type("text/plain")
        .metadata("team", "red")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let etag = put.e_tag().unwrap().to_owned();
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("docs/r.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(
        got.metadata().unwrap().get("team").map(String::as_str),
        Some("red")
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[..]
    );
    let head = s3
        .head_object()
        .bucket(bucket)
        .key("docs/r.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_length(), Some(body.len() as i64));
    let e = s3
        .put_object()
        .bucket(bucket)
        .key("docs/bad.txt")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(ByteStream::from_static(b"not empty"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "BadDigest");

    // Ranges and conditions.
    let part = s3
        .get_object()
        .bucket(bucket)
        .key("docs/r.txt")
        .range("bytes=5-7")
        .send()
        .await
        .unwrap();
    assert_eq!(
        part.content_range(),
        Some(format!("bytes 5-7/{}", body.len()).as_str())
    );
    assert_eq!(
        part.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[5..8]
    );
    let e = s3
        .get_object()
        .bucket(bucket)
        .key("docs/r.txt")
        .range(format!("bytes={}-", body.len()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "InvalidRange");
    let e = s3
        .get_object()
        .bucket(bucket)
        .key("docs/r.txt")
        .if_match("\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 412);
    let e = s3
        .get_object()
        .bucket(bucket)
        .key("docs/r.txt")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().unwrap().status().as_u16(), 304);
    let e = s3
        .get_object()
        .bucket(bucket)
        .key("docs/none")
        .send()
        .await
        .unwrap_err();
    assert!(e.as_service_error().unwrap().is_no_such_key(), "{e:?}");

    // Listings: v2 with delimiter and pages, v1 with a marker.
    for k in ["l/a/1", "l/a/2", "l/b", "l/c"] {
        s3.put_object()
            .bucket(bucket)
            .key(k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let l = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("l/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = l.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<&str> = l
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!((keys, prefixes), (vec!["l/b", "l/c"], vec!["l/a/"]));
    let pages: Vec<_> = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("l/")
        .max_keys(1)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.len(), 4, "one key per page");
    let after = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("l/")
        .start_after("l/b")
        .send()
        .await
        .unwrap();
    assert_eq!(after.contents().len(), 1);
    let v1 = s3
        .list_objects()
        .bucket(bucket)
        .prefix("l/")
        .marker("l/a/2")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["l/b", "l/c"]);

    // Copy with the metadata directive, delete one and many.
    s3.copy_object()
        .bucket(bucket)
        .key("copy/r.txt")
        .copy_source(format!("{bucket}/docs/r.txt"))
        .send()
        .await
        .unwrap();
    s3.copy_object()
        .bucket(bucket)
        .key("copy/r2.txt")
        .copy_source(format!("{bucket}/docs/r.txt"))
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .metadata("team", "blue")
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket(bucket)
        .key("copy/r2.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.metadata().unwrap().get("team").map(String::as_str),
        Some("blue")
    );
    s3.delete_object()
        .bucket(bucket)
        .key("copy/r2.txt")
        .send()
        .await
        .unwrap();
    let del = s3
        .delete_objects()
        .bucket(bucket)
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("l/a/1").build().unwrap())
                .objects(ObjectIdentifier::builder().key("l/a/2").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(del.deleted().len(), 2);

    // 100 MiB in 5 parts of 20 MiB (the last one copied from another object with
    // UploadPartCopy), listed, completed and read back in ranges.
    let mib = 1024 * 1024;
    let chunk: Vec<u8> = (0..20 * mib).map(|i| (i % 251) as u8).collect();
    let up = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("big/100mib")
        .send()
        .await
        .unwrap();
    let uid = up.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for n in 1..=4 {
        let p = s3
            .upload_part()
            .bucket(bucket)
            .key("big/100mib")
            .upload_id(&uid)
            .part_number(n)
            .body(ByteStream::from(chunk.clone()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    s3.put_object()
        .bucket(bucket)
        .key("big/source")
        .body(ByteStream::from(chunk.clone()))
        .send()
        .await
        .unwrap();
    let pc = s3
        .upload_part_copy()
        .bucket(bucket)
        .key("big/100mib")
        .upload_id(&uid)
        .part_number(5)
        .copy_source(format!("{bucket}/big/source"))
        .copy_source_range(format!("bytes=0-{}", 20 * mib - 1))
        .send()
        .await
        .unwrap();
    parts.push(
        CompletedPart::builder()
            .part_number(5)
            .e_tag(pc.copy_part_result().unwrap().e_tag().unwrap())
            .build(),
    );
    let listed = s3
        .list_parts()
        .bucket(bucket)
        .key("big/100mib")
        .upload_id(&uid)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 5);
    let uploads = s3
        .list_multipart_uploads()
        .bucket(bucket)
        .prefix("big/")
        .send()
        .await
        .unwrap();
    assert!(
        uploads
            .uploads()
            .iter()
            .any(|u| u.upload_id() == Some(uid.as_str()))
    );
    let done = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key("big/100mib")
        .upload_id(&uid)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        done.e_tag().unwrap().ends_with("-5\""),
        "{:?}",
        done.e_tag()
    );
    let head = s3
        .head_object()
        .bucket(bucket)
        .key("big/100mib")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(100 * mib as i64));
    for (start, len) in [
        (0usize, 10usize),
        (20 * mib - 3, 6),
        (100 * mib - 7, 7),
        (55 * mib, mib),
    ] {
        let r = s3
            .get_object()
            .bucket(bucket)
            .key("big/100mib")
            .range(format!("bytes={start}-{}", start + len - 1))
            .send()
            .await
            .unwrap();
        let got = r.body.collect().await.unwrap().into_bytes();
        let want: Vec<u8> = (start..start + len)
            .map(|i| ((i % (20 * mib)) % 251) as u8)
            .collect();
        assert_eq!(got.as_ref(), &want[..], "range at {start}");
    }
    let whole = s3
        .get_object()
        .bucket(bucket)
        .key("big/100mib")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(whole.len(), 100 * mib);
    assert!(whole.chunks(20 * mib).all(|c| c == &chunk[..]));
    // An aborted upload is gone.
    let ab = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key("big/aborted")
        .send()
        .await
        .unwrap();
    s3.abort_multipart_upload()
        .bucket(bucket)
        .key("big/aborted")
        .upload_id(ab.upload_id().unwrap())
        .send()
        .await
        .unwrap();
    let e = s3
        .list_parts()
        .bucket(bucket)
        .key("big/aborted")
        .upload_id(ab.upload_id().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "NoSuchUpload");

    // Presigned GET and PUT, used by a plain HTTP client.
    let presign =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(300))
            .unwrap();
    let url = s3
        .get_object()
        .bucket(bucket)
        .key("docs/r.txt")
        .presigned(presign.clone())
        .await
        .unwrap();
    let got = raw_http_get(url.uri()).await;
    assert_eq!(got, body);
    let put = s3
        .put_object()
        .bucket(bucket)
        .key("docs/presigned")
        .presigned(presign)
        .await
        .unwrap();
    http_put(put.uri(), b"presigned by the rust sdk").await;
    let got = s3
        .get_object()
        .bucket(bucket)
        .key("docs/presigned")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"presigned by the rust sdk"
    );

    // Hostile keys are objects of this bucket and nothing else.
    let mut hostile = vec!["../../x", "a//b", "%2e%2e/y", ".."];
    if !upstream {
        hostile.push("/leading");
    }
    for k in &hostile {
        s3.put_object()
            .bucket(bucket)
            .key(*k)
            .body(ByteStream::from(k.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
        let got = s3.get_object().bucket(bucket).key(*k).send().await.unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            k.as_bytes()
        );
    }

    // Empty the bucket and delete it.
    let e = s3.delete_bucket().bucket(bucket).send().await.unwrap_err();
    assert_eq!(code(e.as_service_error().unwrap()), "BucketNotEmpty");
    let all: Vec<String> = s3
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .flat_map(|p| {
            p.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
        })
        .collect();
    for k in all {
        s3.delete_object()
            .bucket(bucket)
            .key(k)
            .send()
            .await
            .unwrap();
    }
    s3.delete_bucket().bucket(bucket).send().await.unwrap();
}

/// GET `uri` with a bare HTTP/1.1 client; the body.
async fn raw_http_get(uri: &str) -> Vec<u8> {
    http_call("GET", uri, Vec::new()).await
}

async fn http_put(uri: &str, body: &[u8]) {
    http_call("PUT", uri, body.to_vec()).await;
}

async fn http_call(method: &str, uri: &str, body: Vec<u8>) -> Vec<u8> {
    use http_body_util::BodyExt;
    let uri: http::Uri = uri.parse().unwrap();
    let authority = uri.authority().unwrap().to_string();
    let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header("host", &authority)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    assert!(
        status.is_success(),
        "{method} {uri}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_s3_api_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    rust_sdk_s3_api(&server, "rust-local", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_s3_api_upstream_backend() {
    let dir = tempfile::tempdir().unwrap();
    let garage = tessera_testkit::GarageNode::start(dir.path());
    let server = DevServer::start_upstream(&dir.path().join("tessera"), &garage);
    rust_sdk_s3_api(&server, "rust-garage", true).await;
}

/// A path-style S3 client of `server` with `keys`.
async fn s3_client(server: &DevServer, keys: &tessera_testkit::AccountKeys) -> aws_sdk_s3::Client {
    let cfg = server
        .sdk_config(&keys.access_key_id, &keys.secret_access_key)
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    )
}

/// Crash test: `kill -9` the server during 200 concurrent PUTs, restart it on the same data
/// directory: every acknowledged object reads back intact, no partial object is visible, and
/// no temp file is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_concurrent_puts_loses_nothing_acknowledged() {
    use aws_sdk_s3::primitives::ByteStream;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let mut server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let s3 = s3_client(&server, &root).await;
    s3.create_bucket().bucket("crash").send().await.unwrap();
    // Each object's content is a function of its key, so any torn or mixed object shows.
    // Half are small (acknowledged early), half 2 MiB (in flight when the server dies).
    let content = |i: usize| -> Vec<u8> {
        let len = if i.is_multiple_of(2) {
            8 * 1024 + i
        } else {
            2 * 1024 * 1024 + i * 997
        };
        let unit = format!("object-{i:03}|");
        let mut v = unit.repeat(len / unit.len() + 1).into_bytes();
        v.truncate(len);
        v
    };
    // The bodies are made before the first request, so that the PUTs really run together.
    let bodies: Vec<Vec<u8>> = (0..200).map(content).collect();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let (s3, acked) = (s3.clone(), acked.clone());
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let r = s3
                .put_object()
                .bucket("crash")
                .key(format!("obj/{i:03}"))
                .body(ByteStream::from(body))
                .send()
                .await;
            if r.is_ok() {
                acked.lock().unwrap().push(i);
            }
        }));
    }
    // Kill once some, but not all, PUTs were acknowledged: watched from a thread of its own,
    // so that the busy client runtime cannot delay the kill.
    let killer = {
        let acked = acked.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while acked.lock().unwrap().len() < 60 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no PUT was acknowledged"
                );
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            server.kill9();
        })
    };
    killer.join().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let acked: Vec<usize> = acked.lock().unwrap().clone();
    assert!(
        acked.len() < 200,
        "every PUT finished before the kill; the test proves nothing"
    );
    let server = DevServer::start(dir.path());
    let s3 = s3_client(&server, &root).await;
    // Every acknowledged object is there, intact.
    for &i in &acked {
        let got = s3
            .get_object()
            .bucket("crash")
            .key(format!("obj/{i:03}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("acknowledged object {i} is gone: {e:?}"));
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert!(
            bytes.as_ref() == content(i).as_slice(),
            "object {i} is damaged"
        );
    }
    // Whatever else is visible is whole too (a PUT in flight may or may not have landed).
    let listed = s3.list_objects_v2().bucket("crash").send().await.unwrap();
    for o in listed.contents() {
        let i: usize = o.key().unwrap()[4..].parse().unwrap();
        assert_eq!(
            o.size(),
            Some(content(i).len() as i64),
            "partial object {i}"
        );
        let got = s3
            .get_object()
            .bucket("crash")
            .key(o.key().unwrap())
            .send()
            .await
            .unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert!(
            bytes.as_ref() == content(i).as_slice(),
            "object {i} is damaged"
        );
    }
    assert!(listed.contents().len() >= acked.len());
    let tmp = dir.path().join("objects").join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "temp files left behind: {}", left.len());
    eprintln!(
        "crash test: {} of 200 PUTs acknowledged before the kill, {} objects visible after restart",
        acked.len(),
        listed.contents().len()
    );
}

/// Copy a (stopped) server's data directory.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Run `script` with Python's sqlite3 on a stopped server's database (`c` is the connection,
/// committed after the script); returns what the script printed.
fn sqlite_script(data_dir: &std::path::Path, script: &str) -> String {
    let python = std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .arg("-c")
        .arg(format!(
            "import sqlite3\nc = sqlite3.connect({:?})\n{script}\nc.commit()",
            data_dir.join("tessera.db").display().to_string()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sqlite script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tessera audit verify` on `dir`: (exit success, stdout).
fn audit_verify(dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(tessera_testkit::tessera_bin())
        .args(["audit", "verify", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Tamper tests: the audit trail is chained in the store and sealed by a signed digest at
/// each shutdown; `tessera audit verify` passes on the untouched trail and names each edit,
/// deletion, swap and removed digest (exit non-zero).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Three runs, so three shutdown digests.
    for _ in 0..3 {
        let mut server = DevServer::start(&data);
        let root = server.account(ROOT).clone();
        let cfg = server
            .sdk_config(&root.access_key_id, &root.secret_access_key)
            .await;
        let sts = aws_sdk_sts::Client::new(&cfg);
        for _ in 0..4 {
            sts.get_caller_identity().send().await.unwrap();
        }
        assert!(server.stop());
    }
    let (ok, out) = audit_verify(&data);
    assert!(ok, "{out}");
    assert!(out.contains("12 records, 3 digests checked"), "{out}");
    // Ranged checks: a window holding everything, and one after the last record.
    for (range, want) in [
        (
            ["2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"],
            "12 records",
        ),
        (
            ["2100-01-01T00:00:00Z", "2100-01-02T00:00:00Z"],
            "0 records",
        ),
    ] {
        let out = Command::new(tessera_testkit::tessera_bin())
            .args([
                "audit",
                "verify",
                "--from",
                range[0],
                "--to",
                range[1],
                "--data-dir",
            ])
            .arg(&data)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{range:?}: {text}");
        assert!(text.contains(want), "{range:?}: {text}");
    }

    let tamper = |name: &str, script: &str| -> String {
        let copy = dir.path().join(name);
        copy_dir(&data, &copy);
        sqlite_script(&copy, script);
        let (ok, out) = audit_verify(&copy);
        assert!(!ok, "{name}: verify passed on a tampered trail:\n{out}");
        out
    };
    // One byte of one record.
    let out = tamper(
        "edited",
        "c.execute(\"UPDATE audit_records SET body = replace(body, 'GetCallerIdentity', 'GetCallerIdentitz') WHERE seq = 6\")",
    );
    assert!(
        out.contains("FAIL: record 6 was modified: its hash does not match its contents"),
        "{out}"
    );
    // A deleted record.
    let out = tamper(
        "deleted",
        "c.execute('DELETE FROM audit_records WHERE seq = 7')",
    );
    assert!(
        out.contains("FAIL: records 7..=7 are missing (gap after record 6)"),
        "{out}"
    );
    // Two records swapped (every column but the sequence number).
    let out = tamper(
        "swapped",
        "cols = 'event_time, event_source, event_name, principal_arn, on_behalf_of, request_id, body, prev_hash, hash'\n\
         a = c.execute(f'SELECT {cols} FROM audit_records WHERE seq = 3').fetchone()\n\
         b = c.execute(f'SELECT {cols} FROM audit_records WHERE seq = 4').fetchone()\n\
         sets = ', '.join(f'{k.strip()} = ?' for k in cols.split(','))\n\
         c.execute(f'UPDATE audit_records SET {sets} WHERE seq = 3', b)\n\
         c.execute(f'UPDATE audit_records SET {sets} WHERE seq = 4', a)",
    );
    assert!(out.contains("FAIL: record 3 "), "{out}");
    assert!(out.contains("FAIL: record 4 "), "{out}");
    // A removed digest.
    let out = tamper(
        "digest",
        "c.execute('DELETE FROM audit_digests WHERE digest_seq = 2')",
    );
    assert!(
        out.contains("FAIL: digests after digest 1 are missing (next is 3)"),
        "{out}"
    );
    // Records deleted at the end of the log: the last digest sealed them.
    let out = tamper(
        "truncated",
        "c.execute('DELETE FROM audit_records WHERE seq > 10')",
    );
    assert!(
        out.contains("FAIL: digest 3 seals records up to 12, but the log ends at 10"),
        "{out}"
    );
    // The columns queries filter on, each edited alone (the chained body untouched): an
    // edited event name would hide a read from `audit query --event GetObject`.
    for (column, value) in [
        ("event_name", "'ListBuckets'"),
        ("event_time", "'2001-01-01T00:00:00Z'"),
        ("event_source", "'iam.amazonaws.com'"),
        (
            "principal_arn",
            "'arn:aws:iam::111111111111:user/someone-else'",
        ),
        ("on_behalf_of", "'a-user-id'"),
        ("request_id", "'another-request'"),
    ] {
        let out = tamper(
            &format!("column-{column}"),
            &format!("c.execute(\"UPDATE audit_records SET {column} = {value} WHERE seq = 5\")"),
        );
        assert!(
            out.contains("FAIL: record 5: its ")
                && out.contains("column does not match the record"),
            "{column}: {out}"
        );
    }
}

/// Crash test for the audit trail: `kill -9` while requests are in flight; after restart the
/// chain verifies and every request that got a success response has its record.
#[test]
fn audit_signing_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let call = |server: &DevServer| {
        let root = server.account(ROOT).clone();
        let (ok, _, err) = aws(
            server,
            (&root.access_key_id, &root.secret_access_key),
            &["sts", "get-caller-identity"],
        );
        assert!(ok, "{err}");
    };
    let mut server = DevServer::start(&data);
    call(&server);
    assert!(server.stop());
    let out = tessera_command(&["audit", "rotate-key", "--data-dir", data.to_str().unwrap()]);
    let fingerprint = out
        .trim()
        .strip_prefix("new audit signing key ")
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    let mut server = DevServer::start(&data);
    call(&server);
    assert!(server.stop());
    // Both digests verify, each with the key that signed it.
    let (ok, out) = audit_verify(&data);
    assert!(ok, "{out}");
    assert!(out.contains("2 digests checked"), "{out}");
    let signers = sqlite_script(
        &data,
        "import json\nfor (b,) in c.execute('SELECT body FROM audit_digests ORDER BY digest_seq'): print(json.loads(b)['keyFingerprint'])",
    );
    let signers: Vec<&str> = signers.lines().collect();
    assert_eq!(signers.len(), 2, "{signers:?}");
    assert_ne!(signers[0], signers[1]);
    assert_eq!(signers[1], fingerprint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_survives_kill_9_with_every_acknowledged_record() {
    audit_crash(None).await;
}

/// The same on PostgreSQL (a fresh schema): the trail, its digests and `tessera audit verify`
/// against the scale-out store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_on_postgres_survives_kill_9() {
    let Ok(base) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
        if std::env::var("TESSERA_SKIP_POSTGRES").as_deref() == Ok("1") {
            eprintln!("skipping PostgreSQL: TESSERA_SKIP_POSTGRES=1");
            return;
        }
        panic!(
            "TESSERA_TEST_POSTGRES_URL is not set: run ./scripts/test, or set TESSERA_SKIP_POSTGRES=1 to skip the PostgreSQL half on purpose"
        );
    };
    audit_crash(Some(tessera_testkit::fresh_postgres_schema(
        &base,
        "e2e_audit",
    )))
    .await;
}

/// `kill -9` under load; after a restart `tessera audit verify` passes and every request
/// that was answered has its record. `database`: a PostgreSQL URL, else the data
/// directory's SQLite.
async fn audit_crash(database: Option<String>) {
    use aws_sdk_sts::operation::RequestId;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let envs: Vec<(&str, &str)> = database
        .as_deref()
        .map(|u| vec![("TESSERA_DATABASE_URL", u)])
        .unwrap_or_default();
    let mut server = DevServer::start_env(&data, &[], &envs);
    let root = server.account(ROOT).clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let sts = aws_sdk_sts::Client::new(&cfg);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (sts, acked) = (sts.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            while let Ok(out) = sts.get_caller_identity().send().await {
                let id = out.request_id().expect("a request id").to_owned();
                acked.lock().unwrap().push(id);
            }
        }));
    }
    // Kill once a few hundred requests have been answered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "the load did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    // Restart once (the store recovers), stop cleanly (a digest seals the chain), verify.
    let mut again = DevServer::start_env(&data, &[], &envs);
    assert!(again.stop());
    let cli = |args: &[&str]| {
        let out = Command::new(tessera_testkit::tessera_bin())
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = cli(&["audit", "verify"]);
    assert!(ok, "{out}");
    assert!(out.contains("audit trail verified"), "{out}");
    let (ok, rows) = cli(&["audit", "query", "--json", "--limit", "100000"]);
    assert!(ok);
    let recorded: std::collections::HashSet<String> = rows
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["requestID"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !recorded.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged requests have no audit record: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    // The export caught up at the clean stop: every recorded request is in the hourly files.
    let mut exported = std::collections::HashSet::new();
    for f in std::fs::read_dir(data.join("audit/records")).unwrap() {
        for l in std::fs::read_to_string(f.unwrap().path()).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(
                exported.insert(v["requestID"].as_str().unwrap().to_owned()),
                "exported twice: {l}"
            );
        }
    }
    assert_eq!(exported, recorded, "the export differs from the trail");
}

/// The demo's datasets, as this test knows them (independently of the demo's own catalog).
const DEMO_DATASETS: &[(&str, &str)] = &[
    ("tomatoes", "projects/red/tomatoes/"),
    ("strawberries", "projects/red/strawberries/"),
    ("blueberries", "projects/blue/blueberries/"),
];

/// `12345` cents as `$123.45` with thousands separated (the pages' format).
fn dollars(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut out = String::from("$");
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("{out}.{:02}", cents % 100)
}

/// What each dataset's chart must show, from the CSVs as the account root reads them: revenue
/// per variety (the newest month), and the total.
async fn demo_expectations(server: &DevServer) -> serde_json::Value {
    let s3 = s3_client(server, server.account(ROOT)).await;
    let mut out = serde_json::Map::new();
    for (id, prefix) in DEMO_DATASETS {
        let listed = s3
            .list_objects_v2()
            .bucket("example-bucket")
            .prefix(*prefix)
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        let month = keys
            .iter()
            .filter_map(|k| k.strip_prefix(prefix)?.split('/').next().map(str::to_owned))
            .max()
            .expect("seeded data");
        let mut rows = Vec::new();
        let mut total = 0u64;
        for k in keys
            .iter()
            .filter(|k| k.starts_with(&format!("{prefix}{month}/")))
        {
            let body = s3
                .get_object()
                .bucket("example-bucket")
                .key(k)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes();
            let text = String::from_utf8(body.to_vec()).unwrap();
            let mut cents = 0u64;
            for line in text.lines().skip(1) {
                let revenue = line.rsplit(',').next().unwrap();
                let (d, c) = revenue.split_once('.').unwrap();
                cents +=
                    d.parse::<u64>().unwrap() * 100 + format!("{c:0<2}").parse::<u64>().unwrap();
            }
            total += cents;
            let variety = k.rsplit('/').next().unwrap().trim_end_matches(".csv");
            rows.push(serde_json::json!([variety, dollars(cents)]));
        }
        assert!(rows.len() >= 4, "{id}: {rows:?}");
        out.insert(
            (*id).to_owned(),
            serde_json::json!({"prefix": format!("{prefix}{month}/"), "total": dollars(total), "rows": rows}),
        );
    }
    serde_json::Value::Object(out)
}

/// Where the browser test's screenshots go: `target/e2e-screenshots/` of this checkout.
fn screenshot_dir() -> PathBuf {
    tessera_testkit::manifest_dir()
        .join("../../target/e2e-screenshots")
        .components()
        .collect()
}

/// Issue 20's walk in a real browser (Debian's Chromium driven by playwright-core; axe-core on
/// every page): Mateo signs in, sees his datasets, charts the tomatoes with the data's totals,
/// is refused the blueberries with a request id, finds his reads in who-read-what, signs out;
/// the Blue user does the same the other way round. Screenshots of every page.
#[test]
fn demo_world_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_demo(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let expect = rt.block_on(demo_expectations(&server));
    let expect_path = dir.path().join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).unwrap();
    let browser = std::env::var("TESSERA_TEST_BROWSER").unwrap_or_else(|_| {
        panic!("TESSERA_TEST_BROWSER is not set: ./scripts/test installs playwright-core and axe-core there")
    });
    let chromium =
        std::env::var("TESSERA_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let shots = screenshot_dir();
    let out = Command::new("node")
        .arg(PathBuf::from(&browser).join("demo_walk.mjs"))
        .args(["--manifest"])
        .arg(&server.manifest_path)
        .arg("--expect")
        .arg(&expect_path)
        .arg("--screenshots")
        .arg(&shots)
        .args(["--chromium", &chromium])
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().last() == Some("browser walk ok"),
        "the browser walk failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "mateo-04-chart-tomatoes.png",
        "mateo-04-chart-tomatoes-390px.png",
        "mateo-05-refused-blueberries.png",
        "mateo-06-who-read-what.png",
        "blue-04-chart-blueberries.png",
    ] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
    // The reads the browser made are Mateo's in the audit trail, on his behalf.
    let mateo = server
        .manifest
        .idp
        .as_ref()
        .unwrap()
        .users
        .iter()
        .find(|u| u.username == "mateo.jackson")
        .unwrap()
        .user_id
        .clone();
    let reads: Vec<serde_json::Value> = server
        .audit_records()
        .into_iter()
        .filter(|r| {
            r["eventName"] == "GetObject"
                && r["userIdentity"]["onBehalfOf"]["userId"] == mateo.as_str()
        })
        .collect();
    assert!(!reads.is_empty(), "no GetObject on Mateo's behalf");
    for r in &reads {
        assert!(
            r["requestParameters"]["key"]
                .as_str()
                .unwrap()
                .starts_with("projects/red/"),
            "{r}"
        );
    }
}

/// Run the demo's bad-input checks (`tests/demo_bad_input.py`) against a world.
fn demo_bad_input(server: &DevServer) -> String {
    let python = std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(fixture("demo_bad_input.py"))
        .arg(&server.manifest_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.lines().last() == Some("demo bad input ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Sign-in and session hygiene: a wrong password gets the sign-in page again; a forged or
/// replayed `state`, a wrong PKCE verifier and a reused authorization code are refused; the
/// session cookie is HttpOnly, SameSite and opaque; an unknown dataset is a 404 page. Then a
/// restart keeps the world: the same users (no duplicates), grants, objects and passwords.
#[test]
fn demo_world_refuses_bad_input_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = DevServer::start_demo(&data);
    demo_bad_input(&server);
    let before = server.manifest.clone();
    let count = |server: &DevServer| {
        let idc = server.account("222222222222").clone();
        let idc = (idc.access_key_id.as_str(), idc.secret_access_key.as_str());
        let root = server.account(ROOT).clone();
        let root = (root.access_key_id.as_str(), root.secret_access_key.as_str());
        let instances = json(&aws(server, idc, &["sso-admin", "list-instances"]).1);
        let store = instances["Instances"][0]["IdentityStoreId"]
            .as_str()
            .unwrap()
            .to_owned();
        let users = json(
            &aws(
                server,
                idc,
                &["identitystore", "list-users", "--identity-store-id", &store],
            )
            .1,
        )["Users"]
            .as_array()
            .unwrap()
            .len();
        let grants = json(
            &aws(
                server,
                root,
                &["s3control", "list-access-grants", "--account-id", ROOT],
            )
            .1,
        )["AccessGrantsList"]
            .as_array()
            .unwrap()
            .len();
        let objects = json(
            &aws(
                server,
                root,
                &["s3api", "list-objects-v2", "--bucket", "example-bucket"],
            )
            .1,
        )["Contents"]
            .as_array()
            .map_or(0, Vec::len);
        (users, grants, objects)
    };
    let counted = count(&server);
    assert_eq!((counted.0, counted.1), (2, 2), "{counted:?}");
    assert!(server.stop());
    let server = DevServer::start_demo(&data);
    assert_eq!(
        count(&server),
        counted,
        "the restart duplicated or lost part of the world"
    );
    let pw = |m: &tessera_testkit::Manifest| -> Vec<(String, String)> {
        m.idp
            .as_ref()
            .unwrap()
            .users
            .iter()
            .map(|u| (u.username.clone(), u.password.clone()))
            .collect()
    };
    assert_eq!(pw(&before), pw(&server.manifest), "passwords changed");
    // And the world still works after the restart.
    demo_bad_input(&server);
}
