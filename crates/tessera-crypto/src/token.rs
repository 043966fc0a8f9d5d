//! What Tessera's Identity Center token endpoint signs and seals:
//!
//! * [`TokenSigner`]: the issuer's ES256 (ECDSA P-256, SHA-256) key. It signs the `idToken`
//!   of `CreateTokenWithIAM` as a compact JWS with a `kid`, and publishes its public half as
//!   a JWK, so a relying party can verify the token with an ordinary JWT library.
//! * [`ContextSealer`]: the `sts:identity_context` assertion, an AES-256-GCM blob under a
//!   subkey of the master key that seals an [`IdentityContext`]. Only this deployment can
//!   make or open one; any changed byte fails authentication.

use crate::MasterKey;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::fmt;

pub use tessera_core::session::IdentityContext;

/// Longest assertion [`ContextSealer::open`] looks at (STS allows 2,048 characters).
pub const MAX_ASSERTION_LEN: usize = 2048;
const CONTEXT_AAD: &[u8] = b"tessera-identity-context";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenKeyError {
    #[error("the signing key is not a P-256 PKCS#8 key")]
    BadKey,
}

/// The token issuer's signing key.
pub struct TokenSigner {
    kid: String,
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    rng: SystemRandom,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSigner(kid={})", self.kid)
    }
}

impl TokenSigner {
    /// A new random key with this key id.
    pub fn generate(kid: impl Into<String>) -> TokenSigner {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key generation");
        Self::from_pkcs8(kid, doc.as_ref()).expect("a freshly generated key loads")
    }

    /// The key stored as PKCS#8 (see [`TokenSigner::pkcs8`]).
    pub fn from_pkcs8(kid: impl Into<String>, pkcs8: &[u8]) -> Result<TokenSigner, TokenKeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| TokenKeyError::BadKey)?;
        Ok(TokenSigner {
            kid: kid.into(),
            pair,
            pkcs8: pkcs8.to_vec(),
            rng: SystemRandom::new(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8 DER, to be sealed before it is stored.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// `claims` as a compact JWS: header `{"alg":"ES256","typ":"JWT","kid":…}`, signature
    /// `r || s` (RFC 7518 §3.4).
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .expect("ECDSA signing of an in-memory message");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// The public key as a JWK (RFC 7517/7518): `kty` EC, `crv` P-256, `x`, `y`, `kid`,
    /// `alg` ES256, `use` sig.
    pub fn jwk(&self) -> Value {
        // Uncompressed point: 0x04 || X (32) || Y (32).
        let point = self.pair.public_key().as_ref();
        debug_assert_eq!(point.len(), 65);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            "kid": self.kid,
            "alg": "ES256",
            "use": "sig",
        })
    }
}

/// A random opaque token: `prefix` followed by 43 base64url characters (256 bits).
pub fn opaque_token(prefix: &str) -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

/// The SHA-256 (hex) of a token, the form in which it is stored.
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why an assertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// Not an assertion of this deployment: bad encoding, too long, another key, or changed.
    #[error("the context assertion is not valid")]
    Invalid,
    /// A valid assertion past its expiry.
    #[error("the context assertion has expired")]
    Expired,
}

/// Seals and opens `sts:identity_context` assertions.
#[derive(Debug, Clone)]
pub struct ContextSealer {
    key: MasterKey,
}

impl ContextSealer {
    /// The sealer of this deployment (a subkey of the master key).
    pub fn new(master: &MasterKey) -> ContextSealer {
        Self::for_purpose(master, "identity-context")
    }

    /// A sealer for another kind of sealed token (its own subkey: a token of one purpose
    /// never opens as another).
    pub fn for_purpose(master: &MasterKey, purpose: &str) -> ContextSealer {
        ContextSealer {
            key: MasterKey::from_bytes(master.subkey(purpose)),
        }
    }

    /// The assertion for `ctx` (base64url).
    pub fn seal(&self, ctx: &IdentityContext) -> String {
        let plain = serde_json::to_vec(ctx).expect("context serialises");
        URL_SAFE_NO_PAD.encode(self.key.seal(&plain, CONTEXT_AAD))
    }

    /// The context an assertion seals, if it is ours, unchanged and unexpired at `now`.
    pub fn open(&self, assertion: &str, now: i64) -> Result<IdentityContext, ContextError> {
        if assertion.len() > MAX_ASSERTION_LEN {
            return Err(ContextError::Invalid);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(assertion)
            .map_err(|_| ContextError::Invalid)?;
        let plain = self
            .key
            .open(&raw, CONTEXT_AAD)
            .map_err(|_| ContextError::Invalid)?;
        let ctx: IdentityContext =
            serde_json::from_slice(&plain).map_err(|_| ContextError::Invalid)?;
        if ctx.expires_at <= now {
            return Err(ContextError::Expired);
        }
        Ok(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    fn ctx(expires_at: i64) -> IdentityContext {
        IdentityContext {
            user_id: "u-1".into(),
            identity_store_arn: "arn:aws:identitystore::111111111111:identitystore/d-1234567890"
                .into(),
            instance_arn: "arn:aws:sso:::instance/ssoins-1111111111111111".into(),
            application_arn:
                "arn:aws:sso::111111111111:application/ssoins-1111111111111111/apl-2222222222222222"
                    .into(),
            credential_id: "c".into(),
            token_issued_at: 100,
            expires_at,
        }
    }

    #[test]
    fn signed_tokens_verify_with_the_published_key() {
        let s = TokenSigner::generate("k1");
        let t = s.sign(&json!({"sub": "u"}));
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
        let jwk = s.jwk();
        let mut point = vec![4u8];
        point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point);
        let input = format!("{}.{}", parts[0], parts[1]);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert!(key.verify(input.as_bytes(), &sig).is_ok());
        assert!(key.verify(b"other", &sig).is_err());
        // The stored form loads back to the same key.
        let again = TokenSigner::from_pkcs8("k1", s.pkcs8()).unwrap();
        assert_eq!(again.jwk(), jwk);
        assert!(TokenSigner::from_pkcs8("k", b"junk").is_err());
    }

    #[test]
    fn assertions_open_only_here_unchanged_and_unexpired() {
        let master = MasterKey::generate();
        let sealer = ContextSealer::new(&master);
        let a = sealer.seal(&ctx(1000));
        assert_eq!(sealer.open(&a, 999).unwrap(), ctx(1000));
        assert_eq!(sealer.open(&a, 1000), Err(ContextError::Expired));
        // Another deployment's master key.
        let other = ContextSealer::new(&MasterKey::generate());
        assert_eq!(other.open(&a, 1), Err(ContextError::Invalid));
        // One byte changed anywhere.
        let raw = URL_SAFE_NO_PAD.decode(&a).unwrap();
        for i in 0..raw.len() {
            let mut m = raw.clone();
            m[i] ^= 1;
            assert_eq!(
                sealer.open(&URL_SAFE_NO_PAD.encode(&m), 1),
                Err(ContextError::Invalid),
                "byte {i}"
            );
        }
        assert_eq!(sealer.open("not base64!", 1), Err(ContextError::Invalid));
        // A token sealed for another purpose does not open as an assertion.
        let access = ContextSealer::for_purpose(&master, "access-token").seal(&ctx(1000));
        assert_eq!(sealer.open(&access, 1), Err(ContextError::Invalid));
        let t = opaque_token("aor");
        assert!(t.starts_with("aor") && t.len() == 46);
        assert_ne!(t, opaque_token("aor"));
        assert_eq!(token_digest(&t).len(), 64);
        assert_eq!(
            sealer.open(&"A".repeat(5000), 1),
            Err(ContextError::Invalid)
        );
    }
}
