//! The authoriser: gathers the caller's policies and asks `tessera-policy` for a decision.
//!
//! **Architecture invariant:** every authorisation decision in Tessera goes through
//! [`Authorizer::check`] (or, later, the grant index); no service compares principal names
//! itself.

use std::sync::Arc;
use tessera_core::{Caller, Deployment, Principal, RequestMeta};
use tessera_policy::{
    ContextKeys, ContextValue, Decision, EvalInput, Policy, PolicyKind, PrincipalRef,
    RequestContext,
};
use tessera_store::{Store, StoreError};

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
    store: Arc<dyn Store>,
    deployment: Deployment,
}

/// The policies that apply to a principal, parsed.
#[derive(Debug, Default)]
struct PrincipalPolicies {
    identity: Vec<Policy>,
    boundary: Option<Policy>,
    tags: Vec<(String, String)>,
}

fn parse_stored(doc: &str, kind: PolicyKind, what: &str) -> Option<Policy> {
    // Stored documents were validated when written; a document that no longer parses (for
    // example after a limit change) is ignored, which can only remove permissions.
    match Policy::parse_with_limit(doc, kind, None) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(policy = what, error = %e, "ignoring stored policy that does not parse");
            None
        }
    }
}

impl Authorizer {
    pub fn new(store: Arc<dyn Store>, deployment: Deployment) -> Authorizer {
        Authorizer { store, deployment }
    }

    /// The principal as resource and trust policies see it.
    pub fn principal_ref(&self, caller: &Caller) -> PrincipalRef {
        let p = &self.deployment.partition;
        let acct = caller.account.as_str();
        match &caller.principal {
            Principal::Root => PrincipalRef::account_root(p, acct),
            Principal::User { name, path, .. } => {
                PrincipalRef::iam_user(p, acct, &format!("{path}{name}"))
            }
            Principal::AssumedRole {
                role_name,
                role_path,
                session_name,
                ..
            } => PrincipalRef::role_session(
                p,
                acct,
                &format!("{role_path}{role_name}"),
                session_name,
            ),
        }
    }

    /// Global condition keys every request carries.
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
        c
    }

    async fn load(&self, caller: &Caller) -> Result<PrincipalPolicies, StoreError> {
        let acct = caller.account.as_str();
        let mut out = PrincipalPolicies::default();
        match &caller.principal {
            Principal::Root => {}
            Principal::User { name, .. } => {
                if let Some(u) = self.store.get_user(acct, name).await? {
                    out.tags = u.tags;
                    if let Some(arn) = u.permissions_boundary
                        && let Some(mp) = self.store.get_managed_policy(&arn).await?
                    {
                        out.boundary =
                            parse_stored(&mp.document, PolicyKind::PermissionsBoundary, &arn);
                    }
                }
                for (n, doc) in self.store.list_user_policies(acct, name).await? {
                    out.identity
                        .extend(parse_stored(&doc, PolicyKind::Identity, &n));
                }
            }
            Principal::AssumedRole { role_name, .. } => {
                if let Some(r) = self.store.get_role(acct, role_name).await? {
                    out.tags = r.tags;
                    if let Some(arn) = r.permissions_boundary
                        && let Some(mp) = self.store.get_managed_policy(&arn).await?
                    {
                        out.boundary =
                            parse_stored(&mp.document, PolicyKind::PermissionsBoundary, &arn);
                    }
                }
                for (n, doc) in self.store.list_role_policies(acct, role_name).await? {
                    out.identity
                        .extend(parse_stored(&doc, PolicyKind::Identity, &n));
                }
                for mp in self
                    .store
                    .list_attached_role_policies(acct, role_name)
                    .await?
                {
                    out.identity
                        .extend(parse_stored(&mp.document, PolicyKind::Identity, &mp.arn));
                }
            }
        }
        Ok(out)
    }

    /// May `caller` perform the access described by `access`?
    pub async fn check(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        access: Access<'_>,
    ) -> Result<Result<(), Denied>, StoreError> {
        let Access {
            action,
            resource,
            resource_account,
            resource_policy,
            extra,
        } = access;
        let loaded = self.load(caller).await?;
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
        let identity: Vec<&Policy> = loaded.identity.iter().collect();
        let input = EvalInput {
            identity_policies: &identity,
            resource_policy,
            permissions_boundary: loaded.boundary.as_ref(),
            session_policies: None,
            same_account: caller.account.as_str() == resource_account,
            principal_is_root: caller.is_root(),
        };
        let arn = caller.arn(&self.deployment.partition);
        Ok(match tessera_policy::authorize(&req, &input) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny => Err(Denied {
                message: format!(
                    "User: {arn} is not authorized to perform: {action} on resource: {resource} with an explicit deny"
                ),
                explicit: true,
            }),
            Decision::ImplicitDeny => Err(Denied {
                message: format!(
                    "User: {arn} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action"
                ),
                explicit: false,
            }),
        })
    }
}
