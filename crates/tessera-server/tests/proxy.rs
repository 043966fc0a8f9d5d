//! `[proxy]`: behind a load balancer the client's address — what the audit record's
//! `sourceIPAddress` (and `aws:SourceIp`) sees — comes from the PROXY protocol header or the
//! `X-Forwarded-For` header of trusted proxies, and never from what another peer sends.
//! Peers are chosen among loopback addresses: 127.0.0.1 is the trusted proxy, 127.0.0.2 a
//! client that connects directly.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::SystemTime;
use tessera_crypto::MasterKey;
use tessera_server::config::{Config, ProxyConfig};
use tessera_server::{StartOptions, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{source}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

/// A signed GetCallerIdentity as raw bytes, tagged with `agent` (the audit record's
/// `userAgent`), with `extra` header lines, on a connection that closes after it.
fn gci(key: &str, secret: &str, agent: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let body = form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]);
    let req = signed_with(
        key,
        secret,
        "sts",
        body.clone(),
        SystemTime::now(),
        &[("user-agent", agent)],
        None,
    );
    let (parts, _) = req.into_parts();
    let mut raw = format!("{} {} HTTP/1.1\r\n", parts.method, parts.uri);
    for (k, v) in &parts.headers {
        raw.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    for (k, v) in extra {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    [raw.into_bytes(), body].concat()
}

async fn send(mut s: TcpStream, prefix: &[u8], req: &[u8]) -> String {
    s.write_all(prefix).await.unwrap();
    s.write_all(req).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Run `scenario` against a server with `proxy`, then the `sourceIPAddress` of each audit
/// record by its `userAgent`.
async fn audited<F, Fut>(proxy: ProxyConfig, scenario: F) -> BTreeMap<String, String>
where
    F: FnOnce(SocketAddr, String, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path().to_owned());
    config.listen = "0.0.0.0:0".parse().unwrap();
    config.proxy = proxy;
    let running = start(StartOptions {
        config,
        master: MasterKey::generate(),
        dev_accounts: true,
    })
    .await
    .unwrap();
    let port: u16 = running
        .endpoint
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let root = running.dev_accounts[0].clone();
    scenario(
        SocketAddr::from(([127, 0, 0, 1], port)),
        root.access_key_id.clone(),
        root.secret_access_key.expose().to_owned(),
    )
    .await;
    running.stop().await;
    let mut seen = BTreeMap::new();
    for f in std::fs::read_dir(dir.path().join("audit/records")).unwrap() {
        for line in std::fs::read_to_string(f.unwrap().path()).unwrap().lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            if r["eventName"] == "GetCallerIdentity" {
                seen.insert(
                    r["userAgent"].as_str().unwrap().to_owned(),
                    r["sourceIPAddress"].as_str().unwrap().to_owned(),
                );
            }
        }
    }
    seen
}

#[tokio::test]
async fn x_forwarded_for_from_trusted_proxies_only() {
    let proxy = ProxyConfig {
        mode: Some("x-forwarded-for".into()),
        trusted: vec!["127.0.0.1".into()],
    };
    let seen = audited(proxy, |addr, key, secret| async move {
        let ok = |r: &str| assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        let lb = "127.0.0.1";
        ok(&send(
            connect_from(lb, addr).await,
            b"",
            &gci(
                &key,
                &secret,
                "via-lb",
                &[("x-forwarded-for", "203.0.113.9")],
            ),
        )
        .await);
        // The client's own claim, left of what the proxy appended, is not reached.
        ok(&send(
            connect_from(lb, addr).await,
            b"",
            &gci(
                &key,
                &secret,
                "spoof-behind-lb",
                &[("x-forwarded-for", "198.51.100.66, 203.0.113.10")],
            ),
        )
        .await);
        ok(&send(
            connect_from(lb, addr).await,
            b"",
            &gci(&key, &secret, "lb-itself", &[]),
        )
        .await);
        // A direct client's header is ignored.
        ok(&send(
            connect_from("127.0.0.2", addr).await,
            b"",
            &gci(
                &key,
                &secret,
                "direct",
                &[("x-forwarded-for", "198.51.100.66")],
            ),
        )
        .await);
    })
    .await;
    assert_eq!(seen["via-lb"], "203.0.113.9", "{seen:?}");
    assert_eq!(seen["spoof-behind-lb"], "203.0.113.10", "{seen:?}");
    assert_eq!(seen["lb-itself"], "127.0.0.1", "{seen:?}");
    assert_eq!(seen["direct"], "127.0.0.2", "{seen:?}");
}

#[tokio::test]
async fn proxy_protocol_from_trusted_proxies_only() {
    let proxy = ProxyConfig {
        mode: Some("proxy-protocol".into()),
        trusted: vec!["127.0.0.1/32".into()],
    };
    let seen = audited(proxy, |addr, key, secret| async move {
        let ok = |r: &str| assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        let lb = "127.0.0.1";
        let v1 = format!("PROXY TCP4 192.0.2.10 127.0.0.1 40000 {}\r\n", addr.port());
        ok(&send(
            connect_from(lb, addr).await,
            v1.as_bytes(),
            &gci(&key, &secret, "v1", &[]),
        )
        .await);
        let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
        v2.extend_from_slice(&[192, 0, 2, 20, 127, 0, 0, 1]);
        v2.extend_from_slice(&40001u16.to_be_bytes());
        v2.extend_from_slice(&addr.port().to_be_bytes());
        ok(&send(
            connect_from(lb, addr).await,
            &v2,
            &gci(&key, &secret, "v2", &[("x-forwarded-for", "198.51.100.66")]),
        )
        .await);
        // A health check's LOCAL header: the proxy itself.
        ok(&send(
            connect_from(lb, addr).await,
            b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00",
            &gci(&key, &secret, "local", &[]),
        )
        .await);
        // A trusted proxy's connection without the header is closed unanswered.
        let r = send(
            connect_from(lb, addr).await,
            b"",
            &gci(&key, &secret, "no-header", &[]),
        )
        .await;
        assert!(r.is_empty(), "{r}");
        // A direct client's PROXY header is not read as one: its request is not served.
        let spoof = format!(
            "PROXY TCP4 198.51.100.66 127.0.0.1 40000 {}\r\n",
            addr.port()
        );
        let r = send(
            connect_from("127.0.0.2", addr).await,
            spoof.as_bytes(),
            &gci(&key, &secret, "spoof", &[]),
        )
        .await;
        assert!(!r.starts_with("HTTP/1.1 200"), "{r}");
        ok(&send(
            connect_from("127.0.0.2", addr).await,
            b"",
            &gci(&key, &secret, "direct", &[]),
        )
        .await);
    })
    .await;
    assert_eq!(seen["v1"], "192.0.2.10", "{seen:?}");
    assert_eq!(seen["v2"], "192.0.2.20", "{seen:?}");
    assert_eq!(seen["local"], "127.0.0.1", "{seen:?}");
    assert_eq!(seen["direct"], "127.0.0.2", "{seen:?}");
    assert!(
        !seen.contains_key("spoof") && !seen.contains_key("no-header"),
        "{seen:?}"
    );
}

#[test]
fn proxy_settings_are_checked() {
    let bad = |text: &str| Config::parse(text).unwrap().validate().unwrap_err();
    assert!(bad("[proxy]\nmode = \"x-forwarded-for\"\n").contains("needs proxy.trusted"));
    assert!(bad("[proxy]\nmode = \"haproxy\"\ntrusted = [\"10.0.0.1\"]\n").contains("proxy.mode"));
    assert!(
        bad("[proxy]\nmode = \"proxy-protocol\"\ntrusted = [\"10.0.0.300/8\"]\n")
            .contains("proxy.trusted")
    );
    Config::parse("[proxy]\nmode = \"proxy-protocol\"\ntrusted = [\"10.0.0.0/8\", \"::1\"]\n")
        .unwrap()
        .validate()
        .unwrap();
}
