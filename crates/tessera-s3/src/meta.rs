//! User metadata (`x-amz-meta-*`) values as S3 reads and writes them.
//!
//! - **In**: header bytes are ISO-8859-1 (S3 reads every byte as one character, so a value
//!   that is not ASCII arrives as Latin-1 text); a value made of RFC 2047 encoded words
//!   (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`, also `ISO-8859-1`) is decoded before it is stored; the
//!   value is trimmed of surrounding blanks.
//! - **Out**: a value of printable ASCII goes back as it is; any other is RFC 2047-encoded as
//!   UTF-8, with `Q` encoding, or `B` when it holds control characters or U+FFFD (what S3
//!   answers today). Clients get back exactly what S3 would give them.
//!
//! The codec (`s3s`) accepts only UTF-8 header values: [`normalize_request_headers`] turns a
//! non-ASCII value into the equivalent `B` encoded word first, so what the codec decodes is
//! what S3 would store.

use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// ISO-8859-1: every byte is the character of that code point.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Decode one encoded word `=?charset?enc?text?=`, if `word` is one.
fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut it = inner.splitn(3, '?');
    let charset = it.next()?.to_ascii_lowercase();
    let enc = it.next()?;
    let text = it.next()?;
    let bytes = match enc {
        "B" | "b" => B64.decode(text).ok()?,
        "Q" | "q" => {
            let mut out = Vec::with_capacity(text.len());
            let b = text.as_bytes();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'_' => out.push(b' '),
                    b'=' if i + 2 < b.len() => {
                        let h = std::str::from_utf8(&b[i + 1..i + 3]).ok()?;
                        out.push(u8::from_str_radix(h, 16).ok()?);
                        i += 2;
                    }
                    b'=' => return None,
                    c => out.push(c),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    match charset.as_str() {
        "utf-8" | "utf8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" | "latin1" | "us-ascii" => Some(latin1(&bytes)),
        _ => None,
    }
}

/// A value that is one or more encoded words (separated by blanks), decoded; any other value
/// as it is.
pub fn decode_words(value: &str) -> String {
    let v = value.trim();
    if !(v.starts_with("=?") && v.ends_with("?=")) {
        return v.to_owned();
    }
    let mut out = String::new();
    for word in v.split_ascii_whitespace() {
        match decode_word(word) {
            Some(d) => out.push_str(&d),
            None => return v.to_owned(),
        }
    }
    out
}

/// What S3 stores for a raw `x-amz-meta-*` header value.
pub fn request_value(raw: &[u8]) -> String {
    if raw.is_ascii() {
        decode_words(std::str::from_utf8(raw).unwrap_or_default())
    } else {
        latin1(raw).trim().to_owned()
    }
}

/// Printable ASCII (and tab), sent back as it is.
fn plain(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// The header value S3 answers for a stored metadata value.
pub fn response_value(v: &str) -> String {
    if plain(v) {
        return v.to_owned();
    }
    if v.chars().any(|c| c.is_control() || c == '\u{FFFD}') {
        return format!("=?UTF-8?B?{}?=", B64.encode(v.as_bytes()));
    }
    let mut out = String::from("=?UTF-8?Q?");
    for &b in v.as_bytes() {
        match b {
            b' ' => out.push('_'),
            b'=' | b'?' | b'_' => out.push_str(&format!("={b:02X}")),
            0x21..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("={b:02X}")),
        }
    }
    out.push_str("?=");
    out
}

/// A stored value as an upstream store can keep it losslessly: plain ASCII as it is, else one
/// `B` encoded word (read back with [`decode_words`]).
pub fn stored_value(v: &str) -> String {
    if plain(v) && !v.starts_with("=?") {
        v.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", B64.encode(v.as_bytes()))
    }
}

/// Rewrite a request's non-ASCII `x-amz-meta-*` values (Latin-1 bytes) as the UTF-8 encoded
/// word of the same text, which the codec decodes to what S3 would store.
pub fn normalize_request_headers(headers: &mut http::HeaderMap) {
    let names: Vec<http::HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("x-amz-meta-"))
        .cloned()
        .collect();
    for name in names {
        let values: Vec<http::HeaderValue> = headers.get_all(&name).iter().cloned().collect();
        if values.iter().all(|v| v.as_bytes().is_ascii()) {
            continue;
        }
        headers.remove(&name);
        for v in values {
            let v = if v.as_bytes().is_ascii() {
                v
            } else {
                let text = latin1(v.as_bytes());
                let word = format!("=?UTF-8?B?{}?=", B64.encode(text.trim().as_bytes()));
                http::HeaderValue::from_str(&word).expect("an encoded word is a header value")
            };
            headers.append(name.clone(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in() {
        assert_eq!(request_value(b"plain value"), "plain value");
        assert_eq!(request_value(b"  padded\t"), "padded");
        // Latin-1 bytes, as S3 reads them (a UTF-8 client's bytes read one by one).
        assert_eq!(request_value(b"Hello World\xe9"), "Hello World\u{e9}");
        assert_eq!(request_value("é".as_bytes()), "\u{c3}\u{a9}");
        assert_eq!(request_value(b"=?UTF-8?B?YWJj?="), "abc");
        assert_eq!(
            request_value(b"=?UTF-8?Q?actually-ascii?="),
            "actually-ascii"
        );
        assert_eq!(
            request_value(b"=?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?="),
            "ÄMÄZÕÑ S3"
        );
        assert_eq!(
            request_value(b"=?UTF-8?B?w4Q=?= =?UTF-8?B?w4Q=?="),
            "ÄÄ",
            "adjacent words join"
        );
        assert_eq!(request_value(b"=?ISO-8859-1?Q?caf=E9?="), "café");
        // Not encoded words: kept.
        assert_eq!(request_value(b"=?nope"), "=?nope");
        assert_eq!(request_value(b"=?UTF-8?X?abc?="), "=?UTF-8?X?abc?=");
        assert_eq!(request_value(b"=?UTF-8?Q?bad=Z?="), "=?UTF-8?Q?bad=Z?=");
    }

    #[test]
    fn values_out() {
        assert_eq!(response_value("plain value"), "plain value");
        assert_eq!(
            response_value("ÄMÄZÕÑ S3"),
            "=?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?="
        );
        assert_eq!(
            response_value("test_—_file%E2%80%94_é_2?.pdf"),
            "=?UTF-8?Q?test=5F=E2=80=94=5Ffile%E2%80%94=5F=C3=A9=5F2=3F.pdf?="
        );
        assert_eq!(
            response_value("\u{0}\u{1}\u{2}\u{3}"),
            "=?UTF-8?B?AAECAw==?="
        );
        for v in ["ÄMÄZÕÑ S3", "a_b=c?d é", "\u{1}x"] {
            assert_eq!(decode_words(&response_value(v)), v);
            assert_eq!(decode_words(&stored_value(v)), v);
        }
        assert_eq!(
            stored_value("=?looks encoded"),
            "=?UTF-8?B?PT9sb29rcyBlbmNvZGVk?="
        );
        assert_eq!(
            decode_words(&stored_value("=?looks encoded")),
            "=?looks encoded"
        );
    }

    #[test]
    fn request_headers_become_utf8_words() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amz-meta-a",
            http::HeaderValue::from_bytes(b"Hello World\xe9").unwrap(),
        );
        h.insert("x-amz-meta-b", http::HeaderValue::from_static("ascii"));
        normalize_request_headers(&mut h);
        let a = h.get("x-amz-meta-a").unwrap().to_str().unwrap();
        assert_eq!(decode_words(a), "Hello World\u{e9}");
        assert_eq!(h.get("x-amz-meta-b").unwrap(), "ascii");
    }
}
