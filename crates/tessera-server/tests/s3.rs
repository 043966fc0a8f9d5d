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
    // `path` may carry a query (`/bucket?delete`): it is signed decoded, sent as given.
    let (bare, query) = path.split_once('?').unwrap_or((path, ""));
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
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
            path: bare,
            query: &query,
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

/// A DeleteObjects request with `body`, declaring `declared` as its length (or none).
fn delete_objects(
    f: &Fixture,
    bucket: &str,
    body: Vec<u8>,
    declared: Option<u64>,
) -> Request<Full<Bytes>> {
    let payload = sha(&body);
    let (req, _) = s3_request(
        &f.key,
        &f.secret,
        None,
        "POST",
        &format!("/{bucket}?delete"),
        &[],
        &payload,
        body.clone(),
        chrono::Utc::now(),
    );
    let (mut parts, b) = req.into_parts();
    match declared {
        Some(n) => {
            parts.headers.insert(http::header::CONTENT_LENGTH, n.into());
        }
        None => {
            parts.headers.remove(http::header::CONTENT_LENGTH);
        }
    }
    Request::from_parts(parts, b)
}

fn delete_xml(keys: impl Iterator<Item = String>) -> Vec<u8> {
    let mut x = String::from("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for k in keys {
        x.push_str(&format!("<Object><Key>{k}</Key></Object>"));
    }
    x.push_str("<Quiet>true</Quiet></Delete>");
    x.into_bytes()
}

/// XML bodies are bounded by what S3 accepts for the operation: one declared larger is
/// refused before a byte of it is read; one that grows larger without declaring a length is
/// cut off; one with far more elements than 1,000 keys need is refused; and a full-size
/// valid one (1,000 keys of 1,024 bytes) still works.
#[tokio::test]
async fn xml_bodies_are_bounded_before_they_are_read() {
    let f = fixture().await;
    bucket(&f, "bounded").await;
    // Declared 20 MB, and the body never comes: answered at once.
    let req = delete_objects(&f, "bounded", Vec::new(), Some(20 << 20));
    let (parts, _) = req.into_parts();
    use http_body_util::BodyExt;
    let stalled = http_body_util::StreamBody::new(futures::stream::pending::<
        Result<http_body::Frame<Bytes>, std::convert::Infallible>,
    >());
    let resp = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tessera_server::app::handle(
            f.app.clone(),
            Request::from_parts(parts, stalled),
            "127.0.0.1:5000".parse().unwrap(),
        ),
    )
    .await
    .expect("a declared 20 MB DeleteObjects body was waited for");
    assert_eq!(resp.status(), 400);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.contains("<Code>MaxMessageLengthExceeded</Code>"),
        "{body}"
    );
    assert!(
        body.contains("<Message>Your request was too big.</Message>"),
        "{body}"
    );

    // 9 MB with no declared length: cut off once it passes the limit.
    let big = delete_xml((0..9000).map(|i| format!("{i:0>1000}")));
    assert!(big.len() > 8 << 20);
    let r = send(&f, delete_objects(&f, "bounded", big, None)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "MaxMessageLengthExceeded");

    // Within the size, but 100,000 elements: S3 takes at most 1,000 keys.
    let many = delete_xml((0..100_000).map(|_| "k".to_owned()));
    let len = many.len() as u64;
    let r = send(&f, delete_objects(&f, "bounded", many, Some(len))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.code(), "MalformedXML");

    // The largest valid request still works.
    for i in 0..3 {
        let key = format!("{i:0>1024}");
        assert_eq!(
            put_plain(&f, &format!("/bounded/{key}"), b"x").await.status,
            200
        );
    }
    let full = delete_xml((0..1000).map(|i| format!("{i:0>1024}")));
    let len = full.len() as u64;
    let r = send(&f, delete_objects(&f, "bounded", full, Some(len))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listing = get(&f, "/bounded?list-type=2").await;
    assert!(!listing.body.contains("<Key>"), "{}", listing.body);
}
