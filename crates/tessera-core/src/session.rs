//! Role-session claims: what a temporary credential is. Sealed into the session token by
//! `tessera-crypto`; carried by the [`crate::Caller`] of a request made with it.

use serde::{Deserialize, Serialize};

/// Claims of a web-identity session (`AssumeRoleWithWebIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebIdentity {
    #[serde(rename = "p")]
    pub provider_arn: String,
    #[serde(rename = "s")]
    pub subject: String,
    #[serde(rename = "a")]
    pub audience: String,
}

/// The directory user an identity-enhanced session acts for (AssumeRole with an Identity
/// Center `ProvidedContexts` assertion). Also what the assertion itself seals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityContext {
    /// `identitystore:UserId`.
    #[serde(rename = "u")]
    pub user_id: String,
    /// `identitystore:IdentityStoreArn`.
    #[serde(rename = "s")]
    pub identity_store_arn: String,
    /// `identitycenter:InstanceArn`.
    #[serde(rename = "i")]
    pub instance_arn: String,
    /// `identitycenter:ApplicationArn`: the application whose token carried the context.
    #[serde(rename = "a")]
    pub application_arn: String,
    /// `identitycenter:CredentialId`: a random id for logging.
    #[serde(rename = "c")]
    pub credential_id: String,
    /// When the user's Identity Center token was issued (unix seconds): a user revocation at
    /// or after it voids the context and every session carrying it.
    #[serde(rename = "t")]
    pub token_issued_at: i64,
    /// When the assertion stops being accepted by AssumeRole (unix seconds).
    #[serde(rename = "e")]
    pub expires_at: i64,
}

impl IdentityContext {
    /// The condition keys an identity context sets (Identity Center user guide, condition
    /// keys for identity-enhanced sessions): in a trust policy under `sts:RequestContext/`,
    /// and as they are in the identity policies of the session it makes.
    pub fn condition_keys(&self) -> [(&'static str, String); 5] {
        [
            ("identitystore:UserId", self.user_id.clone()),
            (
                "identitystore:IdentityStoreArn",
                self.identity_store_arn.clone(),
            ),
            ("identitycenter:InstanceArn", self.instance_arn.clone()),
            (
                "identitycenter:ApplicationArn",
                self.application_arn.clone(),
            ),
            ("identitycenter:CredentialId", self.credential_id.clone()),
        ]
    }
}

/// Everything a role session is. Sealed into the session token; never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    #[serde(rename = "k")]
    pub access_key_id: String,
    #[serde(rename = "a")]
    pub account: String,
    #[serde(rename = "rn")]
    pub role_name: String,
    #[serde(rename = "ri")]
    pub role_id: String,
    #[serde(rename = "rp")]
    pub role_path: String,
    #[serde(rename = "s")]
    pub session_name: String,
    /// Unix seconds (`aws:TokenIssueTime`).
    #[serde(rename = "i")]
    pub issued_at: i64,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
    #[serde(rename = "si", default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Inline session policy document.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Managed session policies.
    #[serde(rename = "pa", default, skip_serializing_if = "Vec::is_empty")]
    pub policy_arns: Vec<String>,
    /// Session tags, in request order.
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    #[serde(rename = "tt", default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// 0 for sessions made from long-term credentials or a web identity; n > 0 for the n-th
    /// link of a role chain.
    #[serde(rename = "c", default)]
    pub chain_depth: u8,
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub web_identity: Option<WebIdentity>,
    /// The directory user of an identity-enhanced session.
    #[serde(rename = "ic", default, skip_serializing_if = "Option::is_none")]
    pub identity_context: Option<IdentityContext>,
    /// The data a session vended by S3 Access Grants (GetDataAccess) may reach.
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantScope>,
}

/// What an Access Grants grant lets its grantee do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GrantPermission {
    #[serde(rename = "R")]
    Read,
    #[serde(rename = "W")]
    Write,
    #[serde(rename = "RW")]
    ReadWrite,
}

impl GrantPermission {
    pub fn parse(s: &str) -> Option<GrantPermission> {
        match s {
            "READ" => Some(GrantPermission::Read),
            "WRITE" => Some(GrantPermission::Write),
            "READWRITE" => Some(GrantPermission::ReadWrite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GrantPermission::Read => "READ",
            GrantPermission::Write => "WRITE",
            GrantPermission::ReadWrite => "READWRITE",
        }
    }

    /// Whether holding `self` allows `wanted` (READWRITE covers both).
    pub fn covers(self, wanted: GrantPermission) -> bool {
        self == GrantPermission::ReadWrite || self == wanted
    }
}

/// The scope of a session vended by GetDataAccess, as typed data: which objects it may reach
/// and how. The S3 data plane checks every key a request names against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantScope {
    /// `s3:AccessGrantsInstanceArn`.
    #[serde(rename = "n")]
    pub instance_arn: String,
    /// The grant that matched.
    #[serde(rename = "g")]
    pub grant_id: String,
    /// The scope without `s3://` and without a trailing `*`: `bucket/key-or-prefix`.
    #[serde(rename = "s")]
    pub scope: String,
    /// Whether `scope` is a prefix (the scope ended in `*`) rather than one object.
    #[serde(rename = "x")]
    pub prefix: bool,
    #[serde(rename = "p")]
    pub permission: GrantPermission,
    /// The GetDataAccess request that vended the session (for the audit trail).
    #[serde(rename = "r")]
    pub request_id: String,
}

impl GrantScope {
    /// The scope as GetDataAccess returned it (`s3://bucket/prefix*`, `s3://bucket/key`).
    pub fn target(&self) -> String {
        format!("s3://{}{}", self.scope, if self.prefix { "*" } else { "" })
    }

    /// Whether the object `key` of `bucket` is within the scope: `bucket/key` starts with a
    /// prefix scope, or equals an object scope.
    pub fn covers_object(&self, bucket: &str, key: &str) -> bool {
        let full_len = bucket.len() + 1 + key.len();
        let full = bucket
            .bytes()
            .chain(std::iter::once(b'/'))
            .chain(key.bytes());
        let fits = if self.prefix {
            self.scope.len() <= full_len
        } else {
            self.scope.len() == full_len
        };
        fits && self.scope.bytes().zip(full).all(|(a, b)| a == b)
    }

    /// Whether listing `bucket` under `prefix` can return only keys within the scope.
    pub fn covers_listing(&self, bucket: &str, prefix: &str) -> bool {
        self.prefix && self.covers_object(bucket, prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(scope: &str, prefix: bool) -> GrantScope {
        GrantScope {
            instance_arn: "arn:aws:s3:us-east-1:111111111111:access-grants/default".into(),
            grant_id: "g".into(),
            scope: scope.into(),
            prefix,
            permission: GrantPermission::Read,
            request_id: "r".into(),
        }
    }

    #[test]
    fn grant_scopes_cover_keys() {
        let red = scope("example-bucket/projects/red/", true);
        assert_eq!(red.target(), "s3://example-bucket/projects/red/*");
        assert!(red.covers_object("example-bucket", "projects/red/tomatoes/roma.csv"));
        assert!(red.covers_object("example-bucket", "projects/red/"));
        assert!(!red.covers_object("example-bucket", "projects/blue/x"));
        assert!(!red.covers_object("example-bucket", "projects/red"));
        assert!(!red.covers_object("example-bucket2", "projects/red/x"));
        assert!(!red.covers_object("example", "-bucket/projects/red/x"));
        let one = scope("b1/bob/", false);
        assert!(one.covers_object("b1", "bob/"));
        assert!(!one.covers_object("b1", "bob/x"));
        assert!(!one.covers_object("b1", "bob"));
        assert!(GrantPermission::ReadWrite.covers(GrantPermission::Write));
        assert!(!GrantPermission::Read.covers(GrantPermission::Write));
    }
}
