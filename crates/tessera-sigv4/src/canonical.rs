//! Building the canonical request: path, query, headers.

use std::borrow::Cow;

use crate::{AuthKind, Canonicalization, ParsedAuth, RequestParts};

/// Query parameter excluded from the canonical query of a presigned request.
pub(crate) const X_AMZ_SIGNATURE: &str = "X-Amz-Signature";

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 unreserved characters: kept as they are by SigV4 URI encoding.
#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Append `bytes` URI-encoded the SigV4 way: unreserved bytes kept, everything else `%XX`
/// (upper-case hex). With `keep_slash`, `/` is kept too (path encoding).
pub(crate) fn uri_encode_into(out: &mut Vec<u8>, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 0x0f)],
            ]);
        }
    }
}

#[inline]
fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode one query-string component as received on the wire: `+` is a space
/// (`application/x-www-form-urlencoded`, as the `aws-sigv4` signer, the Go SDK and MinIO read it)
/// and `%XX` is the byte `XX`; a `%` not followed by two hex digits stays literal.
pub(crate) fn decode_query_component(s: &str) -> Cow<'_, [u8]> {
    let raw = s.as_bytes();
    if !raw.iter().any(|&b| b == b'%' || b == b'+') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < raw.len() => match (hex_val(raw[i + 1]), hex_val(raw[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Split a raw query string into raw (still encoded) `(name, value)` pairs. Empty pieces
/// (`a=1&&b=2`, a trailing `&`) are skipped; a piece without `=` has an empty value.
pub(crate) fn raw_query_pairs(raw_query: &str) -> impl Iterator<Item = (&str, &str)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// Decode a raw query string into `(name, value)` byte pairs exactly as the verifier reads it
/// (`+` is a space, `%XX` a byte). A server should parse its query parameters with the same
/// rules (e.g. `form_urlencoded`) so that what it acts on is what was signed.
pub fn decode_query(raw_query: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query_pairs(raw_query)
        .map(|(k, v)| {
            (
                decode_query_component(k).into_owned(),
                decode_query_component(v).into_owned(),
            )
        })
        .collect()
}

/// The canonical query string. For presigned requests `X-Amz-Signature` is left out.
pub(crate) fn canonical_query_into(out: &mut Vec<u8>, raw_query: &str, kind: AuthKind) {
    if raw_query.is_empty() {
        return;
    }
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (k, v) in raw_query_pairs(raw_query) {
        let name = decode_query_component(k);
        if kind == AuthKind::Presigned && &*name == X_AMZ_SIGNATURE.as_bytes() {
            continue;
        }
        let value = decode_query_component(v);
        let mut enc_name = Vec::with_capacity(name.len());
        uri_encode_into(&mut enc_name, &name, false);
        let mut enc_value = Vec::with_capacity(value.len());
        uri_encode_into(&mut enc_value, &value, false);
        pairs.push((enc_name, enc_value));
    }
    pairs.sort_unstable();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name);
        out.push(b'=');
        out.extend_from_slice(value);
    }
}

/// Remove dot segments and empty segments (`//`) from an absolute path, keeping a trailing slash,
/// the way the AWS signers normalise paths for non-S3 services.
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed("/");
    }
    let needs_work = !path.starts_with('/')
        || path.contains("//")
        || path.split('/').any(|s| s == "." || s == "..");
    if !needs_work {
        return Cow::Borrowed(path);
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for seg in &segments {
        out.push('/');
        out.push_str(seg);
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    if out.is_empty() || trailing {
        out.push('/');
    }
    Cow::Owned(out)
}

/// The canonical URI.
///
/// * S3: the path exactly as received (it is already URI-encoded once by the client).
/// * Standard: normalised, then URI-encoded again (`%` becomes `%25`: "double encoding").
pub(crate) fn canonical_path_into(out: &mut Vec<u8>, raw_path: &str, canon: Canonicalization) {
    match canon {
        Canonicalization::S3 => {
            if raw_path.is_empty() {
                out.push(b'/');
            } else {
                out.extend_from_slice(raw_path.as_bytes());
            }
        }
        Canonicalization::Standard => {
            let normalized = normalize_path(raw_path);
            uri_encode_into(out, normalized.as_bytes(), true);
        }
    }
}

#[inline]
fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Append a header value trimmed, with every run of spaces/tabs collapsed to one space.
pub(crate) fn header_value_into(out: &mut Vec<u8>, value: &[u8]) {
    let start = value.iter().position(|&b| !is_ws(b));
    let Some(start) = start else { return };
    let end = value
        .iter()
        .rposition(|&b| !is_ws(b))
        .map_or(start, |e| e + 1);
    let mut in_ws = false;
    for &b in &value[start..end] {
        if is_ws(b) {
            in_ws = true;
        } else {
            if in_ws {
                out.push(b' ');
                in_ws = false;
            }
            out.push(b);
        }
    }
}

/// Write the whole canonical request into `out`.
pub(crate) fn canonical_request_into(
    out: &mut Vec<u8>,
    req: &RequestParts<'_>,
    auth: &ParsedAuth,
    canon: Canonicalization,
    payload_hash: &str,
) {
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    canonical_path_into(out, req.raw_path, canon);
    out.push(b'\n');
    canonical_query_into(out, req.raw_query, auth.kind);
    out.push(b'\n');
    for name in &auth.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (i, value) in req.headers.get_all(name.as_str()).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            header_value_into(out, value.as_bytes());
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in auth.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Vec<u8> {
        decode_query_component(s).into_owned()
    }

    #[test]
    fn decoding() {
        assert_eq!(dec("a+b"), b"a b");
        assert_eq!(dec("a%2Bb"), b"a+b");
        assert_eq!(dec("%e1%88%b4"), "ሴ".as_bytes());
        assert_eq!(dec("100%"), b"100%");
        assert_eq!(dec("%4"), b"%4");
        assert_eq!(dec("%zz"), b"%zz");
        assert_eq!(dec("%%41"), b"%A");
    }

    #[test]
    fn normalisation() {
        for (i, o) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/../c", "/a/c"),
            ("/../a", "/a"),
            ("/a.b/c..d", "/a.b/c..d"),
            ("a/b", "/a/b"),
        ] {
            assert_eq!(normalize_path(i), o, "{i}");
        }
    }

    #[test]
    fn header_values() {
        let mut out = Vec::new();
        header_value_into(&mut out, b"  a   b \t c  ");
        assert_eq!(out, b"a b c");
        out.clear();
        header_value_into(&mut out, b"   ");
        assert_eq!(out, b"");
    }

    #[test]
    fn encoding() {
        let mut out = Vec::new();
        uri_encode_into(&mut out, b"a b/~*%", false);
        assert_eq!(out, b"a%20b%2F~%2A%25");
        out.clear();
        uri_encode_into(&mut out, b"/a b/", true);
        assert_eq!(out, b"/a%20b/");
    }
}
