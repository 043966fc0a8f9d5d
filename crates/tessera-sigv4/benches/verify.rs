//! parse + verify of a botocore-style STS `GetCallerIdentity` POST.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use tessera_sigv4::{
    Canonicalization, DEFAULT_MAX_SKEW_SECS, Payload, RequestParts, VerifyOptions,
    canonical_request, compute_signature, parse, signing_key, string_to_sign, verify,
    verify_with_key,
};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";

/// Headers as botocore sends them, signed `content-type;host;x-amz-date`.
fn request() -> (HeaderMap, DateTime<Utc>) {
    let now: DateTime<Utc> = "2026-05-04T10:20:30Z".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("sts.example.net"));
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"),
    );
    headers.insert("x-amz-date", HeaderValue::from_static("20260504T102030Z"));
    headers.insert(
        "user-agent",
        HeaderValue::from_static("Boto3/1.43.0 md/Botocore#1.43.0 ua/2.1 os/linux"),
    );
    headers.insert("content-length", HeaderValue::from_static("43"));
    headers.insert("accept-encoding", HeaderValue::from_static("identity"));
    // Sign it with our own building blocks (a placeholder signature is replaced below).
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260504/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={}",
            "0".repeat(64)
        ))
        .unwrap(),
    );
    let parts = RequestParts {
        method: "POST",
        raw_path: "/",
        raw_query: "",
        headers: &headers,
    };
    let auth = parse(&parts).unwrap();
    let payload = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(BODY));
    let creq = canonical_request(&parts, &auth, Canonicalization::Standard, &payload);
    let key = signing_key(SECRET, "20260504", "us-east-1", "sts");
    let sig = hex::encode(compute_signature(&key, &string_to_sign(&auth, &creq)));
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260504/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={sig}"
        ))
        .unwrap(),
    );
    (headers, now)
}

fn bench(c: &mut Criterion) {
    let (headers, now) = request();
    let parts = RequestParts {
        method: "POST",
        raw_path: "/",
        raw_query: "",
        headers: &headers,
    };
    let opts = VerifyOptions {
        now,
        region: "us-east-1",
        services: &["sts"],
        canonicalization: Canonicalization::Standard,
        max_skew_secs: DEFAULT_MAX_SKEW_SECS,
        payload: Payload::Body(BODY),
    };
    let auth = parse(&parts).unwrap();
    verify(&parts, &auth, SECRET, &opts).expect("bench request must verify");
    let key = signing_key(SECRET, &auth.scope_date, &auth.region, &auth.service);

    c.bench_function("sts_get_caller_identity/parse+verify (derive key)", |b| {
        b.iter(|| {
            let p = black_box(&parts);
            let auth = parse(p).unwrap();
            verify(p, &auth, black_box(SECRET), &opts).unwrap();
        })
    });
    c.bench_function(
        "sts_get_caller_identity/parse+verify_with_key (cached key)",
        |b| {
            b.iter(|| {
                let p = black_box(&parts);
                let auth = parse(p).unwrap();
                verify_with_key(p, &auth, black_box(&key), &opts).unwrap();
            })
        },
    );
    c.bench_function("sts_get_caller_identity/parse only", |b| {
        b.iter(|| parse(black_box(&parts)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
