//! Which cached credentials may serve which request. The rules, shared by the in-memory cache
//! of [`crate::AccessGrants`] and `tip`'s file cache:
//!
//! - an entry belongs to one caller (the user), one account, one permission, one privilege and
//!   one requested duration, and names the grant target GetDataAccess matched;
//! - it serves a request of the same caller, account, privilege and duration whose target its
//!   matched target covers ([`S3Target::covers`]: never a broader request) and whose permission
//!   its own includes (a READWRITE entry serves READ and WRITE);
//! - and only while it stays valid for longer than the refresh margin.

use crate::model::{Permission, Privilege, S3Target};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Temporary credentials, as GetDataAccess vends them. `Debug` shows the access key id only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendedCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: i64,
}

impl fmt::Debug for VendedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendedCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl VendedCredentials {
    /// As the SDK's credentials type.
    pub fn to_sdk(&self) -> aws_credential_types::Credentials {
        aws_credential_types::Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            Some(self.session_token.clone()),
            u64::try_from(self.expiration)
                .ok()
                .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)),
            "S3AccessGrants",
        )
    }
}

/// What a caller asks GetDataAccess for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ask {
    pub account_id: String,
    pub target: S3Target,
    pub permission: Permission,
    pub privilege: Privilege,
    /// `None`: the service's default (one hour).
    pub duration_seconds: Option<i32>,
    /// `targetType=Object`: the target names one object.
    pub object: bool,
}

impl Ask {
    pub fn new(account_id: &str, target: S3Target, permission: Permission) -> Ask {
        Ask {
            account_id: account_id.to_owned(),
            target,
            permission,
            privilege: Privilege::Default,
            duration_seconds: None,
            object: false,
        }
    }
}

/// Credentials for one grant, as a cache keeps them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedGrant {
    pub account_id: String,
    /// The permission asked for (the vended credentials allow exactly that).
    pub permission: Permission,
    pub privilege: Privilege,
    pub duration_seconds: Option<i32>,
    /// What GetDataAccess matched (`MatchedGrantTarget`): the scope the credentials act on.
    pub matched_target: S3Target,
    /// The grantee GetDataAccess named (type and identifier), when it did.
    #[serde(default)]
    pub grantee: Option<(String, String)>,
    pub credentials: VendedCredentials,
    /// Unix seconds.
    pub obtained_at: i64,
}

impl CachedGrant {
    /// May this entry serve `ask` at `now` (unix seconds), leaving at least `margin` seconds
    /// of validity?
    pub fn serves(&self, ask: &Ask, now: i64, margin: i64) -> bool {
        self.account_id == ask.account_id
            && self.privilege == ask.privilege
            && self.duration_seconds == ask.duration_seconds
            && self.permission.includes(ask.permission)
            && self.matched_target.covers(&ask.target)
            && self.credentials.expiration - margin > now
    }

    /// Is this entry for the same grant and key as `other` (so a new one replaces it)?
    pub fn same_slot(&self, other: &CachedGrant) -> bool {
        self.account_id == other.account_id
            && self.permission == other.permission
            && self.privilege == other.privilege
            && self.duration_seconds == other.duration_seconds
            && self.matched_target == other.matched_target
    }
}

/// A refused request, remembered for a short while so a loop of refused reads does not become
/// a loop of GetDataAccess calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub account_id: String,
    pub target: S3Target,
    pub permission: Permission,
    pub privilege: Privilege,
    pub duration_seconds: Option<i32>,
    /// The error code and message the service answered.
    pub code: String,
    pub message: String,
    /// Unix seconds until which the refusal is repeated without asking again.
    pub until: i64,
}

impl Refusal {
    pub fn of(ask: &Ask, code: &str, message: &str, until: i64) -> Refusal {
        Refusal {
            account_id: ask.account_id.clone(),
            target: ask.target.clone(),
            permission: ask.permission,
            privilege: ask.privilege,
            duration_seconds: ask.duration_seconds,
            code: code.to_owned(),
            message: message.to_owned(),
            until,
        }
    }

    /// Does this refusal answer `ask` at `now`? Only the very same request is refused again.
    pub fn answers(&self, ask: &Ask, now: i64) -> bool {
        self.until > now
            && self.account_id == ask.account_id
            && self.target == ask.target
            && self.permission == ask.permission
            && self.privilege == ask.privilege
            && self.duration_seconds == ask.duration_seconds
    }
}

/// One caller's entries and refusals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantCache {
    #[serde(default)]
    pub grants: Vec<CachedGrant>,
    #[serde(default)]
    pub refusals: Vec<Refusal>,
}

impl GrantCache {
    /// Most entries one caller keeps; the oldest go first.
    pub const MAX_ENTRIES: usize = 1000;

    /// The entry that serves `ask`, if any: of several, the one valid longest.
    pub fn find(&self, ask: &Ask, now: i64, margin: i64) -> Option<&CachedGrant> {
        self.grants
            .iter()
            .filter(|g| g.serves(ask, now, margin))
            .max_by_key(|g| g.credentials.expiration)
    }

    /// The refusal that answers `ask`, if any.
    pub fn refused(&self, ask: &Ask, now: i64) -> Option<&Refusal> {
        self.refusals.iter().find(|r| r.answers(ask, now))
    }

    /// Keep `grant`, replacing the entry for the same slot; drop what has expired.
    pub fn insert(&mut self, grant: CachedGrant, now: i64) {
        self.grants
            .retain(|g| g.credentials.expiration > now && !g.same_slot(&grant));
        self.refusals.retain(|r| r.until > now);
        // A grant now serves what was refused before (a grant was added meanwhile).
        self.refusals.retain(|r| {
            !(grant.account_id == r.account_id
                && grant.privilege == r.privilege
                && grant.permission.includes(r.permission)
                && grant.matched_target.covers(&r.target))
        });
        self.grants.push(grant);
        if self.grants.len() > Self::MAX_ENTRIES {
            self.grants.sort_by_key(|g| g.obtained_at);
            let excess = self.grants.len() - Self::MAX_ENTRIES;
            self.grants.drain(..excess);
        }
    }

    /// Remember a refusal.
    pub fn refuse(&mut self, refusal: Refusal, now: i64) {
        self.refusals.retain(|r| r.until > now);
        if self.refusals.len() >= Self::MAX_ENTRIES {
            self.refusals.remove(0);
        }
        self.refusals.push(refusal);
    }

    /// Forget what has expired.
    pub fn prune(&mut self, now: i64) {
        self.grants.retain(|g| g.credentials.expiration > now);
        self.refusals.retain(|r| r.until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(target: &str, permission: Permission, expiration: i64) -> CachedGrant {
        CachedGrant {
            account_id: "111111111111".into(),
            permission,
            privilege: Privilege::Default,
            duration_seconds: None,
            matched_target: S3Target::parse(target).unwrap(),
            grantee: None,
            credentials: VendedCredentials {
                access_key_id: format!("ASIA{target}"),
                secret_access_key: "s".into(),
                session_token: "t".into(),
                expiration,
            },
            obtained_at: 0,
        }
    }

    fn ask(target: &str, permission: Permission) -> Ask {
        Ask::new("111111111111", S3Target::parse(target).unwrap(), permission)
    }

    #[test]
    fn an_entry_serves_only_what_its_grant_covers() {
        let g = grant("s3://bkt/projects/red/*", Permission::Read, 10_000);
        assert!(g.serves(
            &ask("s3://bkt/projects/red/a.csv", Permission::Read),
            0,
            300
        ));
        assert!(g.serves(&ask("s3://bkt/projects/red/*", Permission::Read), 0, 300));
        // Broader: never.
        assert!(!g.serves(&ask("s3://bkt/projects/*", Permission::Read), 0, 300));
        // Another permission.
        assert!(!g.serves(
            &ask("s3://bkt/projects/red/a.csv", Permission::Write),
            0,
            300
        ));
        // Another account.
        let mut other = ask("s3://bkt/projects/red/a.csv", Permission::Read);
        other.account_id = "333333333333".into();
        assert!(!g.serves(&other, 0, 300));
        // Another duration.
        let mut long = ask("s3://bkt/projects/red/a.csv", Permission::Read);
        long.duration_seconds = Some(43_200);
        assert!(!g.serves(&long, 0, 300));
        // Another privilege.
        let mut minimal = ask("s3://bkt/projects/red/a.csv", Permission::Read);
        minimal.privilege = Privilege::Minimal;
        assert!(!g.serves(&minimal, 0, 300));
        // Within the margin of its expiry: refreshed, not served.
        assert!(!g.serves(
            &ask("s3://bkt/projects/red/a.csv", Permission::Read),
            9_800,
            300
        ));
        // READWRITE serves READ and WRITE.
        let rw = grant("s3://bkt/projects/red/*", Permission::ReadWrite, 10_000);
        assert!(rw.serves(&ask("s3://bkt/projects/red/a", Permission::Read), 0, 300));
        assert!(rw.serves(&ask("s3://bkt/projects/red/a", Permission::Write), 0, 300));
    }

    #[test]
    fn the_cache_replaces_prunes_and_forgets_refusals_a_grant_answers() {
        let mut c = GrantCache::default();
        c.refuse(
            Refusal::of(
                &ask("s3://bkt/projects/red/x", Permission::Read),
                "AccessDenied",
                "no",
                100,
            ),
            0,
        );
        assert!(
            c.refused(&ask("s3://bkt/projects/red/x", Permission::Read), 50)
                .is_some()
        );
        assert!(
            c.refused(&ask("s3://bkt/projects/red/x", Permission::Read), 100)
                .is_none()
        );
        c.insert(grant("s3://bkt/projects/red/*", Permission::Read, 1000), 0);
        assert!(c.refusals.is_empty());
        c.insert(grant("s3://bkt/projects/red/*", Permission::Read, 2000), 0);
        assert_eq!(c.grants.len(), 1);
        assert_eq!(c.grants[0].credentials.expiration, 2000);
        c.insert(grant("s3://bkt/projects/blue/*", Permission::Read, 500), 0);
        assert_eq!(c.grants.len(), 2);
        c.prune(600);
        assert_eq!(c.grants.len(), 1);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<GrantCache>(&json).unwrap(), c);
    }
}
