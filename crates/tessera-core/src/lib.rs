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

pub use account::{AccountId, InvalidAccountId};
pub use arn::{Arn, ArnError};
pub use caller::{Caller, Principal};
pub use secret::Secret;

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
