//! Server-side verification of AWS Signature Version 4 (`AWS4-HMAC-SHA256`).
//!
//! Verification happens in two phases so the server can look the secret up in between:
//!
//! 1. [`parse`] finds the authentication data — the `Authorization` header or the presigned-URL
//!    query parameters — and checks its syntax. No secret is needed; the result, [`ParsedAuth`],
//!    names the access key id, scope, signed headers, date, session token, and so on.
//! 2. [`verify`] (or [`verify_with_key`] with a cached [`signing_key`]) checks the credential
//!    scope against the endpoint, the clock, which headers are signed, the payload hash, and
//!    finally recomputes the signature and compares it in constant time.
//!
//! ```
//! # use tessera_sigv4::*;
//! # fn demo(req: &RequestParts<'_>, body: &[u8], secret: &str) -> Result<(), SigV4Error> {
//! let auth = parse(req)?;
//! // ... look up the secret for auth.access_key_id, unseal auth.security_token ...
//! verify(req, &auth, secret, &VerifyOptions {
//!     now: chrono::Utc::now(),
//!     region: "us-east-1",
//!     services: &["sts"],
//!     canonicalization: Canonicalization::Standard,
//!     max_skew_secs: DEFAULT_MAX_SKEW_SECS,
//!     payload: Payload::Body(body),
//! })
//! # }
//! ```
//!
//! # Rules enforced
//!
//! * One mechanism per request: an `Authorization` header *or* presigned query parameters
//!   ([`SigV4Error::MultipleAuthMechanisms`]).
//! * `host` must be signed. Every `x-amz-*` header present must be signed — in both forms, since
//!   unsigned `x-amz-*` headers on presigned URLs have turned uploads into cross-bucket reads
//!   elsewhere (RustFS GHSA-xm99-m3gq-83g8, Ceph CVE-2026-54330). The one exception:
//!   `x-amz-user-agent` and `x-amz-checksum-mode` may be unsigned on presigned requests, because
//!   the `aws-sigv4` presigner never signs them. Header auth also requires `content-md5` to be
//!   signed when present, and, for [`Canonicalization::Standard`], `content-type` (botocore, JS v3,
//!   the Rust and Go SDKs all sign it for STS/IAM/JSON protocols). `content-type` is *not* required
//!   for S3: minio-go and tools built on it deliberately leave `Content-Type` out of the signature,
//!   and presigned URLs are used by clients (browsers, curl) that add it after signing. When the
//!   signing date comes from the `Date` header (no `X-Amz-Date`), `date` must be signed.
//! * `X-Amz-Security-Token` is an `x-amz-*` header, so it must be signed when sent as a header; as
//!   a query parameter it is covered by the canonical query. Sending it both ways is rejected.
//! * Credential scope: `YYYYMMDD` equal to the request date, region equal to the endpoint's,
//!   service among the endpoint's signing names, terminator `aws4_request`.
//! * Clock: header auth within ±[`VerifyOptions::max_skew_secs`]; presigned URLs valid while
//!   `now ≤ X-Amz-Date + X-Amz-Expires` with `X-Amz-Expires` in `0..=604800` (`0`: already expired) and `X-Amz-Date` not
//!   more than the skew in the future.
//! * Payload (see [`Payload`]): S3 signs the `x-amz-content-sha256` value (required for header
//!   auth; `UNSIGNED-PAYLOAD` for presigned unless given); a hex value must match the body.
//!   Other services sign the body's SHA-256; `UNSIGNED-PAYLOAD` is refused for them.
//!
//! # Canonicalisation choices
//!
//! * Path: S3 uses the raw path exactly as received; Standard removes `.`/`..` and empty
//!   segments and URI-encodes the result again (`%` → `%25`), as the AWS SDKs do.
//! * Query: split on `&`, each name and value decoded (`+` is a space, `%XX` a byte — the
//!   `application/x-www-form-urlencoded` reading used by the `aws-sigv4` signer, the Go SDK and
//!   MinIO), re-encoded per RFC 3986 (upper-case hex) and sorted by encoded name, then value. The
//!   server must read its query parameters with the same rules (see [`decode_query`]) so that what
//!   it acts on is what was signed.
//! * Header values: leading/trailing spaces and tabs removed and each inner run of them collapsed
//!   to one space (botocore, JS v3 and Java do this; `aws-sigv4` collapses spaces only, so a value
//!   with tabs signed by it will not verify), repeated headers joined with `,` in received order.
//!
//! The caller must make sure the `host` header is present (for HTTP/2, copy `:authority` into
//! it) and pass the path and query exactly as received on the wire.

#![warn(missing_docs)]

mod canonical;
mod error;
mod parse;
pub mod sign;

use std::fmt;

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use canonical::decode_query;
pub use error::SigV4Error;

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The credential-scope terminator.
pub const TERMINATOR: &str = "aws4_request";
/// Largest `X-Amz-Expires` accepted: 7 days.
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;
/// Default clock skew allowed: 15 minutes.
pub const DEFAULT_MAX_SKEW_SECS: i64 = 900;
/// The `x-amz-content-sha256` value for an unsigned payload.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Signed streaming (aws-chunked) payload.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// Signed streaming payload with signed trailers.
pub const STREAMING_PAYLOAD_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// Unsigned streaming payload with trailers.
pub const STREAMING_UNSIGNED_PAYLOAD_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// The parts of an HTTP request that SigV4 covers, as received.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// HTTP method, e.g. `GET`.
    pub method: &'a str,
    /// Path exactly as received on the wire, still percent-encoded, without the query.
    pub raw_path: &'a str,
    /// Query string as received, without the `?`; may be empty.
    pub raw_query: &'a str,
    /// Request headers; must include `host`.
    pub headers: &'a http::HeaderMap,
}

impl<'a> RequestParts<'a> {
    /// Borrow the parts of an [`http::Request`] (its URI path and query are the wire form).
    pub fn from_request<B>(req: &'a http::Request<B>) -> Self {
        Self {
            method: req.method().as_str(),
            raw_path: req.uri().path(),
            raw_query: req.uri().query().unwrap_or(""),
            headers: req.headers(),
        }
    }

    /// Borrow [`http::request::Parts`] (as split off by a web framework).
    pub fn from_http_parts(parts: &'a http::request::Parts) -> Self {
        Self {
            method: parts.method.as_str(),
            raw_path: parts.uri.path(),
            raw_query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
        }
    }
}

/// How the canonical URI is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canonicalization {
    /// S3 and s3control: the path is used as received — no normalisation, no re-encoding ("encode
    /// once"); the payload hash is the `x-amz-content-sha256` value.
    S3,
    /// Every other service (sts, iam, sso, sso-oauth, identitystore, …): the path is normalised
    /// (dot segments and `//` removed) and each segment encoded again ("double encoding"); the
    /// payload hash is the body's SHA-256.
    Standard,
}

/// Where the authentication data was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    Header,
    /// Presigned URL: `X-Amz-Algorithm`, `X-Amz-Credential`, … query parameters.
    Presigned,
}

/// What the `x-amz-content-sha256` value announces about the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    /// The body's SHA-256 (the header's 64 hex digits, decoded).
    Sha256([u8; 32]),
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked body with chunk signatures.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: chunk signatures and a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned aws-chunked body with a trailer.
    StreamingUnsignedTrailer,
}

impl PayloadKind {
    /// Classify an `x-amz-content-sha256` value; `None` if it is none of the accepted forms.
    pub fn from_header_value(value: &str) -> Option<Self> {
        match value {
            UNSIGNED_PAYLOAD => Some(Self::Unsigned),
            STREAMING_PAYLOAD => Some(Self::StreamingSigned),
            STREAMING_PAYLOAD_TRAILER => Some(Self::StreamingSignedTrailer),
            STREAMING_UNSIGNED_PAYLOAD_TRAILER => Some(Self::StreamingUnsignedTrailer),
            v if v.len() == 64 => {
                let mut h = [0u8; 32];
                hex::decode_to_slice(v, &mut h).ok()?;
                Some(Self::Sha256(h))
            }
            _ => None,
        }
    }
}

/// The authentication data of a request, syntactically checked by [`parse`].
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    /// Header or presigned.
    pub kind: AuthKind,
    /// Access key id from the credential scope.
    pub access_key_id: String,
    /// Signing time: `X-Amz-Date` (header or query), or the `Date` header for header auth.
    pub date: DateTime<Utc>,
    /// `YYYYMMDD` from the credential scope.
    pub scope_date: String,
    /// Region from the credential scope.
    pub region: String,
    /// Service (signing name) from the credential scope.
    pub service: String,
    /// Signed header names, lower-cased, in the order given.
    pub signed_headers: Vec<String>,
    /// The signature sent.
    pub signature: [u8; 32],
    /// `X-Amz-Security-Token` (header or query). Secret: redacted by `Debug`.
    pub security_token: Option<String>,
    /// `X-Amz-Expires` of a presigned request.
    pub expires: Option<u64>,
    /// `x-amz-content-sha256` as sent (validated to be one of the [`PayloadKind`] forms). For a
    /// presigned request: the `X-Amz-Content-Sha256` query parameter or header if given, else
    /// `UNSIGNED-PAYLOAD` (which is what S3 signs; for other services [`verify`] signs the body
    /// hash of a presigned request that did not give the value explicitly).
    pub content_sha256: Option<String>,
}

impl ParsedAuth {
    /// `YYYYMMDD/region/service/aws4_request`.
    pub fn credential_scope(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.scope_date, self.region, self.service
        )
    }

    /// The signing time as ISO-8601 basic (`YYYYMMDDTHHMMSSZ`), as in the string to sign.
    pub fn amz_date(&self) -> String {
        format_amz_date(&self.date)
    }

    /// What [`ParsedAuth::content_sha256`] announces, if present.
    pub fn payload_kind(&self) -> Option<PayloadKind> {
        self.content_sha256
            .as_deref()
            .and_then(PayloadKind::from_header_value)
    }

    /// Signature as lower-case hex.
    pub fn signature_hex(&self) -> String {
        hex::encode(self.signature)
    }
}

impl fmt::Debug for ParsedAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedAuth")
            .field("kind", &self.kind)
            .field("access_key_id", &self.access_key_id)
            .field("date", &self.date)
            .field("scope_date", &self.scope_date)
            .field("region", &self.region)
            .field("service", &self.service)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &self.signature_hex())
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires", &self.expires)
            .field("content_sha256", &self.content_sha256)
            .finish()
    }
}

/// The request body, for the payload-hash checks.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    /// The full buffered body.
    Body(&'a [u8]),
    /// The body's SHA-256, already computed by the server.
    PrecomputedSha256([u8; 32]),
    /// The body has not been read yet (streamed S3 uploads). Accepted only when the signed
    /// payload hash does not depend on the body (S3, or an explicit `x-amz-content-sha256`).
    /// **The caller must then check the body** against [`ParsedAuth::payload_kind`] — hash it
    /// and compare with `PayloadKind::Sha256`, or verify the aws-chunked signatures — before
    /// acting on it.
    Deferred,
}

impl fmt::Debug for Payload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Payload::Body(b) => write!(f, "Body({} bytes)", b.len()),
            Payload::PrecomputedSha256(h) => write!(f, "PrecomputedSha256({})", hex::encode(h)),
            Payload::Deferred => f.write_str("Deferred"),
        }
    }
}

/// What the endpoint expects, and the inputs [`verify`] needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    /// The server's current time.
    pub now: DateTime<Utc>,
    /// Expected region.
    pub region: &'a str,
    /// Acceptable signing names for this endpoint, e.g. `["sts"]`, `["s3"]`.
    pub services: &'a [&'a str],
    /// Path and payload rules.
    pub canonicalization: Canonicalization,
    /// Allowed clock skew in seconds ([`DEFAULT_MAX_SKEW_SECS`]).
    pub max_skew_secs: i64,
    /// The body (or its hash).
    pub payload: Payload<'a>,
}

/// Phase 1: find and syntactically check the authentication data; no secret needed.
///
/// Checks the algorithm, the `Credential` form and terminator, that the scope date equals the
/// request date, the `SignedHeaders` and `Signature` syntax, `X-Amz-Expires` and the
/// `x-amz-content-sha256` form. Header-signing rules, the endpoint's scope, the clock and the
/// signature are checked by [`verify`].
pub fn parse(req: &RequestParts<'_>) -> Result<ParsedAuth, SigV4Error> {
    parse::parse(req)
}

/// Phase 2: verify the request with the secret access key.
pub fn verify(
    req: &RequestParts<'_>,
    auth: &ParsedAuth,
    secret_access_key: &str,
    opts: &VerifyOptions<'_>,
) -> Result<(), SigV4Error> {
    let plan = precheck(req, auth, opts)?;
    let key = signing_key(
        secret_access_key,
        &auth.scope_date,
        &auth.region,
        &auth.service,
    );
    finish(req, auth, &key, opts, plan)
}

/// Phase 2 with a signing key already derived (and perhaps cached) by [`signing_key`] for
/// `(secret, auth.scope_date, auth.region, auth.service)`.
pub fn verify_with_key(
    req: &RequestParts<'_>,
    auth: &ParsedAuth,
    key: &[u8; 32],
    opts: &VerifyOptions<'_>,
) -> Result<(), SigV4Error> {
    let plan = precheck(req, auth, opts)?;
    finish(req, auth, key, opts, plan)
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Derive the SigV4 signing key for `(secret, YYYYMMDD, region, service)`. Cache it per that
/// tuple to save four HMACs per request; it is as sensitive as the secret for that day.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&k_secret, date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, TERMINATOR.as_bytes())
}

/// `HMAC-SHA256(signing key, string to sign)`.
pub fn compute_signature(key: &[u8; 32], string_to_sign: &str) -> [u8; 32] {
    hmac(key, string_to_sign.as_bytes())
}

/// The canonical request for `req` given its parsed auth, canonicalisation and the payload hash
/// line (public for tests and debugging; non-UTF-8 header bytes are shown lossily).
pub fn canonical_request(
    req: &RequestParts<'_>,
    auth: &ParsedAuth,
    canonicalization: Canonicalization,
    payload_hash: &str,
) -> String {
    let mut buf = Vec::with_capacity(512);
    canonical::canonical_request_into(&mut buf, req, auth, canonicalization, payload_hash);
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The string to sign for a canonical request.
pub fn string_to_sign(auth: &ParsedAuth, canonical_request: &str) -> String {
    let mut buf = Vec::with_capacity(160);
    let hash: [u8; 32] = Sha256::digest(canonical_request.as_bytes()).into();
    string_to_sign_into(&mut buf, auth, &hash);
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn string_to_sign_into(out: &mut Vec<u8>, auth: &ParsedAuth, creq_hash: &[u8; 32]) {
    out.extend_from_slice(ALGORITHM.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(format_amz_date(&auth.date).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(auth.scope_date.as_bytes());
    out.push(b'/');
    out.extend_from_slice(auth.region.as_bytes());
    out.push(b'/');
    out.extend_from_slice(auth.service.as_bytes());
    out.push(b'/');
    out.extend_from_slice(TERMINATOR.as_bytes());
    out.push(b'\n');
    let mut hex_buf = [0u8; 64];
    hex::encode_to_slice(creq_hash, &mut hex_buf).expect("64 bytes hold 32 bytes of hex");
    out.extend_from_slice(&hex_buf);
}

/// `YYYYMMDDTHHMMSSZ`.
pub(crate) fn format_amz_date(d: &DateTime<Utc>) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    )
}

/// What the signature check needs from the payload, worked out before it.
struct PayloadPlan {
    /// Last line of the canonical request.
    hash_line: String,
    /// `(claimed, actual)` body hashes to compare once the signature is known to be good.
    body_check: Option<([u8; 32], [u8; 32])>,
}

fn body_sha256(payload: &Payload<'_>) -> Option<[u8; 32]> {
    match payload {
        Payload::Body(b) => Some(Sha256::digest(b).into()),
        Payload::PrecomputedSha256(h) => Some(*h),
        Payload::Deferred => None,
    }
}

/// Everything but the signature: scope, clock, signed headers, payload.
fn precheck(
    req: &RequestParts<'_>,
    auth: &ParsedAuth,
    opts: &VerifyOptions<'_>,
) -> Result<PayloadPlan, SigV4Error> {
    check_scope(auth, opts)?;
    check_time(auth, opts)?;
    check_signed_headers(req, auth, opts.canonicalization)?;
    payload_plan(req, auth, opts)
}

fn check_scope(auth: &ParsedAuth, opts: &VerifyOptions<'_>) -> Result<(), SigV4Error> {
    parse::check_scope_date(auth)?;
    if auth.region != opts.region {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            error::clip(&auth.region)
        )));
    }
    if !opts.services.contains(&auth.service.as_str()) {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Credential should be scoped to correct service: '{}'. ",
            opts.services.first().copied().unwrap_or("")
        )));
    }
    Ok(())
}

fn check_time(auth: &ParsedAuth, opts: &VerifyOptions<'_>) -> Result<(), SigV4Error> {
    let skew = TimeDelta::try_seconds(opts.max_skew_secs.max(0)).unwrap_or(TimeDelta::MAX);
    match auth.kind {
        AuthKind::Header => {
            if (opts.now - auth.date).abs() > skew {
                return Err(SigV4Error::RequestTimeTooSkewed {
                    request: format_amz_date(&auth.date),
                    server: format_amz_date(&opts.now),
                });
            }
        }
        AuthKind::Presigned => {
            let expires = match auth.expires {
                Some(e) if e <= MAX_PRESIGNED_EXPIRES_SECS => e,
                _ => {
                    return Err(SigV4Error::InvalidExpires(format!(
                        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than {MAX_PRESIGNED_EXPIRES_SECS} seconds"
                    )));
                }
            };
            // A URL valid for no time has expired when it is used (S3: 403 AccessDenied).
            if expires == 0 {
                return Err(SigV4Error::PresignedExpired);
            }
            if auth.date - opts.now > skew {
                return Err(SigV4Error::PresignedNotYetValid);
            }
            // `expires` ≤ 604800, so the conversion cannot fail.
            let lifetime = TimeDelta::try_seconds(i64::try_from(expires).unwrap_or(i64::MAX))
                .unwrap_or(TimeDelta::MAX);
            match auth.date.checked_add_signed(lifetime) {
                Some(end) if opts.now <= end => {}
                _ => return Err(SigV4Error::PresignedExpired),
            }
        }
    }
    Ok(())
}

/// Headers that `aws-sigv4` never signs on presigned URLs although the SDK may send them.
const PRESIGNED_UNSIGNED_OK: [&str; 2] = ["x-amz-user-agent", "x-amz-checksum-mode"];

fn check_signed_headers(
    req: &RequestParts<'_>,
    auth: &ParsedAuth,
    canon: Canonicalization,
) -> Result<(), SigV4Error> {
    let signed = |name: &str| auth.signed_headers.iter().any(|s| s == name);
    if !signed("host") {
        return Err(SigV4Error::UnsignedHeader("host".into()));
    }
    let header_auth = auth.kind == AuthKind::Header;
    for name in req.headers.keys() {
        let name = name.as_str();
        let must_sign = if name.starts_with("x-amz-") {
            header_auth || !PRESIGNED_UNSIGNED_OK.contains(&name)
        } else if name == "content-md5" {
            header_auth
        } else if name == "content-type" {
            header_auth && canon == Canonicalization::Standard
        } else {
            false
        };
        if must_sign && !signed(name) {
            return Err(SigV4Error::UnsignedHeader(name.to_owned()));
        }
    }
    if header_auth && !req.headers.contains_key("x-amz-date") && !signed("date") {
        return Err(SigV4Error::UnsignedHeader("date".into()));
    }
    for name in &auth.signed_headers {
        if !req.headers.contains_key(name.as_str()) {
            return Err(SigV4Error::SignedHeaderMissing(name.clone()));
        }
    }
    Ok(())
}

/// The explicitly given `x-amz-content-sha256` of a request: for presigned requests the
/// `X-Amz-Content-Sha256` query parameter or the header; `None` when only implied.
fn explicit_content_sha256<'p>(req: &RequestParts<'_>, auth: &'p ParsedAuth) -> Option<&'p str> {
    match auth.kind {
        AuthKind::Header => auth.content_sha256.as_deref(),
        AuthKind::Presigned => {
            let in_query = canonical::raw_query_pairs(req.raw_query)
                .any(|(k, _)| &*canonical::decode_query_component(k) == b"X-Amz-Content-Sha256");
            if in_query || req.headers.contains_key("x-amz-content-sha256") {
                auth.content_sha256.as_deref()
            } else {
                None
            }
        }
    }
}

fn payload_plan(
    req: &RequestParts<'_>,
    auth: &ParsedAuth,
    opts: &VerifyOptions<'_>,
) -> Result<PayloadPlan, SigV4Error> {
    let explicit = match opts.canonicalization {
        Canonicalization::S3 => match (auth.kind, auth.content_sha256.as_deref()) {
            (_, Some(v)) => Some(v),
            (AuthKind::Header, None) => return Err(SigV4Error::InvalidContentSha256),
            (AuthKind::Presigned, None) => Some(UNSIGNED_PAYLOAD),
        },
        Canonicalization::Standard => explicit_content_sha256(req, auth),
    };
    let Some(value) = explicit else {
        // Standard service, nothing explicit: sign the body's hash.
        let actual = body_sha256(&opts.payload).ok_or(SigV4Error::InvalidContentSha256)?;
        return Ok(PayloadPlan {
            hash_line: hex::encode(actual),
            body_check: None,
        });
    };
    let kind = PayloadKind::from_header_value(value).ok_or(SigV4Error::InvalidContentSha256)?;
    let body_check = match (kind, opts.canonicalization) {
        (PayloadKind::Sha256(claimed), _) => body_sha256(&opts.payload).map(|a| (claimed, a)),
        (_, Canonicalization::S3) => None,
        (PayloadKind::Unsigned | PayloadKind::StreamingUnsignedTrailer, _) => {
            return Err(SigV4Error::UnsignedPayloadNotAllowed);
        }
        (PayloadKind::StreamingSigned | PayloadKind::StreamingSignedTrailer, _) => {
            return Err(SigV4Error::InvalidContentSha256);
        }
    };
    Ok(PayloadPlan {
        hash_line: value.to_owned(),
        body_check,
    })
}

fn finish(
    req: &RequestParts<'_>,
    auth: &ParsedAuth,
    key: &[u8; 32],
    opts: &VerifyOptions<'_>,
    plan: PayloadPlan,
) -> Result<(), SigV4Error> {
    let mut buf = Vec::with_capacity(512);
    canonical::canonical_request_into(&mut buf, req, auth, opts.canonicalization, &plan.hash_line);
    let creq_hash: [u8; 32] = Sha256::digest(&buf).into();
    buf.clear();
    string_to_sign_into(&mut buf, auth, &creq_hash);
    let expected = hmac(key, &buf);
    if !bool::from(expected.ct_eq(&auth.signature)) {
        return Err(SigV4Error::SignatureDoesNotMatch);
    }
    if let Some((claimed, actual)) = plan.body_check
        && !bool::from(claimed.ct_eq(&actual))
    {
        return Err(SigV4Error::ContentSha256Mismatch);
    }
    Ok(())
}

/// The signature of one `aws-chunked` chunk (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`): each chunk
/// signs its data's SHA-256 and the previous signature (the request's seed signature for the
/// first chunk), so chunks can be neither changed, dropped nor reordered.
pub fn chunk_signature(
    key: &[u8; 32],
    auth: &ParsedAuth,
    previous_signature_hex: &str,
    chunk_sha256: &[u8; 32],
) -> [u8; 32] {
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let s = format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{}\n{}",
        format_amz_date(&auth.date),
        auth.credential_scope(),
        previous_signature_hex,
        EMPTY_SHA256,
        hex::encode(chunk_sha256)
    );
    hmac(key, s.as_bytes())
}

/// The signature of an `aws-chunked` body's trailing headers
/// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`): over the previous (final chunk's) signature
/// and the SHA-256 of the trailer lines, each `name:value\n`.
pub fn trailer_signature(
    key: &[u8; 32],
    auth: &ParsedAuth,
    previous_signature_hex: &str,
    trailer_lines_sha256: &[u8; 32],
) -> [u8; 32] {
    let s = format!(
        "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
        format_amz_date(&auth.date),
        auth.credential_scope(),
        previous_signature_hex,
        hex::encode(trailer_lines_sha256)
    );
    hmac(key, s.as_bytes())
}

/// Constant-time comparison of two signatures.
pub fn signatures_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.ct_eq(b))
}
