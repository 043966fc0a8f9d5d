//! The composition in the library: `tessera_server::start` from a configuration gives a
//! running server (API and admin endpoints, dev accounts) that answers a signed request over
//! a real socket, and `stop` drains it with every audit record written.

mod common;

use common::*;
use std::time::SystemTime;
use tessera_crypto::MasterKey;
use tessera_server::config::Config;
use tessera_server::{StartOptions, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Send one HTTP/1.1 request on a fresh connection and read the whole response.
async fn exchange(addr: &str, req: http::Request<http_body_util::Full<bytes::Bytes>>) -> String {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let mut raw = format!("{} {} HTTP/1.1\r\n", parts.method, parts.uri);
    for (k, v) in &parts.headers {
        raw.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    raw.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn start_serves_and_stop_drains() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path().to_owned());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    let running = start(StartOptions {
        config,
        master: MasterKey::generate(),
        dev_accounts: true,
    })
    .await
    .unwrap();
    assert!(running.endpoint.starts_with("http://127.0.0.1:"));
    assert_eq!(running.dev_accounts.len(), 2);
    let root = &running.dev_accounts[0];

    let req = signed_with(
        &root.access_key_id,
        root.secret_access_key.expose(),
        "sts",
        form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]),
        SystemTime::now(),
        &[],
        None,
    );
    let addr = running.endpoint.trim_start_matches("http://").to_owned();
    let resp = exchange(&addr, req).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.contains(&format!("<Arn>arn:aws:iam::{}:root</Arn>", root.account_id)),
        "{resp}"
    );

    let admin = running
        .admin_endpoint
        .clone()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let health = exchange(
        &admin,
        http::Request::get("/healthz")
            .header("host", &admin)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap(),
    )
    .await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"),
        "{health}"
    );
    let readyz = || {
        exchange(
            &admin,
            http::Request::get("/readyz")
                .header("host", &admin)
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap(),
        )
    };
    let ready = readyz().await;
    assert!(
        ready.starts_with("HTTP/1.1 200") && ready.ends_with("ready\n"),
        "{ready}"
    );
    // Objects out of reach: not ready (but alive), until they are back.
    let buckets = dir.path().join("objects/buckets");
    let away = dir.path().join("objects/away");
    std::fs::rename(&buckets, &away).unwrap();
    let ready = readyz().await;
    assert!(
        ready.starts_with("HTTP/1.1 503") && ready.ends_with("object store unavailable\n"),
        "{ready}"
    );
    std::fs::rename(&away, &buckets).unwrap();
    assert!(readyz().await.starts_with("HTTP/1.1 200"));

    running.stop().await;
    // Stopping exports what the trail holds: the hour's JSON Lines file and the digest that
    // sealed it.
    let files: Vec<_> = std::fs::read_dir(dir.path().join("audit/records"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.len() == "2026-12-02T14.jsonl".len() && name.ends_with(".jsonl"),
        "{name}"
    );
    let audit = std::fs::read_to_string(&files[0]).unwrap();
    let records: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{audit}");
    assert_eq!(records[0]["eventName"], "GetCallerIdentity");
    assert!(name.starts_with(&records[0]["eventTime"].as_str().unwrap()[..13]));
    let digests: Vec<_> = std::fs::read_dir(dir.path().join("audit/digests"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(digests.len(), 1, "{digests:?}");
    let digest: serde_json::Value = serde_json::from_str(&digests[0]).unwrap();
    assert!(digest.is_object(), "{digest}");
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "the listener is closed after stop"
    );
}
