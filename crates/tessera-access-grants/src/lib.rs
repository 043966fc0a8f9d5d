//! S3 Access Grants, spoken as s3control restXml under `/v20180820/` (signing name `s3`, the
//! account in `x-amz-account-id`).
//!
//! - Control plane (`control.rs`): the instance (one per account, id `default`, with its
//!   Identity Center association and resource policy), locations, grants and tags, with
//!   AWS's validation, "not empty" rules and quotas. Every write is folded into the grant
//!   index ([`tessera_authz::GrantView`]) at once, and other replicas reload it within a second.
//! - Data access (`data.rs`): `GetDataAccess` matches the caller's identities (IAM identity,
//!   directory user, the user's groups from the directory view) against the index, picks the
//!   closest grant and vends a session of the location's role, sealed with the key ring and
//!   carrying the grant's scope as typed data. It reads no store. Also
//!   `ListCallerAccessGrants` and `GetAccessGrantsInstanceForPrefix`.
//!
//! Identity is read through the kernel's views and the Identity Center store port, never
//! through the Identity Center service.

mod control;
mod data;
mod error;
pub mod validate;

pub use error::AgError;

use async_trait::async_trait;
use std::sync::Arc;
use tessera_authz::grants::AccessGrants;
use tessera_authz::{Access, Authorizer, DirectoryView, GrantView, KeyRingView};
use tessera_core::{Caller, Deployment, RequestMeta};
use tessera_policy::ContextKeys;
use tessera_service::{Ctx, Reply, Routing, Service, ServiceSpec};
use tessera_store::{AccessGrantsStore, IdentityCenterStore};
use tessera_wire::CommonError;
use tessera_wire::Protocol;
use tessera_wire::xml::{Element, Writer};

/// The path prefix of every s3control operation.
pub const PATH_PREFIX: &str = "/v20180820/";

/// The service principal that assumes location roles.
pub const SERVICE_PRINCIPAL: &str = "access-grants.s3.amazonaws.com";

tessera_service::operations! {
    /// The Access Grants operations of s3control, each with the resource its path names.
    pub enum AgOp {
        CreateAccessGrantsInstance,
        GetAccessGrantsInstance,
        DeleteAccessGrantsInstance,
        ListAccessGrantsInstances,
        AssociateAccessGrantsIdentityCenter,
        DissociateAccessGrantsIdentityCenter,
        PutAccessGrantsInstanceResourcePolicy,
        GetAccessGrantsInstanceResourcePolicy,
        DeleteAccessGrantsInstanceResourcePolicy,
        CreateAccessGrantsLocation,
        GetAccessGrantsLocation { id: String },
        UpdateAccessGrantsLocation { id: String },
        DeleteAccessGrantsLocation { id: String },
        ListAccessGrantsLocations,
        CreateAccessGrant,
        GetAccessGrant { id: String },
        DeleteAccessGrant { id: String },
        ListAccessGrants,
        GetDataAccess,
        ListCallerAccessGrants,
        GetAccessGrantsInstanceForPrefix,
        TagResource { arn: String },
        UntagResource { arn: String },
        ListTagsForResource { arn: String },
    }
}

/// The Access Grants service's declaration.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "s3control",
    signing_names: &["s3"],
    protocol: Protocol::RestXmlWrapped,
    event_source: "s3.amazonaws.com",
    routing: Routing::RestXml {
        prefix: PATH_PREFIX,
    },
};

/// Quotas per instance (AWS: 1,000 locations, 100,000 grants; configurable higher).
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    pub locations: i64,
    pub grants: i64,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            locations: 1000,
            grants: 100_000,
        }
    }
}

/// Everything the service is built from (the composition root fills it from the kernel).
#[derive(Debug, Clone)]
pub struct AccessGrantsService {
    store: Arc<dyn AccessGrantsStore>,
    identity: Arc<dyn IdentityCenterStore>,
    grants: Arc<GrantView>,
    directory: Arc<DirectoryView>,
    authz: Authorizer,
    ring: Arc<KeyRingView>,
    deployment: Deployment,
    quotas: Quotas,
}

type R<T> = Result<T, AgError>;

impl AccessGrantsService {
    pub fn new(
        store: Arc<dyn AccessGrantsStore>,
        identity: Arc<dyn IdentityCenterStore>,
        grants: Arc<GrantView>,
        directory: Arc<DirectoryView>,
        authz: Authorizer,
        ring: Arc<KeyRingView>,
        deployment: Deployment,
    ) -> AccessGrantsService {
        AccessGrantsService {
            store,
            identity,
            grants,
            directory,
            authz,
            ring,
            deployment,
            quotas: Quotas::default(),
        }
    }

    pub fn with_quotas(mut self, quotas: Quotas) -> AccessGrantsService {
        self.quotas = quotas;
        self
    }

    fn instance_arn(&self, account: &str) -> String {
        format!(
            "arn:{}:s3:{}:{account}:access-grants/default",
            self.deployment.partition, self.deployment.region
        )
    }

    fn location_arn(&self, account: &str, id: &str) -> String {
        format!("{}/location/{id}", self.instance_arn(account))
    }

    fn grant_arn(&self, account: &str, id: &str) -> String {
        format!("{}/grant/{id}", self.instance_arn(account))
    }

    /// May `caller` perform `action` on `resource` of the instance in `account`? Across
    /// accounts the instance's resource policy must allow it too.
    fn authorize(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        snap: &AccessGrants,
        account: &str,
        action: &str,
        resource: &str,
    ) -> R<()> {
        let policy = snap.instance(account).and_then(|i| i.policy.as_ref());
        self.authz
            .check(
                caller,
                meta,
                Access {
                    action,
                    resource,
                    resource_account: account,
                    resource_policy: policy,
                    extra: ContextKeys::new(),
                },
            )
            .map_err(|d| AgError::Common(CommonError::AccessDenied(d.message)))
    }

    /// The operation a method and path (after [`PATH_PREFIX`]) denote, with the resource
    /// (id or ARN) the path names.
    pub fn route(method: &http::Method, path: &str) -> Option<AgOp> {
        use http::Method as M;
        let label = |p: &str| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        };
        let rest = path.strip_prefix(PATH_PREFIX)?;
        if let Some(arn) = rest.strip_prefix("tags/") {
            let arn = label(arn)?;
            return match *method {
                M::POST => Some(AgOp::TagResource { arn }),
                M::DELETE => Some(AgOp::UntagResource { arn }),
                M::GET => Some(AgOp::ListTagsForResource { arn }),
                _ => None,
            };
        }
        let rest = rest
            .strip_prefix("accessgrantsinstance")
            .or_else(|| (rest == "accessgrantsinstances").then_some("s"))?;
        Some(match (method, rest) {
            (&M::POST, "") => AgOp::CreateAccessGrantsInstance,
            (&M::GET, "") => AgOp::GetAccessGrantsInstance,
            (&M::DELETE, "") => AgOp::DeleteAccessGrantsInstance,
            (&M::GET, "s") => AgOp::ListAccessGrantsInstances,
            (&M::POST, "/identitycenter") => AgOp::AssociateAccessGrantsIdentityCenter,
            (&M::DELETE, "/identitycenter") => AgOp::DissociateAccessGrantsIdentityCenter,
            (&M::PUT, "/resourcepolicy") => AgOp::PutAccessGrantsInstanceResourcePolicy,
            (&M::GET, "/resourcepolicy") => AgOp::GetAccessGrantsInstanceResourcePolicy,
            (&M::DELETE, "/resourcepolicy") => AgOp::DeleteAccessGrantsInstanceResourcePolicy,
            (&M::POST, "/location") => AgOp::CreateAccessGrantsLocation,
            (&M::GET, "/locations") => AgOp::ListAccessGrantsLocations,
            (&M::POST, "/grant") => AgOp::CreateAccessGrant,
            (&M::GET, "/grants") => AgOp::ListAccessGrants,
            (&M::GET, "/dataaccess") => AgOp::GetDataAccess,
            (&M::GET, "/caller/grants") => AgOp::ListCallerAccessGrants,
            (&M::GET, "/prefix") => AgOp::GetAccessGrantsInstanceForPrefix,
            (m, r) => {
                if let Some(id) = r.strip_prefix("/location/").filter(|i| !i.contains('/')) {
                    let id = label(id)?;
                    return match *m {
                        M::GET => Some(AgOp::GetAccessGrantsLocation { id }),
                        M::PUT => Some(AgOp::UpdateAccessGrantsLocation { id }),
                        M::DELETE => Some(AgOp::DeleteAccessGrantsLocation { id }),
                        _ => None,
                    };
                }
                let id = label(r.strip_prefix("/grant/").filter(|i| !i.contains('/'))?)?;
                return match *m {
                    M::GET => Some(AgOp::GetAccessGrant { id }),
                    M::DELETE => Some(AgOp::DeleteAccessGrant { id }),
                    _ => None,
                };
            }
        })
    }
}

/// One request, decoded: the account, the query parameters, the body.
pub(crate) struct Req<'a> {
    pub account: String,
    pub query: Vec<(String, String)>,
    pub body: &'a [u8],
    pub caller: &'a Caller,
    pub meta: &'a RequestMeta,
}

impl Req<'_> {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The XML body, whose root must be `root`.
    pub fn xml(&self, root: &str) -> R<Element> {
        let text = std::str::from_utf8(self.body)
            .map_err(|_| AgError::MalformedXml("The request body is not UTF-8.".into()))?;
        let e = tessera_wire::xml::parse(text).map_err(|e| AgError::MalformedXml(e.0))?;
        if e.name != root {
            return Err(AgError::MalformedXml(format!(
                "The XML you provided was not well-formed or did not validate against our published schema: expected the root element {root}"
            )));
        }
        Ok(e)
    }
}

/// Tags of a `<Tags><Tag><Key/><Value/></Tag></Tags>` list.
pub(crate) fn parse_tags(e: Option<&Element>) -> R<Vec<(String, String)>> {
    let Some(e) = e else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for t in e.children_named("Tag") {
        let key = t
            .child_text("Key")
            .ok_or_else(|| AgError::InvalidTag("Every Tag needs a Key".into()))?;
        out.push((
            key.to_owned(),
            t.child_text("Value").unwrap_or("").to_owned(),
        ));
    }
    validate::tags(&out)?;
    Ok(out)
}

/// A restXml document rooted at `root`.
pub(crate) fn document(root: &str, f: impl FnOnce(&mut Writer)) -> String {
    let mut w = Writer::with_declaration();
    w.open(root);
    f(&mut w);
    w.close(root);
    w.finish()
}

pub(crate) fn write_tags(w: &mut Writer, tags: &[(String, String)]) {
    w.open("Tags");
    for (k, v) in tags {
        w.open("Tag");
        w.elem("Key", k);
        w.elem("Value", v);
        w.close("Tag");
    }
    w.close("Tags");
}

#[async_trait]
impl Service for AccessGrantsService {
    type Op = AgOp;
    type Error = AgError;

    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    fn rest_operation(&self, method: &http::Method, path: &str) -> Option<AgOp> {
        AccessGrantsService::route(method, path)
    }

    fn check(&self, parts: &http::request::Parts) -> R<()> {
        request_account(parts).map(|_| ())
    }

    async fn call(&self, op: AgOp, ctx: &Ctx<'_>) -> R<Reply> {
        let caller = ctx
            .caller()
            .ok_or_else(|| AgError::Common(CommonError::AccessDenied("Access Denied".into())))?;
        let parts = ctx.input.parts;
        let account = request_account(parts)?;
        let query = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let req = Req {
            account,
            query,
            body: ctx.input.body,
            caller,
            meta: ctx.meta,
        };
        self.run(op, &req).await
    }

    fn to_aws(&self, e: &AgError) -> tessera_wire::AwsError {
        e.to_aws()
    }
}

impl AccessGrantsService {
    async fn run(&self, op: AgOp, r: &Req<'_>) -> R<Reply> {
        use AgOp::*;
        match op {
            CreateAccessGrantsInstance => self.create_instance(r).await,
            GetAccessGrantsInstance => self.get_instance(r, false).await,
            ListAccessGrantsInstances => self.get_instance(r, true).await,
            DeleteAccessGrantsInstance => self.delete_instance(r).await,
            AssociateAccessGrantsIdentityCenter => self.associate(r).await,
            DissociateAccessGrantsIdentityCenter => self.dissociate(r).await,
            PutAccessGrantsInstanceResourcePolicy => self.put_policy(r).await,
            GetAccessGrantsInstanceResourcePolicy => self.get_policy(r).await,
            DeleteAccessGrantsInstanceResourcePolicy => self.delete_policy(r).await,
            CreateAccessGrantsLocation => self.create_location(r).await,
            GetAccessGrantsLocation { id } => self.get_location(r, &id).await,
            UpdateAccessGrantsLocation { id } => self.update_location(r, &id).await,
            DeleteAccessGrantsLocation { id } => self.delete_location(r, &id).await,
            ListAccessGrantsLocations => self.list_locations(r).await,
            CreateAccessGrant => self.create_grant(r).await,
            GetAccessGrant { id } => self.get_grant(r, &id).await,
            DeleteAccessGrant { id } => self.delete_grant(r, &id).await,
            ListAccessGrants => self.list_grants(r).await,
            GetDataAccess => self.get_data_access(r),
            ListCallerAccessGrants => self.list_caller_grants(r).await,
            GetAccessGrantsInstanceForPrefix => self.instance_for_prefix(r),
            TagResource { arn } => self.tag(r, &arn, true).await,
            UntagResource { arn } => self.tag(r, &arn, false).await,
            ListTagsForResource { arn } => self.list_tags(r, &arn).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn routes() {
        let r = |m: Method, p: &str| AccessGrantsService::route(&m, p);
        assert_eq!(
            r(Method::GET, "/v20180820/accessgrantsinstance/dataaccess"),
            Some(AgOp::GetDataAccess)
        );
        assert_eq!(
            r(Method::GET, "/v20180820/accessgrantsinstances"),
            Some(AgOp::ListAccessGrantsInstances)
        );
        assert_eq!(
            r(
                Method::DELETE,
                "/v20180820/accessgrantsinstance/grant/abc-1"
            ),
            Some(AgOp::DeleteAccessGrant { id: "abc-1".into() })
        );
        assert_eq!(
            r(
                Method::DELETE,
                "/v20180820/tags/arn%3Aaws%3As3%3Aus-east-1%3A111122223333%3Aaccess-grants/default/grant/abc"
            ),
            Some(AgOp::UntagResource {
                arn: "arn:aws:s3:us-east-1:111122223333:access-grants/default/grant/abc".into()
            })
        );
        assert_eq!(
            r(Method::PUT, "/v20180820/accessgrantsinstance/grant/x"),
            None
        );
        assert_eq!(
            r(Method::GET, "/v20180820/accessgrantsinstance/grant/x/y"),
            None
        );
        assert_eq!(r(Method::GET, "/v20180820/accesspoint"), None);
    }
}

/// The account of an s3control request: header `x-amz-account-id` (12 digits, required).
/// s3control clients also prepend `{AccountId}.` to the endpoint host; when the Host carries
/// such a label it must equal the header.
pub fn request_account(parts: &http::request::Parts) -> R<String> {
    let header = parts
        .headers
        .get("x-amz-account-id")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AgError::InvalidRequest(
                "Missing required header for this request: x-amz-account-id".into(),
            )
        })?;
    if tessera_core::AccountId::parse(header).is_err() {
        return Err(AgError::InvalidRequest(format!(
            "Account id {header:?} in x-amz-account-id is not 12 digits"
        )));
    }
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.host())
        .unwrap_or("");
    if let Some((label, _)) = host.split_once('.')
        && label.len() == 12
        && label.bytes().all(|b| b.is_ascii_digit())
        && label != header
    {
        return Err(AgError::InvalidRequest(format!(
            "The account id {label} in the host name does not match the x-amz-account-id header"
        )));
    }
    Ok(header.to_owned())
}

#[cfg(test)]
mod account_tests {
    use super::*;

    #[test]
    fn the_host_label_must_match_the_account_header() {
        let p = |host: &str, acct: Option<&str>| {
            let mut b = http::Request::builder()
                .method("GET")
                .uri("/v20180820/accessgrantsinstance")
                .header("host", host);
            if let Some(a) = acct {
                b = b.header("x-amz-account-id", a);
            }
            request_account(&b.body(()).unwrap().into_parts().0)
        };
        assert_eq!(
            p("111111111111.localhost:4566", Some("111111111111")).unwrap(),
            "111111111111"
        );
        assert_eq!(
            p("127.0.0.1:4566", Some("111111111111")).unwrap(),
            "111111111111"
        );
        assert_eq!(
            p("s3-control.example.com", Some("111111111111")).unwrap(),
            "111111111111"
        );
        let wrong = p("222222222222.localhost", Some("111111111111")).unwrap_err();
        assert!(matches!(wrong, AgError::InvalidRequest(_)), "{wrong:?}");
        assert!(matches!(
            p("localhost", None).unwrap_err(),
            AgError::InvalidRequest(_)
        ));
        assert!(p("localhost", Some("12")).is_err());
    }
}
