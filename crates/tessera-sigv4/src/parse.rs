//! Phase 1: locate and syntactically check the SigV4 authentication data.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};

use crate::canonical::{X_AMZ_SIGNATURE, decode_query_component, raw_query_pairs};
use crate::error::clip;
use crate::{
    ALGORITHM, AuthKind, MAX_PRESIGNED_EXPIRES_SECS, ParsedAuth, PayloadKind, RequestParts,
    SigV4Error, TERMINATOR,
};

const H_X_AMZ_DATE: &str = "x-amz-date";
const H_X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const H_X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

const QUERY_PARAMS_REQUIRED: &str = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";

/// The presigned-URL parameters found in a query string (decoded).
#[derive(Default)]
struct QueryAuth<'a> {
    algorithm: Option<Cow<'a, [u8]>>,
    credential: Option<Cow<'a, [u8]>>,
    date: Option<Cow<'a, [u8]>>,
    expires: Option<Cow<'a, [u8]>>,
    signed_headers: Option<Cow<'a, [u8]>>,
    signature: Option<Cow<'a, [u8]>>,
    security_token: Option<Cow<'a, [u8]>>,
    content_sha256: Option<Cow<'a, [u8]>>,
}

impl<'a> QueryAuth<'a> {
    fn scan(raw_query: &'a str) -> Result<Self, SigV4Error> {
        let mut q = QueryAuth::default();
        for (k, v) in raw_query_pairs(raw_query) {
            // Every parameter we care about starts with "X-Amz-" (no encoding needed for it).
            if !(k.starts_with("X-Amz-") || k.contains('%') || k.contains('+')) {
                continue;
            }
            let name = decode_query_component(k);
            let slot = match &*name {
                b"X-Amz-Algorithm" => &mut q.algorithm,
                b"X-Amz-Credential" => &mut q.credential,
                b"X-Amz-Date" => &mut q.date,
                b"X-Amz-Expires" => &mut q.expires,
                b"X-Amz-SignedHeaders" => &mut q.signed_headers,
                n if n == X_AMZ_SIGNATURE.as_bytes() => &mut q.signature,
                b"X-Amz-Security-Token" => &mut q.security_token,
                b"X-Amz-Content-Sha256" => &mut q.content_sha256,
                _ => continue,
            };
            if slot.is_some() {
                return Err(SigV4Error::IncompleteSignature(format!(
                    "Query parameter {} is given more than once.",
                    String::from_utf8_lossy(&name)
                )));
            }
            *slot = Some(decode_query_component(v));
        }
        Ok(q)
    }

    /// True when any parameter that only presigned authentication uses is present.
    fn has_auth_params(&self) -> bool {
        self.algorithm.is_some()
            || self.credential.is_some()
            || self.signed_headers.is_some()
            || self.signature.is_some()
    }
}

fn utf8(value: Cow<'_, [u8]>, what: &str) -> Result<String, SigV4Error> {
    String::from_utf8(value.into_owned())
        .map_err(|_| SigV4Error::IncompleteSignature(format!("{what} is not valid UTF-8.")))
}

/// Phase 1 of verification. See [`crate::parse`].
pub(crate) fn parse(req: &RequestParts<'_>) -> Result<ParsedAuth, SigV4Error> {
    let mut authz = req.headers.get_all(http::header::AUTHORIZATION).iter();
    let header = authz.next();
    if header.is_some() && authz.next().is_some() {
        return Err(SigV4Error::IncompleteSignature(
            "Only one Authorization header may be sent.".into(),
        ));
    }
    let query = QueryAuth::scan(req.raw_query)?;
    match header {
        Some(_) if query.has_auth_params() => Err(SigV4Error::MultipleAuthMechanisms),
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                SigV4Error::IncompleteSignature(
                    "Authorization header contains non-ASCII or control characters.".into(),
                )
            })?;
            parse_header_auth(req, value, query)
        }
        None if query.algorithm.is_some() => parse_presigned(req, query),
        None if query.has_auth_params() => Err(SigV4Error::IncompleteSignature(
            QUERY_PARAMS_REQUIRED.into(),
        )),
        None => Err(SigV4Error::MissingAuthentication),
    }
}

fn parse_header_auth(
    req: &RequestParts<'_>,
    value: &str,
    query: QueryAuth<'_>,
) -> Result<ParsedAuth, SigV4Error> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    if value.is_empty() {
        return Err(SigV4Error::IncompleteSignature(
            "Authorization header is empty.".into(),
        ));
    }
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::UnsupportedAlgorithm(clip(algorithm)));
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim_matches(|c| c == ' ' || c == '\t');
        if part.is_empty() {
            continue;
        }
        let Some((key, val)) = part.split_once('=') else {
            return Err(SigV4Error::IncompleteSignature(format!(
                "Authorization header component '{}' is not of the form key=value.",
                clip(part)
            )));
        };
        let slot = match key.trim_end_matches([' ', '\t']) {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(SigV4Error::IncompleteSignature(format!(
                    "Authorization header has an unknown component '{}'.",
                    clip(other)
                )));
            }
        };
        if slot.is_some() {
            return Err(SigV4Error::IncompleteSignature(format!(
                "Authorization header has more than one '{}' component.",
                clip(key)
            )));
        }
        *slot = Some(val.trim_start_matches([' ', '\t']));
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        let mut msg = String::new();
        for (name, present) in [
            ("Credential", credential.is_some()),
            ("Signature", signature.is_some()),
            ("SignedHeaders", signed_headers.is_some()),
        ] {
            if !present {
                msg.push_str(&format!(
                    "Authorization header requires '{name}' parameter. "
                ));
            }
        }
        msg.push_str(&format!("Authorization={}", clip(value)));
        return Err(SigV4Error::IncompleteSignature(msg));
    };

    let (access_key_id, scope_date, region, service) = parse_credential(credential)?;
    let signed_headers = parse_signed_headers(signed_headers)?;
    let signature = parse_signature(signature)?;

    let date = header_date(req)?;

    let header_token = single_header(req, H_X_AMZ_SECURITY_TOKEN)?;
    let security_token = match (header_token, query.security_token) {
        (Some(_), Some(_)) => {
            return Err(SigV4Error::IncompleteSignature(
                "X-Amz-Security-Token must be sent either as a header or as a query parameter, not both.".into(),
            ));
        }
        (Some(h), None) => Some(h.to_owned()),
        (None, Some(q)) => Some(utf8(q, "X-Amz-Security-Token")?),
        (None, None) => None,
    };

    let content_sha256 = header_content_sha256(req)?.map(str::to_owned);

    let auth = ParsedAuth {
        kind: AuthKind::Header,
        access_key_id,
        date,
        scope_date,
        region,
        service,
        signed_headers,
        signature,
        security_token,
        expires: None,
        content_sha256,
    };
    check_scope_date(&auth)?;
    Ok(auth)
}

fn parse_presigned(req: &RequestParts<'_>, query: QueryAuth<'_>) -> Result<ParsedAuth, SigV4Error> {
    let algorithm = query.algorithm.unwrap_or_default();
    if &*algorithm != ALGORITHM.as_bytes() {
        return Err(SigV4Error::UnsupportedAlgorithm(clip(
            &String::from_utf8_lossy(&algorithm),
        )));
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (query.credential, query.signed_headers, query.signature)
    else {
        return Err(SigV4Error::IncompleteSignature(
            QUERY_PARAMS_REQUIRED.into(),
        ));
    };
    let credential = utf8(credential, "X-Amz-Credential")?;
    let (access_key_id, scope_date, region, service) = parse_credential(&credential)?;
    let signed_headers = parse_signed_headers(&utf8(signed_headers, "X-Amz-SignedHeaders")?)?;
    let signature = parse_signature(&utf8(signature, "X-Amz-Signature")?)?;

    let Some(date) = query.date else {
        return Err(SigV4Error::MissingDate);
    };
    let date = std::str::from_utf8(&date)
        .ok()
        .and_then(parse_amz_date)
        .ok_or_else(|| {
            SigV4Error::InvalidDate(format!(
                "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '{}'",
                clip(&String::from_utf8_lossy(&date))
            ))
        })?;

    let Some(expires) = query.expires else {
        return Err(SigV4Error::InvalidExpires(format!(
            "X-Amz-Expires is required. {QUERY_PARAMS_REQUIRED}"
        )));
    };
    let expires = parse_expires(&expires)?;

    let header_token = single_header(req, H_X_AMZ_SECURITY_TOKEN)?;
    let security_token = match (query.security_token, header_token) {
        (Some(_), Some(_)) => {
            return Err(SigV4Error::IncompleteSignature(
                "X-Amz-Security-Token must be sent either as a header or as a query parameter, not both.".into(),
            ));
        }
        (Some(q), None) => Some(utf8(q, "X-Amz-Security-Token")?),
        (None, Some(h)) => Some(h.to_owned()),
        (None, None) => None,
    };

    let header_sha = header_content_sha256(req)?;
    let query_sha = match query.content_sha256 {
        Some(v) => {
            let v = std::str::from_utf8(&v).map_err(|_| SigV4Error::InvalidContentSha256)?;
            if PayloadKind::from_header_value(v).is_none() {
                return Err(SigV4Error::InvalidContentSha256);
            }
            Some(v.to_owned())
        }
        None => None,
    };
    let content_sha256 = match (query_sha, header_sha) {
        (Some(q), Some(h)) if q != h => return Err(SigV4Error::InvalidContentSha256),
        (Some(q), _) => q,
        (None, Some(h)) => h.to_owned(),
        (None, None) => crate::UNSIGNED_PAYLOAD.to_owned(),
    };

    let auth = ParsedAuth {
        kind: AuthKind::Presigned,
        access_key_id,
        date,
        scope_date,
        region,
        service,
        signed_headers,
        signature,
        security_token,
        expires: Some(expires),
        content_sha256: Some(content_sha256),
    };
    check_scope_date(&auth)?;
    Ok(auth)
}

/// The value of a header that may appear at most once, as visible ASCII.
fn single_header<'r>(req: &'r RequestParts<'_>, name: &str) -> Result<Option<&'r str>, SigV4Error> {
    let mut values = req.headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Header {name} may be sent only once."
        )));
    }
    let v = first.to_str().map_err(|_| {
        SigV4Error::IncompleteSignature(format!("Header {name} contains non-ASCII characters."))
    })?;
    Ok(Some(v.trim_matches([' ', '\t'])))
}

fn header_content_sha256<'r>(req: &'r RequestParts<'_>) -> Result<Option<&'r str>, SigV4Error> {
    let mut values = req.headers.get_all(H_X_AMZ_CONTENT_SHA256).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(SigV4Error::InvalidContentSha256);
    }
    let v = first
        .to_str()
        .map_err(|_| SigV4Error::InvalidContentSha256)?
        .trim_matches([' ', '\t']);
    if PayloadKind::from_header_value(v).is_none() {
        return Err(SigV4Error::InvalidContentSha256);
    }
    Ok(Some(v))
}

/// `X-Amz-Date` header, or the `Date` header (RFC 1123) when there is none.
fn header_date(req: &RequestParts<'_>) -> Result<DateTime<Utc>, SigV4Error> {
    let mut values = req.headers.get_all(H_X_AMZ_DATE).iter();
    if let Some(first) = values.next() {
        if values.next().is_some() {
            return Err(SigV4Error::InvalidDate(
                "X-Amz-Date header may be sent only once".into(),
            ));
        }
        let s = first.to_str().unwrap_or("").trim_matches([' ', '\t']);
        return parse_amz_date(s).ok_or_else(|| {
            SigV4Error::InvalidDate(format!(
                "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '{}'",
                clip(&String::from_utf8_lossy(first.as_bytes()))
            ))
        });
    }
    let mut values = req.headers.get_all(http::header::DATE).iter();
    let Some(first) = values.next() else {
        return Err(SigV4Error::MissingDate);
    };
    if values.next().is_some() {
        return Err(SigV4Error::InvalidDate(
            "Date header may be sent only once".into(),
        ));
    }
    let s = first.to_str().unwrap_or("").trim_matches([' ', '\t']);
    DateTime::parse_from_rfc2822(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| {
            SigV4Error::InvalidDate(format!(
                "Date header must be an RFC 1123 date, got '{}'",
                clip(&String::from_utf8_lossy(first.as_bytes()))
            ))
        })
}

/// Parse `YYYYMMDD'T'HHMMSS'Z'` strictly.
pub(crate) fn parse_amz_date(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut n = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u32::from(c - b'0');
        }
        Some(n)
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(4..6)?, num(6..8)?)?;
    let time = date.and_hms_opt(num(9..11)?, num(11..13)?, num(13..15)?)?;
    Some(time.and_utc())
}

/// `AKID/YYYYMMDD/region/service/aws4_request` → (akid, date, region, service).
fn parse_credential(value: &str) -> Result<(String, String, String, String), SigV4Error> {
    let parts: Vec<&str> = value.split('/').collect();
    if parts.len() != 5 || parts.iter().any(|p| p.is_empty()) {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{}'",
            clip(value)
        )));
    }
    let (akid, date, region, service, term) = (parts[0], parts[1], parts[2], parts[3], parts[4]);
    if akid.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(SigV4Error::IncompleteSignature(
            "The access key id in Credential contains invalid characters.".into(),
        ));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Invalid credential date '{}'. This date is not in YYYYMMDD format.",
            clip(date)
        )));
    }
    for (what, v) in [("region", region), ("service", service)] {
        if v.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(SigV4Error::IncompleteSignature(format!(
                "The {what} in Credential contains invalid characters."
            )));
        }
    }
    if term != TERMINATOR {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            clip(term)
        )));
    }
    Ok((
        akid.to_owned(),
        date.to_owned(),
        region.to_owned(),
        service.to_owned(),
    ))
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `host;x-amz-date` → lower-cased names, in the order given. Empty, invalid or duplicate names
/// are rejected.
fn parse_signed_headers(value: &str) -> Result<Vec<String>, SigV4Error> {
    let mut out: Vec<String> = Vec::new();
    for name in value.split(';') {
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(SigV4Error::IncompleteSignature(format!(
                "SignedHeaders must be a ';'-separated list of header names, got '{}'",
                clip(value)
            )));
        }
        let name = name.to_ascii_lowercase();
        if out.contains(&name) {
            return Err(SigV4Error::IncompleteSignature(format!(
                "SignedHeaders lists '{}' more than once.",
                clip(&name)
            )));
        }
        out.push(name);
    }
    Ok(out)
}

fn parse_signature(value: &str) -> Result<[u8; 32], SigV4Error> {
    let mut sig = [0u8; 32];
    if value.len() != 64 || hex::decode_to_slice(value, &mut sig).is_err() {
        return Err(SigV4Error::IncompleteSignature(
            "Signature must be 64 hexadecimal digits.".into(),
        ));
    }
    Ok(sig)
}

/// `X-Amz-Expires`: a decimal integer in `0..=604800`, with S3's messages for the others (a
/// negative number, not a number, more than a week). `0` parses: such a URL has already
/// expired, which is how S3 answers it.
fn parse_expires(value: &[u8]) -> Result<u64, SigV4Error> {
    let text = String::from_utf8_lossy(value);
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(SigV4Error::InvalidExpires(
            "X-Amz-Expires should be a number".into(),
        ));
    }
    if value.starts_with(b"-") {
        return Err(SigV4Error::InvalidExpires(
            "X-Amz-Expires must be non-negative".into(),
        ));
    }
    let n: u64 = text
        .parse()
        .map_err(|_| SigV4Error::InvalidExpires("X-Amz-Expires should be a number".into()))?;
    if n > MAX_PRESIGNED_EXPIRES_SECS {
        return Err(SigV4Error::InvalidExpires(format!(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than {MAX_PRESIGNED_EXPIRES_SECS} seconds"
        )));
    }
    Ok(n)
}

/// The credential-scope date must be the request date's `YYYYMMDD`.
pub(crate) fn check_scope_date(auth: &ParsedAuth) -> Result<(), SigV4Error> {
    let amz = crate::format_amz_date(&auth.date);
    if auth.scope_date.as_bytes() != &amz.as_bytes()[..8] {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            clip(&auth.scope_date),
            &amz[..8],
            amz
        )));
    }
    Ok(())
}
