//! Stateless role sessions: `ASIA…` access keys whose secret is derived from the key id, and
//! sealed session tokens that carry the session's claims.
//!
//! A token is `base64( v1 || key-id (4 bytes, big endian) || nonce (12) || AES-256-GCM(claims) )`
//! with associated data `"tessera-session" || v1 || key-id`, so a token cannot be re-tagged to
//! another key and any changed bit fails authentication. The claims include the access key id,
//! so a token only verifies together with the key id it was issued for. The secret access key
//! is `base64(HMAC-SHA256(derive-key, akid))[..40]`: any replica holding the key ring can
//! verify any session with no lookup.
//!
//! Ring keys rotate: new sessions are sealed with the newest key, older keys keep opening the
//! sessions they sealed until those expire.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::collections::HashMap;
use std::fmt;

const VERSION: u8 = 1;
const AAD_LABEL: &[u8] = b"tessera-session";
const HEADER: usize = 1 + 4 + 12;
const TAG: usize = 16;
/// Tokens longer than this are rejected before decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

pub use tessera_core::session::{SessionClaims, WebIdentity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not a token of ours (bad encoding, wrong version, too short or long).
    #[error("the session token is malformed")]
    Malformed,
    /// Sealed with a key this deployment does not hold (another deployment, or a retired key).
    #[error("the session token was sealed with an unknown key")]
    UnknownKey,
    /// Authentication failed: some bit was changed, or the key id was swapped.
    #[error("the session token failed authentication")]
    Tampered,
    /// A valid token presented with another access key id than the one it was issued for.
    #[error("the session token belongs to another access key")]
    KeyIdMismatch,
    /// A valid token whose session has ended.
    #[error("the session has expired")]
    Expired,
}

/// One ring key as stored (sealed under the master key) and loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct RingKey {
    pub id: u32,
    pub secret: [u8; 32],
    pub created_at: i64,
}

impl fmt::Debug for RingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RingKey(id={}, created_at={})", self.id, self.created_at)
    }
}

impl RingKey {
    pub fn generate(id: u32, created_at: i64) -> RingKey {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        RingKey {
            id,
            secret,
            created_at,
        }
    }
}

struct Entry {
    aead: Aes256Gcm,
    derive: [u8; 32],
}

/// The session key ring. Cheap to share behind an `Arc`; replaced whole on reload.
pub struct KeyRing {
    current: u32,
    entries: HashMap<u32, Entry>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.entries.keys().collect();
        ids.sort();
        write!(f, "KeyRing(current={}, keys={ids:?})", self.current)
    }
}

fn subkey(secret: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

fn aad(key_id: u32) -> [u8; 20] {
    let mut a = [0u8; 20];
    a[..15].copy_from_slice(AAD_LABEL);
    a[15] = VERSION;
    a[16..].copy_from_slice(&key_id.to_be_bytes());
    a
}

impl KeyRing {
    /// A ring of `keys`; the newest (highest id) seals new sessions. Needs at least one key.
    pub fn new(keys: &[RingKey]) -> Option<KeyRing> {
        let newest = keys.iter().map(|k| k.id).max()?;
        Self::with_signing_key(keys, newest)
    }

    /// A ring of `keys` that seals new sessions with key `signing` (which must be among them)
    /// and opens sessions sealed with any of them.
    pub fn with_signing_key(keys: &[RingKey], signing: u32) -> Option<KeyRing> {
        if !keys.iter().any(|k| k.id == signing) {
            return None;
        }
        let current = signing;
        let entries = keys
            .iter()
            .map(|k| {
                let enc = subkey(&k.secret, b"tessera/session-token/v1");
                let entry = Entry {
                    aead: Aes256Gcm::new_from_slice(&enc).expect("32-byte key"),
                    derive: subkey(&k.secret, b"tessera/session-secret/v1"),
                };
                (k.id, entry)
            })
            .collect();
        Some(KeyRing { current, entries })
    }

    pub fn current_id(&self) -> u32 {
        self.current
    }

    pub fn contains(&self, id: u32) -> bool {
        self.entries.contains_key(&id)
    }

    fn derive(entry: &Entry, access_key_id: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&entry.derive).expect("any key length");
        mac.update(access_key_id.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut s = STANDARD.encode(&out[..30]);
        s.truncate(40);
        s
    }

    /// Seal `claims` with the current key. Returns (session token, secret access key).
    pub fn issue(&self, claims: &SessionClaims) -> (String, String) {
        let entry = &self.entries[&self.current];
        let plaintext = serde_json::to_vec(claims).expect("claims serialise");
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = entry
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad(self.current),
                },
            )
            .expect("in-memory encryption cannot fail");
        let mut raw = Vec::with_capacity(HEADER + ct.len());
        raw.push(VERSION);
        raw.extend_from_slice(&self.current.to_be_bytes());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ct);
        (
            STANDARD.encode(raw),
            Self::derive(entry, &claims.access_key_id),
        )
    }

    /// Open a session token; on success also returns the secret access key derived for the
    /// claims' access key id (the caller compares the claims' key id with the request's).
    pub fn open(&self, token: &str) -> Result<(SessionClaims, String), SessionError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(SessionError::Malformed);
        }
        let raw = STANDARD
            .decode(token.trim())
            .map_err(|_| SessionError::Malformed)?;
        if raw.len() < HEADER + TAG || raw[0] != VERSION {
            return Err(SessionError::Malformed);
        }
        let key_id = u32::from_be_bytes(raw[1..5].try_into().expect("4 bytes"));
        let entry = self.entries.get(&key_id).ok_or(SessionError::UnknownKey)?;
        let plaintext = entry
            .aead
            .decrypt(
                Nonce::from_slice(&raw[5..HEADER]),
                Payload {
                    msg: &raw[HEADER..],
                    aad: &aad(key_id),
                },
            )
            .map_err(|_| SessionError::Tampered)?;
        let claims: SessionClaims =
            serde_json::from_slice(&plaintext).map_err(|_| SessionError::Malformed)?;
        let secret = Self::derive(entry, &claims.access_key_id);
        Ok((claims, secret))
    }
}

impl KeyRing {
    /// Verify that `token` is a live session for `access_key_id` at `now` (unix seconds).
    /// Returns the claims and the derived secret to check the request signature with.
    pub fn verify(
        &self,
        token: &str,
        access_key_id: &str,
        now: i64,
    ) -> Result<(SessionClaims, String), SessionError> {
        let (claims, secret) = self.open(token)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            claims.access_key_id.as_bytes(),
            access_key_id.as_bytes(),
        )) {
            return Err(SessionError::KeyIdMismatch);
        }
        if now >= claims.expires_at {
            return Err(SessionError::Expired);
        }
        Ok((claims, secret))
    }
}

/// A fresh temporary access key id: `ASIA` + 16 base32 characters.
pub fn session_access_key_id() -> String {
    const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let mut s = String::from("ASIA");
    s.extend(bytes.iter().map(|b| BASE32[(b & 31) as usize] as char));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn claims(akid: &str) -> SessionClaims {
        SessionClaims {
            access_key_id: akid.into(),
            account: "111111111111".into(),
            role_name: "ApplicationRole".into(),
            role_id: "AROAEXAMPLE000000001".into(),
            role_path: "/".into(),
            session_name: "s1".into(),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
            source_identity: Some("alice".into()),
            policy: None,
            policy_arns: vec![],
            tags: vec![("team".into(), "data".into())],
            transitive_tag_keys: vec![],
            chain_depth: 0,
            web_identity: None,
            identity_context: None,
            grant: None,
        }
    }

    #[test]
    fn issue_and_open() {
        let ring = KeyRing::new(&[RingKey::generate(1, 0)]).unwrap();
        let akid = session_access_key_id();
        assert!(akid.starts_with("ASIA") && akid.len() == 20);
        let (token, secret) = ring.issue(&claims(&akid));
        assert_eq!(secret.len(), 40);
        let (c, s) = ring.open(&token).unwrap();
        assert_eq!(c, claims(&akid));
        assert_eq!(s, secret);
        // Another key id gets another secret.
        let (_, other) = ring.issue(&claims(&session_access_key_id()));
        assert_ne!(other, secret);
    }

    #[test]
    fn rotation_keeps_old_sessions() {
        let k1 = RingKey::generate(1, 0);
        let old = KeyRing::new(std::slice::from_ref(&k1)).unwrap();
        let (t1, _) = old.issue(&claims("ASIA1"));
        let ring = KeyRing::new(&[k1, RingKey::generate(2, 10)]).unwrap();
        assert_eq!(ring.current_id(), 2);
        assert!(ring.open(&t1).is_ok(), "old sessions stay valid");
        let (t2, _) = ring.issue(&claims("ASIA2"));
        assert_eq!(STANDARD.decode(&t2).unwrap()[1..5], 2u32.to_be_bytes());
        assert_eq!(old.open(&t2), Err(SessionError::UnknownKey));
    }

    #[test]
    fn foreign_and_garbage_tokens() {
        let a = KeyRing::new(&[RingKey::generate(1, 0)]).unwrap();
        let b = KeyRing::new(&[RingKey::generate(1, 0)]).unwrap();
        let (t, _) = a.issue(&claims("ASIA1"));
        assert_eq!(
            b.open(&t),
            Err(SessionError::Tampered),
            "same key id, other deployment"
        );
        assert_eq!(a.open("not base64 !"), Err(SessionError::Malformed));
        assert_eq!(a.open(""), Err(SessionError::Malformed));
        assert_eq!(
            a.open(&"A".repeat(MAX_TOKEN_LEN + 4)),
            Err(SessionError::Malformed)
        );
    }

    proptest! {
        /// Flipping any bit of a token makes it fail.
        #[test]
        fn any_flipped_bit_fails(idx in any::<usize>(), bit in 0u8..8) {
            let ring = KeyRing::new(&[RingKey { id: 7, secret: [3; 32], created_at: 0 }]).unwrap();
            let (t, _) = ring.issue(&claims("ASIAAAAAAAAAAAAAAAAA"));
            let mut raw = STANDARD.decode(&t).unwrap();
            let i = idx % raw.len();
            raw[i] ^= 1 << bit;
            prop_assert!(ring.open(&STANDARD.encode(raw)).is_err());
        }

        /// Re-tagging a token with another ring key's id fails.
        #[test]
        fn swapped_key_id_fails(other in 0u32..1000) {
            let ring = KeyRing::new(&[RingKey { id: 1000, secret: [3; 32], created_at: 0 },
                                      RingKey { id: other, secret: [4; 32], created_at: 0 }]).unwrap();
            let (t, _) = ring.issue(&claims("ASIAAAAAAAAAAAAAAAAA"));
            let mut raw = STANDARD.decode(&t).unwrap();
            raw[1..5].copy_from_slice(&other.to_be_bytes());
            prop_assert!(ring.open(&STANDARD.encode(raw)).is_err());
        }

        /// A token only verifies with the access key id it was issued for.
        #[test]
        fn other_sessions_key_id_fails(n in 0usize..64) {
            let ring = KeyRing::new(&[RingKey { id: 1, secret: [5; 32], created_at: 0 }]).unwrap();
            let mine = session_access_key_id();
            let (t, _) = ring.issue(&claims(&mine));
            let others: Vec<String> = (0..=n).map(|_| session_access_key_id()).collect();
            for other in others.iter().filter(|o| **o != mine) {
                prop_assert_eq!(ring.verify(&t, other, 0).unwrap_err(), SessionError::KeyIdMismatch);
            }
            prop_assert!(ring.verify(&t, &mine, 1_700_000_001).is_ok());
            prop_assert_eq!(ring.verify(&t, &mine, 1_700_003_600).unwrap_err(), SessionError::Expired);
        }

        #[test]
        fn open_never_panics(s in any::<String>()) {
            let ring = KeyRing::new(&[RingKey::generate(1, 0)]).unwrap();
            let _ = ring.open(&s);
        }
    }
}
