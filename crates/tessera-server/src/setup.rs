//! Start-up and operator actions shared by `serve`, `dev` and the operator commands.

use crate::config::Config;
use crate::error::{Result, ServerError, Step};
use std::path::Path;
use std::sync::Arc;
use tessera_core::{AccountId, Secret};
use tessera_crypto::MasterKey;
use tessera_store::Store;

/// The accounts `tessera dev` creates.
pub const DEV_ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];

/// The organization `tessera dev` puts its accounts in, so that (as in the seeds) the
/// application account can use the Identity Center instance of the other.
pub const DEV_ORGANIZATION: &str = "o-tesseradev01";

/// Load the master key from `TESSERA_MASTER_KEY` or the configured file.
pub fn load_master_key(config: &Config) -> Result<MasterKey> {
    if let Ok(v) = std::env::var("TESSERA_MASTER_KEY")
        && !v.is_empty()
    {
        return MasterKey::parse(&v).step("TESSERA_MASTER_KEY");
    }
    match &config.keys.master_key_file {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .step_with(|| format!("reading master key file {}", p.display()))?;
            MasterKey::parse(&text).step_with(|| format!("master key file {}", p.display()))
        }
        None => Err(ServerError::Invalid(
            "no master key: set keys.master_key_file in the config or TESSERA_MASTER_KEY".into(),
        )),
    }
}

/// Load `{data_dir}/master.key`, generating it (owner-only) on first use. Dev mode only.
pub fn dev_master_key(data_dir: &Path) -> Result<MasterKey> {
    let path = data_dir.join("master.key");
    if path.exists() {
        let text =
            std::fs::read_to_string(&path).step_with(|| format!("reading {}", path.display()))?;
        return MasterKey::parse(&text).step_with(|| format!("master key in {}", path.display()));
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
            .step_with(|| format!("creating {}", tmp.display()))?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).step_with(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        private_dir(&config.data_dir)
            .step_with(|| format!("creating data directory {}", config.data_dir.display()))?;
    }
    let store = tessera_store::connect(&url)
        .await
        .step("opening the store")?;
    store.migrate().await.step("migrating the store")?;
    Ok(store)
}

pub use tessera_store::private_dir;

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Create an account, optionally in an organization (`o-` and 10 to 32 lowercase letters or
/// digits); an existing account is an error.
pub async fn create_account(store: &dyn Store, id: &str, organization: Option<&str>) -> Result<()> {
    let id = AccountId::parse(id)?;
    if let Some(o) = organization {
        check_organization_id(o)?;
    }
    match store.create_account(id.as_str(), now()).await {
        Err(tessera_store::StoreError::Conflict) => {
            return Err(ServerError::Invalid(format!("account {id} already exists")));
        }
        r => r.step("creating the account")?,
    }
    if organization.is_some() {
        store
            .set_account_organization(id.as_str(), organization)
            .await
            .step("setting the account's organization")?;
    }
    Ok(())
}

/// Put an existing account into an organization, or (`None`) take it out.
pub async fn set_account_organization(
    store: &dyn Store,
    id: &str,
    organization: Option<&str>,
) -> Result<()> {
    let id = AccountId::parse(id)?;
    if let Some(o) = organization {
        check_organization_id(o)?;
    }
    store
        .set_account_organization(id.as_str(), organization)
        .await
        .map_err(|e| match e {
            tessera_store::StoreError::Constraint(_) => {
                ServerError::Invalid(format!("account {id} does not exist"))
            }
            e => e.into(),
        })
}

/// AWS Organizations ids: `o-` and 10 to 32 lowercase letters or digits.
fn check_organization_id(o: &str) -> Result<()> {
    let ok = o.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if !ok {
        return Err(ServerError::Invalid(format!(
            "{o:?} is not an organization id (o- and 10 to 32 lowercase letters or digits)"
        )));
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
        return Err(ServerError::Invalid(format!(
            "account {account} does not exist (create it with `tessera account create {account}`)"
        )));
    }
    let (rec, secret) = tessera_iam::new_access_key(master, account.as_str(), None, now());
    store.put_access_key(&rec).await.step("storing the key")?;
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
        if store.account_organization(acct).await?.is_none() {
            store
                .set_account_organization(acct, Some(DEV_ORGANIZATION))
                .await?;
        }
        let keys = store.list_access_keys(acct, None).await?;
        let active = keys.into_iter().find(|k| k.status == "Active");
        let (id, secret) = match active {
            Some(k) => {
                let plain = master
                    .open(&k.secret_sealed, k.access_key_id.as_bytes())
                    .step("the data directory's master key does not open the stored root key")?;
                (k.access_key_id, Secret::new(String::from_utf8(plain)?))
            }
            None => create_root_key(store, master, acct).await?,
        };
        out.push((acct.to_owned(), id, secret));
    }
    Ok(out)
}

/// `tessera session-keys rotate`: add a new key (new sessions use it once every replica has
/// it; older sessions stay valid until they expire), delete keys past their grace period and
/// tell running replicas. Returns (new id, deleted ids).
pub async fn rotate_ring(store: &dyn Store, master: &MasterKey) -> Result<(i64, Vec<i64>)> {
    Ok(tessera_authz::keyring::rotate(store, store, master).await?)
}

/// Revoke a directory user's sessions and tokens issued until now; running servers see it
/// within a second (the revocations counter). Returns the revocation time (unix seconds).
pub async fn revoke_user(store: &dyn Store, user_id: &str) -> Result<i64> {
    if user_id.is_empty() || user_id.len() > 47 {
        return Err(ServerError::Invalid(format!(
            "{user_id:?} is not an identity store user id"
        )));
    }
    let at = chrono::Utc::now().timestamp();
    store.revoke_user(user_id, at).await?;
    store
        .bump_generation(tessera_authz::revocations::REVOCATIONS_COUNTER)
        .await?;
    Ok(at)
}

/// Create a SCIM bearer token for an identity store (valid one year); returns its id and the
/// token, which is stored only as its SHA-256.
/// Create an operator token for the admin listener, valid `valid_days` (1 to 3,650);
/// returns (token id, token, expiry). Only its SHA-256 is stored.
pub async fn create_operator_token(
    store: &dyn Store,
    description: &str,
    valid_days: i64,
) -> Result<(String, Secret, i64)> {
    if !(1..=3650).contains(&valid_days) {
        return Err(ServerError::Invalid(
            "--valid-days must be from 1 to 3650".into(),
        ));
    }
    let description = description.trim();
    if description.is_empty() || description.chars().count() > 256 {
        return Err(ServerError::Invalid(
            "--description must be 1 to 256 characters".into(),
        ));
    }
    let now = chrono::Utc::now().timestamp();
    let token = tessera_crypto::token::opaque_token("");
    let id = format!("op-{}", uuid::Uuid::new_v4().simple());
    let expires_at = now + valid_days * 24 * 3600;
    store
        .add_operator_token(&tessera_store::OperatorTokenRecord {
            token_id: id.clone(),
            token_hash: tessera_crypto::token::token_digest(&token),
            description: description.to_owned(),
            created_at: now,
            expires_at,
        })
        .await?;
    Ok((id, Secret::new(token), expires_at))
}

pub async fn create_scim_token(
    store: &dyn Store,
    identity_store_id: &str,
) -> Result<(String, Secret)> {
    if store
        .instance_by_identity_store(identity_store_id)
        .await?
        .is_none()
    {
        return Err(ServerError::Invalid(format!(
            "there is no identity store {identity_store_id}"
        )));
    }
    let now = chrono::Utc::now().timestamp();
    let token = tessera_crypto::token::opaque_token("");
    let id = uuid::Uuid::new_v4().to_string();
    store
        .add_scim_token(&tessera_store::ScimTokenRecord {
            token_id: id.clone(),
            identity_store_id: identity_store_id.to_owned(),
            token_hash: tessera_crypto::token::token_digest(&token),
            created_at: now,
            expires_at: now + 365 * 24 * 3600,
        })
        .await?;
    Ok((id, Secret::new(token)))
}
