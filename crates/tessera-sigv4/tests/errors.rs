//! One or more tests per `SigV4Error` variant, plus the accepted edge cases around them.

use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::Digest;
use tessera_sigv4::{
    AuthKind, Canonicalization, DEFAULT_MAX_SKEW_SECS, Payload, PayloadKind, RequestParts,
    SigV4Error, VerifyOptions, canonical_request, compute_signature, decode_query, parse,
    signing_key, string_to_sign, verify,
};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const AMZ_DATE: &str = "20150830T123600Z";
const ZERO_SIG: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn now() -> DateTime<Utc> {
    "2015-08-30T12:36:00Z".parse().unwrap()
}

#[derive(Clone)]
struct Req {
    method: &'static str,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Req {
    fn new(method: &'static str, path: &str, query: &str, headers: &[(&str, &str)]) -> Self {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Req {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: map,
            body: Vec::new(),
        }
    }

    fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: self.method,
            raw_path: &self.path,
            raw_query: &self.query,
            headers: &self.headers,
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }

    fn parse(&self) -> Result<tessera_sigv4::ParsedAuth, SigV4Error> {
        parse(&self.parts())
    }

    fn check(&self, opts: &VerifyOptions<'_>) -> Result<(), SigV4Error> {
        let auth = self.parse()?;
        verify(&self.parts(), &auth, SECRET, opts)
    }
}

fn opts<'a>(canon: Canonicalization, service: &'a [&'a str], body: &'a [u8]) -> VerifyOptions<'a> {
    VerifyOptions {
        now: now(),
        region: "us-east-1",
        services: service,
        canonicalization: canon,
        max_skew_secs: DEFAULT_MAX_SKEW_SECS,
        payload: Payload::Body(body),
    }
}

fn authorization(scope: &str, signed: &str, sig: &str) -> String {
    format!("AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={signed}, Signature={sig}")
}

/// Sign `req` (header auth) over `signed` headers with our own building blocks.
fn sign_header(req: &mut Req, scope: &str, signed: &str, canon: Canonicalization, payload: &str) {
    req.set("authorization", &authorization(scope, signed, ZERO_SIG));
    let auth = req.parse().expect("request to sign must parse");
    let creq = canonical_request(&req.parts(), &auth, canon, payload);
    let key = signing_key(SECRET, &auth.scope_date, &auth.region, &auth.service);
    let sig = hex::encode(compute_signature(&key, &string_to_sign(&auth, &creq)));
    req.set("authorization", &authorization(scope, signed, &sig));
}

/// Sign `req` as a presigned URL; `extra` query parameters are appended before signing.
fn sign_query(
    req: &mut Req,
    scope: &str,
    signed: &str,
    expires: &str,
    extra: &str,
    canon: Canonicalization,
    payload: &str,
) {
    let base = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F{}&X-Amz-Date={AMZ_DATE}&X-Amz-Expires={expires}&X-Amz-SignedHeaders={}{extra}",
        scope.replace('/', "%2F"),
        signed.replace(';', "%3B"),
    );
    let user = req.query.clone();
    let with = |sig: &str| {
        let q = format!("{base}&X-Amz-Signature={sig}");
        if user.is_empty() {
            q
        } else {
            format!("{user}&{q}")
        }
    };
    req.query = with(ZERO_SIG);
    let auth = req.parse().expect("request to sign must parse");
    let creq = canonical_request(&req.parts(), &auth, canon, payload);
    let key = signing_key(SECRET, &auth.scope_date, &auth.region, &auth.service);
    let sig = hex::encode(compute_signature(&key, &string_to_sign(&auth, &creq)));
    req.query = with(&sig);
}

const SCOPE: &str = "20150830/us-east-1/sts/aws4_request";
const S3_SCOPE: &str = "20150830/us-east-1/s3/aws4_request";
const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn sha_hex(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// A valid STS request (botocore shape).
fn sts_request() -> Req {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let mut req = Req::new(
        "POST",
        "/",
        "",
        &[
            ("host", "sts.example.net"),
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("x-amz-date", AMZ_DATE),
        ],
    )
    .body(body);
    sign_header(
        &mut req,
        SCOPE,
        "content-type;host;x-amz-date",
        Canonicalization::Standard,
        &sha_hex(body),
    );
    req
}

/// A valid S3 GET (header auth, empty body hash).
fn s3_request() -> Req {
    let mut req = Req::new(
        "GET",
        "/bucket/key%20with%20space",
        "",
        &[
            ("host", "s3.example.net"),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-content-sha256", EMPTY_SHA),
        ],
    );
    sign_header(
        &mut req,
        S3_SCOPE,
        "host;x-amz-content-sha256;x-amz-date",
        Canonicalization::S3,
        EMPTY_SHA,
    );
    req
}

fn presigned_s3(expires: &str) -> Req {
    let mut req = Req::new("GET", "/bucket/key", "", &[("host", "s3.example.net")]);
    sign_query(
        &mut req,
        S3_SCOPE,
        "host",
        expires,
        "",
        Canonicalization::S3,
        "UNSIGNED-PAYLOAD",
    );
    req
}

const STS: &[&str] = &["sts"];
const S3: &[&str] = &["s3"];

fn incomplete(r: Result<impl std::fmt::Debug, SigV4Error>) -> String {
    match r {
        Err(SigV4Error::IncompleteSignature(m)) => m,
        other => panic!("expected IncompleteSignature, got {other:?}"),
    }
}

// ---------------------------------------------------------------- baselines

#[test]
fn valid_requests_verify() {
    let sts = sts_request();
    assert_eq!(
        sts.check(&opts(Canonicalization::Standard, STS, &sts.body)),
        Ok(())
    );
    let s3 = s3_request();
    assert_eq!(s3.check(&opts(Canonicalization::S3, S3, &[])), Ok(()));
    let p = presigned_s3("3600");
    assert_eq!(p.check(&opts(Canonicalization::S3, S3, &[])), Ok(()));
    let auth = p.parse().unwrap();
    assert_eq!(auth.kind, AuthKind::Presigned);
    assert_eq!(auth.content_sha256.as_deref(), Some("UNSIGNED-PAYLOAD"));
    assert_eq!(auth.expires, Some(3600));
}

#[test]
fn precomputed_and_deferred_payloads() {
    let sts = sts_request();
    let hash: [u8; 32] = sha2::Sha256::digest(&sts.body).into();
    let mut o = opts(Canonicalization::Standard, STS, &[]);
    o.payload = Payload::PrecomputedSha256(hash);
    assert_eq!(sts.check(&o), Ok(()));
    // Standard without an explicit hash cannot defer the body.
    o.payload = Payload::Deferred;
    assert_eq!(sts.check(&o), Err(SigV4Error::InvalidContentSha256));
    // S3 can: the signed hash is the header's.
    let s3 = s3_request();
    let mut o = opts(Canonicalization::S3, S3, &[]);
    o.payload = Payload::Deferred;
    assert_eq!(s3.check(&o), Ok(()));
    let auth = s3.parse().unwrap();
    let mut empty = [0u8; 32];
    hex::decode_to_slice(EMPTY_SHA, &mut empty).unwrap();
    assert_eq!(auth.payload_kind(), Some(PayloadKind::Sha256(empty)));
}

#[test]
fn date_header_fallback() {
    let mut req = Req::new(
        "GET",
        "/",
        "Action=GetCallerIdentity&Version=2011-06-15",
        &[
            ("host", "sts.example.net"),
            ("date", "Sun, 30 Aug 2015 12:36:00 GMT"),
        ],
    );
    sign_header(
        &mut req,
        SCOPE,
        "date;host",
        Canonicalization::Standard,
        EMPTY_SHA,
    );
    let auth = req.parse().unwrap();
    assert_eq!(auth.date, now());
    assert_eq!(
        req.check(&opts(Canonicalization::Standard, STS, &[])),
        Ok(())
    );
}

#[test]
fn streaming_values_are_signed_verbatim_for_s3() {
    for value in [
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "UNSIGNED-PAYLOAD",
    ] {
        let mut req = Req::new(
            "PUT",
            "/bucket/key",
            "",
            &[
                ("host", "s3.example.net"),
                ("x-amz-date", AMZ_DATE),
                ("x-amz-content-sha256", value),
            ],
        )
        .body(b"0;chunk-signature=...\r\n");
        sign_header(
            &mut req,
            S3_SCOPE,
            "host;x-amz-content-sha256;x-amz-date",
            Canonicalization::S3,
            value,
        );
        assert_eq!(
            req.check(&opts(Canonicalization::S3, S3, &req.body)),
            Ok(()),
            "{value}"
        );
        assert!(req.parse().unwrap().payload_kind().is_some());
    }
}

#[test]
fn plus_in_query_is_a_space() {
    let mut a = Req::new(
        "GET",
        "/",
        "k=a+b&Action=X",
        &[("host", "h"), ("x-amz-date", AMZ_DATE)],
    );
    sign_header(
        &mut a,
        SCOPE,
        "host;x-amz-date",
        Canonicalization::Standard,
        EMPTY_SHA,
    );
    let auth = a.parse().unwrap();
    let creq = canonical_request(&a.parts(), &auth, Canonicalization::Standard, EMPTY_SHA);
    assert!(creq.contains("\nAction=X&k=a%20b\n"), "{creq}");
    // `%20` and `+` are the same signed request; `%2B` is a different one.
    let mut b = a.clone();
    b.query = "k=a%20b&Action=X".into();
    assert_eq!(b.check(&opts(Canonicalization::Standard, STS, &[])), Ok(()));
    b.query = "k=a%2Bb&Action=X".into();
    assert_eq!(
        b.check(&opts(Canonicalization::Standard, STS, &[])),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    assert_eq!(
        decode_query("k=a+b&x"),
        vec![(b"k".to_vec(), b"a b".to_vec()), (b"x".to_vec(), vec![])]
    );
}

#[test]
fn debug_redacts_the_security_token() {
    let mut req = Req::new(
        "GET",
        "/",
        "",
        &[
            ("host", "h"),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-security-token", "SECRET-TOKEN-VALUE"),
        ],
    );
    req.set(
        "authorization",
        &authorization(SCOPE, "host;x-amz-date;x-amz-security-token", ZERO_SIG),
    );
    let auth = req.parse().unwrap();
    assert_eq!(auth.security_token.as_deref(), Some("SECRET-TOKEN-VALUE"));
    let dbg = format!("{auth:?}");
    assert!(!dbg.contains("SECRET-TOKEN-VALUE"), "{dbg}");
    assert!(dbg.contains("<redacted>"));
}

// ---------------------------------------------------------------- variants

#[test]
fn missing_authentication() {
    let req = Req::new("GET", "/", "Action=GetCallerIdentity", &[("host", "h")]);
    assert_eq!(req.parse(), Err(SigV4Error::MissingAuthentication));
    assert_eq!(
        SigV4Error::MissingAuthentication.aws_error_code(Canonicalization::Standard),
        "MissingAuthenticationToken"
    );
    assert_eq!(
        SigV4Error::MissingAuthentication.aws_error_code(Canonicalization::S3),
        "AccessDenied"
    );
}

#[test]
fn incomplete_signature() {
    let base = sts_request();
    let cases = [
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015-08-30/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=xyz",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, Credential=X/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000, Extra=1",
        "AWS4-HMAC-SHA256 Credential AKIDEXAMPLE",
    ];
    for value in cases {
        let mut req = base.clone();
        req.set("authorization", value);
        incomplete(req.parse());
    }
    let mut req = base.clone();
    req.set("authorization", "AWS4-HMAC-SHA256 SignedHeaders=host");
    let msg = incomplete(req.parse());
    assert!(
        msg.contains("Authorization header requires 'Credential' parameter."),
        "{msg}"
    );
    assert!(
        msg.contains("Authorization header requires 'Signature' parameter."),
        "{msg}"
    );

    // Two Authorization headers.
    let mut req = base.clone();
    req.headers.append(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 x"),
    );
    incomplete(req.parse());

    // Presigned parameters without X-Amz-Algorithm, or with some missing.
    let req = Req::new(
        "GET",
        "/",
        "X-Amz-Credential=a%2Fb&X-Amz-Signature=00",
        &[("host", "h")],
    );
    incomplete(req.parse());
    let mut p = presigned_s3("60");
    p.query = p.query.replace("X-Amz-SignedHeaders=host&", "");
    incomplete(p.parse());
    // Duplicate presigned parameter.
    let mut p = presigned_s3("60");
    p.query.push_str("&X-Amz-Credential=x");
    incomplete(p.parse());

    // Token both as header and as query parameter.
    let mut p = presigned_s3("60");
    p.query.push_str("&X-Amz-Security-Token=abc");
    p.set("x-amz-security-token", "abc");
    incomplete(p.parse());

    // Terminator is a scope mismatch, not a syntax error.
    let mut req = base.clone();
    req.set(
        "authorization",
        &authorization("20150830/us-east-1/sts/aws5_request", "host", ZERO_SIG),
    );
    assert!(matches!(req.parse(), Err(SigV4Error::ScopeMismatch(m)) if m.contains("terminator")));
}

#[test]
fn unsupported_algorithm() {
    let mut req = sts_request();
    req.set(
        "authorization",
        "AWS AKIDEXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
    );
    assert_eq!(
        req.parse(),
        Err(SigV4Error::UnsupportedAlgorithm("AWS".into()))
    );
    req.set("authorization", "AWS4-ECDSA-P256-SHA256 Credential=x");
    assert_eq!(
        req.parse(),
        Err(SigV4Error::UnsupportedAlgorithm(
            "AWS4-ECDSA-P256-SHA256".into()
        ))
    );
    let mut p = presigned_s3("60");
    p.query = p.query.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1");
    assert_eq!(
        p.parse(),
        Err(SigV4Error::UnsupportedAlgorithm("AWS4-HMAC-SHA1".into()))
    );
}

#[test]
fn multiple_auth_mechanisms() {
    let mut req = sts_request();
    req.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256".into();
    assert_eq!(req.parse(), Err(SigV4Error::MultipleAuthMechanisms));
    let mut req = sts_request();
    req.query = format!("X-Amz-Signature={ZERO_SIG}");
    assert_eq!(req.parse(), Err(SigV4Error::MultipleAuthMechanisms));
}

#[test]
fn missing_date() {
    let mut req = sts_request();
    req.headers.remove("x-amz-date");
    assert_eq!(req.parse(), Err(SigV4Error::MissingDate));
    let mut p = presigned_s3("60");
    p.query = p.query.replace(&format!("X-Amz-Date={AMZ_DATE}&"), "");
    assert_eq!(p.parse(), Err(SigV4Error::MissingDate));
}

#[test]
fn invalid_date() {
    for bad in [
        "2015-08-30T12:36:00Z",
        "20150830T123600",
        "20151330T123600Z",
        "20150830T256000Z",
        "",
    ] {
        let mut req = sts_request();
        req.set("x-amz-date", bad);
        assert!(
            matches!(req.parse(), Err(SigV4Error::InvalidDate(_))),
            "{bad}"
        );
    }
    let mut req = sts_request();
    req.headers.remove("x-amz-date");
    req.set("date", "yesterday");
    assert!(matches!(req.parse(), Err(SigV4Error::InvalidDate(_))));
    let mut p = presigned_s3("60");
    p.query = p.query.replace(AMZ_DATE, "2015");
    assert!(matches!(p.parse(), Err(SigV4Error::InvalidDate(_))));
}

#[test]
fn unsigned_header() {
    let o = opts(
        Canonicalization::Standard,
        STS,
        b"Action=GetCallerIdentity&Version=2011-06-15",
    );
    let unsigned = |name: &str| Err(SigV4Error::UnsignedHeader(name.into()));

    // host not signed
    let mut req = sts_request();
    req.set(
        "authorization",
        &authorization(SCOPE, "content-type;x-amz-date", ZERO_SIG),
    );
    assert_eq!(req.check(&o), unsigned("host"));
    // an x-amz-* header added after signing
    let mut req = sts_request();
    req.set("x-amz-meta-evil", "1");
    assert_eq!(req.check(&o), unsigned("x-amz-meta-evil"));
    // the session token added after signing
    let mut req = sts_request();
    req.set("x-amz-security-token", "tok");
    assert_eq!(req.check(&o), unsigned("x-amz-security-token"));
    // content-md5
    let mut req = sts_request();
    req.set("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==");
    assert_eq!(req.check(&o), unsigned("content-md5"));
    // content-type: required for Standard header auth...
    let mut req = sts_request();
    req.set(
        "authorization",
        &authorization(SCOPE, "host;x-amz-date", ZERO_SIG),
    );
    assert_eq!(req.check(&o), unsigned("content-type"));
    // ...but not for S3 (minio-go does not sign it).
    let mut s3 = Req::new(
        "PUT",
        "/bucket/key",
        "",
        &[
            ("host", "s3.example.net"),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-content-sha256", EMPTY_SHA),
        ],
    );
    sign_header(
        &mut s3,
        S3_SCOPE,
        "host;x-amz-content-sha256;x-amz-date",
        Canonicalization::S3,
        EMPTY_SHA,
    );
    s3.set("content-type", "text/plain");
    assert_eq!(s3.check(&opts(Canonicalization::S3, S3, &[])), Ok(()));
    // the Date header, when it is the signing date
    let mut req = Req::new(
        "GET",
        "/",
        "",
        &[("host", "h"), ("date", "Sun, 30 Aug 2015 12:36:00 GMT")],
    );
    sign_header(
        &mut req,
        SCOPE,
        "host",
        Canonicalization::Standard,
        EMPTY_SHA,
    );
    assert_eq!(
        req.check(&opts(Canonicalization::Standard, STS, &[])),
        unsigned("date")
    );

    // Presigned: x-amz-* must be signed too (x-amz-copy-source turned uploads into reads elsewhere).
    let mut p = presigned_s3("60");
    p.set("x-amz-copy-source", "other/key");
    assert_eq!(
        p.check(&opts(Canonicalization::S3, S3, &[])),
        unsigned("x-amz-copy-source")
    );
    let mut p = presigned_s3("60");
    p.set("x-amz-security-token", "tok");
    assert_eq!(
        p.check(&opts(Canonicalization::S3, S3, &[])),
        unsigned("x-amz-security-token")
    );
    // ...except the two aws-sigv4 never signs on presigned URLs; content-type is fine too.
    let mut p = presigned_s3("60");
    p.set("x-amz-user-agent", "aws-sdk-rust");
    p.set("x-amz-checksum-mode", "ENABLED");
    p.set("content-type", "image/png");
    p.set("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==");
    assert_eq!(p.check(&opts(Canonicalization::S3, S3, &[])), Ok(()));
}

#[test]
fn signed_header_missing() {
    let mut req = sts_request();
    req.set(
        "authorization",
        &authorization(SCOPE, "content-type;host;x-amz-date;x-amz-target", ZERO_SIG),
    );
    assert_eq!(
        req.check(&opts(Canonicalization::Standard, STS, &req.body)),
        Err(SigV4Error::SignedHeaderMissing("x-amz-target".into()))
    );
}

#[test]
fn scope_mismatch() {
    let req = sts_request();
    let scope = |r: Result<(), SigV4Error>| match r {
        Err(SigV4Error::ScopeMismatch(m)) => m,
        other => panic!("expected ScopeMismatch, got {other:?}"),
    };
    let mut o = opts(Canonicalization::Standard, STS, &req.body);
    o.region = "eu-west-1";
    assert!(scope(req.check(&o)).contains("valid region"));
    let o = opts(Canonicalization::Standard, &["iam"], &req.body);
    assert_eq!(
        scope(req.check(&o)),
        "Credential should be scoped to correct service: 'iam'. "
    );
    // several acceptable names
    let o = opts(Canonicalization::Standard, &["iam", "sts"], &req.body);
    assert_eq!(req.check(&o), Ok(()));
    // scope date differs from X-Amz-Date
    let mut bad = req.clone();
    bad.set(
        "authorization",
        &authorization(
            "20150831/us-east-1/sts/aws4_request",
            "content-type;host;x-amz-date",
            ZERO_SIG,
        ),
    );
    assert!(
        matches!(bad.parse(), Err(SigV4Error::ScopeMismatch(m)) if m.contains("Date in Credential scope"))
    );
}

#[test]
fn request_time_too_skewed() {
    let req = sts_request();
    let mut o = opts(Canonicalization::Standard, STS, &req.body);
    o.now = now() + TimeDelta::seconds(900);
    assert_eq!(req.check(&o), Ok(()));
    o.now = now() - TimeDelta::seconds(900);
    assert_eq!(req.check(&o), Ok(()));
    o.now = now() + TimeDelta::seconds(901);
    assert_eq!(
        req.check(&o),
        Err(SigV4Error::RequestTimeTooSkewed {
            request: "20150830T123600Z".into(),
            server: "20150830T125101Z".into()
        })
    );
    o.now = now() - TimeDelta::hours(1);
    assert!(matches!(
        req.check(&o),
        Err(SigV4Error::RequestTimeTooSkewed { .. })
    ));
}

#[test]
fn presigned_expired_and_not_yet_valid() {
    let p = presigned_s3("60");
    let mut o = opts(Canonicalization::S3, S3, &[]);
    o.now = now() + TimeDelta::seconds(60);
    assert_eq!(p.check(&o), Ok(()));
    o.now = now() + TimeDelta::seconds(61);
    assert_eq!(p.check(&o), Err(SigV4Error::PresignedExpired));
    // Presigned URLs are not subject to the skew into the past...
    let p = presigned_s3("604800");
    o.now = now() + TimeDelta::days(6);
    assert_eq!(p.check(&o), Ok(()));
    // ...but must not be dated more than the skew in the future.
    o.now = now() - TimeDelta::seconds(900);
    assert_eq!(p.check(&o), Ok(()));
    o.now = now() - TimeDelta::seconds(901);
    assert_eq!(p.check(&o), Err(SigV4Error::PresignedNotYetValid));
}

#[test]
fn invalid_expires() {
    // S3's messages: not a number, negative, more than a week.
    for (bad, message) in [
        ("abc", "X-Amz-Expires should be a number"),
        ("-1", "X-Amz-Expires must be non-negative"),
        (
            "604801",
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
        ),
    ] {
        let mut p = presigned_s3("60");
        p.query = p
            .query
            .replace("X-Amz-Expires=60", &format!("X-Amz-Expires={bad}"));
        assert_eq!(
            p.parse().map(|_| ()),
            Err(SigV4Error::InvalidExpires(message.into())),
            "{bad}"
        );
    }
    // Zero parses: the URL has expired when it is used (S3: 403 AccessDenied).
    let p = presigned_s3("0");
    assert_eq!(
        p.check(&opts(Canonicalization::S3, S3, &[])),
        Err(SigV4Error::PresignedExpired)
    );
    for bad in ["604801", "abc", "-1", "1.5", "", "99999999999999999999999"] {
        let mut p = presigned_s3("60");
        p.query = p
            .query
            .replace("X-Amz-Expires=60", &format!("X-Amz-Expires={bad}"));
        assert!(
            matches!(p.parse(), Err(SigV4Error::InvalidExpires(_))),
            "{bad}"
        );
    }
    let mut p = presigned_s3("60");
    p.query = p.query.replace("X-Amz-Expires=60&", "");
    assert!(matches!(p.parse(), Err(SigV4Error::InvalidExpires(_))));
    assert_eq!(
        SigV4Error::InvalidExpires(String::new()).aws_error_code(Canonicalization::S3),
        "AuthorizationQueryParametersError"
    );
}

#[test]
fn invalid_content_sha256() {
    // Malformed values.
    for bad in [
        "abc",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "unsigned-payload",
        &EMPTY_SHA[1..],
    ] {
        let mut req = s3_request();
        req.set("x-amz-content-sha256", bad);
        assert_eq!(req.parse(), Err(SigV4Error::InvalidContentSha256), "{bad}");
    }
    // Twice.
    let mut req = s3_request();
    req.headers
        .append("x-amz-content-sha256", HeaderValue::from_static(EMPTY_SHA));
    assert_eq!(req.parse(), Err(SigV4Error::InvalidContentSha256));
    // Missing for S3 header auth.
    let mut req = Req::new(
        "GET",
        "/b/k",
        "",
        &[("host", "s3.example.net"), ("x-amz-date", AMZ_DATE)],
    );
    req.set(
        "authorization",
        &authorization(S3_SCOPE, "host;x-amz-date", ZERO_SIG),
    );
    assert_eq!(
        req.check(&opts(Canonicalization::S3, S3, &[])),
        Err(SigV4Error::InvalidContentSha256)
    );
    // A signed streaming payload outside S3.
    let mut req = sts_request();
    req.set("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    req.set(
        "authorization",
        &authorization(
            SCOPE,
            "content-type;host;x-amz-content-sha256;x-amz-date",
            ZERO_SIG,
        ),
    );
    assert_eq!(
        req.check(&opts(Canonicalization::Standard, STS, &req.body)),
        Err(SigV4Error::InvalidContentSha256)
    );
}

#[test]
fn content_sha256_mismatch() {
    let s3 = s3_request();
    assert_eq!(
        s3.check(&opts(Canonicalization::S3, S3, b"not empty")),
        Err(SigV4Error::ContentSha256Mismatch)
    );
    let mut o = opts(Canonicalization::S3, S3, &[]);
    o.payload = Payload::PrecomputedSha256([7; 32]);
    assert_eq!(s3.check(&o), Err(SigV4Error::ContentSha256Mismatch));
    // Standard with an explicit (signed) hash that the body does not match.
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let mut req = Req::new(
        "POST",
        "/",
        "",
        &[
            ("host", "sts.example.net"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-content-sha256", &sha_hex(body)),
        ],
    )
    .body(body);
    sign_header(
        &mut req,
        SCOPE,
        "content-type;host;x-amz-content-sha256;x-amz-date",
        Canonicalization::Standard,
        &sha_hex(body),
    );
    assert_eq!(
        req.check(&opts(Canonicalization::Standard, STS, body)),
        Ok(())
    );
    assert_eq!(
        req.check(&opts(Canonicalization::Standard, STS, b"Action=DeleteUser")),
        Err(SigV4Error::ContentSha256Mismatch)
    );
}

#[test]
fn unsigned_payload_not_allowed() {
    let mut req = Req::new(
        "POST",
        "/",
        "",
        &[
            ("host", "sts.example.net"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
    );
    sign_header(
        &mut req,
        SCOPE,
        "content-type;host;x-amz-content-sha256;x-amz-date",
        Canonicalization::Standard,
        "UNSIGNED-PAYLOAD",
    );
    assert_eq!(
        req.check(&opts(Canonicalization::Standard, STS, b"Action=X")),
        Err(SigV4Error::UnsignedPayloadNotAllowed)
    );
}

#[test]
fn signature_does_not_match() {
    let req = sts_request();
    let auth = req.parse().unwrap();
    let o = opts(Canonicalization::Standard, STS, &req.body);
    assert_eq!(
        verify(&req.parts(), &auth, "wrong", &o),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    // Body changed (no explicit hash: the body hash is what is signed).
    let o2 = opts(
        Canonicalization::Standard,
        STS,
        b"Action=GetCallerIdentity&Version=2011-06-16",
    );
    assert_eq!(req.check(&o2), Err(SigV4Error::SignatureDoesNotMatch));
    // Path changed.
    let mut r = req.clone();
    r.path = "/x".into();
    assert_eq!(r.check(&o), Err(SigV4Error::SignatureDoesNotMatch));
    // S3 keeps the path as received: `/a/./b` and `/a/b` differ; Standard normalises them.
    let mut s3 = Req::new(
        "GET",
        "/bucket/./key",
        "",
        &[
            ("host", "s3.example.net"),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-content-sha256", EMPTY_SHA),
        ],
    );
    sign_header(
        &mut s3,
        S3_SCOPE,
        "host;x-amz-content-sha256;x-amz-date",
        Canonicalization::S3,
        EMPTY_SHA,
    );
    assert_eq!(s3.check(&opts(Canonicalization::S3, S3, &[])), Ok(()));
    s3.path = "/bucket/key".into();
    assert_eq!(
        s3.check(&opts(Canonicalization::S3, S3, &[])),
        Err(SigV4Error::SignatureDoesNotMatch)
    );
    assert_eq!(SigV4Error::SignatureDoesNotMatch.http_status(), 403);
}
