//! The aws-c-auth SigV4 test suite (copied into `tests/vectors/`), run through the verifier.
//!
//! Each folder holds `context.json` (credentials, region, service, time, `normalize`, `sign_body`,
//! optionally `omit_session_token`), the unsigned `request.txt`, and for the header and the query
//! (presigned) form the expected canonical request, string to sign, signature and signed request.
//!
//! `normalize: true` folders are the rules of every non-S3 service and are verified end to end
//! with [`Canonicalization::Standard`]. `normalize: false` folders use S3's path rules (no
//! normalisation) but sign the body hash without an `x-amz-content-sha256` header, which S3
//! header auth requires; for them the canonical request is built with [`Canonicalization::S3`]
//! and the signature is checked through the public building blocks.
//!
//! Paths: the suite's request lines carry the *unencoded* path (`/example space/`, raw UTF-8),
//! and its signers URI-encode it once. That is what a Standard verifier does to the wire path,
//! so Standard cases use the path literally. An S3 verifier uses the wire path as received, so
//! for S3 cases the loader first encodes the path the way a client puts it on the wire.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use tessera_sigv4::{
    AuthKind, Canonicalization, DEFAULT_MAX_SKEW_SECS, Payload, RequestParts, SigV4Error,
    VerifyOptions, canonical_request, compute_signature, parse, signing_key, string_to_sign,
    verify, verify_with_key,
};

/// This crate's directory, from the environment cargo runs the tests in (so a test binary
/// built from another checkout sharing the target directory still reads this one's files).
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

fn vectors_dir() -> PathBuf {
    manifest_dir().join("tests/vectors")
}

/// The fields of `context.json` (a flat enough document for a few string searches).
#[derive(Debug)]
struct Context {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration_in_seconds: u64,
    normalize: bool,
    region: String,
    service: String,
    timestamp: DateTime<Utc>,
    omit_session_token: bool,
}

fn json_raw<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\""))?;
    let rest = json[at + key.len() + 2..].trim_start().strip_prefix(':')?;
    let rest = rest.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        let end = s.find('"')?;
        Some(&s[..end])
    } else {
        let end = rest.find([',', '}', '\n']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

fn load_context(dir: &Path) -> Context {
    let json = std::fs::read_to_string(dir.join("context.json")).unwrap();
    let s = |k: &str| json_raw(&json, k).unwrap_or_else(|| panic!("{k} in {dir:?}"));
    Context {
        access_key_id: s("access_key_id").to_owned(),
        secret_access_key: s("secret_access_key").to_owned(),
        token: json_raw(&json, "token").map(str::to_owned),
        expiration_in_seconds: s("expiration_in_seconds").parse().unwrap(),
        normalize: s("normalize") == "true",
        region: s("region").to_owned(),
        service: s("service").to_owned(),
        timestamp: s("timestamp").parse().unwrap(),
        omit_session_token: json_raw(&json, "omit_session_token") == Some("true"),
    }
}

/// A request parsed from the suite's raw HTTP text.
struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn parse_raw_request(text: &str) -> RawRequest {
    let (head, body) = match text.find("\n\n") {
        Some(i) => (&text[..i], text.as_bytes()[i + 2..].to_vec()),
        None => (text.trim_end_matches('\n'), Vec::new()),
    };
    let mut lines = head.split('\n');
    let request_line = lines.next().unwrap();
    // The target may contain spaces (`/example space/`): method is up to the first space,
    // the version after the last one.
    let (method, rest) = request_line.split_once(' ').unwrap();
    let (target, _version) = rest.rsplit_once(' ').unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));

    // Unfold obs-fold continuation lines (RFC 7230 §3.2.4: replace with SP).
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut().expect("continuation without a field");
            last.1.push(' ');
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in fields {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.trim_matches([' ', '\t'])).unwrap(),
        );
    }
    RawRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body,
    }
}

/// Percent-encode what a client would not put raw on the wire (space, non-ASCII, controls…).
fn wire_encode_path(path: &str) -> String {
    let mut out = String::new();
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{dir:?}/{name}: {e}"))
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

struct Case {
    name: String,
    dir: PathBuf,
    ctx: Context,
}

impl Case {
    fn canonicalization(&self) -> Canonicalization {
        if self.ctx.normalize {
            Canonicalization::Standard
        } else {
            Canonicalization::S3
        }
    }

    fn raw_path(&self, req: &RawRequest) -> String {
        if self.ctx.normalize {
            req.path.clone()
        } else {
            wire_encode_path(&req.path)
        }
    }

    fn opts<'a>(&'a self, services: &'a [&'a str], body: &'a [u8]) -> VerifyOptions<'a> {
        VerifyOptions {
            now: self.ctx.timestamp,
            region: &self.ctx.region,
            services,
            canonicalization: Canonicalization::Standard,
            max_skew_secs: DEFAULT_MAX_SKEW_SECS,
            payload: Payload::Body(body),
        }
    }
}

fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|dir| Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            ctx: load_context(&dir),
            dir,
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Flip one hex digit of the signature in a signed request's text.
fn tamper_signature(text: &str, signature: &str) -> String {
    let first = signature.as_bytes()[0];
    let replacement = if first == b'0' { "1" } else { "0" };
    let tampered = format!("{replacement}{}", &signature[1..]);
    assert!(text.contains(signature));
    text.replacen(signature, &tampered, 1)
}

/// The payload-hash line a verifier signs for this request.
fn payload_line(req: &RawRequest, kind: AuthKind) -> String {
    match req.headers.get("x-amz-content-sha256") {
        Some(v) if kind == AuthKind::Header => v.to_str().unwrap().to_owned(),
        _ => sha256_hex(&req.body),
    }
}

fn run_form(case: &Case, form: &str, failures: &mut Vec<String>) {
    let mut fail = |msg: String| failures.push(format!("{} [{form}]: {msg}", case.name));
    let dir = &case.dir;
    let signed_text = read(dir, &format!("{form}-signed-request.txt"));
    let expected_creq = read(dir, &format!("{form}-canonical-request.txt"));
    let expected_sts = read(dir, &format!("{form}-string-to-sign.txt"));
    let expected_sig = read(dir, &format!("{form}-signature.txt"))
        .trim()
        .to_owned();
    let kind = if form == "header" {
        AuthKind::Header
    } else {
        AuthKind::Presigned
    };

    let raw = parse_raw_request(&signed_text);
    let raw_path = case.raw_path(&raw);
    let parts = RequestParts {
        method: &raw.method,
        raw_path: &raw_path,
        raw_query: &raw.query,
        headers: &raw.headers,
    };
    let auth = match parse(&parts) {
        Ok(a) => a,
        Err(e) => return fail(format!("parse failed: {e:?}")),
    };
    if auth.kind != kind
        || auth.access_key_id != case.ctx.access_key_id
        || auth.region != case.ctx.region
        || auth.service != case.ctx.service
        || auth.date != case.ctx.timestamp
        || auth.signature_hex() != expected_sig
    {
        return fail(format!("parsed fields wrong: {auth:?}"));
    }
    if kind == AuthKind::Presigned && auth.expires != Some(case.ctx.expiration_in_seconds) {
        fail(format!("expires {:?}", auth.expires));
    }
    if auth.security_token != case.ctx.token {
        fail("security token not found".into());
    }

    let services = [case.ctx.service.as_str()];
    let mut opts = case.opts(&services, &raw.body);
    let omitted_token = case.ctx.omit_session_token && case.ctx.token.is_some();
    if omitted_token {
        // The token was added after signing: a verifier must refuse it.
        let expected = if kind == AuthKind::Header {
            SigV4Error::UnsignedHeader("x-amz-security-token".into())
        } else {
            SigV4Error::SignatureDoesNotMatch
        };
        let got = verify(&parts, &auth, &case.ctx.secret_access_key, &opts);
        if got != Err(expected.clone()) {
            fail(format!(
                "unsigned token: expected {expected:?}, got {got:?}"
            ));
        }
        if kind == AuthKind::Presigned {
            return; // our canonical query includes the token, the suite's does not
        }
    }

    let creq = canonical_request(
        &parts,
        &auth,
        case.canonicalization(),
        &payload_line(&raw, kind),
    );
    if creq != expected_creq {
        fail(format!(
            "canonical request differs:\n--- ours\n{creq}\n--- expected\n{expected_creq}"
        ));
    }
    let sts = string_to_sign(&auth, &creq);
    if sts != expected_sts {
        fail(format!(
            "string to sign differs:\n{sts}\n---\n{expected_sts}"
        ));
    }
    let key = signing_key(
        &case.ctx.secret_access_key,
        &auth.scope_date,
        &auth.region,
        &auth.service,
    );
    if hex::encode(compute_signature(&key, &sts)) != expected_sig {
        fail("computed signature differs".into());
    }
    if omitted_token {
        return;
    }

    if case.ctx.normalize {
        if let Err(e) = verify(&parts, &auth, &case.ctx.secret_access_key, &opts) {
            fail(format!("verify: {e:?}"));
        }
        if let Err(e) = verify_with_key(&parts, &auth, &key, &opts) {
            fail(format!("verify_with_key: {e:?}"));
        }
        // Wrong secret.
        let got = verify(&parts, &auth, "not-the-secret", &opts);
        if got != Err(SigV4Error::SignatureDoesNotMatch) {
            fail(format!("wrong secret accepted: {got:?}"));
        }
        // Clock.
        if kind == AuthKind::Presigned {
            let lifetime = TimeDelta::seconds(case.ctx.expiration_in_seconds as i64);
            opts.now = case.ctx.timestamp + lifetime;
            if let Err(e) = verify(&parts, &auth, &case.ctx.secret_access_key, &opts) {
                fail(format!("verify at expiry: {e:?}"));
            }
            opts.now += TimeDelta::seconds(1);
            let got = verify(&parts, &auth, &case.ctx.secret_access_key, &opts);
            if got != Err(SigV4Error::PresignedExpired) {
                fail(format!("expired URL: {got:?}"));
            }
        } else {
            opts.now = case.ctx.timestamp + TimeDelta::seconds(DEFAULT_MAX_SKEW_SECS + 1);
            let got = verify(&parts, &auth, &case.ctx.secret_access_key, &opts);
            if !matches!(got, Err(SigV4Error::RequestTimeTooSkewed { .. })) {
                fail(format!("skewed request: {got:?}"));
            }
        }
        opts.now = case.ctx.timestamp;
    } else if raw.path.contains("//") || raw.path.split('/').any(|s| s == "." || s == "..") {
        // S3 keeps the path; a Standard verifier would normalise it and so reject the signature.
        let got = verify(&parts, &auth, &case.ctx.secret_access_key, &opts);
        if got != Err(SigV4Error::SignatureDoesNotMatch) {
            fail(format!("unnormalized path verified as Standard: {got:?}"));
        }
    }

    if !case.ctx.normalize {
        // S3-style cases are verified end to end under S3 rules in
        // `s3_style_vectors_verify_under_s3_rules` (they need `x-amz-content-sha256` signed).
        return;
    }
    // Tamper with one hex digit of the signature.
    let tampered = parse_raw_request(&tamper_signature(&signed_text, &expected_sig));
    let tparts = RequestParts {
        method: &tampered.method,
        raw_path: &raw_path,
        raw_query: &tampered.query,
        headers: &tampered.headers,
    };
    let tauth = parse(&tparts).unwrap();
    let got = verify(&tparts, &tauth, &case.ctx.secret_access_key, &opts);
    if got != Err(SigV4Error::SignatureDoesNotMatch) {
        fail(format!("tampered signature: {got:?}"));
    }
    // Tamper with something that is signed: the Host header (signed in every case), and the
    // path.
    let mut other_host = raw.headers.clone();
    other_host.insert("host", HeaderValue::from_static("example.amazonaws.org"));
    let hparts = RequestParts {
        headers: &other_host,
        ..parts
    };
    let got = verify(&hparts, &auth, &case.ctx.secret_access_key, &opts);
    if got != Err(SigV4Error::SignatureDoesNotMatch) {
        fail(format!("changed host accepted: {got:?}"));
    }
    let other_path = format!("{raw_path}x");
    let pparts = RequestParts {
        raw_path: &other_path,
        ..parts
    };
    let got = verify(&pparts, &auth, &case.ctx.secret_access_key, &opts);
    if got != Err(SigV4Error::SignatureDoesNotMatch) {
        fail(format!("changed path accepted: {got:?}"));
    }
}

/// Sign the unsigned `request.txt` of an S3-style case as an S3 client does (path used as
/// sent, encoded once, `x-amz-content-sha256` signed; presigned URLs sign `UNSIGNED-PAYLOAD`).
fn sign_as_s3_client(case: &Case, raw: &RawRequest, presigned: bool) -> (HeaderMap, String) {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings, UriPathNormalizationMode, sign,
    };
    let host = raw.headers["host"].to_str().unwrap().to_owned();
    let path = wire_encode_path(&raw.path);
    let uri = if raw.query.is_empty() {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}{path}?{}", raw.query)
    };
    let headers: Vec<(String, String)> = raw
        .headers
        .iter()
        .filter(|(k, _)| *k != "x-amz-date" && *k != "authorization")
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let body = if presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(std::time::Duration::from_secs(
            case.ctx.expiration_in_seconds,
        ));
        SignableBody::UnsignedPayload
    } else {
        SignableBody::Bytes(&raw.body)
    };
    let identity = aws_credential_types::Credentials::new(
        &case.ctx.access_key_id,
        &case.ctx.secret_access_key,
        None,
        None,
        "suite",
    )
    .into();
    let time = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(case.ctx.timestamp.timestamp() as u64);
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&case.ctx.region)
        .name(&case.ctx.service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        &raw.method,
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
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
    let mut query = raw.query.clone();
    for (k, v) in instructions.params() {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(&wire_encode_path(v).replace('/', "%2F"));
    }
    (map, query)
}

/// The S3-style (`normalize: false`) cases, verified end to end under S3 rules: each request,
/// signed as an S3 client signs it (the suite's own signatures cover the body hash without the
/// `x-amz-content-sha256` header S3 requires), verifies with [`Canonicalization::S3`] and the
/// path exactly as the suite expects it (no normalisation, encoded once); changing anything
/// signed (path, host, payload hash, a presigned parameter) makes it fail.
#[test]
fn s3_style_vectors_verify_under_s3_rules() {
    let mut checked = 0;
    for case in cases().iter().filter(|c| !c.ctx.normalize) {
        let raw = parse_raw_request(&read(&case.dir, "request.txt"));
        let path = wire_encode_path(&raw.path);
        for presigned in [false, true] {
            let form = if presigned { "query" } else { "header" };
            let what = format!("{} [{form}]", case.name);
            let (headers, query) = sign_as_s3_client(case, &raw, presigned);
            let parts = RequestParts {
                method: &raw.method,
                raw_path: &path,
                raw_query: &query,
                headers: &headers,
            };
            let auth = parse(&parts).unwrap_or_else(|e| panic!("{what}: {e:?}"));
            let services = [case.ctx.service.as_str()];
            let opts = VerifyOptions {
                canonicalization: Canonicalization::S3,
                ..case.opts(&services, &raw.body)
            };
            verify(&parts, &auth, &case.ctx.secret_access_key, &opts)
                .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            // The path line the verifier signed is the suite's expected S3 path.
            let expected_creq = read(&case.dir, &format!("{form}-canonical-request.txt"));
            let payload = auth.content_sha256.clone().unwrap();
            let creq = canonical_request(&parts, &auth, Canonicalization::S3, &payload);
            assert_eq!(
                creq.lines().nth(1),
                expected_creq.lines().nth(1),
                "{what}: canonical path"
            );
            // Under Standard rules the same request does not verify when the path has dot
            // segments or empty segments that normalisation would change.
            let std_opts = VerifyOptions {
                canonicalization: Canonicalization::Standard,
                ..opts
            };
            if raw.path.contains("//") || raw.path.split('/').any(|s| s == "." || s == "..") {
                assert!(
                    verify(&parts, &auth, &case.ctx.secret_access_key, &std_opts).is_err(),
                    "{what}: verified under Standard rules"
                );
            }

            let refused = |parts: &RequestParts<'_>| {
                let auth = parse(parts).unwrap();
                verify(parts, &auth, &case.ctx.secret_access_key, &opts)
            };
            let other_path = format!("{path}x");
            assert_eq!(
                refused(&RequestParts {
                    raw_path: &other_path,
                    ..parts
                }),
                Err(SigV4Error::SignatureDoesNotMatch),
                "{what}: changed path"
            );
            let mut other_host = headers.clone();
            other_host.insert("host", HeaderValue::from_static("example.amazonaws.org"));
            assert_eq!(
                refused(&RequestParts {
                    headers: &other_host,
                    ..parts
                }),
                Err(SigV4Error::SignatureDoesNotMatch),
                "{what}: changed host"
            );
            if presigned {
                let longer = query.replace(
                    &format!("X-Amz-Expires={}", case.ctx.expiration_in_seconds),
                    &format!("X-Amz-Expires={}", case.ctx.expiration_in_seconds + 1),
                );
                assert_ne!(longer, query);
                assert_eq!(
                    refused(&RequestParts {
                        raw_query: &longer,
                        ..parts
                    }),
                    Err(SigV4Error::SignatureDoesNotMatch),
                    "{what}: changed expiry"
                );
            } else {
                let mut other_hash = headers.clone();
                other_hash.insert(
                    "x-amz-content-sha256",
                    HeaderValue::from_str(&sha256_hex(b"x")).unwrap(),
                );
                assert_eq!(
                    refused(&RequestParts {
                        headers: &other_hash,
                        ..parts
                    }),
                    Err(SigV4Error::SignatureDoesNotMatch),
                    "{what}: changed payload hash"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 14, "7 S3-style cases, header and presigned");
}

#[test]
fn aws_c_auth_suite() {
    let cases = cases();
    assert_eq!(
        cases.len(),
        38,
        "expected the 38 suite folders in tests/vectors"
    );
    let mut failures = Vec::new();
    for case in &cases {
        run_form(case, "header", &mut failures);
        run_form(case, "query", &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The suite marks S3-style cases with `normalize: false`.
#[test]
fn normalize_flag_selects_the_s3_rules() {
    let cases = cases();
    let by_name: BTreeMap<_, _> = cases.iter().map(|c| (c.name.as_str(), c)).collect();
    assert!(by_name["get-slash-dot-slash-normalized"].ctx.normalize);
    assert!(!by_name["get-slash-dot-slash-unnormalized"].ctx.normalize);
    assert_eq!(
        by_name["get-slash-dot-slash-unnormalized"].canonicalization(),
        Canonicalization::S3
    );
    let unnormalized = cases.iter().filter(|c| !c.ctx.normalize).count();
    assert_eq!(unnormalized, 7);
}

/// When the shared test data sits beside the repository (as in CI), the copy must match it.
#[test]
fn vector_copy_matches_shared_testdata() {
    let shared = manifest_dir().join("../../../shared/testdata/sigv4");
    if !shared.is_dir() {
        eprintln!("{shared:?} not present; skipping the comparison");
        return;
    }
    for case in cases() {
        for entry in std::fs::read_dir(&case.dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap();
            let theirs = shared.join(&case.name).join(name);
            assert_eq!(
                std::fs::read(&path).unwrap(),
                std::fs::read(&theirs).unwrap(),
                "{path:?} differs from {theirs:?}"
            );
        }
    }
}
