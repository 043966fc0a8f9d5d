//! Tessera's domain vocabulary, shared by every other crate.
//!
//! Account ids, ARNs, principals, the authenticated [`Caller`], IAM name rules, generated
//! identifiers and redacting wrappers for secrets. Nothing here does IO or knows about HTTP,
//! SQL or the AWS wire formats.

mod account;
mod arn;
mod caller;
pub mod ids;
pub mod names;
mod secret;
pub mod session;

pub use account::{AccountId, InvalidAccountId};
pub use arn::{Arn, ArnError};
pub use caller::{Caller, Principal};
pub use secret::Secret;
pub use session::{GrantPermission, GrantScope, SessionClaims, WebIdentity};

/// The deployment-wide settings every service needs to build ARNs and check credential scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// AWS partition name used in ARNs (`aws` by default).
    pub partition: String,
    /// The one region this deployment serves (`us-east-1` by default).
    pub region: String,
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            partition: "aws".into(),
            region: "us-east-1".into(),
        }
    }
}

/// Facts about one request that services need for authorisation and audit.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_ip: std::net::IpAddr,
    pub user_agent: String,
    pub now: chrono::DateTime<chrono::Utc>,
    /// The request arrived over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// Why the request's authorisation decisions refused what they refused, for the audit
    /// record (never for the response).
    pub decisions: Decisions,
}

/// The reasons of a request's refusals, collected as the request runs: the authoriser and
/// the grant matcher add one entry per refusal (what was asked, and why it was refused);
/// the request's audit record keeps them in `additionalEventData`. Clones of one request's
/// meta share one list.
#[derive(Debug, Clone, Default)]
pub struct Decisions(std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>);

impl Decisions {
    /// Keep a refusal's reason.
    pub fn push(&self, reason: serde_json::Value) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reason);
    }

    /// The reasons kept so far (taken: the list is left empty).
    pub fn take(&self) -> Vec<serde_json::Value> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// ISO-8601 UTC with second precision, as the query protocols render timestamps.
pub fn iso8601(epoch_secs: i64) -> String {
    chrono::DateTime::from_timestamp(epoch_secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
