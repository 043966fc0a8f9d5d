//! Spike for the S3 protocol-layer decision (ARCHITECTURE.md, "S3 protocol layer"): a real
//! SDK (the AWS CLI) sends HeadBucket; Tessera's one authentication layer verifies the SigV4
//! signature under S3's rules and resolves the caller; the `s3s` codec, built with no
//! authentication of its own, parses the operation from the stripped request and calls our
//! handler with the caller in the request's extensions; the handler's answer and errors come
//! back as S3 XML.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use s3s::dto::{HeadBucketInput, HeadBucketOutput};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use std::sync::Arc;
use tessera_s3::{Authenticated, S3Codec};
use tessera_server::auth::{self, AuthRequest};
use tessera_sigv4::Canonicalization;
use tessera_wire::Protocol;

/// Buckets the spike knows; HeadBucket answers for them, and only for an authenticated caller.
#[derive(Debug)]
struct SpikeBuckets {
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl S3 for SpikeBuckets {
    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let Some(Authenticated(caller)) = req.extensions.get::<Authenticated>() else {
            return Err(s3_error!(
                AccessDenied,
                "no caller from the authentication layer"
            ));
        };
        self.seen
            .lock()
            .unwrap()
            .push(format!("{} {}", caller.arn("aws"), req.input.bucket));
        if req.input.bucket == "spike-bucket" {
            Ok(S3Response::new(HeadBucketOutput::default()))
        } else {
            Err(s3_error!(NoSuchBucket))
        }
    }
}

async fn serve(f: Arc<Fixture>, codec: S3Codec) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (f, codec) = (f.clone(), codec.clone());
            let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let (f, codec) = (f.clone(), codec.clone());
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body.collect().await.unwrap().to_bytes();
                    let resp = match authenticate(&f, &parts, &body).await {
                        Ok(caller) => codec.serve(caller, parts, body).await,
                        Err(e) => e.render(Protocol::RestXml, "spike"),
                    };
                    Ok::<_, std::convert::Infallible>(resp.map(Full::new))
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Tessera's one authentication layer, under S3's canonicalisation rules.
async fn authenticate(
    f: &Fixture,
    parts: &http::request::Parts,
    body: &Bytes,
) -> Result<tessera_core::Caller, tessera_wire::AwsError> {
    let parsed = auth::parse(parts).map_err(|e| auth::sig_error(&e, Canonicalization::S3))?;
    auth::authenticate(
        &f.app,
        &AuthRequest {
            parts,
            body,
            auth: &parsed,
            canon: Canonicalization::S3,
            services: &["s3"],
            now: chrono::Utc::now(),
            protocol: Protocol::RestXml,
        },
    )
    .await
}

fn aws_cli() -> String {
    std::env::var("TESSERA_TEST_AWS_CLI").unwrap_or_else(|_| "aws".into())
}

fn head_bucket(endpoint: &str, key: &str, secret: &str, bucket: &str) -> std::process::Output {
    std::process::Command::new(aws_cli())
        .args(["s3api", "head-bucket", "--bucket", bucket, "--endpoint-url", endpoint])
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the AWS CLI ({}): run ./scripts/test, which installs it, or set TESSERA_TEST_AWS_CLI: {e}",
                aws_cli()
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_bucket_through_our_authentication_and_the_s3s_codec() {
    let f = Arc::new(fixture().await);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let codec = S3Codec::new(SpikeBuckets { seen: seen.clone() });
    let addr = serve(f.clone(), codec).await;
    let endpoint = format!("http://{addr}");
    let (key, secret) = (f.key.clone(), f.secret.clone());

    let ok = {
        let (e, k, s) = (endpoint.clone(), key.clone(), secret.clone());
        tokio::task::spawn_blocking(move || head_bucket(&e, &k, &s, "spike-bucket"))
            .await
            .unwrap()
    };
    assert!(
        ok.status.success(),
        "head-bucket failed: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["arn:aws:iam::111111111111:root spike-bucket"],
        "the handler saw the caller our layer authenticated"
    );

    // The handler's S3 error reaches the SDK as S3's 404.
    let missing = {
        let (e, k, s) = (endpoint.clone(), key.clone(), secret.clone());
        tokio::task::spawn_blocking(move || head_bucket(&e, &k, &s, "no-such-bucket"))
            .await
            .unwrap()
    };
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // A wrong secret never reaches the codec: our verifier refuses it (403).
    let before = seen.lock().unwrap().len();
    let forged = tokio::task::spawn_blocking(move || {
        head_bucket(&endpoint, &key, "not-the-secret", "spike-bucket")
    })
    .await
    .unwrap();
    assert!(!forged.status.success());
    assert!(
        String::from_utf8_lossy(&forged.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&forged.stderr)
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        before,
        "the handler was not called"
    );
}
