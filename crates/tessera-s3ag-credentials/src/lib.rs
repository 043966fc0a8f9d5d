//! An S3 Access Grants credentials provider for the AWS SDK for Rust.
//!
//! Plugged into an `aws-sdk-s3` client, it looks at each request's operation and its bucket,
//! key or prefix, maps the operation to the permission a grant must give (READ for reads and
//! listings, WRITE for writes and deletes, READWRITE for CopyObject — see
//! [`permission_for_operation`]), and signs the request with credentials from S3 Access Grants'
//! `GetDataAccess`, called with the client's own credentials (the caller's identity-bearer
//! session: an IAM principal, or an identity-enhanced session that carries a directory user).
//!
//! - **Cached per caller and grant.** Entries are keyed by the caller (the access key of the
//!   credentials that signed GetDataAccess), the account, the permission, the privilege, the
//!   requested duration and the grant target GetDataAccess matched; an entry serves only
//!   requests its matched target covers (a READWRITE entry serves READ and WRITE), never a
//!   broader one, and only while more than the refresh margin (five minutes) of its life is left.
//! - **One call for concurrent misses.** Requests that miss at once for the same caller,
//!   account and permission wait for one GetDataAccess call and are served from its answer when
//!   it covers them: 200 concurrent reads under one grant make one call.
//! - **Refusals are short-lived answers.** An AccessDenied is repeated for 30 seconds without
//!   asking again.
//! - **Fallback off by default.** A refused request fails; with [`Builder::fallback`] on it is
//!   signed with the client's own credentials instead. Operations Access Grants does not serve
//!   (ListBuckets, CreateBucket, HeadBucket, …) always are, as in AWS's plugins.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use tessera_s3ag_credentials::{AccessGrants, s3control_client};
//!
//! // The caller's identity-bearer credentials, e.g. from `tip auth get-iam-credentials`
//! // through a `credential_process` profile, and Tessera's endpoint.
//! let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
//!     .endpoint_url("http://127.0.0.1:4566")
//!     .load()
//!     .await;
//! let grants = AccessGrants::builder()
//!     .s3control(s3control_client(&config))
//!     .account_id("111111111111")
//!     .build()?;
//! let s3 = aws_sdk_s3::Client::from_conf(
//!     grants
//!         .configure(aws_sdk_s3::config::Builder::from(&config))
//!         .force_path_style(true)
//!         .build(),
//! );
//! // Signed with READ credentials for the grant that covers projects/red/.
//! let object = s3
//!     .get_object()
//!     .bucket("example-bucket")
//!     .key("projects/red/tomatoes.csv")
//!     .send()
//!     .await?;
//! # let _ = object;
//! # Ok(())
//! # }
//! ```
//!
//! [`AccessGrants::data_access`] and [`AccessGrants::fetch`] serve callers that want the
//! credentials themselves (as `tip s3ag get-data-access` does); [`GrantCache`] and
//! [`CachedGrant::serves`] are the cache rules, for caches kept elsewhere.

mod cache;
mod model;
mod provider;
mod sdk;

pub use cache::{Ask, CachedGrant, GrantCache, Refusal, VendedCredentials};
pub use model::{
    ParseError, Permission, Privilege, S3Target, common_target, permission_for_operation,
};
pub use provider::{AccessGrants, Builder, Error};
pub use sdk::s3control_client;
