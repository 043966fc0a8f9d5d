//! Policy documents: parsing, validation and single-policy evaluation.

mod evaluate;
mod parse;
mod rewrite;
#[cfg(test)]
mod tests;
pub use rewrite::rewrite_aws_principals;

use crate::condition::Condition;
use crate::pattern::{ArnPattern, Pattern};
use crate::principal::PrincipalSpec;

/// Quota for a customer managed policy (and permissions boundaries), in
/// non-whitespace characters.
pub const MANAGED_POLICY_MAX: usize = 6144;
/// Quota for the aggregate of all inline policies of a role.
pub const ROLE_INLINE_AGGREGATE_MAX: usize = 10240;
/// Quota for the aggregate of all inline policies of a user.
pub const USER_INLINE_AGGREGATE_MAX: usize = 2048;
/// Quota for the aggregate of all inline policies of a group.
pub const GROUP_INLINE_AGGREGATE_MAX: usize = 5120;
/// Quota for a role trust policy (AWS default; adjustable up to 4096 there).
pub const TRUST_POLICY_MAX: usize = 2048;
/// Quota for the plaintext of session policies passed to STS.
pub const SESSION_POLICY_MAX: usize = 2048;
/// Quota used for resource-based policies (S3 bucket policies allow 20 KB).
pub const RESOURCE_POLICY_MAX: usize = 20480;

/// The size of a policy document as IAM counts it against its quotas: the
/// number of characters that are not white space (space, tab, CR, LF).
pub fn policy_size(doc: &str) -> usize {
    doc.chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .count()
}

/// What a policy is attached to; decides which elements are required or
/// forbidden and the size quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Identity-based (inline or managed) policy of a user, group or role.
    Identity,
    /// Resource-based policy (bucket policy, access grant policy, …).
    Resource,
    /// Role trust policy (`AssumeRolePolicyDocument`).
    Trust,
    /// Session policy passed to `AssumeRole*` / `GetFederationToken`.
    Session,
    /// Managed policy used as a permissions boundary.
    PermissionsBoundary,
}

impl PolicyKind {
    /// The size quota `Policy::parse` enforces for this kind.
    pub fn max_size(self) -> usize {
        match self {
            PolicyKind::Identity | PolicyKind::PermissionsBoundary => MANAGED_POLICY_MAX,
            PolicyKind::Trust => TRUST_POLICY_MAX,
            PolicyKind::Session => SESSION_POLICY_MAX,
            PolicyKind::Resource => RESOURCE_POLICY_MAX,
        }
    }

    /// Whether statements must (`true`) or must not (`false`) name a principal.
    pub fn requires_principal(self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Trust)
    }

    /// Whether statements must have `Resource` or `NotResource`.
    pub fn requires_resource(self) -> bool {
        !matches!(self, PolicyKind::Trust)
    }
}

/// `Effect` of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2008-10-17` (also assumed when `Version` is missing): no policy variables.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
}

/// Result of evaluating one policy with [`Policy::evaluate_detailed`].
/// When `explicit_deny` is set the other fields are `false` (evaluation
/// stops at the first applicable `Deny`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Some `Deny` statement applies.
    pub explicit_deny: bool,
    /// Some `Allow` statement applies.
    pub allowed: bool,
    /// Some applicable `Allow` statement names the caller's own IAM user,
    /// assumed-role session or federated-user ARN in `Principal` (used for
    /// the same-account resource-policy rule in [`crate::authorize`]).
    pub allowed_directly: bool,
    /// Some applicable `Allow` statement matched the caller by more than its account: by a
    /// user, role or session ARN, a service or federated principal, `*`, or (identity
    /// policies) by having no `Principal` at all. An allow that names only the caller's
    /// account grants nothing by itself in that account; the identity policies must allow.
    pub allowed_beyond_account: bool,
    /// The index (in document order) of the `Deny` statement that applied, when
    /// `explicit_deny` is set.
    pub deny_statement: Option<u32>,
}

impl Evaluation {
    /// `Some(Deny)` if any deny applies, else `Some(Allow)` if any allow
    /// applies, else `None`.
    pub fn effect(&self) -> Option<Effect> {
        if self.explicit_deny {
            Some(Effect::Deny)
        } else if self.allowed {
            Some(Effect::Allow)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    not_action: bool,
    actions: Vec<Pattern>,
    /// `None`: no Resource element (trust policies) = every resource.
    resources: Option<(bool, Vec<ArnPattern>)>,
    /// `(negated, spec)`: `NotPrincipal` when negated.
    principal: Option<(bool, PrincipalSpec)>,
    conditions: Vec<Condition>,
}

/// A parsed and validated policy document. Cheap to evaluate repeatedly:
/// wildcard patterns, ARNs and condition values are compiled at parse time.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    version: PolicyVersion,
    id: Option<String>,
    statements: Vec<Statement>,
}

impl Policy {
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The document's `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The `Sid` of statement `index` (document order), if it has one.
    pub fn sid(&self, index: usize) -> Option<&str> {
        self.statements.get(index).and_then(|s| s.sid.as_deref())
    }

    /// The `Sid` of each statement, in document order.
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref())
    }

    /// The IAM user and role ARNs that `Principal` / `NotPrincipal` elements name, each
    /// once, in document order. AWS resolves these to unique ids when a policy is saved.
    pub fn entity_principal_arns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.statements {
            if let Some((_, spec)) = &s.principal {
                for arn in spec.entity_arns() {
                    if !out.iter().any(|a| a == arn) {
                        out.push(arn.to_owned());
                    }
                }
            }
        }
        out
    }

    /// Binds the user and role ARNs in `Principal` / `NotPrincipal` to the unique ids the
    /// entities had when the policy was saved (`id_of` returns `None` for an ARN that was
    /// not resolved, which then keeps matching by name). A bound ARN matches a caller only
    /// when the caller's [`crate::PrincipalRef::entity_id`] for it is the same id: after the
    /// user or role is deleted and re-created under the same name, the old grant is void.
    pub fn bind_principal_ids(&mut self, id_of: impl Fn(&str) -> Option<String>) {
        for s in &mut self.statements {
            if let Some((_, spec)) = &mut s.principal {
                spec.bind_ids(&id_of);
            }
        }
    }
}
