//! The authoriser: gathers the caller's policies from the in-memory [`PrincipalView`] and
//! asks `tessera-policy` for a decision.
//!
//! **Architecture invariant:** every authorisation decision in Tessera goes through
//! [`Authorizer::check`] (or, later, the grant index); no service compares principal names
//! itself. Deciding reads no store: policies come from the principal snapshot and, for role
//! sessions, the session policy sealed in the session token.

use crate::credentials::CredentialCache;
use crate::principals::{ManagedEntry, PrincipalView, RoleEntry, UserEntry};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tessera_core::{Arn, Caller, Deployment, Principal, RequestMeta};
use tessera_policy::{
    ContextKeys, ContextValue, Decision, EvalInput, Missing, Policy, PolicyKind, PolicySlot,
    PrincipalRef, Reason, RequestContext,
};

/// Why a request was refused, with AWS's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub message: String,
    pub explicit: bool,
}

/// One access to decide: `action` on `resource` (owned by `resource_account`), with the
/// target's resource-based policy if it has one and request-specific condition keys.
#[derive(Debug)]
pub struct Access<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub resource_account: &'a str,
    pub resource_policy: Option<&'a Policy>,
    pub extra: ContextKeys,
}

#[derive(Debug, Clone)]
pub struct Authorizer {
    principals: Arc<PrincipalView>,
    deployment: Deployment,
    credentials: Arc<CredentialCache>,
    session_policies: Arc<SessionPolicies>,
}

/// Inline session policies, parsed once per document (a token's policy never changes, so
/// every request made with one token shares one parse).
#[derive(Debug, Default)]
struct SessionPolicies(Mutex<HashMap<String, Option<Arc<Policy>>>>);

impl SessionPolicies {
    fn parsed(&self, doc: &str) -> Option<Arc<Policy>> {
        self.parsed_as(doc, || doc.to_owned())
    }

    /// The policy cached under `key`, made by `doc` the first time.
    fn parsed_as(&self, key: &str, doc: impl FnOnce() -> String) -> Option<Arc<Policy>> {
        if let Some(p) = self.0.lock().expect("session policy cache").get(key) {
            return p.clone();
        }
        let parsed = Policy::parse_with_limit(&doc(), PolicyKind::Session, None)
            .ok()
            .map(Arc::new);
        let mut map = self.0.lock().expect("session policy cache");
        if map.len() >= crate::credentials::MAX_ENTRIES {
            map.clear();
        }
        map.insert(key.to_owned(), parsed.clone());
        parsed
    }
}

/// The policies that apply to a principal (shared with the principal snapshot, not copied).
#[derive(Debug, Default)]
struct PrincipalPolicies {
    role: Option<Arc<RoleEntry>>,
    user: Option<Arc<UserEntry>>,
    session_inline: Option<Arc<Policy>>,
    session_managed: Vec<Arc<ManagedEntry>>,
    has_session_policy: bool,
    /// The session was vended by S3 Access Grants: its session policy is the grant's.
    vended_by_grant: Option<String>,
    tags: Vec<(String, String)>,
}

impl PrincipalPolicies {
    /// What `identity()[i]` is.
    fn identity_name(&self, i: usize) -> Option<&str> {
        match (&self.role, &self.user) {
            (Some(r), _) => r.identity_names.get(i).map(String::as_str),
            (None, Some(u)) => u.identity_names.get(i).map(String::as_str),
            _ => None,
        }
    }

    /// The permissions boundary's ARN.
    fn boundary_name(&self) -> Option<&str> {
        match (&self.role, &self.user) {
            (Some(r), _) => r.record.permissions_boundary.as_deref(),
            (None, Some(u)) => u.record.permissions_boundary.as_deref(),
            _ => None,
        }
    }

    /// What `session()[i]` is.
    fn session_name(&self, i: usize) -> String {
        let managed = if self.session_inline.is_some() {
            if i == 0 {
                if let Some(grant) = &self.vended_by_grant {
                    return format!("session policy of Access Grants grant {grant}");
                }
                return "inline session policy".into();
            }
            i - 1
        } else {
            i
        };
        self.session_managed
            .iter()
            .filter(|m| m.1.is_some())
            .nth(managed)
            .map(|m| m.0.arn.clone())
            .unwrap_or_else(|| format!("session policy {i}"))
    }

    fn identity(&self) -> Vec<&Policy> {
        match (&self.role, &self.user) {
            (Some(r), _) => r.identity.iter().collect(),
            (None, Some(u)) => u.identity.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// The session policies that parsed (inline first, then managed).
    fn session(&self) -> Vec<&Policy> {
        self.session_inline
            .as_deref()
            .into_iter()
            .chain(self.session_managed.iter().filter_map(|m| m.1.as_ref()))
            .collect()
    }

    fn boundary(&self) -> Option<&Policy> {
        match (&self.role, &self.user) {
            (Some(r), _) => r.boundary.as_ref(),
            (None, Some(u)) => u.boundary.as_ref(),
            _ => None,
        }
    }
}

impl Authorizer {
    pub fn new(principals: Arc<PrincipalView>, deployment: Deployment) -> Authorizer {
        Authorizer {
            principals,
            deployment,
            credentials: Arc::new(CredentialCache::new()),
            session_policies: Arc::default(),
        }
    }

    /// The authentication caches (long-term keys, opened session tokens, signing keys).
    pub fn credentials(&self) -> &Arc<CredentialCache> {
        &self.credentials
    }

    /// The IAM principal view decisions read.
    pub fn principals(&self) -> &Arc<PrincipalView> {
        &self.principals
    }

    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The principal as resource and trust policies see it.
    pub fn principal_ref(&self, caller: &Caller) -> PrincipalRef {
        let p = &self.deployment.partition;
        let acct = caller.account.as_str();
        // The users' and roles' unique ids go with their ARNs: a policy saved while another
        // entity of the same name existed does not match this one.
        match &caller.principal {
            Principal::Root => PrincipalRef::account_root(p, acct),
            Principal::User {
                name,
                path,
                user_id,
            } => PrincipalRef::iam_user(p, acct, &format!("{path}{name}")).with_entity_id(
                Arn::iam(p, acct, format!("user{path}{name}")).to_string(),
                user_id,
            ),
            Principal::AssumedRole {
                role_name,
                role_path,
                role_id,
                session_name,
            } => PrincipalRef::role_session(
                p,
                acct,
                &format!("{role_path}{role_name}"),
                session_name,
            )
            .with_entity_id(
                Arn::iam(p, acct, format!("role{role_path}{role_name}")).to_string(),
                role_id,
            ),
        }
    }

    /// Global condition keys every request made by `caller` carries.
    pub fn base_context(&self, caller: &Caller, meta: &RequestMeta) -> ContextKeys {
        let p = &self.deployment.partition;
        let mut c = ContextKeys::new();
        c.insert("aws:PrincipalArn", caller.principal_arn(p));
        c.insert("aws:PrincipalAccount", caller.account.to_string());
        c.insert("aws:PrincipalType", caller.principal_type());
        c.insert("aws:userid", caller.user_id());
        if let Principal::User { name, .. } = &caller.principal {
            c.insert("aws:username", name.clone());
        }
        c.insert("aws:CurrentTime", ContextValue::Date(meta.now));
        c.insert("aws:EpochTime", meta.now.timestamp());
        c.insert("aws:SourceIp", ContextValue::Ip(meta.source_ip));
        c.insert("aws:SecureTransport", meta.secure_transport);
        c.insert("aws:RequestedRegion", self.deployment.region.clone());
        c.insert("aws:ViaAWSService", false);
        c.insert("aws:MultiFactorAuthPresent", false);
        if let Some(s) = &caller.session {
            if let Some(t) = chrono::DateTime::from_timestamp(s.issued_at, 0) {
                c.insert("aws:TokenIssueTime", ContextValue::Date(t));
            }
            if let Some(si) = &s.source_identity {
                c.insert("aws:SourceIdentity", si.clone());
            }
            if let Some(w) = &s.web_identity {
                c.insert("aws:FederatedProvider", w.provider_arn.clone());
            }
            if let Some(ic) = &s.identity_context {
                for (k, v) in ic.condition_keys() {
                    c.insert(k, v);
                }
            }
            if let Some(g) = &s.grant {
                c.insert("s3:AccessGrantsInstanceArn", g.instance_arn.clone());
            }
        }
        c
    }

    fn load(&self, caller: &Caller) -> PrincipalPolicies {
        let acct = caller.account.as_str();
        let mut out = PrincipalPolicies::default();
        let snap = self.principals.snapshot();
        match &caller.principal {
            Principal::Root => {}
            Principal::User { name, .. } => {
                if let Some(u) = snap.user(acct, name) {
                    out.tags = u.record.tags.clone();
                    out.user = Some(u);
                }
            }
            Principal::AssumedRole {
                role_name, role_id, ..
            } => {
                // A role deleted (or deleted and re-created) since the session began grants
                // nothing: its policies belong to another role id.
                if let Some(r) = snap
                    .role(acct, role_name)
                    .filter(|r| &r.record.role_id == role_id)
                {
                    out.tags = r.record.tags.clone();
                    out.role = Some(r);
                }
            }
        }
        if let Some(s) = &caller.session {
            // Session tags override same-key principal tags.
            for (k, v) in &s.tags {
                out.tags.retain(|(ek, _)| !ek.eq_ignore_ascii_case(k));
                out.tags.push((k.clone(), v.clone()));
            }
            if let Some(doc) = &s.policy {
                out.has_session_policy = true;
                out.session_inline = self.session_policies.parsed(doc);
            }
            for arn in &s.policy_arns {
                out.has_session_policy = true;
                out.session_managed.extend(snap.managed_policy(arn));
            }
            // Credentials vended by S3 Access Grants act only within their grant, in every
            // service, whatever the location role's policies allow (AWS confines them with a
            // session policy the same way). GetDataAccess seals no other session policy; a
            // vended session that carried one anyway would be allowed nothing.
            if let Some(g) = &s.grant {
                let alone = s.policy.is_none() && s.policy_arns.is_empty();
                out.has_session_policy = true;
                out.session_managed.clear();
                out.session_inline = if alone {
                    // Keyed apart from inline documents (which start with `{`).
                    let key = format!(
                        "grant\0{}\0{}\0{}",
                        g.scope,
                        g.prefix,
                        g.permission.as_str()
                    );
                    self.session_policies.parsed_as(&key, || {
                        crate::vended::session_policy(&self.deployment.partition, g)
                    })
                } else {
                    None
                };
                out.vended_by_grant = Some(g.grant_id.clone());
            }
        }
        out
    }

    /// May `caller` perform the access described by `access`?
    pub fn check(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        access: Access<'_>,
    ) -> Result<(), Denied> {
        // A role trust policy must always allow (it is not optional like other resource policies).
        let required = access
            .resource_policy
            .is_some_and(|p| p.kind() == PolicyKind::Trust);
        self.decide(caller, meta, access, required)
    }

    /// Like [`Authorizer::check`], but the resource policy must allow as a trust policy must
    /// (an account principal in it delegates to the caller's identity policies): for policies
    /// that are a gate of their own, such as an application's ActorPolicy.
    pub fn check_resource_required(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        access: Access<'_>,
    ) -> Result<(), Denied> {
        self.decide(caller, meta, access, true)
    }

    fn decide(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        access: Access<'_>,
        resource_policy_required: bool,
    ) -> Result<(), Denied> {
        let Access {
            action,
            resource,
            resource_account,
            resource_policy,
            extra,
        } = access;
        let loaded = self.load(caller);
        // A session of a role that was deleted (or deleted and re-created: another role id)
        // may do nothing at all: no trust policy may still name it.
        if matches!(caller.principal, Principal::AssumedRole { .. }) && loaded.role.is_none() {
            record(
                meta,
                action,
                resource,
                json!({"decision": "ImplicitDeny", "reason": "the role of this session no longer exists"}),
            );
            return Err(Denied {
                message: format!(
                    "User: {} is not authorized to perform: {action} on resource: {resource} because the role of this session no longer exists",
                    caller.arn(&self.deployment.partition)
                ),
                explicit: false,
            });
        }
        let mut ctx = self.base_context(caller, meta);
        for (k, v) in &loaded.tags {
            ctx.insert(format!("aws:PrincipalTag/{k}"), v.clone());
        }
        for (k, vs) in extra.iter() {
            ctx.insert_multi(k, vs.iter().cloned());
        }
        let req = RequestContext::new(action, resource)
            .with_principal(self.principal_ref(caller))
            .with_context(ctx);
        let identity = loaded.identity();
        let session = loaded.session();
        // A session policy that no longer resolves (a deleted managed policy) still limits the
        // session: it then allows nothing.
        let input = EvalInput {
            identity_policies: &identity,
            resource_policy,
            permissions_boundary: loaded.boundary(),
            session_policies: if loaded.has_session_policy {
                Some(&session)
            } else {
                None
            },
            same_account: caller.account.as_str() == resource_account,
            principal_is_root: caller.is_root(),
            resource_policy_required,
        };
        let verdict = tessera_policy::authorize_explained(&req, &input);
        // Session policies were given and none resolves: the session side allows nothing.
        let reason = match verdict.reason {
            Reason::Allowed if loaded.has_session_policy && session.is_empty() => {
                Reason::ImplicitDeny(Missing {
                    session: true,
                    ..Missing::default()
                })
            }
            r => r,
        };
        if reason == Reason::Allowed {
            return Ok(());
        }
        let arn = caller.arn(&self.deployment.partition);
        let (message, explicit, why) = match reason {
            Reason::ExplicitDeny { slot, statement } => {
                let (kind, policy, doc): (&str, String, Option<&Policy>) = match slot {
                    PolicySlot::Identity(i) => (
                        "an identity-based policy",
                        loaded
                            .identity_name(i)
                            .unwrap_or("identity policy")
                            .to_owned(),
                        identity.get(i).copied(),
                    ),
                    PolicySlot::Resource => (
                        "a resource-based policy",
                        resource_policy_label(resource_policy, resource),
                        resource_policy,
                    ),
                    PolicySlot::PermissionsBoundary => (
                        "a permissions boundary",
                        loaded
                            .boundary_name()
                            .unwrap_or("permissions boundary")
                            .to_owned(),
                        loaded.boundary(),
                    ),
                    PolicySlot::Session(i) => (
                        "a session policy",
                        loaded.session_name(i),
                        session.get(i).copied(),
                    ),
                };
                let sid = doc.and_then(|p| p.sid(statement as usize));
                (
                    format!(
                        "User: {arn} is not authorized to perform: {action} on resource: {resource} with an explicit deny in {kind}"
                    ),
                    true,
                    json!({"decision": "ExplicitDeny", "deniedBy": {
                        "policyType": policy_type(slot), "policy": policy,
                        "statementIndex": statement, "sid": sid}}),
                )
            }
            Reason::ImplicitDeny(m) => {
                let mut lacking = Vec::new();
                if m.identity {
                    lacking.push("IdentityPolicy");
                }
                if m.resource {
                    lacking.push(
                        if resource_policy.is_some_and(|p| p.kind() == PolicyKind::Trust) {
                            "TrustPolicy"
                        } else {
                            "ResourcePolicy"
                        },
                    );
                }
                if m.permissions_boundary {
                    lacking.push("PermissionsBoundary");
                }
                if m.session {
                    lacking.push("SessionPolicy");
                }
                // AWS names one missing policy type: the first the evaluation needed.
                let kind = if m.resource && !m.identity {
                    "resource-based policy"
                } else if m.identity || lacking.is_empty() {
                    "identity-based policy"
                } else if m.permissions_boundary {
                    "permissions boundary"
                } else {
                    "session policy"
                };
                (
                    format!(
                        "User: {arn} is not authorized to perform: {action} on resource: {resource} because no {kind} allows the {action} action"
                    ),
                    false,
                    json!({"decision": "ImplicitDeny", "noAllowIn": lacking,
                        "identityPolicies": (0..identity.len()).filter_map(|i| loaded.identity_name(i)).collect::<Vec<_>>()}),
                )
            }
            Reason::Allowed => unreachable!("handled above"),
        };
        record(meta, action, resource, why);
        Err(Denied { message, explicit })
    }
}

/// Keep a refusal's reason with the request, for its audit record.
fn record(meta: &RequestMeta, action: &str, resource: &str, mut why: Value) {
    why["action"] = json!(action);
    why["resource"] = json!(resource);
    meta.decisions.push(why);
}

fn policy_type(slot: PolicySlot) -> &'static str {
    match slot {
        PolicySlot::Identity(_) => "IdentityPolicy",
        PolicySlot::Resource => "ResourcePolicy",
        PolicySlot::PermissionsBoundary => "PermissionsBoundary",
        PolicySlot::Session(_) => "SessionPolicy",
    }
}

fn resource_policy_label(p: Option<&Policy>, resource: &str) -> String {
    match p.map(Policy::kind) {
        Some(PolicyKind::Trust) => format!("trust policy of {resource}"),
        _ => format!("resource policy of {resource}"),
    }
}

impl Authorizer {
    /// Decide for a caller that is not an AWS principal but a federated identity (the trust
    /// policy of `AssumeRoleWithWebIdentity`): only the resource policy can allow it.
    pub fn check_federated(
        &self,
        principal: PrincipalRef,
        meta: &RequestMeta,
        access: Access<'_>,
    ) -> Result<(), Denied> {
        let action = access.action;
        self.check_federated_actions(principal, meta, &[action], access)
            .map_err(|(_, denied)| denied)
    }

    /// [`Authorizer::check_federated`] for each of `actions` (`access.action` is ignored)
    /// on one resource, with one request context built once and only its action changed
    /// between evaluations: `Err` names the first action refused, and why.
    pub fn check_federated_actions<'x>(
        &self,
        principal: PrincipalRef,
        meta: &RequestMeta,
        actions: &[&'x str],
        access: Access<'_>,
    ) -> Result<(), (&'x str, Denied)> {
        let Access {
            resource,
            resource_policy,
            extra,
            ..
        } = access;
        let Some(first) = actions.first() else {
            return Ok(());
        };
        // The request's global keys, then the access's own (which win, as they always did).
        let mut ctx = ContextKeys::new();
        ctx.insert("aws:CurrentTime", ContextValue::Date(meta.now));
        ctx.insert("aws:EpochTime", meta.now.timestamp());
        ctx.insert("aws:SourceIp", ContextValue::Ip(meta.source_ip));
        ctx.insert("aws:SecureTransport", meta.secure_transport);
        ctx.insert("aws:RequestedRegion", self.deployment.region.clone());
        ctx.extend(extra);
        let mut req = RequestContext::new(*first, resource)
            .with_principal(principal)
            .with_context(ctx);
        let input = EvalInput {
            identity_policies: &[],
            resource_policy,
            permissions_boundary: None,
            session_policies: None,
            same_account: true,
            principal_is_root: false,
            resource_policy_required: true,
        };
        for action in actions {
            if req.action != *action {
                req.action.clear();
                req.action.push_str(action);
            }
            let verdict = tessera_policy::authorize_explained(&req, &input);
            let why = match verdict.reason {
                Reason::Allowed => continue,
                Reason::ExplicitDeny { statement, .. } => json!({"decision": "ExplicitDeny",
                    "deniedBy": {"policyType": policy_type(PolicySlot::Resource),
                        "policy": resource_policy_label(resource_policy, resource),
                        "statementIndex": statement,
                        "sid": resource_policy.and_then(|p| p.sid(statement as usize))}}),
                Reason::ImplicitDeny(_) => json!({"decision": "ImplicitDeny",
                "noAllowIn": [if resource_policy.is_some_and(|p| p.kind() == PolicyKind::Trust) {
                    "TrustPolicy"
                } else {
                    "ResourcePolicy"
                }]}),
            };
            record(meta, action, resource, why);
            return Err((
                action,
                Denied {
                    message: format!("Not authorized to perform {action}"),
                    explicit: verdict.decision == Decision::ExplicitDeny,
                },
            ));
        }
        Ok(())
    }
}
