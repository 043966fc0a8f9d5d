//! `tip s3ag`: S3 Access Grants credentials for the signed-in user, cached per profile and user
//! with the rules of `tessera-s3ag-credentials` (an entry serves only what its matched grant
//! covers, for the same account, permission, privilege and duration), plus a short
//! access-denied cache.

use crate::oidc::User;
use crate::session::{self, Ctx};
use crate::{aws, files};
use anyhow::{Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tessera_s3ag_credentials::{AccessGrants, Ask, Error as AgError, GrantCache, Refusal};

/// How long a refusal is repeated without asking again.
const REFUSAL_SECS: i64 = 30;

/// The file: whose entries they are, and the entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheFile {
    profile: String,
    issuer: String,
    subject: String,
    #[serde(default)]
    cache: GrantCache,
}

pub fn cache_path(ctx: &Ctx, user: &User) -> Result<PathBuf> {
    Ok(ctx
        .dir()?
        .join(format!("s3ag-{}.json", session::user_key(&ctx.name, user))))
}

fn load(ctx: &Ctx, user: &User) -> Result<GrantCache> {
    let path = cache_path(ctx, user)?;
    let Some(bytes) = files::read_private(&path)? else {
        return Ok(GrantCache::default());
    };
    let f: CacheFile = serde_json::from_slice(&bytes).map_err(|_| {
        anyhow!(
            "{} is damaged (not the JSON tip writes); remove it or run `tip s3ag clear-credentials`",
            path.display()
        )
    })?;
    if f.profile != ctx.name || f.issuer != user.issuer || f.subject != user.subject {
        tracing::warn!(
            "{} holds another user's credentials; ignoring it",
            path.display()
        );
        return Ok(GrantCache::default());
    }
    Ok(f.cache)
}

fn save(ctx: &Ctx, user: &User, cache: GrantCache) -> Result<()> {
    let f = CacheFile {
        profile: ctx.name.clone(),
        issuer: user.issuer.clone(),
        subject: user.subject.clone(),
        cache,
    };
    files::write_private(&cache_path(ctx, user)?, &serde_json::to_vec_pretty(&f)?)
}

/// The account to ask: the flag, else the profile's.
pub fn account(ctx: &Ctx, flag: Option<&str>) -> Result<String> {
    let a = match flag {
        Some(a) => a.to_owned(),
        None => ctx
            .profile
            .need(&ctx.profile.account_id, "account-id", &ctx.name)?
            .to_owned(),
    };
    crate::config::check_account(&a)?;
    Ok(a)
}

/// Credentials for `ask`, from the cache or GetDataAccess.
pub async fn get_data_access(ctx: &Ctx, ask: &Ask, force: bool) -> Result<session::Keys> {
    // The bearer session first (it takes and releases the profile's lock), then this cache
    // under the lock again.
    let (user, bearer) = session::bearer_credentials(ctx, false).await?;
    let _lock = ctx.lock().await?;
    let mut cache = load(ctx, &user)?;
    let (now, margin) = (session::now(), ctx.margin());
    if !force {
        if let Some(g) = cache.find(ask, now, margin) {
            return Ok(keys(&g.credentials));
        }
        if let Some(r) = cache.refused(ask, now) {
            bail!(
                "S3 Access Grants refused {} access to {} for {} {}s ago: {}: {} (tip asks again after {REFUSAL_SECS}s, or now with --force-new-creds)",
                ask.permission,
                ask.target,
                user.display(),
                REFUSAL_SECS - (r.until - now),
                r.code,
                r.message
            );
        }
    }
    let grants = AccessGrants::builder()
        .s3control(aws::s3control(&ctx.profile, None))
        .account_id(&ask.account_id)
        .build()?;
    let fetched = {
        let _s = crate::ui::Spinner::start("Asking S3 Access Grants");
        grants.fetch(&bearer.credentials(), ask).await
    };
    match fetched {
        Ok(g) => {
            let k = keys(&g.credentials);
            cache.insert(g, now);
            save(ctx, &user, cache)?;
            Ok(k)
        }
        Err(AgError::Refused {
            code,
            message,
            target,
            permission,
        }) => {
            cache.refuse(Refusal::of(ask, &code, &message, now + REFUSAL_SECS), now);
            save(ctx, &user, cache)?;
            bail!(
                "S3 Access Grants refused {permission} access to {target} for {}: {code}: {message}",
                user.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn keys(c: &tessera_s3ag_credentials::VendedCredentials) -> session::Keys {
    session::Keys {
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: c.session_token.clone(),
        expiration: c.expiration,
    }
}

/// The signed-in user's cached entries (expired ones pruned).
pub async fn list(ctx: &Ctx) -> Result<(User, GrantCache)> {
    let _lock = ctx.lock().await?;
    let t = session::Tokens::load(ctx)?.ok_or_else(|| {
        anyhow!(
            "nobody is signed in for profile {:?}: run `tip --profile {} auth`",
            ctx.name,
            ctx.name
        )
    })?;
    let mut c = load(ctx, &t.user)?;
    c.prune(session::now());
    Ok((t.user, c))
}

/// Remove cached grant credentials: the signed-in user's, or every user's of the profile.
pub async fn clear(ctx: &Ctx, all_users: bool) -> Result<usize> {
    let _lock = ctx.lock().await?;
    let mut n = 0;
    if all_users {
        for e in std::fs::read_dir(ctx.dir()?)? {
            let e = e?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("s3ag-") && name.ends_with(".json") && files::remove(&e.path())? {
                n += 1;
            }
        }
    } else if let Some(t) = session::Tokens::load(ctx)?
        && files::remove(&cache_path(ctx, &t.user)?)?
    {
        n += 1;
    }
    Ok(n)
}
