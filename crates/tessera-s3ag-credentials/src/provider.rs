//! The provider: GetDataAccess behind a cache keyed by caller, account, permission, privilege,
//! duration and matched grant target, with one call for concurrent misses.

use crate::cache::{Ask, CachedGrant, GrantCache, Refusal, VendedCredentials};
use crate::model::{Permission, Privilege, S3Target};
use aws_credential_types::Credentials;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why no credentials came from S3 Access Grants.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The service refused (HTTP 403: no grant matched, or the caller may not call
    /// GetDataAccess). Repeated without asking again for a short while.
    #[error("S3 Access Grants refused {permission} access to {target}: {code}: {message}")]
    Refused {
        target: String,
        permission: Permission,
        code: String,
        message: String,
    },
    /// Any other failure of GetDataAccess (bad request, throttling, the network).
    #[error("GetDataAccess for {target} failed: {message}")]
    Service { target: String, message: String },
    /// The answer lacked credentials or a matched target.
    #[error("GetDataAccess for {0} answered without credentials or a matched grant target")]
    Incomplete(String),
    /// The client has no credentials of its own to call GetDataAccess with.
    #[error("no credentials to call GetDataAccess with: {0}")]
    NoCallerCredentials(String),
}

impl Error {
    /// The service's error code, when it answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Builds an [`AccessGrants`].
#[derive(Debug)]
pub struct Builder {
    s3control: Option<aws_sdk_s3control::Client>,
    account_id: Option<String>,
    fallback: bool,
    privilege: Privilege,
    duration_seconds: Option<i32>,
    refresh_margin: Duration,
    refusal_ttl: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            s3control: None,
            account_id: None,
            fallback: false,
            privilege: Privilege::Default,
            duration_seconds: None,
            refresh_margin: AccessGrants::DEFAULT_REFRESH_MARGIN,
            refusal_ttl: AccessGrants::DEFAULT_REFUSAL_TTL,
        }
    }
}

impl Builder {
    /// The S3 Control client GetDataAccess is called with (its endpoint and region; the
    /// credentials are the caller's, given per call). See [`crate::s3control_client`].
    pub fn s3control(mut self, client: aws_sdk_s3control::Client) -> Self {
        self.s3control = Some(client);
        self
    }

    /// The account whose Access Grants instance is asked. Required.
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    /// Sign with the client's own credentials when Access Grants gives none (no grant
    /// matched, or the call failed). Off by default: a refused request fails. Operations S3
    /// Access Grants does not serve always use the client's own credentials, as in AWS's
    /// plugins.
    pub fn fallback(mut self, on: bool) -> Self {
        self.fallback = on;
        self
    }

    /// `Default` (credentials for the whole matched grant, the default) or `Minimal`.
    pub fn privilege(mut self, privilege: Privilege) -> Self {
        self.privilege = privilege;
        self
    }

    /// How long vended credentials last (900 to 43,200 seconds; the service's default is
    /// one hour).
    pub fn duration_seconds(mut self, seconds: i32) -> Self {
        self.duration_seconds = Some(seconds);
        self
    }

    /// Credentials are replaced when less than this much of their life is left (default five
    /// minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// How long a refusal is repeated without asking the service again (default 30 s).
    pub fn refusal_ttl(mut self, ttl: Duration) -> Self {
        self.refusal_ttl = ttl;
        self
    }

    pub fn build(self) -> Result<AccessGrants, crate::model::ParseError> {
        let s3control = self
            .s3control
            .ok_or_else(|| crate::model::ParseError("an S3 Control client is required".into()))?;
        let account_id = self
            .account_id
            .ok_or_else(|| crate::model::ParseError("an account id is required".into()))?;
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(crate::model::ParseError(format!(
                "{account_id:?} is not an account id (12 digits)"
            )));
        }
        if let Some(d) = self.duration_seconds
            && !(900..=43_200).contains(&d)
        {
            return Err(crate::model::ParseError(format!(
                "duration {d} s is outside 900 to 43,200 seconds"
            )));
        }
        Ok(AccessGrants {
            inner: Arc::new(Inner {
                s3control,
                account_id,
                fallback: self.fallback,
                privilege: self.privilege,
                duration_seconds: self.duration_seconds,
                refresh_margin: self.refresh_margin,
                refusal_ttl: self.refusal_ttl,
                caches: Mutex::new(HashMap::new()),
                flights: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// A single-flight slot: callers missing the cache for the same key wait here, so one of them
/// calls GetDataAccess and the others find its answer in the cache.
type FlightKey = (String, String, Permission, Privilege, Option<i32>);

#[derive(Debug)]
struct Inner {
    s3control: aws_sdk_s3control::Client,
    account_id: String,
    fallback: bool,
    privilege: Privilege,
    duration_seconds: Option<i32>,
    refresh_margin: Duration,
    refusal_ttl: Duration,
    /// Per caller (access key id).
    caches: Mutex<HashMap<String, GrantCache>>,
    flights: Mutex<HashMap<FlightKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// S3 Access Grants credentials for a caller: GetDataAccess, cached. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct AccessGrants {
    inner: Arc<Inner>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl AccessGrants {
    pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(300);
    pub const DEFAULT_REFUSAL_TTL: Duration = Duration::from_secs(30);
    /// Most callers whose entries are kept at once.
    const MAX_CALLERS: usize = 1000;

    pub fn builder() -> Builder {
        Builder::default()
    }

    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    pub fn fallback(&self) -> bool {
        self.inner.fallback
    }

    /// The request this provider makes for `target` and `permission` (its account,
    /// privilege and duration).
    pub fn ask(&self, target: S3Target, permission: Permission) -> Ask {
        Ask {
            account_id: self.inner.account_id.clone(),
            target,
            permission,
            privilege: self.inner.privilege,
            duration_seconds: self.inner.duration_seconds,
            object: false,
        }
    }

    /// Credentials for `ask` on behalf of `caller` (whose credentials sign GetDataAccess and
    /// key the cache): from the cache when an entry covers it, else from one GetDataAccess call
    /// however many callers miss at once.
    pub async fn data_access(&self, caller: &Credentials, ask: &Ask) -> Result<CachedGrant, Error> {
        let user = caller.access_key_id().to_owned();
        let margin = self.inner.refresh_margin.as_secs() as i64;
        if let Some(hit) = self.lookup(&user, ask, margin)? {
            return Ok(hit);
        }
        let slot = {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            flights
                .entry((
                    user.clone(),
                    ask.account_id.clone(),
                    ask.permission,
                    ask.privilege,
                    ask.duration_seconds,
                ))
                .or_default()
                .clone()
        };
        let result = {
            let _turn = slot.lock().await;
            // Whoever held the slot before may have answered this very request.
            match self.lookup(&user, ask, margin)? {
                Some(hit) => Ok(hit),
                None => self.fetch_and_keep(caller, &user, ask).await,
            }
        };
        {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            // Drop the slot when nobody else holds it (this caller's clone and the map's).
            flights.retain(|_, s| Arc::strong_count(s) > 2 || !Arc::ptr_eq(s, &slot));
        }
        result
    }

    fn lookup(&self, user: &str, ask: &Ask, margin: i64) -> Result<Option<CachedGrant>, Error> {
        let caches = self.inner.caches.lock().unwrap_or_else(|p| p.into_inner());
        let Some(c) = caches.get(user) else {
            return Ok(None);
        };
        let t = now();
        if let Some(g) = c.find(ask, t, margin) {
            return Ok(Some(g.clone()));
        }
        if let Some(r) = c.refused(ask, t) {
            return Err(Error::Refused {
                target: ask.target.to_string(),
                permission: ask.permission,
                code: r.code.clone(),
                message: r.message.clone(),
            });
        }
        Ok(None)
    }

    async fn fetch_and_keep(
        &self,
        caller: &Credentials,
        user: &str,
        ask: &Ask,
    ) -> Result<CachedGrant, Error> {
        let result = self.fetch(caller, ask).await;
        let t = now();
        let mut caches = self.inner.caches.lock().unwrap_or_else(|p| p.into_inner());
        if !caches.contains_key(user) && caches.len() >= Self::MAX_CALLERS {
            // Forget callers with nothing valid left; if all are live, the emptiest.
            caches.retain(|_, c| {
                c.prune(t);
                !c.grants.is_empty() || !c.refusals.is_empty()
            });
            if caches.len() >= Self::MAX_CALLERS
                && let Some(k) = caches
                    .iter()
                    .min_by_key(|(_, c)| c.grants.len())
                    .map(|(k, _)| k.clone())
            {
                caches.remove(&k);
            }
        }
        let cache = caches.entry(user.to_owned()).or_default();
        match &result {
            Ok(g) => cache.insert(g.clone(), t),
            Err(Error::Refused { code, message, .. }) => cache.refuse(
                Refusal::of(
                    ask,
                    code,
                    message,
                    t + self.inner.refusal_ttl.as_secs() as i64,
                ),
                t,
            ),
            Err(_) => {}
        }
        result
    }

    /// One GetDataAccess call for `ask`, signed with `caller`, without the cache.
    pub async fn fetch(&self, caller: &Credentials, ask: &Ask) -> Result<CachedGrant, Error> {
        use aws_sdk_s3control::types::{Permission as P, Privilege as V, S3PrefixType};
        let target = ask.target.to_string();
        let permission = match ask.permission {
            Permission::Read => P::Read,
            Permission::Write => P::Write,
            Permission::ReadWrite => P::Readwrite,
        };
        let privilege = match ask.privilege {
            Privilege::Default => V::Default,
            Privilege::Minimal => V::Minimal,
        };
        tracing::debug!(target = %target, permission = %ask.permission, "GetDataAccess");
        let out = self
            .inner
            .s3control
            .get_data_access()
            .account_id(&ask.account_id)
            .target(&target)
            .permission(permission)
            .privilege(privilege)
            .set_duration_seconds(ask.duration_seconds)
            .set_target_type(ask.object.then_some(S3PrefixType::Object))
            .customize()
            .config_override(
                aws_sdk_s3control::config::Builder::default().credentials_provider(caller.clone()),
            )
            .send()
            .await
            .map_err(|e| service_error(&target, ask.permission, e))?;
        let c = out
            .credentials()
            .ok_or_else(|| Error::Incomplete(target.clone()))?;
        let matched = out
            .matched_grant_target()
            .and_then(|m| S3Target::parse(m).ok())
            .ok_or_else(|| Error::Incomplete(target.clone()))?;
        let (Some(id), Some(secret), Some(token), Some(exp)) = (
            c.access_key_id(),
            c.secret_access_key(),
            c.session_token(),
            c.expiration(),
        ) else {
            return Err(Error::Incomplete(target));
        };
        Ok(CachedGrant {
            account_id: ask.account_id.clone(),
            permission: ask.permission,
            privilege: ask.privilege,
            duration_seconds: ask.duration_seconds,
            matched_target: matched,
            grantee: out.grantee().and_then(|g| {
                Some((
                    g.grantee_type()?.as_str().to_owned(),
                    g.grantee_identifier()?.to_owned(),
                ))
            }),
            credentials: VendedCredentials {
                access_key_id: id.to_owned(),
                secret_access_key: secret.to_owned(),
                session_token: token.to_owned(),
                expiration: exp.secs(),
            },
            obtained_at: now(),
        })
    }

    /// Put `grant` in `caller`'s cache as if GetDataAccess had answered it (for credentials
    /// obtained elsewhere, and for benchmarks).
    pub fn prime(&self, caller: &Credentials, grant: CachedGrant) {
        let t = now();
        self.inner
            .caches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(caller.access_key_id().to_owned())
            .or_default()
            .insert(grant, t);
    }

    /// Forget every cached entry and refusal.
    pub fn clear(&self) {
        self.inner
            .caches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

fn service_error<E, R>(
    target: &str,
    permission: Permission,
    e: aws_sdk_s3control::error::SdkError<E, R>,
) -> Error
where
    E: aws_sdk_s3control::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_s3control::error::SdkError;
    if let SdkError::ServiceError(s) = &e {
        let code = s.err().code().unwrap_or("Unknown").to_owned();
        let message = s.err().message().unwrap_or("").to_owned();
        if code == "AccessDenied" || code == "AccessDeniedException" {
            return Error::Refused {
                target: target.to_owned(),
                permission,
                code,
                message,
            };
        }
        return Error::Service {
            target: target.to_owned(),
            message: format!("{code}: {message}"),
        };
    }
    Error::Service {
        target: target.to_owned(),
        message: aws_sdk_s3control::error::DisplayErrorContext(&e).to_string(),
    }
}
