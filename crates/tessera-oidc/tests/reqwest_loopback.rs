//! End to end through `ReqwestFetch` against a tiny HTTP/1.1 server on 127.0.0.1 inside the test.
//! No traffic ever goes to a non-loopback address: those URLs are refused before any connection.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tessera_oidc::{FetchError, HttpFetch, OidcError, OidcVerifier, ReqwestFetch, VerifierConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A fixed-response HTTP/1.1 server: path → (status line, body). Counts requests.
struct TestServer {
    base: String,
    requests: Arc<AtomicUsize>,

    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(routes: impl FnOnce(&str) -> HashMap<String, (String, Vec<u8>)>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://127.0.0.1:{}", addr.port());
    let routes = Arc::new(routes(&base));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16_384 {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                let request = String::from_utf8_lossy(&buf);
                let path = request.split(' ').nth(1).unwrap_or("/").to_owned();
                let (status, body) = routes
                    .get(&path)
                    .cloned()
                    .unwrap_or_else(|| ("404 Not Found".into(), b"not found".to_vec()));
                let mut response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                if status.starts_with("302") {
                    response.push_str("Location: http://127.0.0.1:1/elsewhere\r\n");
                }
                response.push_str("\r\n");
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    TestServer {
        base,
        requests,
        task,
    }
}

fn ok(body: impl Into<Vec<u8>>) -> (String, Vec<u8>) {
    ("200 OK".into(), body.into())
}

async fn idp_server() -> TestServer {
    serve(|base| {
        HashMap::from([
            (
                "/.well-known/openid-configuration".to_owned(),
                ok(json!({
                    "issuer": base,
                    "jwks_uri": format!("{base}/jwks"),
                    "id_token_signing_alg_values_supported": ["RS256"],
                })
                .to_string()),
            ),
            (
                "/jwks".to_owned(),
                ok(json!({"keys": [RSA_A.jwk(), EC_A.jwk()]}).to_string()),
            ),
            (
                "/big".to_owned(),
                ok(vec![b' '; ReqwestFetch::MAX_BODY_BYTES + 1]),
            ),
            ("/redirect".to_owned(), ("302 Found".into(), Vec::new())),
            (
                "/error".to_owned(),
                ("500 Internal Server Error".into(), b"{}".to_vec()),
            ),
        ])
    })
    .await
}

fn token_for(issuer: &str) -> String {
    let mut c = claims();
    c["iss"] = json!(issuer);
    sign_raw(
        &json!({"alg": "RS256", "kid": RSA_A.kid}),
        &c,
        &RSA_A.encoding,
        Algorithm::RS256,
    )
}

#[tokio::test]
async fn verifies_end_to_end_over_loopback_http() {
    let server = idp_server().await;
    let fetch = Arc::new(ReqwestFetch::new(tessera_oidc::FetchPolicy::dev()).unwrap());
    let verifier = OidcVerifier::new(fetch, VerifierConfig::default());
    let token = token_for(&server.base);
    assert_eq!(
        OidcVerifier::unverified_issuer(&token).unwrap(),
        server.base
    );
    let v = verifier
        .verify(&token, &server.base, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(v.issuer, server.base);
    assert_eq!(v.subject, "user-1");
    // Discovery + JWKS; the second verification is served from the cache.
    verifier
        .verify(&token, &server.base, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn localhost_is_loopback() {
    let server = idp_server().await;
    let fetch = ReqwestFetch::new(tessera_oidc::FetchPolicy::dev()).unwrap();
    let url = server.base.replace("127.0.0.1", "localhost") + "/jwks";
    let body = fetch.get(&url).await.unwrap();
    assert!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["keys"].is_array());
}

#[tokio::test]
async fn plain_http_refused_without_dev_mode() {
    let server = idp_server().await;
    let fetch = ReqwestFetch::new(tessera_oidc::FetchPolicy::public_only()).unwrap();
    assert!(!fetch.allows_insecure_loopback());
    let err = fetch
        .get(&format!("{}/jwks", server.base))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::NotAllowed(_)), "{err:?}");
    let verifier = OidcVerifier::new(Arc::new(fetch), VerifierConfig::default());
    let err = verifier
        .verify(&token_for(&server.base), &server.base, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::Fetch(_)), "{err:?}");
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn non_loopback_http_refused_without_connecting() {
    let fetch = ReqwestFetch::new(tessera_oidc::FetchPolicy::dev()).unwrap();
    for url in [
        "http://10.1.2.3/",
        "http://10.1.2.3:9000/.well-known/openid-configuration",
        "http://192.168.1.1/jwks",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/jwks",
        "http://example.com/jwks",
        "http://0.0.0.0:9000/jwks",
    ] {
        // The check happens before any IO, so this returns at once (a connection attempt to a
        // non-routable address would take seconds).
        let result = tokio::time::timeout(Duration::from_millis(500), fetch.get(url))
            .await
            .expect("refused without network IO");
        assert!(
            matches!(result, Err(FetchError::NotAllowed(_))),
            "{url}: {result:?}"
        );
    }
    // Other schemes are refused in any mode.
    for url in ["ftp://127.0.0.1/jwks", "file:///etc/passwd"] {
        assert!(matches!(
            fetch.get(url).await,
            Err(FetchError::NotAllowed(_))
        ));
    }
}

#[tokio::test]
async fn private_targets_are_refused_by_default_even_by_name() {
    // A listener that counts connections and closes each at once.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let public = ReqwestFetch::new(tessera_oidc::FetchPolicy::public_only()).unwrap();
    // An IP literal and a host name that resolves to loopback: both are refused on the
    // address, before any connection is made.
    for url in [
        format!("https://127.0.0.1:{port}/jwks"),
        format!("https://localhost:{port}/jwks"),
        format!("https://[::ffff:127.0.0.1]:{port}/jwks"),
    ] {
        let err = public.get(&url).await.unwrap_err();
        assert!(matches!(err, FetchError::NotAllowed(_)), "{url}: {err:?}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0);
    // An operator's allow-list lets the same address through (the TLS handshake then fails
    // on the closed connection, which shows that one was made).
    let onprem = ReqwestFetch::new(tessera_oidc::FetchPolicy {
        allow_insecure_loopback: false,
        allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
    })
    .unwrap();
    let err = onprem
        .get(&format!("https://localhost:{port}/jwks"))
        .await
        .unwrap_err();
    assert!(!matches!(err, FetchError::NotAllowed(_)), "{err:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    task.abort();
}

#[tokio::test]
async fn redirects_errors_and_size_cap() {
    let server = idp_server().await;
    let fetch = ReqwestFetch::new(tessera_oidc::FetchPolicy::dev()).unwrap();
    assert_eq!(
        fetch.get(&format!("{}/redirect", server.base)).await,
        Err(FetchError::Redirect(302))
    );
    assert_eq!(
        fetch.get(&format!("{}/error", server.base)).await,
        Err(FetchError::Status(500))
    );
    assert_eq!(
        fetch.get(&format!("{}/missing", server.base)).await,
        Err(FetchError::Status(404))
    );
    assert_eq!(
        fetch.get(&format!("{}/big", server.base)).await,
        Err(FetchError::TooLarge {
            limit: ReqwestFetch::MAX_BODY_BYTES
        })
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    // Bind and drop a listener to get a loopback port that is (almost certainly) closed.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let fetch = ReqwestFetch::new(tessera_oidc::FetchPolicy::dev()).unwrap();
    let err = fetch
        .get(&format!("http://127.0.0.1:{port}/jwks"))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Connect(_)), "{err:?}");
}
