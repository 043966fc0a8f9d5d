use std::fmt;

/// A long-term access key (`AKIA…`) of an account root or of an IAM user.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub account_id: String,
    /// Lower-cased user name for user keys; `None` for the account root.
    pub user_name_key: Option<String>,
    /// The secret access key sealed under the master key (AAD = access key id).
    pub secret_sealed: Vec<u8>,
    /// `Active` or `Inactive`.
    pub status: String,
    pub created_at: i64,
}

impl fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("user_name_key", &self.user_name_key)
            .field("secret_sealed", &"HIDDEN")
            .field("status", &self.status)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub account_id: String,
    pub name: String,
    pub role_id: String,
    pub path: String,
    pub description: Option<String>,
    pub trust_policy: String,
    /// The unique ids (`AIDA…`, `AROA…`) of the IAM users and roles the trust policy names,
    /// as (ARN, id) pairs resolved when the policy was saved. `None` for a policy saved
    /// before Tessera recorded them.
    pub trust_principal_ids: Option<Vec<(String, String)>>,
    pub max_session_duration: i64,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<(String, String)>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicyRecord {
    pub arn: String,
    pub account_id: String,
    pub name: String,
    pub policy_id: String,
    pub path: String,
    pub description: Option<String>,
    pub document: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub account_id: String,
    pub name: String,
    pub user_id: String,
    pub path: String,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<(String, String)>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProviderRecord {
    pub arn: String,
    pub account_id: String,
    /// Issuer URL without the scheme, as IAM stores it (`idp.example.com/path`).
    pub url: String,
    pub client_ids: Vec<String>,
    pub thumbprints: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub created_at: i64,
}

/// A session-ring key, sealed under the master key (AAD = `session-key/{id}`).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeyRecord {
    pub id: i64,
    pub secret_sealed: Vec<u8>,
    pub created_at: i64,
}

impl fmt::Debug for SessionKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SessionKeyRecord(id={}, created_at={})",
            self.id, self.created_at
        )
    }
}

/// An Identity Center instance (`arn:…:sso:::instance/ssoins-…`) and its identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    pub instance_arn: String,
    pub identity_store_id: String,
    pub owner_account_id: String,
    pub name: Option<String>,
    /// `ACTIVE` (instances are created active).
    pub status: String,
    /// The idempotency token of the CreateInstance that made it.
    pub client_token: Option<String>,
    pub tags: Vec<(String, String)>,
    pub created_at: i64,
}

/// A user of an identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityUserRecord {
    pub identity_store_id: String,
    /// `([0-9a-f]{10}-)?<uuid>`.
    pub user_id: String,
    pub user_name: String,
    /// The primary (first) email address, lower-cased, for `emails.value` lookups.
    pub email_key: Option<String>,
    /// The AWS-shaped attributes other than `UserName` (`Name`, `DisplayName`, `Emails`, …),
    /// as a JSON object.
    pub attributes: String,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// A group of an identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityGroupRecord {
    pub identity_store_id: String,
    pub group_id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `ExternalIds` as a JSON array of `{Issuer, Id}` (SCIM's `externalId`), if any.
    pub external_ids: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

/// A user's membership of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub identity_store_id: String,
    pub membership_id: String,
    pub group_id: String,
    pub user_id: String,
    pub created_at: i64,
    pub created_by: String,
}

/// An sso-admin configuration object of an instance: a trusted token issuer (`kind` `tti`) or
/// an application (`app`). `document` is its AWS-shaped description as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoObjectRecord {
    pub arn: String,
    pub instance_arn: String,
    pub kind: String,
    /// The lower-cased name, where names are unique within the instance.
    pub name_key: Option<String>,
    pub client_token: Option<String>,
    pub document: String,
    pub created_at: i64,
}

/// One setting of an application: a grant, access scope, authentication method, the
/// assignment configuration or an assignment (`kind`), keyed within its kind by `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettingRecord {
    pub application_arn: String,
    pub kind: String,
    pub key: String,
    pub document: String,
}

/// Every sso-admin object and application setting (what the Identity Center view loads).
#[derive(Debug, Clone, Default)]
pub struct SsoConfigTables {
    pub instances: Vec<InstanceRecord>,
    pub objects: Vec<SsoObjectRecord>,
    pub settings: Vec<AppSettingRecord>,
}

/// A token-issuer signing key (PKCS#8 sealed under the master key).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub key_sealed: Vec<u8>,
    pub created_at: i64,
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKeyRecord(kid={}, created_at={})",
            self.kid, self.created_at
        )
    }
}

/// A refresh token, stored by the SHA-256 of its value. `document` is what it carries (the
/// application, instance, scopes) as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub family_id: String,
    pub user_id: String,
    pub document: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used: bool,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Unused (and, after a rotation, now used), its family live.
    Fresh(RefreshTokenRecord),
    /// Already used once: a replay. Its family should be revoked.
    Reused { family_id: String },
    /// Not a token of ours, or its family was revoked.
    Unknown,
}

/// A SCIM bearer token of an identity store, stored by the SHA-256 of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimTokenRecord {
    pub token_id: String,
    pub identity_store_id: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A bearer token of the admin listener's operator endpoints, stored by the SHA-256 of its
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorTokenRecord {
    pub token_id: String,
    pub token_hash: String,
    /// What the operator said it is for (shown in the audit trail and listings).
    pub description: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Every identity-store user and membership (what the directory view loads).
#[derive(Debug, Clone, Default)]
pub struct DirectoryTables {
    pub users: Vec<IdentityUserRecord>,
    pub memberships: Vec<MembershipRecord>,
}

/// What [`crate::IdentityCenterStore::write_group`] does with the group row itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupWrite {
    Create,
    Update,
    /// Only memberships change.
    Keep,
}

/// An S3 Access Grants instance (id `default`; one per account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgInstanceRecord {
    pub account_id: String,
    /// The associated Identity Center instance.
    pub identity_center_arn: Option<String>,
    /// The Identity Center application made for the association.
    pub application_arn: Option<String>,
    pub resource_policy: Option<String>,
    pub policy_organization: Option<String>,
    pub policy_created_at: Option<i64>,
    pub tags: Vec<(String, String)>,
    pub created_at: i64,
}

/// An Access Grants location: an S3 scope and the IAM role that vends credentials for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgLocationRecord {
    pub account_id: String,
    pub location_id: String,
    pub location_scope: String,
    pub iam_role_arn: String,
    pub tags: Vec<(String, String)>,
    pub created_at: i64,
}

/// An Access Grants grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgGrantRecord {
    pub account_id: String,
    pub grant_id: String,
    pub location_id: String,
    pub sub_prefix: Option<String>,
    /// The location scope and the sub-prefix, concatenated.
    pub grant_scope: String,
    /// `IAM`, `DIRECTORY_USER` or `DIRECTORY_GROUP`.
    pub grantee_type: String,
    pub grantee_id: String,
    /// `READ`, `WRITE` or `READWRITE`.
    pub permission: String,
    pub application_arn: Option<String>,
    /// `Object` for a grant on one object.
    pub prefix_type: Option<String>,
    pub tags: Vec<(String, String)>,
    pub created_at: i64,
}

/// Which Access Grants resource a tag write is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgResource {
    Instance,
    Location,
    Grant,
}

/// Every Access Grants table (what the grant index loads), with each instance's version.
#[derive(Debug, Clone, Default)]
pub struct AccessGrantsTables {
    pub instances: Vec<AgInstanceRecord>,
    pub locations: Vec<AgLocationRecord>,
    pub grants: Vec<AgGrantRecord>,
    /// (account, version) of every instance.
    pub versions: Vec<(String, i64)>,
}

/// One logged change of an instance (see [`crate::AccessGrantsStore::access_grants_delta`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgLogEntry {
    pub version: i64,
    /// `put` or `delete` of a grant, or `config` (instance row or locations).
    pub op: String,
    pub grant_id: String,
    pub grant_scope: String,
}

/// How one instance changed since a version a replica knows.
#[derive(Debug, Clone)]
pub enum AgInstanceDelta {
    /// Unchanged.
    Same,
    /// Gone.
    Deleted,
    /// Everything, because the replica did not know the instance or is further behind than
    /// the log reaches.
    Full {
        instance: AgInstanceRecord,
        version: i64,
        locations: Vec<AgLocationRecord>,
        grants: Vec<AgGrantRecord>,
    },
    /// The changes after the known version, in order, with the instance row, its locations
    /// and the rows of the grants put.
    Changes {
        instance: AgInstanceRecord,
        version: i64,
        locations: Vec<AgLocationRecord>,
        log: Vec<AgLogEntry>,
        grants: Vec<AgGrantRecord>,
    },
}

/// One audit record as stored: its place in the hash chain, the columns queries filter on,
/// and the exact JSON body the chain hashes (see `tessera_audit::chain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    /// RFC 3339, UTC (`2026-12-02T12:00:00Z`): sorts as text.
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    /// The caller's ARN (empty for an anonymous or unauthenticated call).
    pub principal_arn: String,
    /// `userIdentity.onBehalfOf.userId`: the directory user an identity-enhanced session acts for.
    pub on_behalf_of: Option<String>,
    pub request_id: String,
    pub body: String,
    /// Hex hash of the previous record (zeros for the first).
    pub prev_hash: String,
    pub hash: String,
}

/// What `tessera audit query` filters by (all optional, ANDed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub on_behalf_of: Option<String>,
    pub principal_arn: Option<String>,
    pub event_name: Option<String>,
    pub request_id: Option<String>,
    /// Inclusive lower bound on `event_time` (RFC 3339).
    pub since: Option<String>,
    /// Exclusive upper bound on `event_time` (RFC 3339).
    pub until: Option<String>,
}

/// A signed digest as stored (its JSON is `tessera_audit::chain::Digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDigestRow {
    pub digest_seq: i64,
    pub end_seq: i64,
    pub body: String,
}

/// An audit signing key: the Ed25519 public key, and the PKCS#8 private key sealed under the
/// master key (AAD = fingerprint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditKeyRecord {
    pub fingerprint: String,
    pub public_key: Vec<u8>,
    pub private_sealed: Vec<u8>,
    pub created_at: i64,
}
