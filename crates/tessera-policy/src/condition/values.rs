//! Typed values of the non-string operator families, from policy text and from the
//! request: numbers, dates, booleans, IP addresses and CIDRs, and base64 binary.

use super::*;

pub(super) fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("nan") || s.to_ascii_lowercase().contains("inf") {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

pub(super) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

pub(super) fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Parses the date formats AWS accepts in date conditions: ISO 8601 / RFC 3339
/// date-times (with `Z`, an offset, or no zone = UTC), plain dates, and epoch
/// seconds.
pub(crate) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit())
        || (s.starts_with('-') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        let secs: i64 = s.parse().ok()?;
        return Utc.timestamp_opt(secs, 0).single();
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y%m%dT%H%M%S%z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(d.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    // Fractional epoch seconds.
    let f = parse_number(s)?;
    let secs = f.floor();
    let nanos = ((f - secs) * 1e9).round() as u32;
    Utc.timestamp_opt(secs as i64, nanos.min(999_999_999))
        .single()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (padding optional, whitespace not allowed).
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    if s.len() - trimmed.len() > 2 || (s.len() != trimmed.len() && !s.len().is_multiple_of(4)) {
        return None;
    }
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in trimmed.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero for a canonical encoding.
    if acc != 0 {
        return None;
    }
    Some(out)
}

pub(super) fn value_number(v: &ContextValue) -> Option<f64> {
    match v {
        ContextValue::Number(n) => Some(*n),
        ContextValue::String(s) => parse_number(s),
        _ => None,
    }
}

pub(super) fn value_date(v: &ContextValue) -> Option<DateTime<Utc>> {
    match v {
        ContextValue::Date(d) => Some(*d),
        ContextValue::String(s) => parse_date(s),
        ContextValue::Number(n) => {
            let secs = n.floor();
            let nanos = ((n - secs) * 1e9).round() as u32;
            Utc.timestamp_opt(secs as i64, nanos.min(999_999_999))
                .single()
        }
        _ => None,
    }
}

pub(super) fn value_bool(v: &ContextValue) -> Option<bool> {
    match v {
        ContextValue::Bool(b) => Some(*b),
        ContextValue::String(s) => parse_bool(s),
        _ => None,
    }
}

pub(super) fn value_ip(v: &ContextValue) -> Option<IpAddr> {
    match v {
        ContextValue::Ip(ip) => Some(*ip),
        ContextValue::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
