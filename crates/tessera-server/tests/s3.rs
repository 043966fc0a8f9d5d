//! S3 requests through the real pipeline (in process): `aws-chunked` uploads with every chunk
//! signature and the trailer verified (a bad chunk stores nothing), the signed SHA-256 of a
//! plain body, session tokens (expired, revoked), and the audit record of a data event.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use sha2::{Digest, Sha256};
use tessera_sigv4::sign::{Outgoing, Signer, amz_date, authorization};

const HOST: &str = "127.0.0.1:4566";

async fn send(f: &Fixture, req: Request<Full<Bytes>>) -> Reply {
    send_from(f, req, "127.0.0.1:5000".parse().unwrap()).await
}

/// A signed S3 request; returns it and its seed signature.
#[allow(clippy::too_many_arguments)]
fn s3_request(
    key: &str,
    secret: &str,
    token: Option<&str>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    payload: &str,
    body: Vec<u8>,
    now: chrono::DateTime<chrono::Utc>,
) -> (Request<Full<Bytes>>, String) {
    let date = amz_date(now);
    let mut signed: Vec<(&str, &str)> = vec![
        ("host", HOST),
        ("x-amz-date", &date),
        ("x-amz-content-sha256", payload),
    ];
    if let Some(t) = token {
        signed.push(("x-amz-security-token", t));
    }
    signed.extend_from_slice(headers);
    let auth = authorization(
        &Outgoing {
            method,
            path,
            query: &[],
            headers: &signed,
            payload,
        },
        &Signer {
            access_key_id: key,
            secret_access_key: secret,
            region: "us-east-1",
            service: "s3",
        },
        now,
    );
    let seed = auth.rsplit("Signature=").next().unwrap().to_owned();
    let mut b = Request::builder().method(method).uri(path);
    for (n, v) in &signed {
        b = b.header(*n, *v);
    }
    let req = b
        .header("authorization", auth)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    (req, seed)
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

async fn put_plain(f: &Fixture, path: &str, body: &[u8]) -> Reply {
    let (req, _) = s3_request(
        &f.key,
        &f.secret,
        None,
        "PUT",
        path,
        &[],
        &sha(body),
        body.to_vec(),
        chrono::Utc::now(),
    );
    send(f, req).await
}

async fn get(f: &Fixture, path: &str) -> Reply {
    let empty = sha(b"");
    let (req, _) = s3_request(
        &f.key,
        &f.secret,
        None,
        "GET",
        path,
        &[],
        &empty,
        Vec::new(),
        chrono::Utc::now(),
    );
    send(f, req).await
}

/// An `aws-chunked` body signed from `seed` (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), chunks of
/// `size` bytes; `tamper` flips a byte of the second chunk after signing.
fn chunked_body(
    secret: &str,
    now: chrono::DateTime<chrono::Utc>,
    seed: &str,
    data: &[u8],
    size: usize,
    tamper: bool,
) -> Vec<u8> {
    let day = amz_date(now)[..8].to_owned();
    let key = tessera_sigv4::signing_key(secret, &day, "us-east-1", "s3");
    let auth = tessera_sigv4::ParsedAuth {
        kind: tessera_sigv4::AuthKind::Header,
        access_key_id: String::new(),
        date: now,
        scope_date: day,
        region: "us-east-1".into(),
        service: "s3".into(),
        signed_headers: vec![],
        signature: [0; 32],
        security_token: None,
        expires: None,
        content_sha256: None,
    };
    let mut out = Vec::new();
    let mut prev = seed.to_owned();
    let mut chunks: Vec<&[u8]> = data.chunks(size).collect();
    chunks.push(b"");
    for (i, c) in chunks.into_iter().enumerate() {
        let h: [u8; 32] = Sha256::digest(c).into();
        let sig = hex::encode(tessera_sigv4::chunk_signature(&key, &auth, &prev, &h));
        out.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
        let mut c = c.to_vec();
        if tamper && i == 1 {
            c[0] ^= 1;
        }
        out.extend_from_slice(&c);
        out.extend_from_slice(b"\r\n");
        prev = sig;
    }
    out
}

async fn chunked_put(f: &Fixture, path: &str, data: &[u8], tamper: bool) -> Reply {
    let now = chrono::Utc::now();
    let decoded = data.len().to_string();
    let headers = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", decoded.as_str()),
    ];
    // The seed signature does not depend on the body: sign first, then build the chunks.
    let (req, seed) = s3_request(
        &f.key,
        &f.secret,
        None,
        "PUT",
        path,
        &headers,
        tessera_sigv4::STREAMING_PAYLOAD,
        Vec::new(),
        now,
    );
    let body = chunked_body(&f.secret, now, &seed, data, 1000, tamper);
    let (parts, _) = req.into_parts();
    send(f, Request::from_parts(parts, Full::new(Bytes::from(body)))).await
}

/// CreateBucket `name`, signed by the fixture's root.
async fn create_bucket(f: &Fixture, name: &str) -> Reply {
    let empty = sha(b"");
    let (req, _) = s3_request(
        &f.key,
        &f.secret,
        None,
        "PUT",
        &format!("/{name}"),
        &[],
        &empty,
        Vec::new(),
        chrono::Utc::now(),
    );
    send(f, req).await
}

async fn bucket(f: &Fixture, name: &str) {
    let r = create_bucket(f, name).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn signed_aws_chunked_uploads_are_verified_chunk_by_chunk() {
    let f = fixture().await;
    bucket(&f, "chunky").await;
    let data: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let r = chunked_put(&f, "/chunky/ok.bin", &data, false).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(&f, "/chunky/ok.bin").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body.as_bytes(),
        &data[..],
        "the decoded body is what is stored"
    );
    // One byte of one chunk changed: refused, and nothing is stored.
    let r = chunked_put(&f, "/chunky/bad.bin", &data, true).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    let r = get(&f, "/chunky/bad.bin").await;
    assert_eq!(r.code(), "NoSuchKey", "{}", r.body);
    // A replaced object is not clobbered by a bad upload to the same key.
    let r = chunked_put(&f, "/chunky/ok.bin", &[7u8; 3000], true).await;
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    assert_eq!(get(&f, "/chunky/ok.bin").await.body.as_bytes(), &data[..]);
}

#[tokio::test]
async fn plain_bodies_must_match_their_signed_sha256() {
    let f = fixture().await;
    bucket(&f, "plain").await;
    let r = put_plain(&f, "/plain/a", b"hello").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (req, _) = s3_request(
        &f.key,
        &f.secret,
        None,
        "PUT",
        "/plain/b",
        &[],
        &sha(b"hello"),
        b"jello".to_vec(),
        chrono::Utc::now(),
    );
    let r = send(&f, req).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "XAmzContentSHA256Mismatch");
    assert_eq!(get(&f, "/plain/b").await.code(), "NoSuchKey");
    // An unsigned x-amz-* header is refused before anything happens.
    let (mut req, _) = s3_request(
        &f.key,
        &f.secret,
        None,
        "PUT",
        "/plain/c",
        &[],
        &sha(b"x"),
        b"x".to_vec(),
        chrono::Utc::now(),
    );
    req.headers_mut()
        .insert("x-amz-meta-sneaky", "1".parse().unwrap());
    let r = send(&f, req).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(get(&f, "/plain/c").await.code(), "NoSuchKey");
}

#[tokio::test]
async fn expired_and_foreign_session_tokens_are_refused() {
    let f = fixture().await;
    bucket(&f, "sessions").await;
    let now = chrono::Utc::now().timestamp();
    let claims = tessera_core::SessionClaims {
        access_key_id: "ASIAEXPIREDEXAMPLE01".into(),
        account: "111111111111".into(),
        role_name: "r".into(),
        role_id: "AROAEXAMPLE".into(),
        role_path: "/".into(),
        session_name: "s".into(),
        issued_at: now - 7200,
        expires_at: now - 3600,
        source_identity: None,
        policy: None,
        policy_arns: Vec::new(),
        tags: Vec::new(),
        transitive_tag_keys: Vec::new(),
        chain_depth: 0,
        web_identity: None,
        identity_context: None,
        grant: None,
    };
    let (token, secret) = f.app.ring.get().issue(&claims);
    let empty = sha(b"");
    let (req, _) = s3_request(
        &claims.access_key_id,
        &secret,
        Some(&token),
        "GET",
        "/sessions",
        &[],
        &empty,
        Vec::new(),
        chrono::Utc::now(),
    );
    let r = send(&f, req).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "ExpiredToken");
    // The token bound to another key id.
    let (req, _) = s3_request(
        "ASIAOTHERKEYEXAMPLE1",
        &secret,
        Some(&token),
        "GET",
        "/sessions",
        &[],
        &empty,
        Vec::new(),
        chrono::Utc::now(),
    );
    let r = send(&f, req).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.code(), "InvalidAccessKeyId");
    // Nothing anonymous.
    let r = send(
        &f,
        Request::builder()
            .uri("/sessions")
            .header("host", HOST)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(r.code(), "AccessDenied");
}

#[tokio::test]
async fn data_events_are_audited_as_data() {
    let f = fixture().await;
    bucket(&f, "audited").await;
    put_plain(&f, "/audited/k.txt", b"abc").await;
    get(&f, "/audited/k.txt").await;
    let recs = f.records().await;
    let g = recs
        .iter()
        .find(|r| r.event_name == "GetObject")
        .expect("a GetObject record");
    assert_eq!(g.event_source, "s3.amazonaws.com");
    assert_eq!(g.event_category, "Data");
    assert!(!g.management_event);
    assert!(g.read_only);
    assert_eq!(g.request_parameters["bucketName"], "audited");
    assert_eq!(g.request_parameters["key"], "k.txt");
    assert_eq!(g.additional_event_data["bytesTransferredOut"], 3);
    assert!(
        g.resources
            .iter()
            .any(|r| r.arn == "arn:aws:s3:::audited/k.txt")
    );
    let p = recs.iter().find(|r| r.event_name == "PutObject").unwrap();
    assert!(!p.read_only);
    assert_eq!(p.additional_event_data["bytesTransferredIn"], 3);
}

#[tokio::test]
async fn codec_errors_carry_s3s_message_or_aws_default() {
    let f = fixture().await;
    let r = create_bucket(&f, "b").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("<Code>InvalidBucketName</Code>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<Message>The specified bucket is not valid.</Message>"),
        "{}",
        r.body
    );
}
