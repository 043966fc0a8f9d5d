//! Property tests: requests signed by the real `aws-sigv4` signer verify; changing anything that
//! is signed makes them fail; garbage never panics the parser.

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use tessera_sigv4::{
    AuthKind, Canonicalization, DEFAULT_MAX_SKEW_SECS, Payload, RequestParts, SigV4Error,
    VerifyOptions, parse, signing_key, verify, verify_with_key,
};

const AKID: &str = "AKIDPROPTEST0001";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
struct Input {
    method: &'static str,
    host: &'static str,
    segments: Vec<String>,
    trailing_slash: bool,
    /// (name, value, no '=' when the value is empty, space written as '+')
    params: Vec<(String, String, bool, bool)>,
    headers: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
    s3: bool,
    presigned: bool,
    token: Option<String>,
    /// S3 header auth: sign `UNSIGNED-PAYLOAD` instead of the body hash.
    unsigned_payload: bool,
    /// Standard header auth: also send (and sign) `x-amz-content-sha256`.
    standard_sha_header: bool,
    time_secs: u64,
    expires: u64,
    /// Seconds between signing and verification (within the allowed window).
    delay: i64,
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9._~-]{1,8}",
        3 => "[ a-z!$&'()*+,;=:@%/?#äß€\\\\]{1,6}",
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just(String::new()),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    let request = (
        prop::sample::select(vec!["GET", "PUT", "POST", "DELETE", "HEAD"]),
        prop::sample::select(vec!["example.amazonaws.com", "127.0.0.1:9000", "localhost"]),
        prop::collection::vec(segment(), 0..5),
        any::<bool>(),
        prop::collection::vec(
            (
                "p[a-zA-Z0-9 +&=/%ä_.~-]{0,6}",
                "[a-zA-Z0-9 +&=/%ä€_.~*-]{0,8}",
                any::<bool>(),
                any::<bool>(),
            ),
            0..4,
        ),
        prop::collection::vec(
            (
                prop_oneof!["x-amz-meta-[a-z]{1,6}", "x-test-[a-z0-9]{1,6}"],
                "[ -~]{0,12}",
            ),
            0..4,
        ),
        prop::option::of("[a-z]{1,8}/[a-z.+-]{1,10}(; charset=utf-8)?"),
        prop::collection::vec(any::<u8>(), 0..64),
    );
    let auth = (
        any::<bool>(),
        any::<bool>(),
        prop::option::of("[A-Za-z0-9+/=]{16,64}"),
        any::<bool>(),
        any::<bool>(),
        // 2010-01-01 .. 2035-01-01
        1_262_304_000u64..2_051_222_400u64,
        1u64..=604_800,
        -DEFAULT_MAX_SKEW_SECS..=DEFAULT_MAX_SKEW_SECS,
    );
    (request, auth).prop_map(
        |(
            (method, host, segments, trailing_slash, params, headers, content_type, body),
            (
                s3,
                presigned,
                token,
                unsigned_payload,
                standard_sha_header,
                time_secs,
                expires,
                delay,
            ),
        )| Input {
            method,
            host,
            segments,
            trailing_slash,
            params,
            headers,
            content_type,
            body,
            s3,
            presigned,
            token,
            unsigned_payload,
            standard_sha_header,
            time_secs,
            expires,
            delay,
        },
    )
}

/// Put a path segment on the wire: unreserved and a few sub-delims raw, the rest `%XX`.
fn wire_segment(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Put a query component on the wire: unreserved raw, space as `+` or `%20`, the rest `%XX`.
fn wire_query_component(s: &str, plus_for_space: bool) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else if b == b' ' && plus_for_space {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn wire_path(input: &Input) -> String {
    let mut path = String::from("/");
    path.push_str(
        &input
            .segments
            .iter()
            .map(|s| wire_segment(s))
            .collect::<Vec<_>>()
            .join("/"),
    );
    if input.trailing_slash && !path.ends_with('/') {
        path.push('/');
    }
    path
}

fn wire_query(params: &[(String, String, bool, bool)]) -> String {
    params
        .iter()
        .map(|(k, v, no_eq, plus)| {
            let k = wire_query_component(k, *plus);
            if v.is_empty() && *no_eq {
                k
            } else {
                format!("{k}={}", wire_query_component(v, *plus))
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A request on the wire, as the server would see it.
#[derive(Debug, Clone)]
struct Wire {
    method: String,
    path: String,
    /// Query from the generated parameters only.
    user_query: String,
    /// Query parameters the presigner added, already encoded.
    auth_query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Wire {
    fn query(&self) -> String {
        match (self.user_query.is_empty(), self.auth_query.is_empty()) {
            (true, _) => self.auth_query.clone(),
            (false, true) => self.user_query.clone(),
            (false, false) => format!("{}&{}", self.user_query, self.auth_query),
        }
    }
}

fn service(input: &Input) -> &'static str {
    if input.s3 { "s3" } else { "sts" }
}

fn base_headers(input: &Input) -> Vec<(String, String)> {
    let mut headers = vec![("host".to_owned(), input.host.to_owned())];
    headers.extend(input.headers.iter().cloned());
    if let Some(ct) = &input.content_type {
        headers.push(("content-type".to_owned(), ct.clone()));
    }
    headers
}

/// Sign the generated request with `aws-sigv4`.
fn sign_with_aws_sigv4(input: &Input) -> Wire {
    let path = wire_path(input);
    let user_query = wire_query(&input.params);
    let uri = if user_query.is_empty() {
        format!("https://{}{}", input.host, path)
    } else {
        format!("https://{}{}?{}", input.host, path, user_query)
    };
    let headers = base_headers(input);

    let mut settings = SigningSettings::default();
    if input.s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    } else {
        settings.percent_encoding_mode = PercentEncodingMode::Double;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Enabled;
        settings.payload_checksum_kind = if input.standard_sha_header {
            PayloadChecksumKind::XAmzSha256
        } else {
            PayloadChecksumKind::NoHeader
        };
    }
    if input.presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(input.expires));
    }
    let body = match (input.s3, input.presigned, input.unsigned_payload) {
        (true, true, _) | (true, false, true) => SignableBody::UnsignedPayload,
        _ => SignableBody::Bytes(&input.body),
    };

    let identity = Credentials::new(AKID, SECRET, input.token.clone(), None, "proptest").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service(input))
        .time(UNIX_EPOCH + Duration::from_secs(input.time_secs))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        input.method,
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();

    let mut map = HeaderMap::new();
    for (k, v) in &headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    for (k, v) in instructions.headers() {
        map.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let auth_query = instructions
        .params()
        .iter()
        .map(|(k, v)| format!("{k}={}", wire_query_component(v, false)))
        .collect::<Vec<_>>()
        .join("&");
    Wire {
        method: input.method.to_owned(),
        path,
        user_query,
        auth_query,
        headers: map,
        body: input.body.clone(),
    }
}

fn signing_time(input: &Input) -> DateTime<Utc> {
    DateTime::from_timestamp(i64::try_from(input.time_secs).unwrap(), 0).unwrap()
}

fn now(input: &Input) -> DateTime<Utc> {
    let t = signing_time(input);
    if input.presigned {
        // Anywhere from (skew) before signing until the URL expires.
        let into_life = input
            .delay
            .rem_euclid(i64::try_from(input.expires).unwrap() + 1);
        if input.delay < 0 {
            t + TimeDelta::seconds(input.delay)
        } else {
            t + TimeDelta::seconds(into_life)
        }
    } else {
        t + TimeDelta::seconds(input.delay)
    }
}

fn check(input: &Input, wire: &Wire) -> Result<(), SigV4Error> {
    let query = wire.query();
    let parts = RequestParts {
        method: &wire.method,
        raw_path: &wire.path,
        raw_query: &query,
        headers: &wire.headers,
    };
    let auth = parse(&parts)?;
    let services = [service(input)];
    let opts = VerifyOptions {
        now: now(input),
        region: REGION,
        services: &services,
        canonicalization: if input.s3 {
            Canonicalization::S3
        } else {
            Canonicalization::Standard
        },
        max_skew_secs: DEFAULT_MAX_SKEW_SECS,
        payload: Payload::Body(&wire.body),
    };
    verify(&parts, &auth, SECRET, &opts)
}

/// Does the signature (or the signed hash) cover the body?
fn body_is_signed(input: &Input) -> bool {
    !input.s3 || (!input.presigned && !input.unsigned_payload)
}

fn replace_amz_date(wire: &mut Wire, input: &Input) {
    let old = signing_time(input).format("%Y%m%dT%H%M%SZ").to_string();
    let new = (signing_time(input) + TimeDelta::seconds(1))
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    if input.presigned {
        wire.auth_query = wire
            .auth_query
            .replace(&format!("X-Amz-Date={old}"), &format!("X-Amz-Date={new}"));
    } else {
        wire.headers
            .insert("x-amz-date", HeaderValue::from_str(&new).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn aws_sigv4_signed_requests_verify(input in input()) {
        let wire = sign_with_aws_sigv4(&input);
        let query = wire.query();
        let parts = RequestParts {
            method: &wire.method,
            raw_path: &wire.path,
            raw_query: &query,
            headers: &wire.headers,
        };
        let auth = parse(&parts).map_err(|e| TestCaseError::fail(format!("parse: {e:?}")))?;
        prop_assert_eq!(auth.kind, if input.presigned { AuthKind::Presigned } else { AuthKind::Header });
        prop_assert_eq!(&auth.access_key_id, AKID);
        prop_assert_eq!(&auth.service, service(&input));
        prop_assert_eq!(&auth.security_token, &input.token);
        prop_assert_eq!(auth.date, signing_time(&input));
        if input.presigned {
            prop_assert_eq!(auth.expires, Some(input.expires));
        }

        prop_assert_eq!(check(&input, &wire), Ok(()));

        let key = signing_key(SECRET, &auth.scope_date, REGION, service(&input));
        let services = [service(&input)];
        let opts = VerifyOptions {
            now: now(&input),
            region: REGION,
            services: &services,
            canonicalization: if input.s3 { Canonicalization::S3 } else { Canonicalization::Standard },
            max_skew_secs: DEFAULT_MAX_SKEW_SECS,
            payload: Payload::PrecomputedSha256(sha2::Digest::finalize(
                <sha2::Sha256 as sha2::Digest>::new_with_prefix(&wire.body),
            ).into()),
        };
        prop_assert_eq!(verify_with_key(&parts, &auth, &key, &opts), Ok(()));
    }

    #[test]
    fn tampered_requests_fail(input in input()) {
        let wire = sign_with_aws_sigv4(&input);

        // A signed header value.
        for (name, _) in &input.headers {
            let mut w = wire.clone();
            let mut values: Vec<HeaderValue> = w.headers.get_all(name.as_str()).iter().cloned().collect();
            let last = values.pop().unwrap();
            let mut changed = last.as_bytes().to_vec();
            changed.push(b'z');
            values.push(HeaderValue::from_bytes(&changed).unwrap());
            w.headers.remove(name.as_str());
            for v in values {
                w.headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), v);
            }
            prop_assert!(check(&input, &w).is_err(), "header {} changed", name);
        }
        // Host.
        {
            let mut w = wire.clone();
            w.headers.insert("host", HeaderValue::from_static("evil.example.com"));
            prop_assert!(check(&input, &w).is_err(), "host changed");
        }
        // Path.
        {
            let mut w = wire.clone();
            w.path.push('x');
            prop_assert!(check(&input, &w).is_err(), "path changed");
        }
        // A query value.
        if !input.params.is_empty() {
            let mut params = input.params.clone();
            params[0].1.push('x');
            let mut w = wire.clone();
            w.user_query = wire_query(&params);
            prop_assert!(check(&input, &w).is_err(), "query changed");
            // An added parameter.
            let mut w = wire.clone();
            w.user_query.push_str("&extra=1");
            prop_assert!(check(&input, &w).is_err(), "query parameter added");
        }
        // The body.
        if body_is_signed(&input) {
            let mut w = wire.clone();
            w.body.push(b'!');
            prop_assert!(check(&input, &w).is_err(), "body changed");
        }
        // The date.
        {
            let mut w = wire.clone();
            replace_amz_date(&mut w, &input);
            prop_assert!(check(&input, &w).is_err(), "date changed");
        }
        // The method.
        {
            let mut w = wire.clone();
            w.method = if input.method == "GET" { "PUT".into() } else { "GET".into() };
            prop_assert!(check(&input, &w).is_err(), "method changed");
        }
        // The session token.
        if let Some(token) = &input.token {
            let mut w = wire.clone();
            let changed = format!("{token}x");
            if input.presigned {
                let enc = wire_query_component(token, false);
                w.auth_query = w.auth_query.replace(
                    &format!("X-Amz-Security-Token={enc}"),
                    &format!("X-Amz-Security-Token={}", wire_query_component(&changed, false)),
                );
            } else {
                w.headers.insert("x-amz-security-token", HeaderValue::from_str(&changed).unwrap());
            }
            prop_assert!(check(&input, &w).is_err(), "token changed");
        }
        // An unsigned x-amz-* header added after signing.
        {
            let mut w = wire.clone();
            w.headers.insert("x-amz-copy-source", HeaderValue::from_static("other-bucket/key"));
            prop_assert_eq!(
                check(&input, &w),
                Err(SigV4Error::UnsignedHeader("x-amz-copy-source".into()))
            );
        }
    }
}

/// How many cases each parser fuzz test runs: `TESSERA_FUZZ_CASES`, default 1,000 (the closing
/// notes report runs with 100,000).
fn fuzz_cases() -> u32 {
    std::env::var("TESSERA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// A rejection is a typed error that maps to an AWS error code and status in both
/// canonicalisations and has a message.
fn typed(e: &SigV4Error) -> Result<(), TestCaseError> {
    for c in [Canonicalization::S3, Canonicalization::Standard] {
        prop_assert!(!e.aws_error_code(c).is_empty());
    }
    prop_assert!(matches!(e.http_status(), 400 | 403));
    prop_assert!(!e.to_string().is_empty());
    Ok(())
}

// Parser fuzzing: no panic, no hang (nextest's slow-test timeout ends a hung case), every
// rejection a typed error.
proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), ..ProptestConfig::default() })]

    #[test]
    fn garbage_authorization_never_panics(
        value in prop::collection::vec(any::<u8>(), 0..300),
        query in "[ -~]{0,120}",
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        if let Ok(v) = HeaderValue::from_bytes(&value) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
        let parts = RequestParts { method: "GET", raw_path: "/", raw_query: &query, headers: &headers };
        if let Err(e) = parse(&parts) {
            typed(&e)?;
        }
        let _ = tessera_sigv4::decode_query(&query);
    }

    #[test]
    fn structured_garbage_never_panics(
        alg in prop_oneof![Just("AWS4-HMAC-SHA256".to_owned()), "[A-Z0-9-]{0,20}"],
        parts in prop::collection::vec(
            (
                prop_oneof![
                    Just("Credential".to_owned()),
                    Just("SignedHeaders".to_owned()),
                    Just("Signature".to_owned()),
                    "[A-Za-z]{0,10}",
                ],
                prop_oneof![
                    "[A-Za-z0-9]{0,20}/[0-9]{0,9}/[a-z0-9-]{0,12}/[a-z0-9]{0,5}/[a-z0-9_]{0,13}",
                    "[a-z;-]{0,40}",
                    "[0-9a-f]{60,68}",
                    "[ -~]{0,40}",
                ],
                prop_oneof![Just(", "), Just(","), Just(" , "), Just(";"), Just("")],
            ),
            0..6,
        ),
        date in prop_oneof!["[0-9]{8}T[0-9]{6}Z", "[ -~]{0,30}"],
        query in prop_oneof![
            "[ -~]{0,80}",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[A-Z]{0,5}%2F[0-9]{8}%2F[a-z-]{0,9}%2F[a-z]{0,3}%2Faws4_request&X-Amz-Date=[0-9T]{0,16}Z?&X-Amz-Expires=[0-9-]{0,8}&X-Amz-SignedHeaders=[a-z%3B]{0,20}&X-Amz-Signature=[0-9a-f]{0,66}",
        ],
        use_header in any::<bool>(),
        sha in prop_oneof![Just(None), Just(Some("UNSIGNED-PAYLOAD".to_owned())), prop::option::of("[0-9a-fA-F]{62,66}")],
    ) {
        let mut value = alg;
        value.push(' ');
        for (k, v, sep) in &parts {
            value.push_str(k);
            value.push('=');
            value.push_str(v);
            value.push_str(sep);
        }
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        if let Ok(v) = HeaderValue::from_str(&date) {
            headers.insert("x-amz-date", v);
        }
        if let Some(sha) = sha {
            headers.insert("x-amz-content-sha256", HeaderValue::from_str(&sha).unwrap());
        }
        if use_header && let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
        let req = RequestParts { method: "GET", raw_path: "/a/../b", raw_query: &query, headers: &headers };
        match parse(&req) {
            Ok(auth) => {
                for canonicalization in [Canonicalization::S3, Canonicalization::Standard] {
                    let opts = VerifyOptions {
                        now: Utc::now(),
                        region: "us-east-1",
                        services: &["s3", "sts"],
                        canonicalization,
                        max_skew_secs: i64::MAX,
                        payload: Payload::Deferred,
                    };
                    if let Err(e) = verify(&req, &auth, "secret", &opts) {
                        typed(&e)?;
                    }
                }
            }
            Err(e) => typed(&e)?,
        }
    }
}
