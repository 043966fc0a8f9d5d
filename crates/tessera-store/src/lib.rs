//! Storage for Tessera's state, behind one port per bounded context ([`IamStore`],
//! [`IdentityCenterStore`], [`AccessGrantsStore`], [`SessionKeyStore`], [`ChangeCounters`], [`StoreAdmin`]; [`Store`] is all of them) with two
//! adapters: SQLite (the embedded default, a file in the data directory) and PostgreSQL (for
//! several replicas). [`view`] keeps immutable in-memory snapshots of store state fresh on
//! every replica.
//!
//! **Architecture invariant:** this is the only crate that speaks SQL. Both adapters run the
//! same statements (`$1`-style placeholders work on both); each dialect has its own migrations
//! under `migrations/<dialect>/`. Names that IAM treats case-insensitively are keyed by their
//! lower-case form (`name_key`) and stored with their original spelling.

mod records;
mod sql;
pub mod view;

pub use records::*;

use async_trait::async_trait;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists.
    #[error("already exists")]
    Conflict,
    /// A referenced row does not exist, or a row is still referenced.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// A quota the write checks is reached.
    #[error("limit exceeded")]
    LimitExceeded,
    #[error("invalid database url: {0}")]
    BadUrl(String),
    #[error("database error: {0}")]
    Backend(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict;
            }
            if db.is_foreign_key_violation() {
                return StoreError::Constraint(db.message().to_owned());
            }
        }
        StoreError::Backend(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Backend(format!("migration failed: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Applying migrations and naming the dialect: what start-up and operators need.
#[async_trait]
pub trait StoreAdmin: Send + Sync + std::fmt::Debug {
    /// Apply pending migrations for this dialect.
    async fn migrate(&self) -> Result<()>;
    /// `sqlite` or `postgres`.
    fn dialect(&self) -> &'static str;
    async fn add_operator_token(&self, token: &OperatorTokenRecord) -> Result<()>;
    async fn operator_token_by_hash(&self, token_hash: &str)
    -> Result<Option<OperatorTokenRecord>>;
    async fn list_operator_tokens(&self) -> Result<Vec<OperatorTokenRecord>>;
    /// False when there is no such token.
    async fn delete_operator_token(&self, token_id: &str) -> Result<bool>;
}

/// Every row the IAM principal view is built from: one query per table, all read in one
/// transaction (a consistent snapshot on both dialects).
#[derive(Debug, Clone, Default)]
pub struct IamTables {
    pub managed_policies: Vec<ManagedPolicyRecord>,
    pub roles: Vec<RoleRecord>,
    pub role_policies: Vec<InlinePolicyRow>,
    pub role_attachments: Vec<AttachmentRow>,
    pub users: Vec<UserRecord>,
    pub user_policies: Vec<InlinePolicyRow>,
}

/// An inline policy of a role or user, keyed by its owner's lower-cased name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicyRow {
    pub account_id: String,
    pub owner_key: String,
    pub name: String,
    pub document: String,
}

/// A managed policy attached to a role, keyed by the role's lower-cased name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRow {
    pub account_id: String,
    pub role_key: String,
    pub policy_arn: String,
}

/// The IAM context: accounts, access keys, roles, users, their inline and managed policies,
/// OIDC providers. Methods are small and each is atomic.
#[async_trait]
pub trait IamStore: Send + Sync + std::fmt::Debug {
    async fn create_account(&self, account_id: &str, now: i64) -> Result<()>;
    async fn account_exists(&self, account_id: &str) -> Result<bool>;
    async fn list_accounts(&self) -> Result<Vec<String>>;
    /// Put an account into an organization (`Some("o-…")`) or take it out (`None`);
    /// `Constraint` when the account does not exist.
    async fn set_account_organization(
        &self,
        account_id: &str,
        organization_id: Option<&str>,
    ) -> Result<()>;

    async fn put_access_key(&self, key: &AccessKeyRecord) -> Result<()>;
    async fn get_access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>>;
    /// Keys of the account root (`user_name_key` = None) or of one user.
    async fn list_access_keys(
        &self,
        account_id: &str,
        user_name_key: Option<&str>,
    ) -> Result<Vec<AccessKeyRecord>>;
    async fn delete_access_key(&self, account_id: &str, access_key_id: &str) -> Result<bool>;

    async fn create_role(&self, role: &RoleRecord) -> Result<()>;
    async fn get_role(&self, account_id: &str, name: &str) -> Result<Option<RoleRecord>>;
    async fn list_roles(&self, account_id: &str) -> Result<Vec<RoleRecord>>;
    /// Replace the mutable fields of a role (description, max session duration, trust policy,
    /// boundary, tags). Returns false when the role does not exist.
    async fn update_role(&self, role: &RoleRecord) -> Result<bool>;
    async fn delete_role(&self, account_id: &str, name: &str) -> Result<bool>;

    async fn put_role_policy(
        &self,
        account_id: &str,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()>;
    async fn get_role_policy(
        &self,
        account_id: &str,
        role: &str,
        policy_name: &str,
    ) -> Result<Option<String>>;
    async fn delete_role_policy(
        &self,
        account_id: &str,
        role: &str,
        policy_name: &str,
    ) -> Result<bool>;
    /// (name, document) pairs ordered by name.
    async fn list_role_policies(
        &self,
        account_id: &str,
        role: &str,
    ) -> Result<Vec<(String, String)>>;

    async fn create_managed_policy(&self, policy: &ManagedPolicyRecord) -> Result<()>;
    async fn get_managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicyRecord>>;
    async fn list_managed_policies(&self, account_id: &str) -> Result<Vec<ManagedPolicyRecord>>;
    async fn delete_managed_policy(&self, arn: &str) -> Result<bool>;
    async fn count_policy_attachments(&self, arn: &str) -> Result<i64>;
    async fn attach_role_policy(&self, account_id: &str, role: &str, arn: &str) -> Result<()>;
    async fn detach_role_policy(&self, account_id: &str, role: &str, arn: &str) -> Result<bool>;
    async fn list_attached_role_policies(
        &self,
        account_id: &str,
        role: &str,
    ) -> Result<Vec<ManagedPolicyRecord>>;

    async fn create_user(&self, user: &UserRecord) -> Result<()>;
    async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<UserRecord>>;
    async fn list_users(&self, account_id: &str) -> Result<Vec<UserRecord>>;
    async fn delete_user(&self, account_id: &str, name: &str) -> Result<bool>;
    async fn put_user_policy(
        &self,
        account_id: &str,
        user: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<()>;
    async fn get_user_policy(
        &self,
        account_id: &str,
        user: &str,
        policy_name: &str,
    ) -> Result<Option<String>>;
    async fn delete_user_policy(
        &self,
        account_id: &str,
        user: &str,
        policy_name: &str,
    ) -> Result<bool>;
    async fn list_user_policies(
        &self,
        account_id: &str,
        user: &str,
    ) -> Result<Vec<(String, String)>>;

    async fn create_oidc_provider(&self, provider: &OidcProviderRecord) -> Result<()>;
    async fn get_oidc_provider(&self, arn: &str) -> Result<Option<OidcProviderRecord>>;
    async fn list_oidc_providers(&self, account_id: &str) -> Result<Vec<OidcProviderRecord>>;
    async fn delete_oidc_provider(&self, arn: &str) -> Result<bool>;

    /// Everything the IAM principal view holds, in one consistent read (one query per table).
    async fn iam_tables(&self) -> Result<IamTables>;
}

/// The Identity Center context: instances (and, next, their identity stores, issuers and
/// applications).
#[async_trait]
pub trait IdentityCenterStore: Send + Sync + std::fmt::Debug {
    /// `Conflict` when the instance's ARN or identity store id is taken or its account
    /// already owns an instance.
    async fn create_instance(&self, instance: &InstanceRecord) -> Result<()>;
    async fn get_instance(&self, instance_arn: &str) -> Result<Option<InstanceRecord>>;
    /// The organization an account belongs to (its Identity Center instance is shared with
    /// the organization's accounts); `None` for an account outside any organization or one
    /// that does not exist.
    async fn account_organization(&self, account_id: &str) -> Result<Option<String>>;
    /// The instances an account owns, ordered by ARN.
    async fn list_instances(&self, owner_account_id: &str) -> Result<Vec<InstanceRecord>>;
    async fn instance_by_identity_store(
        &self,
        identity_store_id: &str,
    ) -> Result<Option<InstanceRecord>>;

    /// `Conflict` when the store already has a user of that name (case-insensitively).
    async fn create_identity_user(&self, user: &IdentityUserRecord) -> Result<()>;
    async fn get_identity_user(
        &self,
        identity_store_id: &str,
        user_id: &str,
    ) -> Result<Option<IdentityUserRecord>>;
    /// Users ordered by user id.
    async fn list_identity_users(&self, identity_store_id: &str)
    -> Result<Vec<IdentityUserRecord>>;
    async fn delete_identity_user(&self, identity_store_id: &str, user_id: &str) -> Result<bool>;
    /// Replace a user's name, attributes and update stamp. `Conflict` when the new name is
    /// another user's; false when the user does not exist.
    async fn update_identity_user(&self, user: &IdentityUserRecord) -> Result<bool>;
    /// The user with this name (compared without regard to case).
    async fn identity_user_by_name(
        &self,
        identity_store_id: &str,
        user_name: &str,
    ) -> Result<Option<IdentityUserRecord>>;
    /// The users whose primary email is this address (compared without regard to case).
    async fn identity_users_by_email(
        &self,
        identity_store_id: &str,
        email: &str,
    ) -> Result<Vec<IdentityUserRecord>>;

    /// `Conflict` when the store already has a group of that display name (any case).
    async fn create_identity_group(&self, group: &IdentityGroupRecord) -> Result<()>;
    async fn get_identity_group(
        &self,
        identity_store_id: &str,
        group_id: &str,
    ) -> Result<Option<IdentityGroupRecord>>;
    /// Groups ordered by group id.
    async fn list_identity_groups(
        &self,
        identity_store_id: &str,
    ) -> Result<Vec<IdentityGroupRecord>>;
    /// Replace a group's display name, description and update stamp. `Conflict` when the new
    /// name is another group's; false when the group does not exist.
    async fn update_identity_group(&self, group: &IdentityGroupRecord) -> Result<bool>;
    /// Deletes the group and its memberships.
    async fn delete_identity_group(&self, identity_store_id: &str, group_id: &str) -> Result<bool>;
    async fn identity_group_by_name(
        &self,
        identity_store_id: &str,
        display_name: &str,
    ) -> Result<Option<IdentityGroupRecord>>;

    /// `Conflict` when the user is already a member; `Constraint` when the group or user is
    /// missing.
    async fn create_membership(&self, membership: &MembershipRecord) -> Result<()>;
    async fn get_membership(
        &self,
        identity_store_id: &str,
        membership_id: &str,
    ) -> Result<Option<MembershipRecord>>;
    async fn membership_of(
        &self,
        identity_store_id: &str,
        group_id: &str,
        user_id: &str,
    ) -> Result<Option<MembershipRecord>>;
    async fn delete_membership(&self, identity_store_id: &str, membership_id: &str)
    -> Result<bool>;
    /// A group's memberships, ordered by membership id.
    async fn group_memberships(
        &self,
        identity_store_id: &str,
        group_id: &str,
    ) -> Result<Vec<MembershipRecord>>;
    /// A user's memberships, ordered by membership id.
    async fn user_memberships(
        &self,
        identity_store_id: &str,
        user_id: &str,
    ) -> Result<Vec<MembershipRecord>>;
    /// Add a trusted token issuer or application. `Conflict` when the ARN is taken or (for
    /// kinds with unique names) the instance has one of that name.
    async fn create_sso_object(&self, object: &SsoObjectRecord) -> Result<()>;
    async fn get_sso_object(&self, arn: &str) -> Result<Option<SsoObjectRecord>>;
    /// An instance's objects of one kind, ordered by ARN.
    async fn list_sso_objects(
        &self,
        instance_arn: &str,
        kind: &str,
    ) -> Result<Vec<SsoObjectRecord>>;
    /// Replace an object's name key and document; false when it does not exist.
    async fn update_sso_object(&self, object: &SsoObjectRecord) -> Result<bool>;
    /// Delete an object (and an application's settings).
    async fn delete_sso_object(&self, arn: &str) -> Result<bool>;
    /// Create or replace one application setting.
    async fn put_app_setting(&self, setting: &AppSettingRecord) -> Result<()>;
    async fn get_app_setting(
        &self,
        application_arn: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<AppSettingRecord>>;
    /// An application's settings of one kind, ordered by key.
    async fn list_app_settings(
        &self,
        application_arn: &str,
        kind: &str,
    ) -> Result<Vec<AppSettingRecord>>;
    async fn delete_app_setting(
        &self,
        application_arn: &str,
        kind: &str,
        key: &str,
    ) -> Result<bool>;
    /// Every instance, object and setting, read in one transaction.
    async fn sso_config_tables(&self) -> Result<SsoConfigTables>;
    /// Write a group (as `mode` says) and add and remove memberships (by membership id), all
    /// in one transaction: nothing is half-written. An added membership that exists already is
    /// kept. `Conflict` for a duplicate display name; `Constraint` when a member is not a user;
    /// false when the group to update or change does not exist.
    async fn write_group(
        &self,
        group: &IdentityGroupRecord,
        mode: GroupWrite,
        add: &[MembershipRecord],
        remove: &[String],
    ) -> Result<bool>;
    /// Every identity-store user and membership, read in one transaction.
    async fn directory_tables(&self) -> Result<DirectoryTables>;

    /// Add a SCIM bearer token (`Constraint` when the identity store does not exist).
    async fn add_scim_token(&self, token: &ScimTokenRecord) -> Result<()>;
    async fn scim_token_by_hash(&self, token_hash: &str) -> Result<Option<ScimTokenRecord>>;
    async fn delete_scim_token(&self, token_id: &str) -> Result<bool>;
}

/// Tokens Tessera's token endpoint issues and remembers: its signing keys, the assertion ids
/// it has exchanged, refresh tokens and user revocations.
#[async_trait]
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// Signing keys, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    /// `Conflict` when another replica added a key with this id first.
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
    /// Remember that `jti` of `issuer_arn` was exchanged. False when it already was (a
    /// replay), on any replica.
    async fn record_jti(&self, issuer_arn: &str, jti: &str, expires_at: i64) -> Result<bool>;
    /// [`TokenStore::record_jti`] for many at once, in one transaction (one commit): for each,
    /// whether it was new. Two equal entries in one batch: the second is a replay.
    async fn record_jtis(&self, entries: &[(String, String, i64)]) -> Result<Vec<bool>>;
    /// Forget assertion ids that expired more than `keep_secs` before now by the **store's**
    /// clock (so replicas with skewed clocks cannot forget an id another replica would still
    /// accept); returns how many.
    async fn prune_jtis(&self, keep_secs: i64) -> Result<u64>;
    async fn add_refresh_token(&self, token: &RefreshTokenRecord) -> Result<()>;
    /// Look a refresh token up without using it: `Fresh` when unused and its family is live.
    async fn get_refresh_token(&self, token_hash: &str) -> Result<RefreshUse>;
    /// Use a refresh token and store its successor, in one transaction: the token is marked
    /// used only if it was unused and its family live (atomically, across replicas), and only
    /// then is `next` added. `Fresh` (with the used token) when it rotated.
    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        next: &RefreshTokenRecord,
    ) -> Result<RefreshUse>;
    /// Revoke a family: recorded (so a rotation racing it cannot revive it) and its tokens
    /// deleted; returns how many tokens went.
    async fn revoke_refresh_family(&self, family_id: &str, at: i64) -> Result<u64>;
    /// Void the user's sessions and tokens issued at or before `at`, and revoke the user's
    /// refresh-token families.
    async fn revoke_user(&self, user_id: &str, at: i64) -> Result<()>;
    /// Every user revocation: (user id, revoked at).
    async fn list_revocations(&self) -> Result<Vec<(String, i64)>>;
}

/// S3 Access Grants: instances, locations, grants.
#[async_trait]
pub trait AccessGrantsStore: Send + Sync + std::fmt::Debug {
    /// `Conflict` when the account already has an instance.
    async fn create_ag_instance(&self, instance: &AgInstanceRecord) -> Result<()>;
    async fn get_ag_instance(&self, account_id: &str) -> Result<Option<AgInstanceRecord>>;
    /// Replace the association, resource policy and tags.
    async fn update_ag_instance(&self, instance: &AgInstanceRecord) -> Result<bool>;
    /// `Constraint` while the instance still has locations.
    async fn delete_ag_instance(&self, account_id: &str) -> Result<bool>;

    /// Add a location unless the instance already has `max` (`LimitExceeded`); `Conflict`
    /// when its id or scope is taken; `Constraint` without an instance.
    async fn create_ag_location(&self, location: &AgLocationRecord, max: i64) -> Result<()>;
    async fn get_ag_location(
        &self,
        account_id: &str,
        location_id: &str,
    ) -> Result<Option<AgLocationRecord>>;
    async fn list_ag_locations(&self, account_id: &str) -> Result<Vec<AgLocationRecord>>;
    /// Replace the role and tags.
    async fn update_ag_location(&self, location: &AgLocationRecord) -> Result<bool>;
    /// `Constraint` while the location still has grants.
    async fn delete_ag_location(&self, account_id: &str, location_id: &str) -> Result<bool>;

    /// Add a grant unless the instance already has `max` (`LimitExceeded`); `Conflict` for a
    /// duplicate; `Constraint` when its location is gone.
    async fn create_ag_grant(&self, grant: &AgGrantRecord, max: i64) -> Result<()>;
    /// Add many grants in one transaction (all or none), unless the instance would then have
    /// more than `max` (`LimitExceeded`); `Conflict` for a duplicate. For bulk loads.
    async fn import_ag_grants(
        &self,
        account_id: &str,
        grants: &[AgGrantRecord],
        max: i64,
    ) -> Result<()>;
    async fn get_ag_grant(&self, account_id: &str, grant_id: &str)
    -> Result<Option<AgGrantRecord>>;
    async fn list_ag_grants(&self, account_id: &str) -> Result<Vec<AgGrantRecord>>;
    async fn delete_ag_grant(&self, account_id: &str, grant_id: &str) -> Result<bool>;

    /// Replace the tags of one instance, location or grant.
    async fn set_ag_tags(
        &self,
        account_id: &str,
        kind: AgResource,
        id: &str,
        tags: &[(String, String)],
    ) -> Result<bool>;

    /// Every Access Grants table, read in one transaction.
    async fn access_grants_tables(&self) -> Result<AccessGrantsTables>;
    /// What changed in every instance since the versions a replica knows (one consistent
    /// read): for each known account and each instance not known.
    async fn access_grants_delta(
        &self,
        known: &[(String, i64)],
    ) -> Result<Vec<(String, AgInstanceDelta)>>;
}

/// The session key ring's keys, sealed under the master key.
#[async_trait]
pub trait SessionKeyStore: Send + Sync + std::fmt::Debug {
    /// Session-ring keys, oldest first.
    async fn list_session_keys(&self) -> Result<Vec<SessionKeyRecord>>;
    /// Add a ring key; `Conflict` when another replica took the id first.
    async fn add_session_key(&self, key: &SessionKeyRecord) -> Result<()>;
    async fn delete_session_key(&self, id: i64) -> Result<bool>;
}

/// The audit trail (hash-chained records, signed digests, signing keys).
#[async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug {
    /// Append `rows` (consecutive sequence numbers) in one transaction: all or none.
    /// `Conflict` when a sequence number is taken (another replica appended first: re-read
    /// the head and re-chain).
    async fn append_audit(&self, rows: &[AuditRow]) -> Result<()>;
    /// [`AuditStore::append_audit`], and in the same transaction move the cursor of the
    /// local audit log `origin` to `lsn` (the last of its records in `rows`): a record the
    /// log hands over twice (after a crash, or a commit whose answer was lost) is never
    /// appended twice. `Ok(false)`, with nothing appended, when the cursor is already at or
    /// past `lsn` (the batch is in the trail). On SQLite the commit is durable at
    /// [`AuditStore::audit_sync`] (a crash of the process loses none of it); on PostgreSQL,
    /// which may crash on its own while the server runs on, at once.
    async fn append_audit_from(&self, rows: &[AuditRow], origin: &str, lsn: i64) -> Result<bool>;
    /// Make every [`AuditStore::append_audit_from`] so far durable (on SQLite those commits
    /// do not wait for the disk: the local log they come from is their durability point
    /// until this returns).
    async fn audit_sync(&self, origin: &str) -> Result<()>;
    /// The last LSN of the local audit log `origin` in the trail (0 when none is).
    async fn audit_cursor(&self, origin: &str) -> Result<i64>;
    /// The last record's sequence number and hash.
    async fn audit_head(&self) -> Result<Option<(i64, String)>>;
    /// Up to `limit` records with `seq >= from_seq`, in sequence order.
    async fn audit_range(&self, from_seq: i64, limit: i64) -> Result<Vec<AuditRow>>;
    /// The first sequence number at or after `time` (RFC 3339), if any record is.
    async fn audit_seq_at(&self, time: &str) -> Result<Option<i64>>;
    /// Up to `limit` records matching `filter`, newest first.
    async fn audit_query(&self, filter: &AuditFilter, limit: i64) -> Result<Vec<AuditRow>>;
    /// `Conflict` when the digest number is taken.
    async fn put_audit_digest(&self, digest: &AuditDigestRow) -> Result<()>;
    /// Every digest, in digest order.
    async fn audit_digests(&self) -> Result<Vec<AuditDigestRow>>;
    /// `Conflict` when the fingerprint exists.
    async fn put_audit_key(&self, key: &AuditKeyRecord) -> Result<()>;
    /// Every audit signing key, oldest first.
    async fn audit_keys(&self) -> Result<Vec<AuditKeyRecord>>;
}

/// Named change counters: every write a replicated view reflects bumps the view's counter,
/// and replicas poll it to know when to reload (see [`view`]).
#[async_trait]
pub trait ChangeCounters: Send + Sync + std::fmt::Debug {
    /// Bump the named change counter and return its new value.
    async fn bump_generation(&self, name: &str) -> Result<i64>;
    /// The named change counter's value (0 before its first bump).
    async fn generation(&self, name: &str) -> Result<i64>;
}

/// A whole store: every bounded context's port, implemented by both adapters. Services hold
/// the narrowest port they need (`Arc<dyn IamStore>`, …); the composition root holds this.
pub trait Store:
    StoreAdmin
    + IamStore
    + IdentityCenterStore
    + TokenStore
    + SessionKeyStore
    + AccessGrantsStore
    + AuditStore
    + ChangeCounters
{
}

impl<
    T: StoreAdmin
        + IamStore
        + IdentityCenterStore
        + TokenStore
        + SessionKeyStore
        + AccessGrantsStore
        + AuditStore
        + ChangeCounters,
> Store for T
{
}

/// Open the store named by `url`: `sqlite://PATH` (created if missing) or `postgres://…`.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Ok(Arc::new(sql::SqliteStore::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(sql::PgStore::open(url).await?))
    } else {
        Err(StoreError::BadUrl(
            "expected sqlite://PATH or postgres://…".into(),
        ))
    }
}

/// The key IAM uses for case-insensitive names.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Helpers for test suites that need a scratch PostgreSQL schema.
pub mod testing {
    /// Run one statement on a PostgreSQL database (used to create scratch schemas).
    pub async fn execute_raw(url: &str, statement: &str) -> crate::Result<()> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&mut conn)
            .await?;
        Ok(())
    }
}

/// Create a directory (and its parents) for its owner only, and restrict an existing one:
/// the data directory holds the database, the audit export and the objects.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        b.mode(0o700);
        b.create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    b.create(dir)
}
