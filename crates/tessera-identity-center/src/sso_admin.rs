//! sso-admin (awsJson1.1, target prefix `SWBExternalService`, signing name `sso`): so far the
//! instance operations. An account owns at most one instance (an account instance); creating
//! one also creates its identity store (`d-` + 10 hex digits).

use crate::IdentityCenterError;
use crate::apps::{ACCESS_SCOPES, AUTHENTICATION_METHODS, GRANTS};
use crate::request::{Paging, allow, signed_document, string};
use crate::view::{Change, IdentityCenterView};
use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_audit::{EventDetails, Resource};
use tessera_authz::Authorizer;
use tessera_core::{Caller, Deployment, RequestMeta};
use tessera_service::{Body, Ctx, Reply, Routing, Service, ServiceSpec};
use tessera_store::{IdentityCenterStore, InstanceRecord, StoreError};
use tessera_wire::CommonError;
use tessera_wire::{AwsError, Protocol};

tessera_service::operations! {
    /// The sso-admin operations Tessera implements.
    #[derive(Copy)]
    pub enum SsoAdminOp {
        CreateInstance,
        DescribeInstance,
        ListInstances,
        CreateTrustedTokenIssuer,
        DescribeTrustedTokenIssuer,
        ListTrustedTokenIssuers,
        UpdateTrustedTokenIssuer,
        DeleteTrustedTokenIssuer,
        CreateApplication,
        DescribeApplication,
        ListApplications,
        UpdateApplication,
        DeleteApplication,
        PutApplicationGrant,
        GetApplicationGrant,
        ListApplicationGrants,
        DeleteApplicationGrant,
        PutApplicationAccessScope,
        GetApplicationAccessScope,
        ListApplicationAccessScopes,
        DeleteApplicationAccessScope,
        PutApplicationAuthenticationMethod,
        GetApplicationAuthenticationMethod,
        ListApplicationAuthenticationMethods,
        DeleteApplicationAuthenticationMethod,
        PutApplicationAssignmentConfiguration,
        GetApplicationAssignmentConfiguration,
        CreateApplicationAssignment,
        DescribeApplicationAssignment,
        ListApplicationAssignments,
        DeleteApplicationAssignment,
    }
}

/// The sso-admin service's declaration.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "sso-admin",
    signing_names: &["sso"],
    protocol: Protocol::Json11,
    event_source: "sso.amazonaws.com",
    routing: Routing::JsonTarget {
        prefix: "SWBExternalService",
    },
};

type R<T> = Result<T, IdentityCenterError>;

#[derive(Debug, Clone)]
pub struct SsoAdminService {
    pub(crate) store: Arc<dyn IdentityCenterStore>,
    /// The configuration view every write is folded into.
    pub(crate) view: Arc<IdentityCenterView>,
    pub(crate) authz: Authorizer,
    pub(crate) deployment: Deployment,
    /// Accept `http://` trusted token issuers on loopback hosts (dev mode and tests).
    pub(crate) allow_http_issuers: bool,
}

const MAX_TAGS: usize = 75;

fn invalid(field: &str, value: &str, constraint: &str) -> IdentityCenterError {
    IdentityCenterError::Common(CommonError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
    )))
}

/// `Name`: 1 to 255 characters of `[\w+=,.@-]`.
fn instance_name(doc: &Value) -> R<Option<String>> {
    let Some(n) = string(doc, "Name")? else {
        return Ok(None);
    };
    let ok = !n.is_empty()
        && n.chars().count() <= 255
        && n.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@-".contains(c));
    if !ok {
        return Err(invalid(
            "name",
            n,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and 255",
        ));
    }
    Ok(Some(n.to_owned()))
}

/// `ClientToken`: 1 to 64 printable ASCII characters.
pub(crate) fn client_token(doc: &Value) -> R<Option<String>> {
    let Some(t) = string(doc, "ClientToken")? else {
        return Ok(None);
    };
    if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
        return Err(invalid(
            "clientToken",
            t,
            "Member must satisfy regular expression pattern: [!-~]+ and have length between 1 and 64",
        ));
    }
    Ok(Some(t.to_owned()))
}

/// `Tags`: at most 75 `{Key, Value}` pairs, keys 1–128 and values 0–256 characters, no key twice.
pub(crate) fn tags(doc: &Value) -> R<Vec<(String, String)>> {
    let list = match doc.get("Tags") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(IdentityCenterError::Common(CommonError::Validation(
                "Member Tags must be a list".into(),
            )));
        }
    };
    if list.len() > MAX_TAGS {
        return Err(IdentityCenterError::Common(CommonError::Validation(
            format!(
                "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
            ),
        )));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for t in list {
        let key = string(t, "Key")?.ok_or_else(|| {
            IdentityCenterError::Common(CommonError::Validation(
                "Member Tags.Key is required".into(),
            ))
        })?;
        let value = string(t, "Value")?.ok_or_else(|| {
            IdentityCenterError::Common(CommonError::Validation(
                "Member Tags.Value is required".into(),
            ))
        })?;
        if key.is_empty() || key.chars().count() > 128 {
            return Err(invalid(
                "tags.member.key",
                key,
                "Member must have length between 1 and 128",
            ));
        }
        if value.chars().count() > 256 {
            return Err(invalid(
                "tags.member.value",
                value,
                "Member must have length less than or equal to 256",
            ));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(IdentityCenterError::Common(CommonError::Validation(
                format!("Duplicate tag key '{key}'"),
            )));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// `InstanceArn`: `arn:<partition>:sso:::instance/(sso)?ins-` + 16 of `[a-zA-Z0-9-.]`.
pub(crate) fn instance_arn(doc: &Value) -> R<String> {
    let arn = string(doc, "InstanceArn")?.ok_or_else(|| {
        IdentityCenterError::Common(CommonError::Validation(
            "1 validation error detected: Value null at 'instanceArn' failed to satisfy constraint: Member must not be null".into(),
        ))
    })?;
    let ok = arn
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":sso:::instance/"))
        .is_some_and(|(partition, id)| {
            partition.starts_with("aws")
                && partition.len() <= 20
                && partition
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-')
                && is_instance_id(id)
        });
    if !ok {
        return Err(invalid(
            "instanceArn",
            arn,
            "Member must satisfy regular expression pattern: arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}",
        ));
    }
    Ok(arn.to_owned())
}

/// `(sso)?ins-` + 16 of `[a-zA-Z0-9-.]`: the id part of an instance ARN.
pub(crate) fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("ssoins-")
        .or_else(|| id.strip_prefix("ins-"))
        .is_some_and(|s| {
            s.len() == 16
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
}

/// The ARN of an instance's identity store.
pub(crate) fn identity_store_arn(partition: &str, i: &InstanceRecord) -> String {
    format!(
        "arn:{partition}:identitystore::{}:identitystore/{}",
        i.owner_account_id, i.identity_store_id
    )
}

pub(crate) fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).expect("a hex digit"))
        .collect()
}

fn describe(i: &InstanceRecord) -> Value {
    let mut v = json!({
        "InstanceArn": i.instance_arn,
        "IdentityStoreId": i.identity_store_id,
        "OwnerAccountId": i.owner_account_id,
        "CreatedDate": i.created_at,
        "Status": i.status,
    });
    if let Some(n) = &i.name {
        v["Name"] = json!(n);
    }
    v
}

fn resource(i: &str, account: &str) -> Resource {
    Resource {
        account_id: Some(account.to_owned()),
        kind: "AWS::SSO::Instance".into(),
        arn: i.to_owned(),
    }
}

#[async_trait]
impl Service for SsoAdminService {
    type Op = SsoAdminOp;
    type Error = IdentityCenterError;

    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    async fn call(&self, op: SsoAdminOp, ctx: &Ctx<'_>) -> R<Reply> {
        let (caller, doc) = signed_document(ctx, "sso-admin")?;
        self.run(op, caller, ctx.meta, doc).await
    }

    fn to_aws(&self, e: &IdentityCenterError) -> AwsError {
        e.to_aws()
    }
}

impl SsoAdminService {
    pub fn new(
        store: Arc<dyn IdentityCenterStore>,
        view: Arc<IdentityCenterView>,
        authz: Authorizer,
        deployment: Deployment,
    ) -> SsoAdminService {
        SsoAdminService {
            store,
            view,
            authz,
            deployment,
            allow_http_issuers: false,
        }
    }

    /// Accept `http://` trusted token issuers on loopback hosts (dev mode and tests).
    pub fn with_http_loopback_issuers(mut self, allow: bool) -> SsoAdminService {
        self.allow_http_issuers = allow;
        self
    }

    /// Run one operation for an authenticated caller with its JSON request document.
    pub async fn run(
        &self,
        op: SsoAdminOp,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        match op {
            SsoAdminOp::CreateInstance => self.create_instance(caller, meta, doc).await,
            SsoAdminOp::DescribeInstance => self.describe_instance(caller, meta, doc).await,
            SsoAdminOp::ListInstances => self.list_instances(caller, meta, doc).await,
            SsoAdminOp::CreateTrustedTokenIssuer => {
                self.create_trusted_token_issuer(caller, meta, doc).await
            }
            SsoAdminOp::DescribeTrustedTokenIssuer => {
                self.describe_trusted_token_issuer(caller, meta, doc).await
            }
            SsoAdminOp::ListTrustedTokenIssuers => {
                self.list_trusted_token_issuers(caller, meta, doc).await
            }
            SsoAdminOp::UpdateTrustedTokenIssuer => {
                self.update_trusted_token_issuer(caller, meta, doc).await
            }
            SsoAdminOp::DeleteTrustedTokenIssuer => {
                self.delete_trusted_token_issuer(caller, meta, doc).await
            }
            SsoAdminOp::CreateApplication => self.create_application(caller, meta, doc).await,
            SsoAdminOp::DescribeApplication => self.describe_application(caller, meta, doc).await,
            SsoAdminOp::ListApplications => self.list_applications(caller, meta, doc).await,
            SsoAdminOp::UpdateApplication => self.update_application(caller, meta, doc).await,
            SsoAdminOp::DeleteApplication => self.delete_application(caller, meta, doc).await,
            SsoAdminOp::PutApplicationGrant => self.put_application_grant(caller, meta, doc).await,
            SsoAdminOp::GetApplicationGrant => {
                self.get_application_setting(&GRANTS, caller, meta, doc)
                    .await
            }
            SsoAdminOp::ListApplicationGrants => {
                self.list_application_settings(&GRANTS, caller, meta, doc)
                    .await
            }
            SsoAdminOp::DeleteApplicationGrant => {
                self.delete_application_setting(&GRANTS, caller, meta, doc)
                    .await
            }
            SsoAdminOp::PutApplicationAccessScope => {
                self.put_application_access_scope(caller, meta, doc).await
            }
            SsoAdminOp::GetApplicationAccessScope => {
                self.get_application_setting(&ACCESS_SCOPES, caller, meta, doc)
                    .await
            }
            SsoAdminOp::ListApplicationAccessScopes => {
                self.list_application_settings(&ACCESS_SCOPES, caller, meta, doc)
                    .await
            }
            SsoAdminOp::DeleteApplicationAccessScope => {
                self.delete_application_setting(&ACCESS_SCOPES, caller, meta, doc)
                    .await
            }
            SsoAdminOp::PutApplicationAuthenticationMethod => {
                self.put_application_authentication_method(caller, meta, doc)
                    .await
            }
            SsoAdminOp::GetApplicationAuthenticationMethod => {
                self.get_application_setting(&AUTHENTICATION_METHODS, caller, meta, doc)
                    .await
            }
            SsoAdminOp::ListApplicationAuthenticationMethods => {
                self.list_application_settings(&AUTHENTICATION_METHODS, caller, meta, doc)
                    .await
            }
            SsoAdminOp::DeleteApplicationAuthenticationMethod => {
                self.delete_application_setting(&AUTHENTICATION_METHODS, caller, meta, doc)
                    .await
            }
            SsoAdminOp::PutApplicationAssignmentConfiguration => {
                self.put_application_assignment_configuration(caller, meta, doc)
                    .await
            }
            SsoAdminOp::GetApplicationAssignmentConfiguration => {
                self.get_application_assignment_configuration(caller, meta, doc)
                    .await
            }
            SsoAdminOp::CreateApplicationAssignment => {
                self.create_application_assignment(caller, meta, doc).await
            }
            SsoAdminOp::DescribeApplicationAssignment => {
                self.describe_application_assignment(caller, meta, doc)
                    .await
            }
            SsoAdminOp::ListApplicationAssignments => {
                self.list_application_assignments(caller, meta, doc).await
            }
            SsoAdminOp::DeleteApplicationAssignment => {
                self.delete_application_assignment(caller, meta, doc).await
            }
        }
    }

    pub(crate) fn allow(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        action: &str,
        resource: &str,
    ) -> R<()> {
        allow(&self.authz, caller, meta, action, resource)
    }

    async fn create_instance(&self, caller: &Caller, meta: &RequestMeta, doc: &Value) -> R<Reply> {
        let name = instance_name(doc)?;
        let token = client_token(doc)?;
        let tags = tags(doc)?;
        self.allow(caller, meta, "sso:CreateInstance", "*")?;
        let account = caller.account.as_str();
        let existing = self.store.list_instances(account).await?;
        let created = match existing.into_iter().next() {
            // A retry of the CreateInstance that made it (same idempotency token).
            Some(i) if token.is_some() && i.client_token == token => i,
            Some(_) => {
                return Err(IdentityCenterError::Conflict(
                    "An instance of IAM Identity Center already exists for this account.".into(),
                ));
            }
            None => {
                let rec = InstanceRecord {
                    instance_arn: format!(
                        "arn:{}:sso:::instance/ssoins-{}",
                        self.deployment.partition,
                        random_hex(16)
                    ),
                    identity_store_id: format!("d-{}", random_hex(10)),
                    owner_account_id: account.to_owned(),
                    name,
                    status: "ACTIVE".into(),
                    client_token: token,
                    tags,
                    created_at: meta.now.timestamp(),
                };
                match self.store.create_instance(&rec).await {
                    Ok(()) => {
                        self.view.write(Change::Instance(rec.clone())).await?;
                        rec
                    }
                    Err(StoreError::Conflict) => {
                        return Err(IdentityCenterError::Conflict(
                            "An instance of IAM Identity Center already exists for this account."
                                .into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        Ok(Reply {
            body: Body::Json(json!({"InstanceArn": created.instance_arn})),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"name": created.name}),
                response_elements: json!({"instanceArn": created.instance_arn}),
                resources: vec![resource(&created.instance_arn, account)],
                read_only: false,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }

    /// The caller account's instance with this ARN (another account's is not found).
    pub(crate) async fn owned_instance(&self, caller: &Caller, arn: &str) -> R<InstanceRecord> {
        self.store
            .get_instance(arn)
            .await?
            .filter(|i| i.owner_account_id == caller.account.as_str())
            .ok_or_else(|| {
                IdentityCenterError::ResourceNotFound(format!("Instance {arn} does not exist."))
            })
    }

    async fn describe_instance(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = instance_arn(doc)?;
        self.allow(caller, meta, "sso:DescribeInstance", &arn)?;
        let i = self.owned_instance(caller, &arn).await?;
        Ok(Reply {
            body: Body::Json(describe(&i)),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"instanceArn": arn}),
                response_elements: Value::Null,
                resources: vec![resource(&arn, caller.account.as_str())],
                read_only: true,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }

    async fn list_instances(&self, caller: &Caller, meta: &RequestMeta, doc: &Value) -> R<Reply> {
        let paging = Paging::parse(doc)?;
        self.allow(caller, meta, "sso:ListInstances", "*")?;
        let all = self.store.list_instances(caller.account.as_str()).await?;
        let body = paging.page(&all, "Instances", |i| &i.instance_arn, describe)?;
        Ok(Reply {
            body: Body::Json(body),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({"maxResults": doc.get("MaxResults")}),
                response_elements: Value::Null,
                resources: Vec::new(),
                read_only: true,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_arns_follow_the_model_pattern() {
        let ok = |a: &str| instance_arn(&json!({"InstanceArn": a})).is_ok();
        assert!(ok("arn:aws:sso:::instance/ssoins-0123456789abcdef"));
        assert!(ok("arn:aws-cn:sso:::instance/ins-0123456789abcdef"));
        assert!(!ok("arn:aws:sso:::instance/ssoins-0123"));
        assert!(!ok(
            "arn:aws:sso::111111111111:instance/ssoins-0123456789abcdef"
        ));
        assert!(!ok("arn:aws:iam:::instance/ssoins-0123456789abcdef"));
        assert!(!ok("arn:aws:sso:::instance/ssoins-0123456789abcde/"));
        assert!(instance_arn(&json!({})).is_err());
        assert!(instance_arn(&json!({"InstanceArn": 7})).is_err());
    }

    #[test]
    fn names_tokens_and_tags() {
        assert_eq!(
            instance_name(&json!({"Name": "acme-prod.1"})).unwrap(),
            Some("acme-prod.1".into())
        );
        assert!(instance_name(&json!({"Name": ""})).is_err());
        assert!(instance_name(&json!({"Name": "a b"})).is_err());
        assert!(client_token(&json!({"ClientToken": "x".repeat(65)})).is_err());
        assert!(client_token(&json!({"ClientToken": "tok en"})).is_err());
        assert_eq!(tags(&json!({})).unwrap(), vec![]);
        assert!(
            tags(&json!({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]}))
                .is_err()
        );
        assert!(tags(&json!({"Tags": [{"Key": "", "Value": "1"}]})).is_err());
        let many: Vec<Value> = (0..76)
            .map(|i| json!({"Key": format!("k{i}"), "Value": ""}))
            .collect();
        assert!(tags(&json!({ "Tags": many })).is_err());
        assert_eq!(random_hex(10).len(), 10);
    }
}
