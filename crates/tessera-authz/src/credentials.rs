//! Short-lived caches on the authentication hot path, so that a signed request reads nothing
//! from the store and derives nothing twice:
//!
//! - **Long-term keys** (`AKIA…`): the key's owner and its unsealed secret, kept for
//!   [`KEY_TTL`]. A key deleted on this replica is forgotten at once
//!   ([`CredentialCache::forget_key`]); other replicas stop accepting it within the TTL (AWS
//!   documents the same eventual consistency for IAM changes).
//! - **Session tokens** (`ASIA…`): the opened claims and derived secret of a token, keyed by
//!   the whole token and kept for [`SESSION_TTL`]. Expiry, the key-id binding and revocation
//!   are still checked on every request; the cache saves only the AES-GCM open and the JSON
//!   parse.
//! - **Signing keys**: each entry keeps the SigV4 signing key last derived from its secret
//!   (one credential scope a day is what clients use), saving four HMACs per request.
//!
//! Each map is bounded ([`MAX_ENTRIES`]); when full it is emptied and refills from the
//! requests that follow, which keeps a flood of distinct credentials from growing memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tessera_core::session::SessionClaims;

/// How long a long-term key's secret and owner are trusted without asking the store again.
pub const KEY_TTL: Duration = Duration::from_secs(5);
/// How long an opened session token is kept.
pub const SESSION_TTL: Duration = Duration::from_secs(300);
/// The most entries either map holds.
pub const MAX_ENTRIES: usize = 16_384;

/// A signing key with the credential scope (date, region, service) it was derived for.
type ScopedKey = (String, String, String, [u8; 32]);

/// The signing key last derived for one secret, with the scope it was derived for.
#[derive(Default)]
pub struct SigningKeySlot(Mutex<Option<ScopedKey>>);

impl std::fmt::Debug for SigningKeySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKeySlot(..)")
    }
}

impl SigningKeySlot {
    /// The signing key for scope `date`/`region`/`service`: the cached one if it was derived
    /// for exactly this scope, else `derive()` (remembered for next time).
    pub fn get_or_derive(
        &self,
        date: &str,
        region: &str,
        service: &str,
        derive: impl FnOnce() -> [u8; 32],
    ) -> [u8; 32] {
        let mut slot = self.0.lock().expect("signing key slot");
        if let Some((d, r, s, key)) = slot.as_ref()
            && d == date
            && r == region
            && s == service
        {
            return *key;
        }
        let key = derive();
        *slot = Some((date.to_owned(), region.to_owned(), service.to_owned(), key));
        key
    }
}

/// A long-term access key as authentication needs it.
#[derive(Debug)]
pub struct CachedKey {
    pub account_id: String,
    /// `None` for an account root key.
    pub user_name_key: Option<String>,
    pub secret: String,
    pub signing: SigningKeySlot,
}

/// An opened session token.
#[derive(Debug)]
pub struct CachedSession {
    pub claims: Arc<SessionClaims>,
    pub secret: String,
    pub signing: SigningKeySlot,
}

struct TtlMap<V> {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Arc<V>)>>,
}

impl<V> TtlMap<V> {
    fn new(ttl: Duration) -> TtlMap<V> {
        TtlMap {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, key: &str) -> Option<Arc<V>> {
        let map = self.entries.read().expect("credential cache");
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    fn insert(&self, key: &str, value: Arc<V>) {
        let mut map = self.entries.write().expect("credential cache");
        if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_owned(), (Instant::now(), value));
    }

    fn remove(&self, key: &str) {
        self.entries.write().expect("credential cache").remove(key);
    }

    fn len(&self) -> usize {
        self.entries.read().expect("credential cache").len()
    }
}

/// The caches of one server process (shared by every service through the [`Authorizer`]).
///
/// [`Authorizer`]: crate::Authorizer
pub struct CredentialCache {
    keys: TtlMap<CachedKey>,
    sessions: TtlMap<CachedSession>,
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("keys", &self.keys.len())
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl Default for CredentialCache {
    fn default() -> Self {
        CredentialCache::new()
    }
}

impl CredentialCache {
    pub fn new() -> CredentialCache {
        CredentialCache {
            keys: TtlMap::new(KEY_TTL),
            sessions: TtlMap::new(SESSION_TTL),
        }
    }

    /// The cached long-term key `access_key_id`, if fetched within [`KEY_TTL`].
    pub fn key(&self, access_key_id: &str) -> Option<Arc<CachedKey>> {
        self.keys.get(access_key_id)
    }

    pub fn remember_key(&self, access_key_id: &str, key: CachedKey) -> Arc<CachedKey> {
        let key = Arc::new(key);
        self.keys.insert(access_key_id, key.clone());
        key
    }

    /// Stop accepting `access_key_id` from the cache (it was deleted on this replica).
    pub fn forget_key(&self, access_key_id: &str) {
        self.keys.remove(access_key_id);
    }

    /// The opened session `token`, if opened within [`SESSION_TTL`].
    pub fn session(&self, token: &str) -> Option<Arc<CachedSession>> {
        self.sessions.get(token)
    }

    pub fn remember_session(&self, token: &str, session: CachedSession) -> Arc<CachedSession> {
        let session = Arc::new(session);
        self.sessions.insert(token, session.clone());
        session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &str) -> CachedKey {
        CachedKey {
            account_id: "111111111111".into(),
            user_name_key: None,
            secret: secret.into(),
            signing: SigningKeySlot::default(),
        }
    }

    #[test]
    fn keys_are_kept_until_forgotten_or_stale() {
        let c = CredentialCache::new();
        assert!(c.key("AKIA1").is_none());
        c.remember_key("AKIA1", key("s1"));
        assert_eq!(c.key("AKIA1").unwrap().secret, "s1");
        c.forget_key("AKIA1");
        assert!(c.key("AKIA1").is_none());

        let m: TtlMap<u8> = TtlMap::new(Duration::ZERO);
        m.insert("k", Arc::new(1));
        assert!(
            m.get("k").is_none(),
            "an entry older than the TTL is not served"
        );
    }

    #[test]
    fn a_full_map_starts_over() {
        let m: TtlMap<usize> = TtlMap::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES {
            m.insert(&i.to_string(), Arc::new(i));
        }
        assert_eq!(m.len(), MAX_ENTRIES);
        m.insert("0", Arc::new(0));
        assert_eq!(m.len(), MAX_ENTRIES, "replacing an entry evicts nothing");
        m.insert("new", Arc::new(0));
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn the_signing_key_is_derived_once_per_scope() {
        let slot = SigningKeySlot::default();
        let mut derived = 0;
        let mut get = |date: &str, service: &str| {
            slot.get_or_derive(date, "us-east-1", service, || {
                derived += 1;
                [derived as u8; 32]
            })
        };
        assert_eq!(get("20261202", "s3"), [1; 32]);
        assert_eq!(get("20261202", "s3"), [1; 32]);
        assert_eq!(get("20261203", "s3"), [2; 32]);
        assert_eq!(get("20261203", "sts"), [3; 32]);
        assert_eq!(derived, 3);
    }
}
