//! Identity Center. So far: sso-admin's instances ([`sso_admin`]) and the identity store's
//! users ([`identity_store`]). Groups and memberships, SCIM provisioning, trusted token
//! issuers, applications, `CreateTokenWithIAM` and identity-enhanced sessions follow (issue 8),
//! in modules of this crate over one model.

mod apps;
mod error;
pub mod identity_store;
pub mod issuer;
pub mod jti;
pub mod model;
mod request;
pub mod scim;
mod scim_endpoint;
pub mod sso_admin;
pub mod sso_oidc;
pub mod view;

pub use error::IdentityCenterError;
pub use identity_store::{IdentityStoreOp, IdentityStoreService};
pub use issuer::IssuerDocuments;
pub use issuer::TokenIssuer;
pub use scim::ScimService;
pub use scim_endpoint::ScimOp;
pub use sso_admin::{SsoAdminOp, SsoAdminService};
pub use sso_oidc::{SsoOidcOp, SsoOidcService};
pub use view::IdentityCenterView;
