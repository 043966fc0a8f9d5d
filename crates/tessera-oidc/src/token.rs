//! Compact JWS parsing and typed claim access. Nothing here verifies a signature.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::OidcError;

/// A compact JWS split into its parts, header and payload decoded into JSON objects.
#[derive(Debug)]
pub(crate) struct ParsedToken<'a> {
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

/// Decode unpadded, canonical base64url (the engine rejects padding and non-zero trailing bits).
pub(crate) fn b64url_decode(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part).ok()
}

/// A JSON object that rejects duplicate member names (RFC 7515 §5.2 / RFC 7519 §4 allow either
/// rejecting or keeping the last one; rejecting removes any parser-differential ambiguity).
struct StrictObject(Map<String, Value>);

impl<'de> serde::Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(de::Error::custom("duplicate member"));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(StrictObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Parse `bytes` as a JSON object with unique member names. The error message names `what` but never
/// repeats the input.
pub(crate) fn parse_strict_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<StrictObject>(bytes) {
        Ok(StrictObject(map)) => Ok(map),
        Err(e) => Err(match e.classify() {
            serde_json::error::Category::Data => {
                format!("{what} is not a JSON object or has duplicate members")
            }
            _ => format!("{what} is not valid JSON"),
        }),
    }
}

/// Split and decode a compact JWS. Checks: length, exactly three non-empty base64url parts, JSON-object
/// header and payload without duplicate members, no JWE/`crit`/`zip` header parameters, a string `alg`.
pub(crate) fn parse_compact(token: &str, max_len: usize) -> Result<ParsedToken<'_>, OidcError> {
    if token.len() > max_len {
        return Err(OidcError::malformed(format!(
            "token is longer than {max_len} characters"
        )));
    }
    if token.is_empty() {
        return Err(OidcError::malformed("token is empty"));
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => {
            return Err(OidcError::malformed(
                "token has 5 parts (JWE); only compact JWS is accepted",
            ));
        }
        n => {
            return Err(OidcError::malformed(format!(
                "not a compact JWS: expected 3 dot-separated parts, found {n}"
            )));
        }
    }
    let (header_b64, payload_b64, signature_b64) = (parts[0], parts[1], parts[2]);
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(OidcError::malformed("empty header or payload"));
    }
    if signature_b64.is_empty() {
        return Err(OidcError::malformed("token is not signed"));
    }
    let header_bytes =
        b64url_decode(header_b64).ok_or_else(|| OidcError::malformed("header is not base64url"))?;
    let payload_bytes = b64url_decode(payload_b64)
        .ok_or_else(|| OidcError::malformed("payload is not base64url"))?;
    let signature = b64url_decode(signature_b64)
        .ok_or_else(|| OidcError::malformed("signature is not base64url"))?;
    let header = parse_strict_object(&header_bytes, "header").map_err(OidcError::Malformed)?;
    let claims = parse_strict_object(&payload_bytes, "payload").map_err(OidcError::Malformed)?;

    if header.contains_key("enc") || header.contains_key("zip") {
        return Err(OidcError::malformed(
            "encrypted or compressed tokens (JWE) are not accepted",
        ));
    }
    if header.contains_key("crit") {
        return Err(OidcError::malformed(
            "critical header extensions are not supported",
        ));
    }
    match header.get("alg") {
        Some(Value::String(_)) => {}
        Some(_) => return Err(OidcError::malformed("header alg is not a string")),
        None => return Err(OidcError::malformed("header has no alg")),
    }
    if header.get("kid").is_some_and(|k| !k.is_string()) {
        return Err(OidcError::malformed("header kid is not a string"));
    }
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    Ok(ParsedToken {
        signing_input,
        signature,
        header,
        claims,
    })
}

impl ParsedToken<'_> {
    pub(crate) fn alg(&self) -> &str {
        self.header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub(crate) fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

/// A string claim: `Ok(None)` when absent, an error when present with another type.
pub(crate) fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, OidcError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OidcError::malformed(format!(
            "claim {name} is not a string"
        ))),
    }
}

/// A claim that is a string or an array of strings (`aud`, `amr`). `Ok(None)` when absent.
pub(crate) fn string_or_array_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, OidcError> {
    let bad = || OidcError::malformed(format!("claim {name} is not a string or array of strings"));
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

/// A NumericDate claim (RFC 7519 §2): a JSON number of seconds, fractions rounded down. `Ok(None)` when
/// absent; any other type (string, null, bool, …) or a value outside the `i64` range is an error.
pub(crate) fn numeric_date_claim(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<i64>, OidcError> {
    let bad = || OidcError::malformed(format!("claim {name} is not a valid NumericDate"));
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if n.is_u64() {
                Err(bad())
            } else {
                let f = n.as_f64().ok_or_else(bad)?;
                // i64::MAX as f64 rounds up to 2^63, so the bound is exclusive.
                if f.is_finite() && f >= -(2f64.powi(63)) && f < 2f64.powi(63) {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(Some(f.floor() as i64))
                } else {
                    Err(bad())
                }
            }
        }
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(v: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64(header.as_bytes()),
            b64(payload.as_bytes()),
            b64(sig)
        )
    }

    #[test]
    fn parses_valid_structure() {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, r#"{"iss":"x"}"#, b"sig");
        let p = parse_compact(&t, 20_000).unwrap();
        assert_eq!(p.alg(), "RS256");
        assert_eq!(p.kid(), Some("k1"));
        assert_eq!(p.signature, b"sig");
        assert_eq!(p.claims.get("iss"), Some(&json!("x")));
        assert_eq!(p.signing_input, t.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn rejects_bad_structure() {
        let good_h = r#"{"alg":"RS256"}"#;
        let good_p = r#"{"iss":"x"}"#;
        let cases: Vec<String> = vec![
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            "a.b.c.d.e".into(),
            format!("{}.{}.", b64(good_h.as_bytes()), b64(good_p.as_bytes())),
            format!(".{}.{}", b64(good_p.as_bytes()), b64(b"s")),
            token(good_h, good_p, b"s") + "=",
            format!(
                "{}=.{}.{}",
                b64(good_h.as_bytes()),
                b64(good_p.as_bytes()),
                b64(b"s")
            ),
            token(good_h, "[1,2]", b"s"),
            token(good_h, "\"iss\"", b"s"),
            token(good_h, "{", b"s"),
            token("[]", good_p, b"s"),
            token(r#"{"alg":"RS256","alg":"none"}"#, good_p, b"s"),
            token(good_h, r#"{"iss":"a","iss":"b"}"#, b"s"),
            token(r#"{"alg":"RS256","enc":"A256GCM"}"#, good_p, b"s"),
            token(r#"{"alg":"RS256","crit":["exp"]}"#, good_p, b"s"),
            token(r#"{"alg":5}"#, good_p, b"s"),
            token(r#"{"kid":"x"}"#, good_p, b"s"),
            token(r#"{"alg":"RS256","kid":7}"#, good_p, b"s"),
            format!(" {}", token(good_h, good_p, b"s")),
        ];
        for c in cases {
            assert!(
                matches!(parse_compact(&c, 20_000), Err(OidcError::Malformed(_))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn non_canonical_base64_is_rejected() {
        // "QQ" is canonical for [0x41]; "QR" has non-zero trailing bits.
        assert_eq!(b64url_decode("QQ"), Some(vec![0x41]));
        assert_eq!(b64url_decode("QR"), None);
        assert_eq!(b64url_decode("QQ=="), None);
        assert_eq!(b64url_decode("Q+/="), None);
    }

    #[test]
    fn length_cap() {
        let t = token(r#"{"alg":"RS256"}"#, r#"{"iss":"x"}"#, b"s");
        assert!(parse_compact(&t, t.len()).is_ok());
        let err = parse_compact(&t, t.len() - 1).unwrap_err();
        assert!(matches!(err, OidcError::Malformed(m) if m.contains("longer")));
    }

    #[test]
    fn error_messages_do_not_echo_input() {
        let secret = "SECRETVALUE";
        let t = token(r#"{"alg":"RS256"}"#, &format!("\"{secret}\""), b"s");
        let msg = parse_compact(&t, 20_000).unwrap_err().to_string();
        assert!(!msg.contains(secret), "{msg}");
    }

    #[test]
    fn numeric_dates() {
        let m = json!({
            "a": 10, "b": 10.9, "c": -5, "d": "10", "e": null, "f": true,
            "g": 18446744073709551615u64, "h": 1e300, "i": [1]
        });
        let m = m.as_object().unwrap();
        assert_eq!(numeric_date_claim(m, "a"), Ok(Some(10)));
        assert_eq!(numeric_date_claim(m, "b"), Ok(Some(10)));
        assert_eq!(numeric_date_claim(m, "c"), Ok(Some(-5)));
        assert_eq!(numeric_date_claim(m, "zz"), Ok(None));
        for k in ["d", "e", "f", "g", "h", "i"] {
            assert!(
                matches!(numeric_date_claim(m, k), Err(OidcError::Malformed(_))),
                "{k}"
            );
        }
    }

    #[test]
    fn string_or_array() {
        let m = json!({"a": "x", "b": ["x", "y"], "c": [], "d": ["x", 1], "e": 3, "f": {"x": 1}});
        let m = m.as_object().unwrap();
        assert_eq!(string_or_array_claim(m, "a"), Ok(Some(vec!["x".into()])));
        assert_eq!(
            string_or_array_claim(m, "b"),
            Ok(Some(vec!["x".into(), "y".into()]))
        );
        assert_eq!(string_or_array_claim(m, "c"), Ok(Some(vec![])));
        assert_eq!(string_or_array_claim(m, "zz"), Ok(None));
        for k in ["d", "e", "f"] {
            assert!(string_or_array_claim(m, k).is_err(), "{k}");
        }
    }
}
