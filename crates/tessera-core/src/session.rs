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
}
