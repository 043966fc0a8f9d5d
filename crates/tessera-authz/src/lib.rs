//! The authorisation kernel, shared by every service crate.
//!
//! - [`Authorizer`] and [`Access`]: the one place a decision is made (through
//!   `tessera-policy`), reading only in-memory state.
//! - [`principals`]: the IAM principal view (roles, users, managed policies) on the generic
//!   replicated-view mechanism of `tessera_store::view`.
//! - [`credentials`]: short-lived caches of key secrets, opened session tokens and signing
//!   keys, so that authenticating a request reads no store.
//! - [`keyring`]: the session key ring as a replicated view, and its rotation.
//! - [`revocations`]: revoked directory users, as a replicated view.
//! - [`directory`]: identity-store users and group memberships, as a replicated view.
//! - [`grants`]: the S3 Access Grants index (instances, locations, a radix tree of grant
//!   scopes), as a replicated view.
//! - [`vended`]: the session policy that confines credentials vended by S3 Access Grants to
//!   their grant.
//!
//! Service crates depend on this crate, never on each other: STS asks the same authoriser IAM
//! does without knowing the IAM service exists.

mod authorizer;
pub mod credentials;
pub mod directory;
pub mod grants;
pub mod keyring;
pub mod principals;
pub mod revocations;
pub mod vended;

pub use authorizer::{Access, Authorizer, Denied};
pub use directory::DirectoryView;
pub use grants::GrantView;
pub use keyring::KeyRingView;
pub use principals::PrincipalView;
pub use revocations::RevocationView;
