//! The session key ring as a replicated view: the ring keys in the store, unsealed with the
//! master key, the signing key chosen by age.
//!
//! `tessera session-keys rotate` adds a key ([`rotate`]) and bumps the `session-keys` counter,
//! so every replica loads the new key within a second; the view is also reloaded every ten
//! seconds, because which key signs depends on the time ([`RING_KEY_ACTIVATION_SECS`]) and
//! retired keys age out ([`RING_KEY_GRACE_SECS`]).

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tessera_crypto::MasterKey;
use tessera_crypto::session::{KeyRing, RingKey};
use tessera_store::view::{Projection, View};
use tessera_store::{ChangeCounters, SessionKeyRecord, SessionKeyStore, StoreError};

/// The change counter a ring rotation bumps.
pub const SESSION_KEYS_COUNTER: &str = "session-keys";

/// How long a retired ring key keeps opening sessions: the longest session (12 h) plus the
/// allowed clock skew. A key is retired when a newer key is added.
pub const RING_KEY_GRACE_SECS: i64 = 43_200 + 900;

/// A new ring key opens sessions as soon as a replica loads it, but seals new sessions only
/// this long after its creation: by then every replica (reloading at least every 10 s) holds
/// it, so no replica meets a session it cannot open.
pub const RING_KEY_ACTIVATION_SECS: i64 = 25;

/// Why the ring could not be loaded or changed.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the master key does not open the stored session key {0}")]
    Unseal(i64),
    #[error("stored session key {0} is malformed")]
    Malformed(i64),
    #[error("no usable session key")]
    NoKey,
    #[error("could not add a session key: too many concurrent rotations")]
    Contended,
}

fn ring_aad(id: i64) -> Vec<u8> {
    format!("session-key/{id}").into_bytes()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Add a new ring key (the next id); returns its id. Retries if another replica races.
pub async fn add_key(store: &dyn SessionKeyStore, master: &MasterKey) -> Result<i64, RingError> {
    for _ in 0..5 {
        let next = store
            .list_session_keys()
            .await?
            .iter()
            .map(|k| k.id)
            .max()
            .unwrap_or(0)
            + 1;
        let id = u32::try_from(next).map_err(|_| RingError::Malformed(next))?;
        let key = RingKey::generate(id, now());
        let rec = SessionKeyRecord {
            id: next,
            secret_sealed: master.seal(&key.secret, &ring_aad(next)),
            created_at: key.created_at,
        };
        match store.add_session_key(&rec).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RingError::Contended)
}

/// The ring keys still in use at `now`: the newest, and every older key whose successor was
/// created less than [`RING_KEY_GRACE_SECS`] ago.
pub fn live_keys(records: &[SessionKeyRecord], now: i64) -> Vec<&SessionKeyRecord> {
    records
        .iter()
        .filter(|k| {
            match records
                .iter()
                .filter(|o| o.id > k.id)
                .map(|o| o.created_at)
                .min()
            {
                None => true,
                Some(successor) => successor + RING_KEY_GRACE_SECS > now,
            }
        })
        .collect()
}

/// Load the ring as of `now` (unix seconds), creating the first key on first use.
pub async fn load_at(
    store: &dyn SessionKeyStore,
    master: &MasterKey,
    now: i64,
) -> Result<KeyRing, RingError> {
    let mut records = store.list_session_keys().await?;
    if records.is_empty() {
        add_key(store, master).await?;
        records = store.list_session_keys().await?;
    }
    let mut keys = Vec::new();
    for r in live_keys(&records, now) {
        let plain = master
            .open(&r.secret_sealed, &ring_aad(r.id))
            .map_err(|_| RingError::Unseal(r.id))?;
        let secret: [u8; 32] = plain.try_into().map_err(|_| RingError::Malformed(r.id))?;
        keys.push(RingKey {
            id: u32::try_from(r.id).map_err(|_| RingError::Malformed(r.id))?,
            secret,
            created_at: r.created_at,
        });
    }
    // Seal with the newest key that every replica has had time to load; while no key is that
    // old (first start, or a rotation right after it), with the oldest live key.
    let signing = keys
        .iter()
        .filter(|k| k.created_at + RING_KEY_ACTIVATION_SECS <= now)
        .map(|k| k.id)
        .max()
        .or_else(|| keys.iter().map(|k| k.id).min())
        .ok_or(RingError::NoKey)?;
    KeyRing::with_signing_key(&keys, signing).ok_or(RingError::NoKey)
}

/// Add a new key (new sessions use it once it is active; older sessions stay valid until they
/// expire), delete keys past their grace period and tell every replica. Returns (new id,
/// deleted ids).
pub async fn rotate(
    store: &dyn SessionKeyStore,
    counters: &dyn ChangeCounters,
    master: &MasterKey,
) -> Result<(i64, Vec<i64>), RingError> {
    let id = add_key(store, master).await?;
    let records = store.list_session_keys().await?;
    let live: Vec<i64> = live_keys(&records, now()).iter().map(|k| k.id).collect();
    let mut deleted = Vec::new();
    for r in records.iter().filter(|r| !live.contains(&r.id)) {
        if store.delete_session_key(r.id).await? {
            deleted.push(r.id);
        }
    }
    counters.bump_generation(SESSION_KEYS_COUNTER).await?;
    Ok((id, deleted))
}

/// How the ring view is loaded.
#[derive(Debug)]
pub struct KeyRingProjection {
    store: Arc<dyn SessionKeyStore>,
    master: MasterKey,
}

#[async_trait]
impl Projection for KeyRingProjection {
    type Snapshot = KeyRing;
    /// Nothing is written to the ring on the request path.
    type Change = std::convert::Infallible;

    const NAME: &'static str = "session-keys";
    const COUNTER: &'static str = SESSION_KEYS_COUNTER;

    fn max_age(&self) -> Duration {
        Duration::from_secs(10)
    }

    async fn load(&self) -> Result<KeyRing, StoreError> {
        load_at(self.store.as_ref(), &self.master, now())
            .await
            .map_err(|e| match e {
                RingError::Store(e) => e,
                other => StoreError::Backend(other.to_string()),
            })
    }

    fn apply(&self, _ring: &KeyRing, change: &Self::Change) -> KeyRing {
        match *change {}
    }
}

/// The replicated session key ring.
pub type KeyRingView = View<KeyRingProjection>;

/// Load the ring view.
pub async fn load_view(
    store: Arc<dyn SessionKeyStore>,
    counters: Arc<dyn ChangeCounters>,
    master: MasterKey,
) -> Result<KeyRingView, StoreError> {
    View::load(KeyRingProjection { store, master }, counters).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: i64, created_at: i64) -> SessionKeyRecord {
        SessionKeyRecord {
            id,
            secret_sealed: vec![],
            created_at,
        }
    }

    #[test]
    fn retired_keys_live_through_the_grace_period() {
        let keys = [rec(1, 0), rec(2, 1000), rec(3, 100_000)];
        let ids = |now| {
            live_keys(&keys, now)
                .iter()
                .map(|k| k.id)
                .collect::<Vec<_>>()
        };
        // Key 1 was retired at 1000 (when key 2 came), key 2 at 100000; the grace is 44100 s.
        assert_eq!(ids(100_000), vec![2, 3]);
        assert_eq!(ids(1000 + RING_KEY_GRACE_SECS - 1), vec![1, 2, 3]);
        assert_eq!(ids(1000 + RING_KEY_GRACE_SECS), vec![2, 3]);
        assert_eq!(ids(100_000 + RING_KEY_GRACE_SECS), vec![3]);
    }
}
