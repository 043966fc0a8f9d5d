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
}
