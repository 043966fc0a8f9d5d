//! Shared test helpers: real keys from aws-lc-rs, JWKS entries written by hand, token signing with
//! jsonwebtoken's `EncodingKey`, and a fake IdP on `MemoryFetch`.
#![allow(dead_code)]

use std::sync::{Arc, LazyLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tessera_oidc::{MemoryFetch, OidcVerifier, VerifierConfig, discovery_url};

pub const ISSUER: &str = "https://idp.example.com";
pub const JWKS_URL: &str = "https://idp.example.com/jwks";
pub const AUDIENCE: &str = "client-1";
/// A fixed "now" (2025-06-15T15:06:40Z).
pub const NOW: i64 = 1_750_000_000;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA key pair, its signing key for jsonwebtoken and its public components.
pub struct RsaTestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

impl RsaTestKey {
    pub fn generate(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA keygen");
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("PKCS#8");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD
                .encode(pkcs8.as_ref())
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        );
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA PEM");
        let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        RsaTestKey {
            kid: kid.to_owned(),
            encoding,
            n: public.n,
            e: public.e,
        }
    }

    /// The public JWK, written by hand.
    pub fn jwk(&self) -> Value {
        json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": b64(&self.n), "e": b64(&self.e)})
    }

    /// The public JWK without `alg` (so that RS384/RS512 may use it).
    pub fn jwk_without_alg(&self) -> Value {
        json!({"kty": "RSA", "kid": self.kid, "n": b64(&self.n), "e": b64(&self.e)})
    }
}

/// A P-256 key pair.
pub struct EcTestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub x: Vec<u8>,
    pub y: Vec<u8>,
}

impl EcTestKey {
    pub fn generate(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC keygen");
        let pkcs8 = pair.to_pkcs8v1().expect("PKCS#8");
        let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
        let point = pair.public_key().as_ref();
        assert_eq!(point.len(), 65);
        assert_eq!(point[0], 4);
        EcTestKey {
            kid: kid.to_owned(),
            encoding,
            x: point[1..33].to_vec(),
            y: point[33..].to_vec(),
        }
    }

    pub fn jwk(&self) -> Value {
        json!({"kty": "EC", "kid": self.kid, "use": "sig", "crv": "P-256", "x": b64(&self.x), "y": b64(&self.y)})
    }
}

pub static RSA_A: LazyLock<RsaTestKey> = LazyLock::new(|| RsaTestKey::generate("rsa-a"));
pub static RSA_B: LazyLock<RsaTestKey> = LazyLock::new(|| RsaTestKey::generate("rsa-b"));
pub static EC_A: LazyLock<EcTestKey> = LazyLock::new(|| EcTestKey::generate("ec-a"));

/// The default claims of a valid token.
pub fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "user-1",
        "aud": AUDIENCE,
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "jti": "jti-1",
        "email": "user@example.com",
    })
}

/// Sign `header` + `claims` as a compact JWS with jsonwebtoken's low-level signer. The header is written
/// as given, so tests can put anything into it.
pub fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

/// A valid RS256 token from `RSA_A` with the given claims.
pub fn rs256(claims: &Value) -> String {
    sign_raw(
        &json!({"alg": "RS256", "kid": RSA_A.kid, "typ": "JWT"}),
        claims,
        &RSA_A.encoding,
        Algorithm::RS256,
    )
}

/// Replace the payload of a signed token (keeping header and signature).
pub fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    )
}

/// Serve discovery and a JWKS with `keys` for `ISSUER`.
pub fn serve_idp(fetch: &MemoryFetch, keys: &[Value]) {
    fetch.set(
        discovery_url(ISSUER),
        json!({"issuer": ISSUER, "jwks_uri": JWKS_URL, "id_token_signing_alg_values_supported": ["RS256"]})
            .to_string(),
    );
    set_jwks(fetch, keys);
}

pub fn set_jwks(fetch: &MemoryFetch, keys: &[Value]) {
    fetch.set(JWKS_URL, json!({ "keys": keys }).to_string());
}

/// A verifier over a fake IdP serving `RSA_A` and `EC_A`.
pub fn setup() -> (Arc<MemoryFetch>, OidcVerifier) {
    setup_with(&[RSA_A.jwk(), EC_A.jwk()], VerifierConfig::default())
}

pub fn setup_with(keys: &[Value], config: VerifierConfig) -> (Arc<MemoryFetch>, OidcVerifier) {
    let fetch = Arc::new(MemoryFetch::new());
    serve_idp(&fetch, keys);
    let verifier = OidcVerifier::new(fetch.clone(), config);
    (fetch, verifier)
}

pub fn audiences() -> Vec<String> {
    vec![AUDIENCE.to_owned()]
}
