//! Operating Tessera: the operator commands (migrate, accounts, keys, operator tokens), the
//! admin listener (health, metrics, the audit trail and revocation over HTTP, its Host and
//! cross-site rules), and state that survives a restart.

use crate::support::{Cli, ROOT, field, json, step, trust_policy};
use tessera_testkit::{DevServer, http_get, tessera_command};

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
    let (key_id, secret) = step("an account and its key, made offline", || {
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
        let (key_id, secret) = (field(&out, "AccessKeyId:"), field(&out, "SecretAccessKey:"));
        assert!(key_id.starts_with("AKIA"));
        (key_id, secret)
    });

    let server = DevServer::start_with(dir.path(), &["--admin-listen", "127.0.0.1:0"]);
    let admin = step(
        "the key works; health and metrics on the admin listener",
        || {
            assert_eq!(
                Cli::new(&server, (&key_id, &secret)).caller_arn(),
                "arn:aws:iam::333333333333:root"
            );
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
            admin
        },
    );

    // The operator endpoints answer only an operator token, at an expected Host, from no
    // other site — and every attempt, allowed or refused, is in the audit trail.
    let (op_token, op_id) = step("an operator token, listed without its secret", || {
        let out = tessera_command(&[
            "operator-token",
            "create",
            "--description",
            "on-call",
            "--data-dir",
            d,
        ]);
        let (op_token, op_id) = (field(&out, "Token:"), field(&out, "TokenId:"));
        let listed = tessera_command(&["operator-token", "list", "--data-dir", d]);
        assert!(
            listed.contains(&op_id) && listed.contains("on-call"),
            "{listed}"
        );
        assert!(
            !listed.contains(&op_token),
            "the token itself is listed: {listed}"
        );
        (op_token, op_id)
    });
    let bearer = format!("Bearer {op_token}");
    let addr = admin.trim_start_matches("http://").to_owned();
    let call = |method: &str, path: &str, headers: &[(&str, &str)]| {
        tessera_testkit::http_request(&admin, method, path, headers, "")
    };
    let authed = |path: &str| call("GET", path, &[("Authorization", bearer.as_str())]);
    step(
        "the operator endpoints refuse tokens, hosts and sites they must",
        || {
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
        },
    );

    step("the audit trail over HTTP, as the CLI shows it", || {
        let (denied, _, _) =
            Cli::new(&server, (&key_id, "wrong-secret")).run(&["sts", "get-caller-identity"]);
        assert!(!denied);
        let (status, body) = authed("/audit/events?event=GetCallerIdentity&limit=10");
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
        let (status, text) = authed(&format!("/audit/explain?requestId={id}"));
        assert_eq!(status, 200);
        assert!(
            text.contains(&format!("Request {id} at "))
                && text.contains("sts GetCallerIdentity")
                && text.contains("Result: allowed"),
            "{text}"
        );
        let (status, text) = authed(&format!(
            "/audit/explain?requestId={}",
            records[0]["requestID"].as_str().unwrap()
        ));
        assert_eq!(status, 200);
        assert!(
            text.contains("Result: SignatureDoesNotMatch")
                && text.contains("refused before authorisation"),
            "{text}"
        );
        assert_eq!(authed("/audit/explain?requestId=nope").0, 404);
        assert_eq!(authed("/audit/explain").0, 400);
        assert_eq!(authed("/audit/events?since=yesterday").0, 400);
        assert_eq!(authed("/audit/events?limit=0").0, 400);
        let (status, body) =
            authed("/audit/events?since=1h&principal=arn:aws:iam::333333333333:root");
        assert_eq!(status, 200);
        assert_eq!(
            json(&body)["Records"].as_array().unwrap().len(),
            1,
            "{body}"
        );
    });

    // A revocation by an operator, then the trail of operator actions: the revocation names
    // the token and the user; the refused attempts are there too, with no one's name.
    step(
        "an operator's revocation, and the trail of operator actions",
        || {
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
        },
    );

    step("a revoked operator token is refused at once", || {
        tessera_command(&[
            "operator-token",
            "revoke",
            "--token-id",
            &op_id,
            "--data-dir",
            d,
        ]);
        assert_eq!(authed("/audit/events").0, 401);
    });
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
