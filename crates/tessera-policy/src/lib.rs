//! The IAM policy language for Tessera: parse, validate and evaluate
//! AWS-style JSON policy documents, and combine identity, resource,
//! permissions-boundary and session policies into one decision the way AWS
//! does.
//!
//! * [`Policy::parse`] checks a document against the grammar of its
//!   [`PolicyKind`] (principal required or forbidden, resource required or
//!   optional), the allowed character set and the kind's size quota
//!   ([`policy_size`] counts non-whitespace characters, as IAM does), and
//!   compiles wildcard patterns, ARNs and condition values once.
//! * [`Policy::evaluate`] evaluates one policy against a [`RequestContext`]
//!   (`Deny` wins over `Allow`; `None` when no statement applies).
//! * [`authorize`] combines the policies of an [`EvalInput`] into a
//!   [`Decision`], for same-account and cross-account requests.
//!
//! Supported: `Version` `2012-10-17` and `2008-10-17` (the default; no policy
//! variables), `Statement` as object or array, `Sid`, `Effect`,
//! `Action`/`NotAction`, `Resource`/`NotResource` (segment-wise ARN
//! wildcard matching), `Principal`/`NotPrincipal` (`AWS`, `Service`,
//! `Federated`, `CanonicalUser`), every documented condition operator family
//! with `…IfExists`, `ForAnyValue:` / `ForAllValues:` and `Null`, and policy
//! variables (`${aws:username}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`)
//! in `Resource` and in string and ARN condition values.
//!
//! The crate does no I/O; callers supply the request context (including the
//! values of global condition keys such as `aws:username` or
//! `aws:CurrentTime`).
//!
//! ```
//! use tessera_policy::{Effect, Policy, PolicyKind, RequestContext, ContextKeys};
//!
//! let policy = Policy::parse(
//!     r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
//!         "Resource":"arn:aws:s3:::home/${aws:username}/*"}}"#,
//!     PolicyKind::Identity,
//! )
//! .unwrap();
//! let req = RequestContext::new("s3:GetObject", "arn:aws:s3:::home/alice/notes.txt")
//!     .with_context(ContextKeys::new().with("aws:username", "alice"));
//! assert_eq!(policy.evaluate(&req), Some(Effect::Allow));
//! ```

mod authorize;
mod condition;
mod context;
mod error;
mod json;
mod pattern;
mod policy;
mod principal;

pub use authorize::{
    Decision, EvalInput, Missing, PolicySlot, Reason, Verdict, authorize, authorize_explained,
};
pub use context::{ContextKeys, ContextValue, PrincipalKind, PrincipalRef, RequestContext};
pub use error::{PolicyError, PolicyErrorKind};
pub use policy::{
    Effect, Evaluation, GROUP_INLINE_AGGREGATE_MAX, MANAGED_POLICY_MAX, Policy, PolicyKind,
    PolicyVersion, RESOURCE_POLICY_MAX, ROLE_INLINE_AGGREGATE_MAX, SESSION_POLICY_MAX,
    TRUST_POLICY_MAX, USER_INLINE_AGGREGATE_MAX, policy_size, rewrite_aws_principals,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}

    #[test]
    fn public_types_are_thread_safe() {
        assert_send_sync::<Policy>();
        assert_send_sync::<PolicyError>();
        assert_send_sync::<RequestContext>();
    }
}
