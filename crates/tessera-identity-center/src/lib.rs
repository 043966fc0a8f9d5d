//! Identity Center. So far: sso-admin's instances ([`sso_admin`]). The identity store,
//! SCIM provisioning, trusted token issuers, applications, `CreateTokenWithIAM` and
//! identity-enhanced sessions follow (issue 8), in modules of this crate over one model.

mod error;
pub mod sso_admin;

pub use error::IdentityCenterError;
pub use sso_admin::{SsoAdminOp, SsoAdminService};
