//! The IAM service, spoken over awsQuery (signing name `iam`, version `2010-05-08`).
//!
//! [`IamService`] implements [`tessera_service::Service`]: each [`IamAction`] takes a [`Req`]
//! (the authenticated caller, the request's metadata and its decoded parameters), authorises
//! through the kernel's [`Authorizer`] (the account root may do anything in its account;
//! everyone else only what their policies allow), validates input as IAM does, changes the
//! store and returns the inner XML of the `…Result` element plus the audit details. A write
//! to a role, user or managed policy folds that one entity into the principal view
//! ([`tessera_authz::PrincipalView`]) before the response. Errors are [`IamError`]s, which
//! know their AWS code and HTTP status.
//!
//! One module per resource: [`roles`], [`users`], [`access_keys`], [`managed`] policies,
//! [`inline`] policies, [`oidc_providers`]; [`paging`] and [`tags`] are shared.
//!
//! Each action reads its parameters into a typed request struct (`…Request::parse`), which
//! validates them in IAM's order; the audit event's `requestParameters` is that struct's
//! serialised form ([`request_parameters`]). No request struct holds a secret.

mod access_keys;
mod error;
mod inline;
mod managed;
mod oidc_providers;
mod paging;
mod render;
mod roles;
mod tags;
mod users;

pub use access_keys::new_access_key;
pub use error::IamError;

/// What the resource modules share.
mod prelude {
    pub(crate) use crate::inline::Owner;
    pub(crate) use crate::paging::{PathPrefixRequest, page_footer, paginate};
    pub(crate) use crate::tags::{parse_tags, serialize_tags};
    pub(crate) use crate::{
        EmptyRequest, IamError, IamService, MAX_KEYS_PER_USER, Outcome, R, Req, now_secs,
        read_details, render, request_parameters, validation, write_details,
    };
    pub(crate) use serde::Serialize;
    pub(crate) use serde_json::{Value, json};
    pub(crate) use tessera_audit::{EventDetails, Resource};
    pub(crate) use tessera_core::{Caller, Principal, RequestMeta, Secret, ids, names};
    pub(crate) use tessera_crypto::MasterKey;
    pub(crate) use tessera_policy::{ContextKeys, Policy, PolicyKind};
    pub(crate) use tessera_store::{
        AccessKeyRecord, ManagedPolicyRecord, OidcProviderRecord, RoleRecord, UserRecord,
    };
    pub(crate) use tessera_wire::query::QueryParams;
    pub(crate) use tessera_wire::xml::Writer;
}

use async_trait::async_trait;
use prelude::*;
use std::sync::Arc;
use tessera_authz::{Access, Authorizer};
use tessera_core::Deployment;
use tessera_service::{Body, Ctx, Reply, Routing, Service, ServiceSpec};
use tessera_store::IamStore;
use tessera_wire::CommonError;
use tessera_wire::{IAM_NAMESPACE, Protocol};

pub const VERSION: &str = "2010-05-08";

tessera_service::operations! {
    /// Every IAM action this service implements.
    #[derive(Copy)]
    pub enum IamAction {
        CreateRole,
        GetRole,
        ListRoles,
        UpdateRole,
        UpdateAssumeRolePolicy,
        DeleteRole,
        PutRolePolicy,
        GetRolePolicy,
        DeleteRolePolicy,
        ListRolePolicies,
        CreatePolicy,
        GetPolicy,
        DeletePolicy,
        ListPolicies,
        AttachRolePolicy,
        DetachRolePolicy,
        ListAttachedRolePolicies,
        CreateUser,
        GetUser,
        ListUsers,
        DeleteUser,
        CreateAccessKey,
        DeleteAccessKey,
        ListAccessKeys,
        PutUserPolicy,
        GetUserPolicy,
        DeleteUserPolicy,
        ListUserPolicies,
        CreateOpenIDConnectProvider,
        GetOpenIDConnectProvider,
        ListOpenIDConnectProviders,
        DeleteOpenIDConnectProvider,
    }
}

/// What an IAM write changes in the principal view.
enum Touches {
    Role,
    User,
    ManagedPolicy,
    Nothing,
}

impl IamAction {
    fn touches(&self) -> Touches {
        use IamAction::*;
        match self {
            CreateRole
            | UpdateRole
            | UpdateAssumeRolePolicy
            | DeleteRole
            | PutRolePolicy
            | DeleteRolePolicy
            | AttachRolePolicy
            | DetachRolePolicy => Touches::Role,
            CreateUser | DeleteUser | PutUserPolicy | DeleteUserPolicy => Touches::User,
            CreatePolicy | DeletePolicy => Touches::ManagedPolicy,
            _ => Touches::Nothing,
        }
    }
}

/// The IAM service's declaration.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "iam",
    signing_names: &["iam"],
    protocol: Protocol::Query {
        namespace: IAM_NAMESPACE,
    },
    event_source: "iam.amazonaws.com",
    routing: Routing::Query { version: VERSION },
};

/// One IAM request: who asks, when and from where, with which parameters.
#[derive(Debug, Clone, Copy)]
pub struct Req<'a> {
    pub caller: &'a Caller,
    pub meta: &'a RequestMeta,
    pub params: &'a QueryParams,
}

/// What a successful call returns: the inner XML of `<{Action}Result>` and the audit details.
#[derive(Debug)]
pub struct Outcome {
    pub result_xml: String,
    pub details: EventDetails,
}

type R<T> = Result<T, IamError>;

#[derive(Debug, Clone)]
pub struct IamService {
    store: Arc<dyn IamStore>,
    deployment: Deployment,
    master: MasterKey,
    authz: Authorizer,
    allow_http_issuers: bool,
}

const MAX_KEYS_PER_USER: usize = 2;

fn validation(r: Result<(), String>) -> R<()> {
    r.map_err(|m| IamError::Common(CommonError::Validation(m)))
}

fn now_secs(meta: &RequestMeta) -> i64 {
    meta.now.timestamp()
}

/// The audit event's `requestParameters`: the serialised form of an action's request struct.
fn request_parameters<T: Serialize>(req: &T) -> Value {
    // Request structs hold only strings, integers, and lists and options of them (tags go
    // through `tags_json`), so turning them into a JSON value cannot fail.
    serde_json::to_value(req).expect("request structs serialise to JSON")
}

/// The request of an action that takes no audited parameters: `requestParameters` is `{}`.
#[derive(Debug, Serialize)]
struct EmptyRequest {}

#[async_trait]
impl Service for IamService {
    type Op = IamAction;
    type Error = IamError;

    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    async fn call(&self, op: IamAction, ctx: &Ctx<'_>) -> R<Reply> {
        let caller = ctx.caller().ok_or_else(|| {
            IamError::Common(CommonError::AccessDenied(
                "Every IAM action must be signed.".into(),
            ))
        })?;
        let o = self
            .run(
                op,
                Req {
                    caller,
                    meta: ctx.meta,
                    params: ctx.params(),
                },
            )
            .await?;
        Ok(Reply {
            body: Body::QueryResult(o.result_xml),
            details: o.details,
        })
    }

    fn to_aws(&self, e: &IamError) -> tessera_wire::AwsError {
        e.to_aws()
    }
}

impl IamService {
    pub fn new(
        store: Arc<dyn IamStore>,
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
        tessera_core::Arn::iam(&self.deployment.partition, account, resource).to_string()
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
            Err(d) => Err(IamError::Common(CommonError::AccessDenied(d.message))),
        }
    }

    /// Run one IAM action for `req.caller`. A write to a role, user or managed policy is
    /// folded into the principal view before this returns, so the next request on this
    /// replica is authorised against it; other replicas follow the change counter.
    pub async fn run(&self, op: IamAction, req: Req<'_>) -> R<Outcome> {
        let touches = op.touches();
        let outcome = self.dispatch(op, &req).await?;
        let acct = req.caller.account.as_str();
        let principals = self.authz.principals();
        match touches {
            Touches::Role => {
                principals
                    .role_changed(acct, req.params.require("RoleName")?)
                    .await?
            }
            Touches::User => {
                principals
                    .user_changed(acct, req.params.require("UserName")?)
                    .await?
            }
            Touches::ManagedPolicy => {
                // CreatePolicy names no ARN in its parameters: the handler reports the
                // policy's ARN as the event's resource.
                for r in &outcome.details.resources {
                    principals.managed_changed(&r.arn).await?;
                }
            }
            Touches::Nothing => {}
        }
        Ok(outcome)
    }

    async fn dispatch(&self, op: IamAction, r: &Req<'_>) -> R<Outcome> {
        use IamAction::*;
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        match op {
            CreateRole => self.create_role(r).await,
            GetRole => self.get_role(r).await,
            ListRoles => self.list_roles(r).await,
            UpdateRole => self.update_role(r).await,
            UpdateAssumeRolePolicy => self.update_assume_role_policy(r).await,
            DeleteRole => self.delete_role(r).await,
            PutRolePolicy => self.put_inline(Owner::Role, caller, meta, p).await,
            GetRolePolicy => self.get_inline(Owner::Role, caller, meta, p).await,
            DeleteRolePolicy => self.delete_inline(Owner::Role, caller, meta, p).await,
            ListRolePolicies => self.list_inline(Owner::Role, caller, meta, p).await,
            CreatePolicy => self.create_policy(r).await,
            GetPolicy => self.get_policy(r).await,
            DeletePolicy => self.delete_policy(r).await,
            ListPolicies => self.list_policies(r).await,
            AttachRolePolicy => self.attach_role_policy(r, true).await,
            DetachRolePolicy => self.attach_role_policy(r, false).await,
            ListAttachedRolePolicies => self.list_attached_role_policies(r).await,
            CreateUser => self.create_user(r).await,
            GetUser => self.get_user(r).await,
            ListUsers => self.list_users(r).await,
            DeleteUser => self.delete_user(r).await,
            CreateAccessKey => self.create_access_key(r).await,
            DeleteAccessKey => self.delete_access_key(r).await,
            ListAccessKeys => self.list_access_keys(r).await,
            PutUserPolicy => self.put_inline(Owner::User, caller, meta, p).await,
            GetUserPolicy => self.get_inline(Owner::User, caller, meta, p).await,
            DeleteUserPolicy => self.delete_inline(Owner::User, caller, meta, p).await,
            ListUserPolicies => self.list_inline(Owner::User, caller, meta, p).await,
            CreateOpenIDConnectProvider => self.create_oidc_provider(r).await,
            GetOpenIDConnectProvider => self.get_oidc_provider(r).await,
            ListOpenIDConnectProviders => self.list_oidc_providers(r).await,
            DeleteOpenIDConnectProvider => self.delete_oidc_provider(r).await,
        }
    }

    fn role_resource(&self, acct: &str, path: &str, name: &str) -> String {
        self.arn(acct, &format!("role{path}{name}"))
    }

    fn user_resource(&self, acct: &str, path: &str, name: &str) -> String {
        self.arn(acct, &format!("user{path}{name}"))
    }

    fn resource(&self, kind: &str, arn: &str, acct: &str) -> Resource {
        Resource {
            account_id: Some(acct.to_owned()),
            kind: kind.to_owned(),
            arn: arn.to_owned(),
        }
    }
}

fn read_details(params: Value, resource: Resource) -> EventDetails {
    EventDetails {
        user_identity: None,
        request_parameters: params,
        response_elements: Value::Null,
        resources: vec![resource],
        read_only: true,
        additional_event_data: serde_json::Value::Null,
    }
}

fn write_details(params: Value, resource: Resource) -> EventDetails {
    EventDetails {
        user_identity: None,
        request_parameters: params,
        response_elements: Value::Null,
        resources: vec![resource],
        read_only: false,
        additional_event_data: serde_json::Value::Null,
    }
}

/// The audited `requestParameters` derived from the request structs are exactly what the
/// handlers wrote by hand before the structs existed (same keys, `null` where a parameter is
/// absent, tags as `{key, value}` objects); the expected JSON below is that old output.
#[cfg(test)]
mod request_parameter_tests {
    use super::*;
    use crate::inline::{Owner, PutInlinePolicyRequest};
    use crate::oidc_providers::CreateOpenIdConnectProviderRequest;
    use crate::roles::{CreateRoleRequest, UpdateRoleRequest};
    use crate::users::{CreateUserRequest, GetUserRequest};

    fn params(form: &str) -> QueryParams {
        QueryParams::parse(&[form.as_bytes()]).unwrap()
    }

    /// Equal as values and in serialised form.
    fn assert_json(actual: Value, expected: Value) {
        assert_eq!(actual, expected);
        assert_eq!(actual.to_string(), expected.to_string());
    }

    const DOC: &str = "%7B%22Version%22%3A%222012-10-17%22%7D";

    #[test]
    fn create_role_without_optional_fields() {
        let p = params(&format!("RoleName=App&AssumeRolePolicyDocument={DOC}"));
        let req = CreateRoleRequest::parse(&p).unwrap();
        assert_json(
            request_parameters(&req),
            json!({
                "roleName": "App",
                "path": "/",
                "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\"}",
                "description": null,
                "maxSessionDuration": 3600,
                "permissionsBoundary": null,
                "tags": []
            }),
        );
    }

    #[test]
    fn create_role_with_every_field() {
        let p = params(&format!(
            "RoleName=App&Path=%2Fteam%2F&AssumeRolePolicyDocument={DOC}&Description=The+app\
             &MaxSessionDuration=7200\
             &PermissionsBoundary=arn%3Aaws%3Aiam%3A%3A111111111111%3Apolicy%2FBoundary\
             &Tags.member.1.Key=team&Tags.member.1.Value=core&Tags.member.2.Key=empty"
        ));
        let req = CreateRoleRequest::parse(&p).unwrap();
        assert_json(
            request_parameters(&req),
            json!({
                "roleName": "App",
                "path": "/team/",
                "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\"}",
                "description": "The app",
                "maxSessionDuration": 7200,
                "permissionsBoundary": "arn:aws:iam::111111111111:policy/Boundary",
                "tags": [{"key": "team", "value": "core"}, {"key": "empty", "value": ""}]
            }),
        );
    }

    #[test]
    fn update_role_audits_absent_fields_as_null() {
        let p = params("RoleName=App");
        let req = UpdateRoleRequest::parse(&p).unwrap();
        assert_json(
            request_parameters(&req),
            json!({"roleName": "App", "description": null, "maxSessionDuration": null}),
        );
    }

    #[test]
    fn put_role_and_user_policy() {
        let p = params(&format!(
            "RoleName=App&UserName=bob&PolicyName=Inline&PolicyDocument={DOC}"
        ));
        let role = PutInlinePolicyRequest::parse(Owner::Role, &p).unwrap();
        assert_json(
            request_parameters(&role),
            json!({
                "roleName": "App",
                "policyName": "Inline",
                "policyDocument": "{\"Version\":\"2012-10-17\"}"
            }),
        );
        let user = PutInlinePolicyRequest::parse(Owner::User, &p).unwrap();
        assert_json(
            request_parameters(&user),
            json!({
                "userName": "bob",
                "policyName": "Inline",
                "policyDocument": "{\"Version\":\"2012-10-17\"}"
            }),
        );
    }

    #[test]
    fn create_user_with_tags() {
        let p = params(
            "UserName=bob&Tags.member.1.Key=team&Tags.member.1.Value=core\
             &Tags.member.2.Key=cost&Tags.member.2.Value=42",
        );
        let req = CreateUserRequest::parse(&p).unwrap();
        assert_json(
            request_parameters(&req),
            json!({
                "userName": "bob",
                "path": "/",
                "permissionsBoundary": null,
                "tags": [{"key": "team", "value": "core"}, {"key": "cost", "value": "42"}]
            }),
        );
    }

    #[test]
    fn get_user_names_the_user_described_or_nothing() {
        assert_json(
            request_parameters(&GetUserRequest::parse(&params("UserName=bob")).unwrap()),
            json!({"userName": "bob"}),
        );
        assert_json(
            request_parameters(&GetUserRequest::parse(&params("")).unwrap()),
            json!({}),
        );
        assert_json(request_parameters(&EmptyRequest {}), json!({}));
    }

    #[test]
    fn create_oidc_provider() {
        let thumb = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
        let p = params(&format!(
            "Url=https%3A%2F%2Fidp.example.com%2Ftenant&ClientIDList.member.1=sts.amazonaws.com\
             &ClientIDList.member.2=app&ThumbprintList.member.1={thumb}\
             &Tags.member.1.Key=env&Tags.member.1.Value=dev"
        ));
        let req = CreateOpenIdConnectProviderRequest::parse(&p, false).unwrap();
        assert_json(
            request_parameters(&req),
            json!({
                "url": "https://idp.example.com/tenant",
                "clientIDList": ["sts.amazonaws.com", "app"],
                "thumbprintList": [thumb],
                "tags": [{"key": "env", "value": "dev"}]
            }),
        );
    }

    #[test]
    fn parse_errors_are_unchanged() {
        let e = CreateRoleRequest::parse(&params("RoleName=App")).unwrap_err();
        assert_eq!(e.to_aws().code, "MissingParameter");
        let e = CreateRoleRequest::parse(&params(&format!(
            "RoleName=App&AssumeRolePolicyDocument={DOC}&MaxSessionDuration=60"
        )))
        .unwrap_err();
        assert_eq!(
            e.to_aws().message,
            "1 validation error detected: Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 3600"
        );
    }
}
