//! The IAM service, spoken over awsQuery (signing name `iam`, version `2010-05-08`).
//!
//! [`IamService::handle`] takes an authenticated [`Caller`] and decoded parameters, authorises
//! the action through the [`Authorizer`] (the account root may do anything in its account;
//! everyone else only what their policies allow), validates input as IAM does, changes the
//! store and returns the inner XML of the `…Result` element plus the audit details. Errors
//! are [`IamError`]s, which know their AWS code and HTTP status.

mod authz;
pub mod directory;
mod error;
mod inline;
mod render;

pub use authz::{Access, Authorizer, Denied};
pub use error::IamError;

use inline::Owner;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_audit::{EventDetails, Resource};
use tessera_core::{Caller, Deployment, Principal, RequestMeta, Secret, ids, names};
use tessera_crypto::MasterKey;
use tessera_policy::{ContextKeys, Policy, PolicyKind};
use tessera_store::{
    AccessKeyRecord, ManagedPolicyRecord, OidcProviderRecord, RoleRecord, Store, UserRecord,
};
use tessera_wire::query::QueryParams;
use tessera_wire::xml::Writer;

pub const VERSION: &str = "2010-05-08";

/// Every action this service implements.
pub const ACTIONS: &[&str] = &[
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "CreatePolicy",
    "GetPolicy",
    "DeletePolicy",
    "ListPolicies",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreateAccessKey",
    "DeleteAccessKey",
    "ListAccessKeys",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    "ListUserPolicies",
    "CreateOpenIDConnectProvider",
    "GetOpenIDConnectProvider",
    "ListOpenIDConnectProviders",
    "DeleteOpenIDConnectProvider",
];

/// What a successful call returns: the inner XML of `<{Action}Result>` and the audit details.
#[derive(Debug)]
pub struct Outcome {
    pub result_xml: String,
    pub details: EventDetails,
}

type R<T> = Result<T, IamError>;

#[derive(Debug, Clone)]
pub struct IamService {
    store: Arc<dyn Store>,
    deployment: Deployment,
    master: MasterKey,
    authz: Authorizer,
    allow_http_issuers: bool,
}

const MAX_KEYS_PER_USER: usize = 2;
const MAX_TAGS: usize = 50;

fn validation(r: Result<(), String>) -> R<()> {
    r.map_err(IamError::ValidationError)
}

fn now_secs(meta: &RequestMeta) -> i64 {
    meta.now.timestamp()
}

fn parse_tags(p: &QueryParams) -> R<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in p.struct_list("Tags")? {
        let key = t
            .get("Key")
            .ok_or_else(|| IamError::MissingParameter("Tags.member.N.Key is required".into()))?;
        let value = t.get("Value").map(String::as_str).unwrap_or("");
        validation(names::tag(key, value))?;
        if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(IamError::InvalidInput(format!("Duplicate tag key '{key}'")));
        }
        out.push((key.clone(), value.to_owned()));
    }
    if out.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for TagsPerRole: {MAX_TAGS}"
        )));
    }
    Ok(out)
}

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

/// `MaxItems` / `Marker` paging over an already-sorted list keyed by `key`.
fn paginate<T>(
    items: Vec<T>,
    p: &QueryParams,
    key: impl Fn(&T) -> String,
) -> R<(Vec<T>, Option<String>)> {
    let max: usize = match p.get("MaxItems") {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(IamError::ValidationError(format!(
                    "1 validation error detected: Value '{s}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
                )));
            }
        },
    };
    let start = match p.get("Marker") {
        None => 0,
        Some(m) => items
            .iter()
            .position(|i| key(i) == m)
            .ok_or_else(|| IamError::ValidationError("Invalid Marker.".into()))?,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = if rest.len() > max {
        Some(key(&rest[max]))
    } else {
        None
    };
    rest.truncate(max);
    Ok((rest, next))
}

fn page_footer(w: &mut Writer, next: Option<String>) {
    match next {
        Some(m) => {
            w.elem("IsTruncated", "true");
            w.elem("Marker", &m);
        }
        None => {
            w.elem("IsTruncated", "false");
        }
    }
}

impl IamService {
    pub fn new(
        store: Arc<dyn Store>,
        deployment: Deployment,
        master: MasterKey,
        authz: Authorizer,
    ) -> IamService {
        IamService {
            store,
            deployment,
            master,
            authz,
            allow_http_issuers: false,
        }
    }

    /// Accept `http://` OIDC provider URLs on loopback hosts (dev mode and tests).
    pub fn with_http_loopback_issuers(mut self, allow: bool) -> IamService {
        self.allow_http_issuers = allow;
        self
    }

    pub fn authorizer(&self) -> &Authorizer {
        &self.authz
    }

    fn arn(&self, account: &str, resource: &str) -> String {
        format!(
            "arn:{}:iam::{account}:{resource}",
            self.deployment.partition
        )
    }

    async fn allow(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        action: &str,
        resource: &str,
        extra: ContextKeys,
    ) -> R<()> {
        let access = Access {
            action,
            resource,
            resource_account: caller.account.as_str(),
            resource_policy: None,
            extra,
        };
        match self.authz.check(caller, meta, access) {
            Ok(()) => Ok(()),
            Err(d) => Err(IamError::AccessDenied(d.message)),
        }
    }

    /// Handle one IAM action for `caller`.
    pub async fn handle(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        action: &str,
        p: &QueryParams,
    ) -> R<Outcome> {
        if let Some(v) = p.get("Version")
            && v != VERSION
        {
            return Err(IamError::InvalidAction(format!(
                "Could not find operation {action} for version {v}"
            )));
        }
        let outcome = self.dispatch(caller, meta, action, p).await?;
        if !outcome.details.read_only {
            // Every write: tell other replicas (change counter) and reload our directory, so
            // the next request, here or there, is authorised against the new state.
            self.authz.directory().changed().await?;
        }
        Ok(outcome)
    }

    async fn dispatch(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        action: &str,
        p: &QueryParams,
    ) -> R<Outcome> {
        match action {
            "CreateRole" => self.create_role(caller, meta, p).await,
            "GetRole" => self.get_role(caller, meta, p).await,
            "ListRoles" => self.list_roles(caller, meta, p).await,
            "UpdateRole" => self.update_role(caller, meta, p).await,
            "UpdateAssumeRolePolicy" => self.update_assume_role_policy(caller, meta, p).await,
            "DeleteRole" => self.delete_role(caller, meta, p).await,
            "PutRolePolicy" => self.put_inline(Owner::Role, caller, meta, p).await,
            "GetRolePolicy" => self.get_inline(Owner::Role, caller, meta, p).await,
            "DeleteRolePolicy" => self.delete_inline(Owner::Role, caller, meta, p).await,
            "ListRolePolicies" => self.list_inline(Owner::Role, caller, meta, p).await,
            "CreatePolicy" => self.create_policy(caller, meta, p).await,
            "GetPolicy" => self.get_policy(caller, meta, p).await,
            "DeletePolicy" => self.delete_policy(caller, meta, p).await,
            "ListPolicies" => self.list_policies(caller, meta, p).await,
            "AttachRolePolicy" => self.attach_role_policy(caller, meta, p, true).await,
            "DetachRolePolicy" => self.attach_role_policy(caller, meta, p, false).await,
            "ListAttachedRolePolicies" => self.list_attached_role_policies(caller, meta, p).await,
            "CreateUser" => self.create_user(caller, meta, p).await,
            "GetUser" => self.get_user(caller, meta, p).await,
            "ListUsers" => self.list_users(caller, meta, p).await,
            "DeleteUser" => self.delete_user(caller, meta, p).await,
            "CreateAccessKey" => self.create_access_key(caller, meta, p).await,
            "DeleteAccessKey" => self.delete_access_key(caller, meta, p).await,
            "ListAccessKeys" => self.list_access_keys(caller, meta, p).await,
            "PutUserPolicy" => self.put_inline(Owner::User, caller, meta, p).await,
            "GetUserPolicy" => self.get_inline(Owner::User, caller, meta, p).await,
            "DeleteUserPolicy" => self.delete_inline(Owner::User, caller, meta, p).await,
            "ListUserPolicies" => self.list_inline(Owner::User, caller, meta, p).await,
            "CreateOpenIDConnectProvider" => self.create_oidc_provider(caller, meta, p).await,
            "GetOpenIDConnectProvider" => self.get_oidc_provider(caller, meta, p).await,
            "ListOpenIDConnectProviders" => self.list_oidc_providers(caller, meta, p).await,
            "DeleteOpenIDConnectProvider" => self.delete_oidc_provider(caller, meta, p).await,
            other => Err(IamError::InvalidAction(format!(
                "Could not find operation {other} for version {VERSION}"
            ))),
        }
    }

    fn role_resource(&self, acct: &str, path: &str, name: &str) -> String {
        self.arn(acct, &format!("role{path}{name}"))
    }

    fn resource(&self, kind: &str, arn: &str, acct: &str) -> Resource {
        Resource {
            account_id: Some(acct.to_owned()),
            kind: kind.to_owned(),
            arn: arn.to_owned(),
        }
    }

    /// Authorise against a role that may not exist yet: its ARN uses the stored path when the
    /// role exists and the root path otherwise (IAM authorises before it looks up).
    async fn role_arn_for_authz(&self, acct: &str, name: &str) -> R<(String, Option<RoleRecord>)> {
        let role = self.store.get_role(acct, name).await?;
        let path = role
            .as_ref()
            .map(|r| r.path.clone())
            .unwrap_or_else(|| "/".into());
        Ok((
            self.role_resource(
                acct,
                &path,
                role.as_ref().map(|r| r.name.as_str()).unwrap_or(name),
            ),
            role,
        ))
    }

    /// The unique id of the IAM user or role `arn` names, if it exists now. Read from the
    /// store, not the directory: a principal created on another replica a moment ago counts.
    async fn entity_id(&self, arn: &str) -> R<Option<String>> {
        let Some((account, kind, path, name)) = entity_arn_parts(arn, &self.deployment.partition)
        else {
            return Ok(None);
        };
        Ok(match kind {
            "user" => self
                .store
                .get_user(account, name)
                .await?
                .filter(|u| u.path == path && u.name == name)
                .map(|u| u.user_id),
            _ => self
                .store
                .get_role(account, name)
                .await?
                .filter(|r| r.path == path && r.name == name)
                .map(|r| r.role_id),
        })
    }

    /// Resolve the IAM users and roles a trust policy names to their unique ids, as AWS does
    /// when a policy is saved: the saved trust then applies to those entities only, not to a
    /// user or role later re-created under the same name. An ARN naming no existing user or
    /// role is refused, as AWS refuses it.
    async fn resolve_principal_ids(&self, policy: &Policy) -> R<Vec<(String, String)>> {
        let mut out = Vec::new();
        for arn in policy.entity_principal_arns() {
            match self.entity_id(&arn).await? {
                Some(id) => out.push((arn, id)),
                None => {
                    return Err(IamError::MalformedPolicyDocument(format!(
                        "Invalid principal in policy: \"AWS\":\"{arn}\""
                    )));
                }
            }
        }
        Ok(out)
    }

    /// A role as GetRole and ListRoles show it: a principal of the trust policy that no
    /// longer exists (deleted, or re-created with another unique id) appears as the unique
    /// id it was saved with, as in AWS.
    fn shown(&self, mut role: RoleRecord) -> RoleRecord {
        let Some(ids) = role.trust_principal_ids.as_deref() else {
            return role;
        };
        let snapshot = self.authz.directory().snapshot();
        let partition = &self.deployment.partition;
        let replaced = tessera_policy::rewrite_aws_principals(&role.trust_policy, |value| {
            let (_, saved) = ids.iter().find(|(arn, _)| arn == value)?;
            let (account, kind, path, name) = entity_arn_parts(value, partition)?;
            let current = snapshot.entity_id(account, kind, &path, name);
            (current.as_deref() != Some(saved.as_str())).then(|| saved.clone())
        });
        if let Some(doc) = replaced {
            role.trust_policy = doc;
        }
        role
    }

    async fn check_boundary(&self, acct: &str, arn: &str) -> R<()> {
        let ok = match self.store.get_managed_policy(arn).await? {
            Some(p) => p.account_id == acct,
            None => false,
        };
        if ok {
            Ok(())
        } else {
            Err(IamError::NoSuchEntity(format!(
                "Scope ARN: {arn} does not exist or is not attachable."
            )))
        }
    }

    // ------------------------------------------------------------------ roles

    async fn create_role(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let name = p.require("RoleName")?;
        validation(names::role_name("roleName", name))?;
        let path = p.get("Path").unwrap_or("/");
        validation(names::path("path", path))?;
        let doc = p.require("AssumeRolePolicyDocument")?;
        let description = p.get("Description");
        if let Some(d) = description {
            validation(names::description("description", d))?;
        }
        let max = match p.get("MaxSessionDuration") {
            None => 3600,
            Some(s) => parse_max_session(s)?,
        };
        let boundary = p.get("PermissionsBoundary");
        let tags = parse_tags(p)?;
        let arn = self.role_resource(acct, path, name);
        let mut extra = ContextKeys::new();
        if let Some(b) = boundary {
            extra.insert("iam:PermissionsBoundary", b);
        }
        self.allow(caller, meta, "iam:CreateRole", &arn, extra)
            .await?;
        let trust = Policy::parse(doc, PolicyKind::Trust)?;
        let principal_ids = self.resolve_principal_ids(&trust).await?;
        if let Some(b) = boundary {
            self.check_boundary(acct, b).await?;
        }
        let role = RoleRecord {
            account_id: acct.to_owned(),
            name: name.to_owned(),
            role_id: ids::role_id(),
            path: path.to_owned(),
            description: description.map(str::to_owned),
            trust_policy: doc.to_owned(),
            trust_principal_ids: Some(principal_ids),
            max_session_duration: max,
            permissions_boundary: boundary.map(str::to_owned),
            tags,
            created_at: now_secs(meta),
        };
        match self.store.create_role(&role).await {
            Err(tessera_store::StoreError::Conflict) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Role with name {name} already exists."
                )));
            }
            r => r?,
        }
        let mut w = Writer::new();
        render::role(&mut w, &self.deployment, &role);
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"roleName": name, "path": path, "assumeRolePolicyDocument": doc,
                    "description": description, "maxSessionDuration": max, "permissionsBoundary": boundary, "tags": tags_json(&role.tags)}),
                response_elements: json!({"role": {"arn": arn, "roleId": role.role_id, "roleName": name, "path": path}}),
                resources: vec![self.resource("AWS::IAM::Role", &arn, acct)],
                read_only: false,
            },
        })
    }

    async fn get_role(&self, caller: &Caller, meta: &RequestMeta, p: &QueryParams) -> R<Outcome> {
        let acct = caller.account.as_str();
        let name = p.require("RoleName")?;
        validation(names::role_name("roleName", name))?;
        let (arn, role) = self.role_arn_for_authz(acct, name).await?;
        self.allow(caller, meta, "iam:GetRole", &arn, ContextKeys::new())
            .await?;
        let role = role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
        })?;
        let mut w = Writer::new();
        render::role(&mut w, &self.deployment, &self.shown(role));
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                json!({"roleName": name}),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    async fn list_roles(&self, caller: &Caller, meta: &RequestMeta, p: &QueryParams) -> R<Outcome> {
        let acct = caller.account.as_str();
        let prefix = p.get("PathPrefix").unwrap_or("/");
        self.allow(
            caller,
            meta,
            "iam:ListRoles",
            &self.arn(acct, "role/"),
            ContextKeys::new(),
        )
        .await?;
        let roles: Vec<RoleRecord> = self
            .store
            .list_roles(acct)
            .await?
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(roles, p, |r| r.name.to_ascii_lowercase())?;
        let mut w = Writer::new();
        w.open("Roles");
        for r in page {
            w.open("member");
            render::role_fields(&mut w, &self.deployment, &self.shown(r), false);
            w.close("member");
        }
        w.close("Roles");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(json!({"pathPrefix": prefix}), self.account_resource(acct)),
        })
    }

    fn account_resource(&self, acct: &str) -> Resource {
        Resource {
            account_id: Some(acct.to_owned()),
            kind: "AWS::IAM::Account".into(),
            arn: self.arn(acct, "root"),
        }
    }

    async fn update_role(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let name = p.require("RoleName")?;
        validation(names::role_name("roleName", name))?;
        let description = p.get("Description");
        if let Some(d) = description {
            validation(names::description("description", d))?;
        }
        let max = p
            .get("MaxSessionDuration")
            .map(parse_max_session)
            .transpose()?;
        let (arn, role) = self.role_arn_for_authz(acct, name).await?;
        self.allow(caller, meta, "iam:UpdateRole", &arn, ContextKeys::new())
            .await?;
        let mut role = role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
        })?;
        if let Some(d) = description {
            role.description = Some(d.to_owned());
        }
        if let Some(m) = max {
            role.max_session_duration = m;
        }
        self.store.update_role(&role).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"roleName": name, "description": description, "maxSessionDuration": max}),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    async fn update_assume_role_policy(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let name = p.require("RoleName")?;
        validation(names::role_name("roleName", name))?;
        let doc = p.require("PolicyDocument")?;
        let (arn, role) = self.role_arn_for_authz(acct, name).await?;
        self.allow(
            caller,
            meta,
            "iam:UpdateAssumeRolePolicy",
            &arn,
            ContextKeys::new(),
        )
        .await?;
        let mut role = role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
        })?;
        let trust = Policy::parse(doc, PolicyKind::Trust)?;
        role.trust_principal_ids = Some(self.resolve_principal_ids(&trust).await?);
        role.trust_policy = doc.to_owned();
        self.store.update_role(&role).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"roleName": name, "policyDocument": doc}),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    async fn delete_role(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let name = p.require("RoleName")?;
        validation(names::role_name("roleName", name))?;
        let (arn, role) = self.role_arn_for_authz(acct, name).await?;
        self.allow(caller, meta, "iam:DeleteRole", &arn, ContextKeys::new())
            .await?;
        if role.is_none() {
            return Err(IamError::NoSuchEntity(format!(
                "The role with name {name} cannot be found."
            )));
        }
        if !self.store.list_role_policies(acct, name).await?.is_empty()
            || !self
                .store
                .list_attached_role_policies(acct, name)
                .await?
                .is_empty()
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        self.store.delete_role(acct, name).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"roleName": name}),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    // ------------------------------------------------------- managed policies

    fn policy_arn_parts(&self, acct: &str, arn: &str) -> R<()> {
        let prefix = format!("arn:{}:iam::{acct}:policy/", self.deployment.partition);
        let aws_prefix = format!("arn:{}:iam::aws:policy/", self.deployment.partition);
        if arn.starts_with(&aws_prefix) {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        if !arn.starts_with(&prefix) || arn.len() > 2048 {
            if tessera_core::Arn::parse(arn).is_err() {
                return Err(IamError::ValidationError(format!(
                    "ARN {arn} is not valid."
                )));
            }
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        Ok(())
    }

    async fn create_policy(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let name = p.require("PolicyName")?;
        validation(names::policy_name("policyName", name))?;
        let path = p.get("Path").unwrap_or("/");
        validation(names::path("path", path))?;
        let description = p.get("Description");
        if let Some(d) = description {
            validation(names::description("description", d))?;
        }
        let doc = p.require("PolicyDocument")?;
        let arn = self.arn(acct, &format!("policy{path}{name}"));
        self.allow(caller, meta, "iam:CreatePolicy", &arn, ContextKeys::new())
            .await?;
        Policy::parse(doc, PolicyKind::Identity)?;
        if self
            .store
            .list_managed_policies(acct)
            .await?
            .iter()
            .any(|m| m.name == name)
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        let rec = ManagedPolicyRecord {
            arn: arn.clone(),
            account_id: acct.to_owned(),
            name: name.to_owned(),
            policy_id: ids::policy_id(),
            path: path.to_owned(),
            description: description.map(str::to_owned),
            document: doc.to_owned(),
            created_at: now_secs(meta),
        };
        match self.store.create_managed_policy(&rec).await {
            Err(tessera_store::StoreError::Conflict) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            r => r?,
        }
        let mut w = Writer::new();
        w.open("Policy");
        render::policy_fields(&mut w, &rec, 0);
        w.close("Policy");
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"policyName": name, "path": path, "policyDocument": doc, "description": description}),
                response_elements: json!({"policy": {"arn": arn, "policyId": rec.policy_id, "policyName": name}}),
                resources: vec![self.resource("AWS::IAM::Policy", &arn, acct)],
                read_only: false,
            },
        })
    }

    async fn existing_policy(&self, acct: &str, arn: &str) -> R<ManagedPolicyRecord> {
        self.policy_arn_parts(acct, arn)?;
        self.store
            .get_managed_policy(arn)
            .await?
            .filter(|m| m.account_id == acct)
            .ok_or_else(|| IamError::NoSuchEntity(format!("Policy {arn} was not found.")))
    }

    async fn get_policy(&self, caller: &Caller, meta: &RequestMeta, p: &QueryParams) -> R<Outcome> {
        let acct = caller.account.as_str();
        let arn = p.require("PolicyArn")?;
        self.allow(caller, meta, "iam:GetPolicy", arn, ContextKeys::new())
            .await?;
        let rec = self.existing_policy(acct, arn).await?;
        let n = self.store.count_policy_attachments(arn).await?;
        let mut w = Writer::new();
        w.open("Policy");
        render::policy_fields(&mut w, &rec, n);
        w.close("Policy");
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                json!({"policyArn": arn}),
                self.resource("AWS::IAM::Policy", arn, acct),
            ),
        })
    }

    async fn list_policies(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        self.allow(
            caller,
            meta,
            "iam:ListPolicies",
            &self.arn(acct, "policy/"),
            ContextKeys::new(),
        )
        .await?;
        let scope = p.get("Scope").unwrap_or("All");
        if !["All", "AWS", "Local"].contains(&scope) {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
            )));
        }
        let prefix = p.get("PathPrefix").unwrap_or("/");
        let list: Vec<ManagedPolicyRecord> = if scope == "AWS" {
            Vec::new()
        } else {
            self.store
                .list_managed_policies(acct)
                .await?
                .into_iter()
                .filter(|m| m.path.starts_with(prefix))
                .collect()
        };
        let (page, next) = paginate(list, p, |m| m.name.clone())?;
        let mut w = Writer::new();
        w.open("Policies");
        for m in &page {
            let n = self.store.count_policy_attachments(&m.arn).await?;
            w.open("member");
            render::policy_fields(&mut w, m, n);
            w.close("member");
        }
        w.close("Policies");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(json!({"scope": scope}), self.account_resource(acct)),
        })
    }

    async fn delete_policy(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let arn = p.require("PolicyArn")?;
        self.allow(caller, meta, "iam:DeletePolicy", arn, ContextKeys::new())
            .await?;
        self.existing_policy(acct, arn).await?;
        if self.store.count_policy_attachments(arn).await? > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        let in_use = self
            .store
            .list_roles(acct)
            .await?
            .iter()
            .any(|r| r.permissions_boundary.as_deref() == Some(arn))
            || self
                .store
                .list_users(acct)
                .await?
                .iter()
                .any(|u| u.permissions_boundary.as_deref() == Some(arn));
        if in_use {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy used as a permissions boundary.".into(),
            ));
        }
        self.store.delete_managed_policy(arn).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"policyArn": arn}),
                self.resource("AWS::IAM::Policy", arn, acct),
            ),
        })
    }

    async fn attach_role_policy(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
        attach: bool,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let role_name = p.require("RoleName")?;
        validation(names::role_name("roleName", role_name))?;
        let policy_arn = p.require("PolicyArn")?;
        let (arn, role) = self.role_arn_for_authz(acct, role_name).await?;
        let action = if attach {
            "iam:AttachRolePolicy"
        } else {
            "iam:DetachRolePolicy"
        };
        let mut extra = ContextKeys::new();
        extra.insert("iam:PolicyARN", policy_arn);
        self.allow(caller, meta, action, &arn, extra).await?;
        role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {role_name} cannot be found."))
        })?;
        if attach {
            self.existing_policy(acct, policy_arn).await?;
            let attached = self
                .store
                .list_attached_role_policies(acct, role_name)
                .await?;
            if attached.len() >= 10 && !attached.iter().any(|a| a.arn == policy_arn) {
                return Err(IamError::LimitExceeded(
                    "Cannot exceed quota for PoliciesPerRole: 10".into(),
                ));
            }
            self.store
                .attach_role_policy(acct, role_name, policy_arn)
                .await?;
        } else if !self
            .store
            .detach_role_policy(acct, role_name, policy_arn)
            .await?
        {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {policy_arn} was not found."
            )));
        }
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"roleName": role_name, "policyArn": policy_arn}),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    async fn list_attached_role_policies(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let role_name = p.require("RoleName")?;
        validation(names::role_name("roleName", role_name))?;
        let (arn, role) = self.role_arn_for_authz(acct, role_name).await?;
        self.allow(
            caller,
            meta,
            "iam:ListAttachedRolePolicies",
            &arn,
            ContextKeys::new(),
        )
        .await?;
        role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {role_name} cannot be found."))
        })?;
        let prefix = p.get("PathPrefix").unwrap_or("/");
        let list: Vec<ManagedPolicyRecord> = self
            .store
            .list_attached_role_policies(acct, role_name)
            .await?
            .into_iter()
            .filter(|m| m.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(list, p, |m| m.arn.clone())?;
        let mut w = Writer::new();
        w.open("AttachedPolicies");
        for m in &page {
            w.open("member");
            w.elem("PolicyName", &m.name);
            w.elem("PolicyArn", &m.arn);
            w.close("member");
        }
        w.close("AttachedPolicies");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                json!({"roleName": role_name}),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    // ------------------------------------------------------------------ users

    async fn user_arn_for_authz(&self, acct: &str, name: &str) -> R<(String, Option<UserRecord>)> {
        let user = self.store.get_user(acct, name).await?;
        let path = user
            .as_ref()
            .map(|u| u.path.clone())
            .unwrap_or_else(|| "/".into());
        let shown = user
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_else(|| name.to_owned());
        Ok((self.arn(acct, &format!("user{path}{shown}")), user))
    }

    async fn create_user(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let name = p.require("UserName")?;
        validation(names::user_name("userName", name))?;
        let path = p.get("Path").unwrap_or("/");
        validation(names::path("path", path))?;
        let boundary = p.get("PermissionsBoundary");
        let tags = parse_tags(p)?;
        let arn = self.arn(acct, &format!("user{path}{name}"));
        let mut extra = ContextKeys::new();
        if let Some(b) = boundary {
            extra.insert("iam:PermissionsBoundary", b);
        }
        self.allow(caller, meta, "iam:CreateUser", &arn, extra)
            .await?;
        if let Some(b) = boundary {
            self.check_boundary(acct, b).await?;
        }
        let user = UserRecord {
            account_id: acct.to_owned(),
            name: name.to_owned(),
            user_id: ids::user_id(),
            path: path.to_owned(),
            permissions_boundary: boundary.map(str::to_owned),
            tags,
            created_at: now_secs(meta),
        };
        match self.store.create_user(&user).await {
            Err(tessera_store::StoreError::Conflict) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "User with name {name} already exists."
                )));
            }
            r => r?,
        }
        let mut w = Writer::new();
        render::user(&mut w, &self.deployment, &user);
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"userName": name, "path": path, "permissionsBoundary": boundary, "tags": tags_json(&user.tags)}),
                response_elements: json!({"user": {"arn": arn, "userId": user.user_id, "userName": name, "path": path}}),
                resources: vec![self.resource("AWS::IAM::User", &arn, acct)],
                read_only: false,
            },
        })
    }

    async fn get_user(&self, caller: &Caller, meta: &RequestMeta, p: &QueryParams) -> R<Outcome> {
        let acct = caller.account.as_str();
        // Without UserName, GetUser describes the caller.
        let name = match (p.get("UserName"), &caller.principal) {
            (Some(n), _) => n.to_owned(),
            (None, Principal::User { name, .. }) => name.clone(),
            (None, Principal::Root) => {
                let mut w = Writer::new();
                w.open("User");
                w.elem("UserId", caller.account.as_str());
                w.elem("Arn", &caller.arn(&self.deployment.partition));
                w.elem("CreateDate", &tessera_core::iso8601(0));
                w.close("User");
                return Ok(Outcome {
                    result_xml: w.finish(),
                    details: read_details(json!({}), self.account_resource(acct)),
                });
            }
            (None, Principal::AssumedRole { .. }) => {
                return Err(IamError::ValidationError(
                    "Must specify userName when calling with non-User credentials".into(),
                ));
            }
        };
        validation(names::user_name("userName", &name))?;
        let (arn, user) = self.user_arn_for_authz(acct, &name).await?;
        self.allow(caller, meta, "iam:GetUser", &arn, ContextKeys::new())
            .await?;
        let user = user.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
        })?;
        let mut w = Writer::new();
        render::user(&mut w, &self.deployment, &user);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                json!({"userName": name}),
                self.resource("AWS::IAM::User", &arn, acct),
            ),
        })
    }

    async fn list_users(&self, caller: &Caller, meta: &RequestMeta, p: &QueryParams) -> R<Outcome> {
        let acct = caller.account.as_str();
        let prefix = p.get("PathPrefix").unwrap_or("/");
        self.allow(
            caller,
            meta,
            "iam:ListUsers",
            &self.arn(acct, "user/"),
            ContextKeys::new(),
        )
        .await?;
        let users: Vec<UserRecord> = self
            .store
            .list_users(acct)
            .await?
            .into_iter()
            .filter(|u| u.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(users, p, |u| u.name.to_ascii_lowercase())?;
        let mut w = Writer::new();
        w.open("Users");
        for u in &page {
            w.open("member");
            render::user_fields(&mut w, &self.deployment, u);
            w.close("member");
        }
        w.close("Users");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(json!({"pathPrefix": prefix}), self.account_resource(acct)),
        })
    }

    async fn delete_user(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let name = p.require("UserName")?;
        validation(names::user_name("userName", name))?;
        let (arn, user) = self.user_arn_for_authz(acct, name).await?;
        self.allow(caller, meta, "iam:DeleteUser", &arn, ContextKeys::new())
            .await?;
        user.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
        })?;
        if !self.store.list_user_policies(acct, name).await?.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        if !self
            .store
            .list_access_keys(acct, Some(name))
            .await?
            .is_empty()
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete access keys first.".into(),
            ));
        }
        self.store.delete_user(acct, name).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"userName": name}),
                self.resource("AWS::IAM::User", &arn, acct),
            ),
        })
    }

    /// The user a key operation targets: `UserName`, else the calling user, else the root.
    async fn key_owner(&self, caller: &Caller, p: &QueryParams) -> R<(Option<UserRecord>, String)> {
        let acct = caller.account.as_str();
        let name = match (p.get("UserName"), &caller.principal) {
            (Some(n), _) => Some(n.to_owned()),
            (None, Principal::User { name, .. }) => Some(name.clone()),
            (None, Principal::Root) => None,
            (None, Principal::AssumedRole { .. }) => {
                return Err(IamError::ValidationError(
                    "Must specify userName when calling with non-User credentials".into(),
                ));
            }
        };
        match name {
            None => Ok((None, self.arn(acct, "root"))),
            Some(n) => {
                validation(names::user_name("userName", &n))?;
                let (arn, user) = self.user_arn_for_authz(acct, &n).await?;
                Ok((
                    Some(user.ok_or_else(|| {
                        IamError::NoSuchEntity(format!("The user with name {n} cannot be found."))
                    })?),
                    arn,
                ))
            }
        }
    }

    async fn create_access_key(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        if let Some(n) = p.get("UserName") {
            validation(names::user_name("userName", n))?;
            let (arn, _) = self.user_arn_for_authz(acct, n).await?;
            self.allow(
                caller,
                meta,
                "iam:CreateAccessKey",
                &arn,
                ContextKeys::new(),
            )
            .await?;
        }
        let (user, arn) = self.key_owner(caller, p).await?;
        if p.get("UserName").is_none() {
            self.allow(
                caller,
                meta,
                "iam:CreateAccessKey",
                &arn,
                ContextKeys::new(),
            )
            .await?;
        }
        let existing = self
            .store
            .list_access_keys(acct, user.as_ref().map(|u| u.name.as_str()))
            .await?;
        if existing.len() >= MAX_KEYS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
            )));
        }
        let (rec, secret) = new_access_key(
            &self.master,
            acct,
            user.as_ref().map(|u| u.name.as_str()),
            now_secs(meta),
        );
        self.store.put_access_key(&rec).await?;
        let mut w = Writer::new();
        w.open("AccessKey");
        if let Some(u) = &user {
            w.elem("UserName", &u.name);
        }
        w.elem("AccessKeyId", &rec.access_key_id);
        w.elem("Status", &rec.status);
        w.elem("SecretAccessKey", secret.expose());
        w.elem("CreateDate", &tessera_core::iso8601(rec.created_at));
        w.close("AccessKey");
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"userName": user.as_ref().map(|u| u.name.clone())}),
                response_elements: json!({"accessKey": {"accessKeyId": rec.access_key_id, "status": rec.status,
                    "userName": user.as_ref().map(|u| u.name.clone()), "createDate": tessera_core::iso8601(rec.created_at)}}),
                resources: vec![self.resource(
                    if user.is_some() {
                        "AWS::IAM::User"
                    } else {
                        "AWS::IAM::Account"
                    },
                    &arn,
                    acct,
                )],
                read_only: false,
            },
        })
    }

    async fn delete_access_key(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let id = p.require("AccessKeyId")?;
        if id.len() < 16 || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{id}' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+"
            )));
        }
        let (user, arn) = self.key_owner(caller, p).await?;
        self.allow(
            caller,
            meta,
            "iam:DeleteAccessKey",
            &arn,
            ContextKeys::new(),
        )
        .await?;
        let owner_key = user.as_ref().map(|u| tessera_store::name_key(&u.name));
        match self.store.get_access_key(id).await? {
            Some(k) if k.account_id == acct && k.user_name_key == owner_key => {}
            _ => {
                return Err(IamError::NoSuchEntity(format!(
                    "The Access Key with id {id} cannot be found."
                )));
            }
        }
        self.store.delete_access_key(acct, id).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"accessKeyId": id, "userName": user.as_ref().map(|u| u.name.clone())}),
                self.resource("AWS::IAM::AccessKey", &arn, acct),
            ),
        })
    }

    async fn list_access_keys(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let (user, arn) = self.key_owner(caller, p).await?;
        self.allow(caller, meta, "iam:ListAccessKeys", &arn, ContextKeys::new())
            .await?;
        let keys = self
            .store
            .list_access_keys(acct, user.as_ref().map(|u| u.name.as_str()))
            .await?;
        let (page, next) = paginate(keys, p, |k| k.access_key_id.clone())?;
        let mut w = Writer::new();
        if let Some(u) = &user {
            w.elem("UserName", &u.name);
        }
        w.open("AccessKeyMetadata");
        for k in &page {
            w.open("member");
            if let Some(u) = &user {
                w.elem("UserName", &u.name);
            }
            w.elem("AccessKeyId", &k.access_key_id);
            w.elem("Status", &k.status);
            w.elem("CreateDate", &tessera_core::iso8601(k.created_at));
            w.close("member");
        }
        w.close("AccessKeyMetadata");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                json!({"userName": user.as_ref().map(|u| u.name.clone())}),
                self.resource("AWS::IAM::User", &arn, acct),
            ),
        })
    }

    // ---------------------------------------------------------- OIDC providers

    async fn create_oidc_provider(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let url = p.require("Url")?;
        let host_path = oidc_url(url, self.allow_http_issuers)?;
        let client_ids = p.list("ClientIDList")?;
        for c in &client_ids {
            if c.is_empty() || c.chars().count() > 255 {
                return Err(IamError::ValidationError(
                    "1 validation error detected: Value at 'clientIDList' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 1]".into(),
                ));
            }
        }
        if client_ids.len() > 100 {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100".into(),
            ));
        }
        let thumbprints = p.list("ThumbprintList")?;
        for t in &thumbprints {
            if t.len() != 40 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(IamError::ValidationError(format!(
                    "1 validation error detected: Value '{t}' at 'thumbprintList' failed to satisfy constraint: Member must have length 40 and consist of hexadecimal characters"
                )));
            }
        }
        if thumbprints.len() > 5 {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: 5".into(),
            ));
        }
        let tags = parse_tags(p)?;
        let arn = self.arn(acct, &format!("oidc-provider/{host_path}"));
        self.allow(
            caller,
            meta,
            "iam:CreateOpenIDConnectProvider",
            &arn,
            ContextKeys::new(),
        )
        .await?;
        let rec = OidcProviderRecord {
            arn: arn.clone(),
            account_id: acct.to_owned(),
            url: host_path.clone(),
            client_ids,
            thumbprints,
            tags,
            created_at: now_secs(meta),
        };
        match self.store.create_oidc_provider(&rec).await {
            Err(tessera_store::StoreError::Conflict) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Provider with url {url} already exists."
                )));
            }
            r => r?,
        }
        let mut w = Writer::new();
        w.elem("OpenIDConnectProviderArn", &arn);
        render::tags(&mut w, &rec.tags);
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"url": url, "clientIDList": rec.client_ids, "thumbprintList": rec.thumbprints, "tags": tags_json(&rec.tags)}),
                response_elements: json!({"openIDConnectProviderArn": arn}),
                resources: vec![self.resource("AWS::IAM::OIDCProvider", &arn, acct)],
                read_only: false,
            },
        })
    }

    async fn existing_oidc(&self, acct: &str, arn: &str) -> R<OidcProviderRecord> {
        if tessera_core::Arn::parse(arn).is_err() || arn.len() > 2048 {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{arn}' at 'openIDConnectProviderArn' failed to satisfy constraint: Member must be a valid ARN"
            )));
        }
        self.store
            .get_oidc_provider(arn)
            .await?
            .filter(|o| o.account_id == acct)
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("OpenIDConnect Provider not found for arn {arn}"))
            })
    }

    async fn get_oidc_provider(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let arn = p.require("OpenIDConnectProviderArn")?;
        self.allow(
            caller,
            meta,
            "iam:GetOpenIDConnectProvider",
            arn,
            ContextKeys::new(),
        )
        .await?;
        let rec = self.existing_oidc(acct, arn).await?;
        let mut w = Writer::new();
        w.elem("Url", &rec.url);
        w.open("ClientIDList");
        for c in &rec.client_ids {
            w.elem("member", c);
        }
        w.close("ClientIDList");
        w.open("ThumbprintList");
        for t in &rec.thumbprints {
            w.elem("member", t);
        }
        w.close("ThumbprintList");
        w.elem("CreateDate", &tessera_core::iso8601(rec.created_at));
        render::tags(&mut w, &rec.tags);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                json!({"openIDConnectProviderArn": arn}),
                self.resource("AWS::IAM::OIDCProvider", arn, acct),
            ),
        })
    }

    async fn list_oidc_providers(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        _p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        self.allow(
            caller,
            meta,
            "iam:ListOpenIDConnectProviders",
            &self.arn(acct, "oidc-provider/"),
            ContextKeys::new(),
        )
        .await?;
        let mut w = Writer::new();
        w.open("OpenIDConnectProviderList");
        for o in self.store.list_oidc_providers(acct).await? {
            w.open("member");
            w.elem("Arn", &o.arn);
            w.close("member");
        }
        w.close("OpenIDConnectProviderList");
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(json!({}), self.account_resource(acct)),
        })
    }

    async fn delete_oidc_provider(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let arn = p.require("OpenIDConnectProviderArn")?;
        self.allow(
            caller,
            meta,
            "iam:DeleteOpenIDConnectProvider",
            arn,
            ContextKeys::new(),
        )
        .await?;
        self.existing_oidc(acct, arn).await?;
        self.store.delete_oidc_provider(arn).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({"openIDConnectProviderArn": arn}),
                self.resource("AWS::IAM::OIDCProvider", arn, acct),
            ),
        })
    }
}

fn read_details(params: Value, resource: Resource) -> EventDetails {
    EventDetails {
        user_identity: None,
        request_parameters: params,
        response_elements: Value::Null,
        resources: vec![resource],
        read_only: true,
    }
}

fn write_details(params: Value, resource: Resource) -> EventDetails {
    EventDetails {
        user_identity: None,
        request_parameters: params,
        response_elements: Value::Null,
        resources: vec![resource],
        read_only: false,
    }
}

/// `arn:{partition}:iam::{account}:{user|role}{path}{name}` → (account, kind, path, name).
fn entity_arn_parts<'a>(
    arn: &'a str,
    partition: &str,
) -> Option<(&'a str, &'a str, String, &'a str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, p, "iam", "", account, resource] = parts.as_slice() else {
        return None;
    };
    if *p != partition {
        return None;
    }
    let (kind, rest) = resource.split_once('/')?;
    if kind != "user" && kind != "role" {
        return None;
    }
    let (path, name) = match rest.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n),
        None => ("/".to_owned(), rest),
    };
    Some((account, kind, path, name))
}

fn parse_max_session(s: &str) -> R<i64> {
    match s.parse::<i64>() {
        Ok(n) if (3600..=43200).contains(&n) => Ok(n),
        _ => Err(IamError::ValidationError(format!(
            "1 validation error detected: Value '{s}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 3600"
        ))),
    }
}

/// `https://host[:port]/path` → `host[:port]/path`, as IAM names OIDC providers. `http://`
/// is accepted only for loopback hosts and only when `allow_http`.
fn oidc_url(url: &str, allow_http: bool) -> R<String> {
    let bad = || {
        IamError::ValidationError(format!(
            "The URL {url} is not valid: it must begin with https:// and name a host."
        ))
    };
    if url.is_empty() || url.chars().count() > 255 {
        return Err(IamError::ValidationError(
            "1 validation error detected: Value at 'url' failed to satisfy constraint: Member must have length less than or equal to 255 and greater than or equal to 1".into(),
        ));
    }
    names::oidc_issuer_host_path(url, allow_http).ok_or_else(bad)
}

/// Make a new long-term access key for the account root (`user` = None) or a user. The
/// secret is returned once and stored sealed under the master key, bound to the key id.
pub fn new_access_key(
    master: &MasterKey,
    account: &str,
    user: Option<&str>,
    now: i64,
) -> (AccessKeyRecord, Secret) {
    let id = ids::access_key_id();
    let secret = ids::secret_access_key();
    let rec = AccessKeyRecord {
        access_key_id: id.clone(),
        account_id: account.to_owned(),
        user_name_key: user.map(tessera_store::name_key),
        secret_sealed: master.seal(secret.as_bytes(), id.as_bytes()),
        status: "Active".into(),
        created_at: now,
    };
    (rec, Secret::new(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_urls() {
        assert_eq!(
            oidc_url("https://idp.example.com/tenant/", false).unwrap(),
            "idp.example.com/tenant/"
        );
        assert_eq!(
            oidc_url("https://127.0.0.1:8443", false).unwrap(),
            "127.0.0.1:8443"
        );
        assert!(oidc_url("http://idp.example.com", false).is_err());
        assert!(
            oidc_url("http://idp.example.com", true).is_err(),
            "http only on loopback"
        );
        assert!(oidc_url("http://127.0.0.1:9000", false).is_err());
        assert_eq!(
            oidc_url("http://127.0.0.1:9000", true).unwrap(),
            "127.0.0.1:9000"
        );
        assert!(oidc_url("https://", false).is_err());
        assert!(oidc_url("https://a.b/x?y", false).is_err());
    }

    #[test]
    fn entity_arns() {
        assert_eq!(
            entity_arn_parts("arn:aws:iam::111111111111:user/bob", "aws"),
            Some(("111111111111", "user", "/".to_owned(), "bob"))
        );
        assert_eq!(
            entity_arn_parts("arn:aws:iam::111111111111:role/team/a/R", "aws"),
            Some(("111111111111", "role", "/team/a/".to_owned(), "R"))
        );
        for other in [
            "arn:aws-cn:iam::111111111111:user/bob",
            "arn:aws:sts::111111111111:assumed-role/R/s",
            "arn:aws:iam::111111111111:root",
            "arn:aws:iam::111111111111:group/G",
            "111111111111",
        ] {
            assert_eq!(entity_arn_parts(other, "aws"), None, "{other}");
        }
    }

    #[test]
    fn max_session_bounds() {
        assert_eq!(parse_max_session("3600").unwrap(), 3600);
        assert!(parse_max_session("3599").is_err());
        assert!(parse_max_session("43201").is_err());
        assert!(parse_max_session("x").is_err());
    }
}
