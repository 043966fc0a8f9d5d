//! Combining policy types into one decision, following AWS's documented
//! evaluation logic for requests within one account and across accounts.

use crate::context::RequestContext;
use crate::policy::{Evaluation, Policy};

/// All the policies that apply to one request.
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    /// Identity-based policies (inline and managed) of the calling principal.
    pub identity_policies: &'a [&'a Policy],
    /// The resource-based policy of the target, if the action has one (for
    /// `sts:AssumeRole*` this is the role's trust policy).
    pub resource_policy: Option<&'a Policy>,
    /// The caller's permissions boundary; `None` = no boundary.
    pub permissions_boundary: Option<&'a Policy>,
    /// The session policies (inline and managed) of a role or federated
    /// session; `None` (or an empty list) = no session policy.
    pub session_policies: Option<&'a [&'a Policy]>,
    /// The principal's account is the resource's account.
    pub same_account: bool,
    /// The caller is the account root user.
    pub principal_is_root: bool,
    /// The resource policy must allow the request whatever the identity policies say: role
    /// trust policies for `sts:AssumeRole*`. An allow that names only the caller's account then
    /// still needs the identity policies too (delegation); one that names the caller itself
    /// (user, role, session, federated provider) suffices on its own in the same account.
    pub resource_policy_required: bool,
}

impl<'a> EvalInput<'a> {
    /// Only identity policies, same account, nothing else.
    pub fn identity_only(identity_policies: &'a [&'a Policy]) -> Self {
        Self {
            identity_policies,
            resource_policy: None,
            permissions_boundary: None,
            session_policies: None,
            same_account: true,
            principal_is_root: false,
            resource_policy_required: false,
        }
    }
}

/// The final authorisation decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allow,
    /// Some applicable policy has a matching `Deny` statement.
    ExplicitDeny,
    /// Nothing (or not every required policy type) allowed the request.
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Which of the supplied policies an explanation points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySlot {
    /// `identity_policies[i]`.
    Identity(usize),
    Resource,
    PermissionsBoundary,
    /// `session_policies[i]`.
    Session(usize),
}

/// The policy types that did not allow an implicitly denied request (each one the decision
/// needed and did not get).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Missing {
    /// No identity-based policy allowed (in the same account: nor did the resource policy
    /// through anything more than the account).
    pub identity: bool,
    /// The resource-based policy (or trust policy) did not allow, where it had to.
    pub resource: bool,
    /// The permissions boundary did not allow.
    pub permissions_boundary: bool,
    /// No session policy allowed.
    pub session: bool,
}

/// Why [`authorize_explained`] decided as it did: data, never shown to the caller beyond what
/// AWS's error says, kept for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Allowed,
    /// `statement` (document order) of the policy in `slot` denied explicitly: the first
    /// applicable `Deny` in evaluation order (identity, resource, boundary, session).
    ExplicitDeny {
        slot: PolicySlot,
        statement: u32,
    },
    /// No deny applied, and these policy types lacked an allow.
    ImplicitDeny(Missing),
}

/// A decision and its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: Reason,
}

/// Decides a request as AWS does.
///
/// 1. Any matching `Deny` in any supplied policy (identity, resource,
///    boundary, session) → [`Decision::ExplicitDeny`].
/// 2. Account root user in its own account → [`Decision::Allow`] (the root
///    user needs no identity policy). A root caller from another account
///    counts as having an identity-side allow and still needs the resource
///    policy.
/// 3. Same account: the request is allowed when
///    * the resource policy allows it with a `Principal` naming the caller's
///      own IAM user ARN, assumed-role session ARN or federated-user session
///      ARN (such grants are not limited by a permissions boundary or session
///      policy), or
///    * the identity policies **or** the resource policy (through the role
///      ARN, `*`, a service or federated principal — not merely the account,
///      which delegates to the identity policies) allow it, **and** the permissions boundary
///      (if any) allows it, **and** the session policies (if any) allow it.
/// 4. Cross account: the identity policies (or root) **and** the resource
///    policy must both allow it, and the boundary and session policies (if
///    any) too. No resource policy → implicit deny.
///
/// With [`EvalInput::resource_policy_required`] (role trust policies) the resource policy
/// must allow in every case; see that field.
///
/// Session policies are combined as a set: the session side allows when any
/// one of them allows.
pub fn authorize(req: &RequestContext, input: &EvalInput<'_>) -> Decision {
    authorize_explained(req, input).decision
}

/// [`authorize`], also saying why: the deciding `Deny` statement, or the policy types that
/// lacked an allow. Costs nothing beyond [`authorize`]: the same evaluations, kept.
pub fn authorize_explained(req: &RequestContext, input: &EvalInput<'_>) -> Verdict {
    let identity: Vec<Evaluation> = input
        .identity_policies
        .iter()
        .map(|p| p.evaluate_detailed(req))
        .collect();
    let resource = input.resource_policy.map(|p| p.evaluate_detailed(req));
    let boundary = input.permissions_boundary.map(|p| p.evaluate_detailed(req));
    let session: Option<Vec<Evaluation>> = input
        .session_policies
        .filter(|list| !list.is_empty())
        .map(|list| list.iter().map(|p| p.evaluate_detailed(req)).collect());

    let first_deny = identity
        .iter()
        .enumerate()
        .find_map(|(i, e)| e.deny_statement.map(|s| (PolicySlot::Identity(i), s)))
        .or_else(|| {
            resource
                .and_then(|e| e.deny_statement)
                .map(|s| (PolicySlot::Resource, s))
        })
        .or_else(|| {
            boundary
                .and_then(|e| e.deny_statement)
                .map(|s| (PolicySlot::PermissionsBoundary, s))
        })
        .or_else(|| {
            session.as_deref().and_then(|list| {
                list.iter()
                    .enumerate()
                    .find_map(|(i, e)| e.deny_statement.map(|s| (PolicySlot::Session(i), s)))
            })
        });
    if let Some((slot, statement)) = first_deny {
        return Verdict {
            decision: Decision::ExplicitDeny,
            reason: Reason::ExplicitDeny { slot, statement },
        };
    }

    let identity_allows = input.principal_is_root || identity.iter().any(|e| e.allowed);
    let resource_allows = resource.is_some_and(|e| e.allowed);
    let resource_allows_entity = resource.is_some_and(|e| e.allowed_beyond_account);
    let resource_direct = resource.is_some_and(|e| e.allowed_directly);
    let boundary_allows = boundary.is_none_or(|e| e.allowed);
    let session_allows = session
        .as_deref()
        .is_none_or(|s| s.iter().any(|e| e.allowed));

    let identity_side = identity_allows || resource_allows_entity;
    let (allowed, missing) = if input.resource_policy_required {
        // Trust policies: the resource side must allow; an account-level allow delegates to
        // the identity policies (root of that account included).
        // Across accounts the caller's side (identity ∩ boundary ∩ session) must allow too,
        // however directly the trust policy names the caller.
        let caller_side = if input.same_account {
            resource_direct || (identity_side && boundary_allows && session_allows)
        } else {
            identity_allows && boundary_allows && session_allows
        };
        let direct = input.same_account && resource_direct;
        (
            resource_allows && caller_side,
            Missing {
                resource: !resource_allows,
                identity: !direct
                    && !(if input.same_account {
                        identity_side
                    } else {
                        identity_allows
                    }),
                permissions_boundary: !direct && !boundary_allows,
                session: !direct && !session_allows,
            },
        )
    } else if input.same_account {
        let direct = input.principal_is_root || resource_direct;
        (
            direct || (identity_side && boundary_allows && session_allows),
            Missing {
                identity: !identity_side,
                resource: false,
                permissions_boundary: !boundary_allows,
                session: !session_allows,
            },
        )
    } else {
        (
            identity_allows && resource_allows && boundary_allows && session_allows,
            Missing {
                identity: !identity_allows,
                resource: !resource_allows,
                permissions_boundary: !boundary_allows,
                session: !session_allows,
            },
        )
    };
    if allowed {
        Verdict {
            decision: Decision::Allow,
            reason: Reason::Allowed,
        }
    } else {
        Verdict {
            decision: Decision::ImplicitDeny,
            reason: Reason::ImplicitDeny(missing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::PrincipalRef;
    use crate::policy::PolicyKind;

    fn identity(doc: &str) -> Policy {
        Policy::parse(doc, PolicyKind::Identity).unwrap()
    }

    fn allow(action: &str) -> Policy {
        identity(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"{action}","Resource":"*"}}}}"#
        ))
    }

    fn deny(action: &str) -> Policy {
        identity(&format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Deny","Action":"{action}","Resource":"*"}}}}"#
        ))
    }

    fn resource(principal: &str, effect: &str) -> Policy {
        Policy::parse(
            &format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Principal":{{"AWS":"{principal}"}},"Action":"s3:GetObject","Resource":"*"}}}}"#
            ),
            PolicyKind::Resource,
        )
        .unwrap()
    }

    fn req() -> RequestContext {
        RequestContext::new("s3:GetObject", "arn:aws:s3:::b/k")
            .with_principal(PrincipalRef::role_session("aws", "111111111111", "R", "s"))
    }

    #[test]
    fn identity_only() {
        let a = allow("s3:*");
        let d = deny("s3:GetObject");
        assert_eq!(
            authorize(&req(), &EvalInput::identity_only(&[&a])),
            Decision::Allow
        );
        assert_eq!(
            authorize(&req(), &EvalInput::identity_only(&[])),
            Decision::ImplicitDeny
        );
        assert_eq!(
            authorize(&req(), &EvalInput::identity_only(&[&a, &d])),
            Decision::ExplicitDeny
        );
        assert!(Decision::Allow.is_allowed());
        assert!(!Decision::ImplicitDeny.is_allowed());
    }

    #[test]
    fn root_in_own_account() {
        let mut input = EvalInput::identity_only(&[]);
        input.principal_is_root = true;
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        let r = resource("*", "Deny");
        input.resource_policy = Some(&r);
        assert_eq!(authorize(&req(), &input), Decision::ExplicitDeny);
        // Cross-account root still needs the resource policy.
        let mut input = EvalInput::identity_only(&[]);
        input.principal_is_root = true;
        input.same_account = false;
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        let r = resource("111111111111", "Allow");
        input.resource_policy = Some(&r);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
    }

    #[test]
    fn account_principal_delegates_to_identity_policies_in_the_same_account() {
        // A trust or resource policy naming only the account grants nothing by itself in that
        // account: the caller's identity policies must allow too (AWS: delegation to IAM).
        let r = resource("111111111111", "Allow");
        let mut input = EvalInput::identity_only(&[]);
        input.resource_policy = Some(&r);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        let a = allow("s3:GetObject");
        let ids = [&a];
        input.identity_policies = &ids;
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        let r = resource("arn:aws:iam::111111111111:root", "Allow");
        let mut input = EvalInput::identity_only(&[]);
        input.resource_policy = Some(&r);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        // The account root itself needs nothing more.
        input.principal_is_root = true;
        assert_eq!(authorize(&req(), &input), Decision::Allow);
    }

    #[test]
    fn trust_policies_must_allow() {
        let a = allow("s3:GetObject");
        let ids = [&a];
        let mut input = EvalInput::identity_only(&ids);
        input.resource_policy_required = true;
        // Identity allows, no trust policy statement matches: denied.
        let other = resource("222222222222", "Allow");
        input.resource_policy = Some(&other);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        // Trust names the account: identity must allow too.
        let acct = resource("111111111111", "Allow");
        input.resource_policy = Some(&acct);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        input.identity_policies = &[];
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        // Trust names the role itself: enough on its own in the same account.
        let role = resource("arn:aws:iam::111111111111:role/R", "Allow");
        input.resource_policy = Some(&role);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        // Across accounts the identity side is needed as well.
        input.same_account = false;
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        input.identity_policies = &ids;
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        // A trust policy naming the session itself does not lift the caller's boundary or
        // session policy across accounts.
        let direct = resource("arn:aws:sts::111111111111:assumed-role/R/s", "Allow");
        input.resource_policy = Some(&direct);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        let narrow = allow("s3:PutObject");
        input.permissions_boundary = Some(&narrow);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        input.permissions_boundary = None;
        let session = [&narrow];
        input.session_policies = Some(&session);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        // In the same account a direct grant stands on its own.
        input.same_account = true;
        assert_eq!(authorize(&req(), &input), Decision::Allow);
    }

    #[test]
    fn same_account_resource_policy_alone_is_enough() {
        let r = resource("arn:aws:iam::111111111111:role/R", "Allow");
        let mut input = EvalInput::identity_only(&[]);
        input.resource_policy = Some(&r);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        // ... but a boundary limits a grant made to the role ARN ...
        let b = allow("iam:*");
        input.permissions_boundary = Some(&b);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        // ... and not one made to the session ARN.
        let r = resource("arn:aws:sts::111111111111:assumed-role/R/s", "Allow");
        input.resource_policy = Some(&r);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        // Session policies likewise.
        let s = allow("iam:*");
        let sessions = [&s];
        input.permissions_boundary = None;
        input.session_policies = Some(&sessions);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        let r = resource("arn:aws:iam::111111111111:role/R", "Allow");
        input.resource_policy = Some(&r);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
    }

    #[test]
    fn cross_account_needs_both() {
        let a = allow("s3:GetObject");
        let r = resource("111111111111", "Allow");
        let ids = [&a];
        let mut input = EvalInput::identity_only(&ids);
        input.same_account = false;
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        input.resource_policy = Some(&r);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        input.identity_policies = &[];
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        // Even a direct session grant needs the identity side cross-account.
        let direct = resource("arn:aws:sts::111111111111:assumed-role/R/s", "Allow");
        input.resource_policy = Some(&direct);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
    }

    #[test]
    fn boundary_and_session_intersection() {
        let a = allow("s3:*");
        let ids = [&a];
        let mut input = EvalInput::identity_only(&ids);
        let b_ok = allow("s3:Get*");
        let b_no = allow("ec2:*");
        input.permissions_boundary = Some(&b_no);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        input.permissions_boundary = Some(&b_ok);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        let s_no = allow("ec2:*");
        let s_ok = allow("s3:GetObject");
        let one = [&s_no];
        input.session_policies = Some(&one);
        assert_eq!(authorize(&req(), &input), Decision::ImplicitDeny);
        let two = [&s_no, &s_ok];
        input.session_policies = Some(&two);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        let none: [&Policy; 0] = [];
        input.session_policies = Some(&none);
        assert_eq!(authorize(&req(), &input), Decision::Allow);
        let s_deny = deny("s3:*");
        let with_deny = [&s_ok, &s_deny];
        input.session_policies = Some(&with_deny);
        assert_eq!(authorize(&req(), &input), Decision::ExplicitDeny);
        let b_deny = deny("*");
        input.session_policies = None;
        input.permissions_boundary = Some(&b_deny);
        assert_eq!(authorize(&req(), &input), Decision::ExplicitDeny);
    }

    #[test]
    fn verdicts_name_the_denying_statement_and_the_missing_allows() {
        let a = allow("s3:*");
        let d = identity(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Deny","Action":"ec2:*","Resource":"*"},{"Sid":"NoReads","Effect":"Deny","Action":"s3:Get*","Resource":"*"}]}"#,
        );
        let ids = [&a, &d];
        let v = authorize_explained(&req(), &EvalInput::identity_only(&ids));
        assert_eq!(v.decision, Decision::ExplicitDeny);
        assert_eq!(
            v.reason,
            Reason::ExplicitDeny {
                slot: PolicySlot::Identity(1),
                statement: 1
            }
        );
        assert_eq!(d.sid(1), Some("NoReads"));
        assert_eq!(d.sid(7), None);

        // A session policy's deny is named as such.
        let only = [&a];
        let mut input = EvalInput::identity_only(&only);
        let s_deny = deny("s3:*");
        let sessions = [&a, &s_deny];
        input.session_policies = Some(&sessions);
        assert_eq!(
            authorize_explained(&req(), &input).reason,
            Reason::ExplicitDeny {
                slot: PolicySlot::Session(1),
                statement: 0
            }
        );

        // Identity allows, the boundary does not.
        let b_no = allow("ec2:*");
        let mut input = EvalInput::identity_only(&only);
        input.permissions_boundary = Some(&b_no);
        assert_eq!(
            authorize_explained(&req(), &input).reason,
            Reason::ImplicitDeny(Missing {
                permissions_boundary: true,
                ..Missing::default()
            })
        );
        // Nothing at all.
        assert_eq!(
            authorize_explained(&req(), &EvalInput::identity_only(&[])).reason,
            Reason::ImplicitDeny(Missing {
                identity: true,
                ..Missing::default()
            })
        );
        // Cross account: the resource policy is missing too.
        let mut input = EvalInput::identity_only(&only);
        input.same_account = false;
        assert_eq!(
            authorize_explained(&req(), &input).reason,
            Reason::ImplicitDeny(Missing {
                resource: true,
                ..Missing::default()
            })
        );
        // A trust policy that allows nothing.
        let r = resource("arn:aws:iam::222222222222:root", "Allow");
        let mut input = EvalInput::identity_only(&only);
        input.resource_policy = Some(&r);
        input.resource_policy_required = true;
        assert_eq!(
            authorize_explained(&req(), &input).reason,
            Reason::ImplicitDeny(Missing {
                resource: true,
                ..Missing::default()
            })
        );
        assert_eq!(
            authorize_explained(&req(), &EvalInput::identity_only(&only)).reason,
            Reason::Allowed
        );
    }
}
