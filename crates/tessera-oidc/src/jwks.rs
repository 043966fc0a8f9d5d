//! JWK Set parsing and key selection.

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use crate::error::sanitize_for_message;
use crate::token::{b64url_decode, parse_strict_object};

/// Most keys accepted in one JWKS.
pub(crate) const MAX_JWKS_KEYS: usize = 100;
/// Smallest accepted RSA modulus.
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// Largest accepted RSA modulus (the aws-lc-rs verifiers stop there as well).
pub(crate) const MAX_RSA_BITS: usize = 8192;

/// Key type and size, as far as algorithm selection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
    Other,
}

/// One JWKS entry. Entries that cannot be used (wrong `use`, weak RSA key, unknown curve, …) are kept
/// with `key = None` and the reason, so that a token naming them gets a precise error and does not
/// trigger pointless refetches.
#[derive(Debug, Clone)]
pub(crate) struct CachedKey {
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub kind: KeyKind,
    pub key: Option<DecodingKey>,
    pub unusable: Option<String>,
}

impl CachedKey {
    fn unusable(kid: Option<String>, kind: KeyKind, reason: impl Into<String>) -> Self {
        CachedKey {
            kid,
            alg: None,
            kind,
            key: None,
            unusable: Some(reason.into()),
        }
    }

    /// Can this key verify `alg` (named `alg_name` in the token header)?
    fn fits(&self, alg: Algorithm, alg_name: &str) -> Result<&DecodingKey, String> {
        let key = match (&self.key, &self.unusable) {
            (Some(k), None) => k,
            (_, Some(reason)) => return Err(reason.clone()),
            (None, None) => return Err("key is not usable".into()),
        };
        if let Some(jwk_alg) = &self.alg
            && jwk_alg != alg_name
        {
            return Err(format!(
                "the key is pinned to {:?}, the token uses {alg_name}",
                sanitize_for_message(jwk_alg, 20)
            ));
        }
        if required_kind(alg) != Some(self.kind) {
            return Err(format!("the key type does not fit algorithm {alg_name}"));
        }
        Ok(key)
    }
}

/// The key type an algorithm needs.
pub(crate) fn required_kind(alg: Algorithm) -> Option<KeyKind> {
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => Some(KeyKind::Rsa),
        Algorithm::ES256 => Some(KeyKind::EcP256),
        Algorithm::ES384 => Some(KeyKind::EcP384),
        Algorithm::EdDSA => Some(KeyKind::Ed25519),
        _ => None,
    }
}

/// Bit length of a big-endian unsigned integer.
pub(crate) fn bit_length(bytes: &[u8]) -> usize {
    match bytes.iter().position(|&b| b != 0) {
        None => 0,
        Some(i) => (bytes.len() - i - 1) * 8 + (8 - bytes[i].leading_zeros() as usize),
    }
}

fn b64_member(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, String> {
    let s = obj
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("JWK member {name} is missing or not a string"))?;
    b64url_decode(s).ok_or_else(|| format!("JWK member {name} is not base64url"))
}

fn parse_key(obj: &Map<String, Value>) -> CachedKey {
    let kid = obj.get("kid").and_then(Value::as_str).map(str::to_owned);
    let kty = match obj.get("kty").and_then(Value::as_str) {
        Some(k) => k,
        None => return CachedKey::unusable(kid, KeyKind::Other, "JWK has no kty"),
    };
    match obj.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => {
            return CachedKey::unusable(kid, KeyKind::Other, "JWK use is not \"sig\"");
        }
    }
    if let Some(ops) = obj.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o.as_str() == Some("verify")));
        if !verify {
            return CachedKey::unusable(kid, KeyKind::Other, "JWK key_ops lacks \"verify\"");
        }
    }
    let alg = match obj.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(a.clone()),
        Some(_) => return CachedKey::unusable(kid, KeyKind::Other, "JWK alg is not a string"),
    };
    let built: Result<(KeyKind, DecodingKey), (KeyKind, String)> = match kty {
        "RSA" => (|| {
            let n = b64_member(obj, "n").map_err(|e| (KeyKind::Rsa, e))?;
            let e = b64_member(obj, "e").map_err(|e| (KeyKind::Rsa, e))?;
            let bits = bit_length(&n);
            if bits < MIN_RSA_BITS {
                return Err((
                    KeyKind::Rsa,
                    format!("RSA key has {bits} bits, fewer than {MIN_RSA_BITS}"),
                ));
            }
            if bits > MAX_RSA_BITS {
                return Err((
                    KeyKind::Rsa,
                    format!("RSA key has {bits} bits, more than {MAX_RSA_BITS}"),
                ));
            }
            if e.is_empty() || e.len() > 8 || bit_length(&e) < 2 {
                return Err((KeyKind::Rsa, "RSA exponent is not acceptable".into()));
            }
            Ok((KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e)))
        })(),
        "EC" => (|| {
            let (kind, len) = match obj.get("crv").and_then(Value::as_str) {
                Some("P-256") => (KeyKind::EcP256, 32),
                Some("P-384") => (KeyKind::EcP384, 48),
                _ => return Err((KeyKind::Other, "unsupported EC curve".to_owned())),
            };
            let x = b64_member(obj, "x").map_err(|e| (kind, e))?;
            let y = b64_member(obj, "y").map_err(|e| (kind, e))?;
            if x.len() != len || y.len() != len {
                return Err((kind, "EC coordinates have the wrong length".into()));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok((kind, DecodingKey::from_ec_der(&point)))
        })(),
        "OKP" => (|| {
            if obj.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                return Err((KeyKind::Other, "unsupported OKP curve".to_owned()));
            }
            let x = b64_member(obj, "x").map_err(|e| (KeyKind::Ed25519, e))?;
            if x.len() != 32 {
                return Err((KeyKind::Ed25519, "Ed25519 key has the wrong length".into()));
            }
            Ok((KeyKind::Ed25519, DecodingKey::from_ed_der(&x)))
        })(),
        "oct" => Err((KeyKind::Other, "symmetric keys are never used".to_owned())),
        _ => Err((KeyKind::Other, "unsupported key type".to_owned())),
    };
    match built {
        Ok((kind, key)) => CachedKey {
            kid,
            alg,
            kind,
            key: Some(key),
            unusable: None,
        },
        Err((kind, reason)) => CachedKey {
            alg,
            ..CachedKey::unusable(kid, kind, reason)
        },
    }
}

/// Parse a JWK Set document. Fails only if the document itself is unusable (not a JSON object, no
/// `keys` array, too many keys); individual bad keys are kept as unusable entries.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<CachedKey>, String> {
    let doc = parse_strict_object(body, "JWKS")?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("JWKS has no keys array")?;
    if keys.len() > MAX_JWKS_KEYS {
        return Err(format!("JWKS has more than {MAX_JWKS_KEYS} keys"));
    }
    Ok(keys
        .iter()
        .map(|k| match k.as_object() {
            Some(obj) => parse_key(obj),
            None => CachedKey::unusable(None, KeyKind::Other, "JWK is not an object"),
        })
        .collect())
}

/// Result of looking a key up in a cached set.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Candidate keys (usually one; several only when the JWKS repeats a `kid`).
    Found(Vec<DecodingKey>),
    /// No entry with this `kid` (or, without a `kid`, no usable key of the right type): refetch may help.
    NotFound,
    /// Entries exist but none can be used; a refetch would not help.
    Unusable(String),
}

/// Select the key(s) for a token with header `kid` and algorithm `alg` (named `alg_name`).
pub(crate) fn select(
    keys: &[CachedKey],
    kid: Option<&str>,
    alg: Algorithm,
    alg_name: &str,
) -> Lookup {
    match kid {
        Some(kid) => {
            let mut found = Vec::new();
            let mut reason = None;
            let mut any = false;
            for k in keys.iter().filter(|k| k.kid.as_deref() == Some(kid)) {
                any = true;
                match k.fits(alg, alg_name) {
                    Ok(key) => found.push(key.clone()),
                    Err(r) => reason = reason.or(Some(r)),
                }
            }
            if !found.is_empty() {
                Lookup::Found(found)
            } else if any {
                Lookup::Unusable(format!(
                    "the key with this kid cannot be used: {}",
                    reason.unwrap_or_default()
                ))
            } else {
                Lookup::NotFound
            }
        }
        None => {
            let usable: Vec<&DecodingKey> = keys
                .iter()
                .filter_map(|k| k.fits(alg, alg_name).ok())
                .collect();
            match usable.len() {
                0 => Lookup::NotFound,
                1 => Lookup::Found(vec![usable[0].clone()]),
                _ => Lookup::Unusable(
                    "the token has no kid and the JWKS has several keys that fit".into(),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn b64(v: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    fn rsa_jwk(kid: &str, bytes: usize) -> Value {
        let mut n = vec![0xC5u8; bytes];
        n[bytes - 1] |= 1;
        json!({"kty": "RSA", "kid": kid, "n": b64(&n), "e": b64(&[1, 0, 1])})
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0xff; 256]), 2048);
        assert_eq!(bit_length(&[0x7f; 256]), 2047);
    }

    #[test]
    fn parses_and_classifies_keys() {
        let doc = json!({"keys": [
            rsa_jwk("good", 256),
            rsa_jwk("short", 128),
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(&[0xff; 256]), "e": "AQAB"},
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
            {"kty": "EC", "kid": "ec-bad", "crv": "P-256", "x": b64(&[1; 31]), "y": b64(&[2; 32])},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": b64(&[1; 66]), "y": b64(&[2; 66])},
            {"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": b64(&[0xff; 256]), "e": "AQAB"},
            "not an object"
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 9);
        let usable: Vec<_> = keys
            .iter()
            .filter(|k| k.key.is_some())
            .map(|k| k.kid.clone().unwrap())
            .collect();
        assert_eq!(usable, vec!["good", "ec"]);
        assert!(keys[1].unusable.as_ref().unwrap().contains("1024 bits"));

        assert!(matches!(
            select(&keys, Some("good"), Algorithm::RS256, "RS256"),
            Lookup::Found(v) if v.len() == 1
        ));
        assert!(matches!(
            select(&keys, Some("good"), Algorithm::ES256, "ES256"),
            Lookup::Unusable(_)
        ));
        assert!(matches!(
            select(&keys, Some("short"), Algorithm::RS256, "RS256"),
            Lookup::Unusable(r) if r.contains("2048")
        ));
        assert!(matches!(
            select(&keys, Some("enc"), Algorithm::RS256, "RS256"),
            Lookup::Unusable(_)
        ));
        assert!(matches!(
            select(&keys, Some("sym"), Algorithm::RS256, "RS256"),
            Lookup::Unusable(_)
        ));
        assert!(matches!(
            select(&keys, Some("nope"), Algorithm::RS256, "RS256"),
            Lookup::NotFound
        ));
        // No kid: exactly one usable RSA key and one usable P-256 key.
        assert!(matches!(
            select(&keys, None, Algorithm::RS256, "RS256"),
            Lookup::Found(_)
        ));
        assert!(matches!(
            select(&keys, None, Algorithm::ES256, "ES256"),
            Lookup::Found(_)
        ));
        assert!(matches!(
            select(&keys, None, Algorithm::ES384, "ES384"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn jwk_alg_pins_the_algorithm() {
        let mut k = rsa_jwk("k", 256);
        k["alg"] = json!("RS256");
        let keys = parse_jwks(json!({"keys": [k]}).to_string().as_bytes()).unwrap();
        assert!(matches!(
            select(&keys, Some("k"), Algorithm::RS256, "RS256"),
            Lookup::Found(_)
        ));
        assert!(matches!(
            select(&keys, Some("k"), Algorithm::RS512, "RS512"),
            Lookup::Unusable(_)
        ));
        assert!(matches!(
            select(&keys, None, Algorithm::PS256, "PS256"),
            Lookup::NotFound
        ));
    }

    #[test]
    fn no_kid_with_several_keys_is_ambiguous() {
        let keys = parse_jwks(
            json!({"keys": [rsa_jwk("a", 256), rsa_jwk("b", 256)]})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert!(matches!(
            select(&keys, None, Algorithm::RS256, "RS256"),
            Lookup::Unusable(_)
        ));
    }

    #[test]
    fn bad_documents() {
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(br#"{"keys": {}}"#).is_err());
        assert!(parse_jwks(b"not json").is_err());
        let many: Vec<Value> = (0..=MAX_JWKS_KEYS)
            .map(|i| rsa_jwk(&i.to_string(), 256))
            .collect();
        assert!(parse_jwks(json!({ "keys": many }).to_string().as_bytes()).is_err());
        assert!(parse_jwks(br#"{"keys": []}"#).unwrap().is_empty());
    }
}
