//! Start-up and operator actions shared by `serve`, `dev` and the operator commands.

use crate::config::Config;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::sync::Arc;
use tessera_core::{AccountId, Secret};
use tessera_crypto::MasterKey;
use tessera_crypto::session::{KeyRing, RingKey};
use tessera_store::SessionKeyRecord;
use tessera_store::Store;

/// The accounts `tessera dev` creates.
pub const DEV_ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];

/// Load the master key from `TESSERA_MASTER_KEY` or the configured file.
pub fn load_master_key(config: &Config) -> Result<MasterKey> {
    if let Ok(v) = std::env::var("TESSERA_MASTER_KEY")
        && !v.is_empty()
    {
        return MasterKey::parse(&v).context("TESSERA_MASTER_KEY");
    }
    match &config.keys.master_key_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading master key file {}", p.display()))?;
            MasterKey::parse(&text).with_context(|| format!("master key file {}", p.display()))
        }
        None => {
            bail!("no master key: set keys.master_key_file in the config or TESSERA_MASTER_KEY")
        }
    }
}

/// Load `{data_dir}/master.key`, generating it (owner-only) on first use. Dev mode only.
pub fn dev_master_key(data_dir: &Path) -> Result<MasterKey> {
    let path = data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return MasterKey::parse(&text)
            .with_context(|| format!("master key in {}", path.display()));
    }
    let key = MasterKey::generate();
    write_private(&path, &key.to_hex())?;
    Ok(key)
}

/// Write a file readable only by its owner, atomically (temp file, fsync, rename).
pub fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    }
    let store = tessera_store::connect(&url)
        .await
        .context("opening the store")?;
    store.migrate().await.context("migrating the store")?;
    Ok(store)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Create an account; an existing one is an error.
pub async fn create_account(store: &dyn Store, id: &str) -> Result<()> {
    let id = AccountId::parse(id)?;
    match store.create_account(id.as_str(), now()).await {
        Err(tessera_store::StoreError::Conflict) => bail!("account {id} already exists"),
        r => r.context("creating the account")?,
    }
    Ok(())
}

/// Create a root access key for `account`; returns (key id, secret).
pub async fn create_root_key(
    store: &dyn Store,
    master: &MasterKey,
    account: &str,
) -> Result<(String, Secret)> {
    let account = AccountId::parse(account)?;
    if !store.account_exists(account.as_str()).await? {
        bail!(
            "account {account} does not exist (create it with `tessera account create {account}`)"
        );
    }
    let (rec, secret) = tessera_iam::new_access_key(master, account.as_str(), None, now());
    store
        .put_access_key(&rec)
        .await
        .context("storing the key")?;
    Ok((rec.access_key_id, secret))
}

/// Make sure the dev accounts exist with a root key each; return (account, key id, secret).
pub async fn ensure_dev_accounts(
    store: &dyn Store,
    master: &MasterKey,
) -> Result<Vec<(String, String, Secret)>> {
    let mut out = Vec::new();
    for acct in DEV_ACCOUNTS {
        if !store.account_exists(acct).await? {
            store.create_account(acct, now()).await?;
        }
        let keys = store.list_access_keys(acct, None).await?;
        let active = keys.into_iter().find(|k| k.status == "Active");
        let (id, secret) = match active {
            Some(k) => {
                let plain = master
                    .open(&k.secret_sealed, k.access_key_id.as_bytes())
                    .context("the data directory's master key does not open the stored root key")?;
                (k.access_key_id, Secret::new(String::from_utf8(plain)?))
            }
            None => create_root_key(store, master, acct).await?,
        };
        out.push((acct.to_owned(), id, secret));
    }
    Ok(out)
}

/// How long a retired ring key keeps opening sessions: the longest session (12 h) plus the
/// allowed clock skew. A key is retired when a newer key is added.
pub const RING_KEY_GRACE_SECS: i64 = 43_200 + 900;

fn ring_aad(id: i64) -> Vec<u8> {
    format!("session-key/{id}").into_bytes()
}

/// Add a new ring key (the next id); returns its id. Retries if another replica races.
pub async fn add_ring_key(store: &dyn Store, master: &MasterKey) -> Result<i64> {
    for _ in 0..5 {
        let next = store
            .list_session_keys()
            .await?
            .iter()
            .map(|k| k.id)
            .max()
            .unwrap_or(0)
            + 1;
        let key = RingKey::generate(u32::try_from(next).context("ring key id overflow")?, now());
        let rec = SessionKeyRecord {
            id: next,
            secret_sealed: master.seal(&key.secret, &ring_aad(next)),
            created_at: key.created_at,
        };
        match store.add_session_key(&rec).await {
            Ok(()) => return Ok(next),
            Err(tessera_store::StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    bail!("could not add a session key: too many concurrent rotations")
}

/// The ring keys still in use at `now`: the newest, and every older key whose successor was
/// created less than [`RING_KEY_GRACE_SECS`] ago.
fn live_keys(records: &[SessionKeyRecord], now: i64) -> Vec<&SessionKeyRecord> {
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

/// A new ring key opens sessions as soon as a replica loads it, but seals new sessions only
/// this long after its creation: by then every replica (reloading every 10 s) holds it, so no
/// replica meets a session it cannot open.
pub const RING_KEY_ACTIVATION_SECS: i64 = 25;

/// Load the session key ring, creating the first key on first use.
pub async fn load_ring(store: &dyn Store, master: &MasterKey) -> Result<KeyRing> {
    load_ring_at(store, master, now()).await
}

/// [`load_ring`] as of `now` (unix seconds).
pub async fn load_ring_at(store: &dyn Store, master: &MasterKey, now: i64) -> Result<KeyRing> {
    let mut records = store.list_session_keys().await?;
    if records.is_empty() {
        add_ring_key(store, master).await?;
        records = store.list_session_keys().await?;
    }
    let mut keys = Vec::new();
    for r in live_keys(&records, now) {
        let plain = master
            .open(&r.secret_sealed, &ring_aad(r.id))
            .context("the master key does not open the stored session keys")?;
        let secret: [u8; 32] = plain
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored session key {} is malformed", r.id))?;
        keys.push(RingKey {
            id: u32::try_from(r.id)?,
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
        .context("no usable session key")?;
    KeyRing::with_signing_key(&keys, signing).context("no usable session key")
}

/// `tessera keys rotate`: add a new key (new sessions use it; older sessions stay valid until
/// they expire) and delete keys past their grace period. Returns (new id, deleted ids).
pub async fn rotate_ring(store: &dyn Store, master: &MasterKey) -> Result<(i64, Vec<i64>)> {
    let id = add_ring_key(store, master).await?;
    let records = store.list_session_keys().await?;
    let live: Vec<i64> = live_keys(&records, now()).iter().map(|k| k.id).collect();
    let mut deleted = Vec::new();
    for r in records.iter().filter(|r| !live.contains(&r.id)) {
        if store.delete_session_key(r.id).await? {
            deleted.push(r.id);
        }
    }
    Ok((id, deleted))
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
