//! `[tls]`: the API and admin listeners speak HTTPS with the configured certificate, the
//! endpoints and the issuer URL say `https`, and SIGHUP takes a renewed certificate for new
//! connections while an open connection keeps going. Certificates are made here (`rcgen`).

mod common;

use common::*;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;
use tessera_crypto::MasterKey;
use tessera_server::config::{Config, TlsConfig};
use tessera_server::{StartOptions, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// A CA, and a certificate for 127.0.0.1 and localhost that it signed (PEM cert, PEM key).
struct Issued {
    ca: CertificateDer<'static>,
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn issue(name: &str) -> Issued {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} test CA"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} server"));
    let cert = params.signed_by(&key, &issuer).unwrap();
    Issued {
        ca: ca.der().clone(),
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn install(dir: &Path, issued: &Issued) {
    std::fs::write(dir.join("cert.pem"), &issued.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &issued.key_pem).unwrap();
}

fn connector(ca: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn connect(
    addr: &str,
    ca: &CertificateDer<'static>,
) -> std::io::Result<TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    connector(ca)
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

/// Send one request on `s` (kept open) and read its response.
async fn exchange(
    s: &mut TlsStream<tokio::net::TcpStream>,
    req: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> String {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let mut raw = format!("{} {} HTTP/1.1\r\n", parts.method, parts.uri);
    for (k, v) in &parts.headers {
        raw.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap()));
    }
    raw.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    s.write_all(raw.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "connection closed mid-response: {}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn https_listeners_and_a_certificate_renewed_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let first = issue("first");
    install(dir.path(), &first);
    let mut config = Config::for_data_dir(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    config.tls = Some(TlsConfig {
        cert_file: dir.path().join("cert.pem"),
        key_file: dir.path().join("key.pem"),
    });
    let running = start(StartOptions {
        config,
        master: MasterKey::generate(),
        dev_accounts: true,
    })
    .await
    .unwrap();
    assert!(
        running.endpoint.starts_with("https://127.0.0.1:"),
        "{}",
        running.endpoint
    );
    let admin_endpoint = running.admin_endpoint.clone().unwrap();
    assert!(
        admin_endpoint.starts_with("https://127.0.0.1:"),
        "{admin_endpoint}"
    );
    let addr = running.endpoint.trim_start_matches("https://").to_owned();
    let admin = admin_endpoint.trim_start_matches("https://").to_owned();
    let root = running.dev_accounts[0].clone();
    let gci = || {
        signed_with(
            &root.access_key_id,
            root.secret_access_key.expose(),
            "sts",
            form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]),
            SystemTime::now(),
            &[],
            None,
        )
    };

    // A signed call over HTTPS, trusting the first CA.
    let mut open = connect(&addr, &first.ca).await.unwrap();
    let resp = exchange(&mut open, gci()).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.contains(&format!("<Arn>arn:aws:iam::{}:root</Arn>", root.account_id)),
        "{resp}"
    );
    // Plain HTTP on the TLS port is not served.
    let mut plain = tokio::net::TcpStream::connect(&addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = plain.read_to_end(&mut out).await;
    assert!(
        !out.starts_with(b"HTTP/1.1"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // The admin listener too.
    let mut a = connect(&admin, &first.ca).await.unwrap();
    let health = exchange(
        &mut a,
        http::Request::get("/healthz")
            .header("host", &admin)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap(),
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    // A renewal from another CA: refused until the server reads it again.
    let second = issue("second");
    assert!(
        connect(&addr, &second.ca).await.is_err(),
        "the second CA is not in use yet"
    );
    install(dir.path(), &second);
    // SIGHUP with the key file half-written keeps the old certificate.
    std::fs::write(dir.path().join("key.pem"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
    hangup();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        connect(&addr, &first.ca).await.is_ok(),
        "a bad key file changes nothing"
    );
    install(dir.path(), &second);
    hangup();
    let mut renewed = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Ok(s) = connect(&addr, &second.ca).await {
            renewed = Some(s);
            break;
        }
    }
    let mut renewed = renewed.expect("SIGHUP put the renewed certificate in use");
    assert!(
        connect(&addr, &first.ca).await.is_err(),
        "the old certificate is gone"
    );
    let resp = exchange(&mut renewed, gci()).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        connect(&admin, &second.ca).await.is_ok(),
        "the admin listener renewed too"
    );
    // The connection made before the renewal still serves requests.
    let resp = exchange(&mut open, gci()).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    running.stop().await;
}

fn hangup() {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A server whose objects live in an S3 store reached over https: here another Tessera with
/// `[tls]` (it speaks S3), its certificate from a private CA named by `objects.ca_file`.
/// Without the CA file the store's certificate is not trusted and the server does not start.
#[tokio::test]
async fn an_https_upstream_store_verified_against_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let issued = issue("store");
    install(dir.path(), &issued);
    let mut config = Config::for_data_dir(dir.path().join("store"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.tls = Some(TlsConfig {
        cert_file: dir.path().join("cert.pem"),
        key_file: dir.path().join("key.pem"),
    });
    let store = start(StartOptions {
        config,
        master: MasterKey::generate(),
        dev_accounts: true,
    })
    .await
    .unwrap();
    let root = store.dev_accounts[0].clone();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, &issued.ca_pem).unwrap();
    let front = |ca_file: Option<std::path::PathBuf>, endpoint: String| {
        let mut c = Config::for_data_dir(dir.path().join("front"));
        c.listen = "127.0.0.1:0".parse().unwrap();
        c.objects.backend = Some("s3".into());
        c.objects.endpoint = Some(endpoint);
        c.objects.access_key_id = Some(root.access_key_id.clone());
        c.objects.ca_file = ca_file;
        c.objects.secret_access_key_file = Some(dir.path().join("secret"));
        c
    };
    std::fs::write(dir.path().join("secret"), root.secret_access_key.expose()).unwrap();
    let master = MasterKey::generate();
    // The system's roots do not know the private CA.
    let refused = match start(StartOptions {
        config: front(None, store.endpoint.clone()),
        master: master.clone(),
        dev_accounts: true,
    })
    .await
    {
        Ok(_) => panic!("an untrusted store certificate stops the start"),
        Err(e) => e,
    };
    let mut chain = refused.to_string();
    let mut source = std::error::Error::source(&refused);
    while let Some(e) = source {
        chain.push_str(&format!(": {e}"));
        source = e.source();
    }
    let refused = chain;
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    // With the CA file the store is reached, and its catalog bucket made there.
    let running = start(StartOptions {
        config: front(Some(ca_pem.clone()), store.endpoint.clone()),
        master,
        dev_accounts: true,
    })
    .await
    .unwrap();
    running.stop().await;
    let buckets: Vec<String> = std::fs::read_dir(dir.path().join("store/objects/buckets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        buckets.iter().any(|b| b.contains("tessera-catalog")),
        "the catalog bucket was made in the https store: {buckets:?}"
    );
    store.stop().await;
}

/// `tessera serve --check-config`: a usable file exits 0 with a summary; a key that does not
/// match the certificate, a missing master key or an incomplete `[objects]` exit non-zero,
/// naming the problem. Nothing is started, nothing is written.
#[test]
fn check_config_validates_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let issued = issue("check");
    install(dir.path(), &issued);
    let other = issue("other");
    std::fs::write(dir.path().join("other-key.pem"), &other.key_pem).unwrap();
    std::fs::write(
        dir.path().join("master.key"),
        MasterKey::generate().to_hex(),
    )
    .unwrap();
    let data = dir.path().join("data");
    let run = |extra: &str, key: &str| {
        let file = dir.path().join("tessera.toml");
        std::fs::write(
            &file,
            format!(
                "listen = \"127.0.0.1:4566\"\ndata_dir = {data:?}\n[keys]\nmaster_key_file = {:?}\n[tls]\ncert_file = {:?}\nkey_file = {:?}\n{extra}",
                dir.path().join("master.key"),
                dir.path().join("cert.pem"),
                dir.path().join(key),
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--check-config", "--config"])
            .arg(&file)
            .env_remove("TESSERA_MASTER_KEY")
            .env_remove("TESSERA_DATABASE_URL")
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, out) = run("", "key.pem");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("usable") && out.contains("https://127.0.0.1:4566"),
        "{out}"
    );
    let (code, out) = run("", "other-key.pem");
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("TLS"), "{out}");
    let (code, out) = run("[objects]\nbackend = \"s3\"\n", "key.pem");
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("objects.endpoint is required"), "{out}");
    std::fs::remove_file(dir.path().join("master.key")).unwrap();
    let (code, out) = run("", "key.pem");
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("master key"), "{out}");
    assert!(!data.exists(), "checking starts nothing and writes nothing");
}
