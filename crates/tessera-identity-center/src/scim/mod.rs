//! SCIM 2.0 provisioning (RFC 7643/7644) of an identity store, as IAM Identity Center offers
//! it: `{endpoint}/{identity-store-id}/scim/v2/…` with a bearer token the operator created
//! for that store (`tessera scim-token create`). Users and groups are the identity store's
//! (the identitystore API sees them at once); a user is validated by the same rules as
//! `CreateUser`.
//!
//! Supported: `/Users` and `/Groups` create, get, list (filters `attr eq "v"` joined by at
//! most one `and`; `startIndex`/`count` paging, 100 at most), replace (PUT), PATCH (the RFC
//! shapes and those Entra ID and Okta send: no `path`, value-filter paths such as
//! `emails[type eq "work"].value` and `members[value eq "…"]`, several operations, capitalised
//! op names), delete; `attributes` / `excludedAttributes`; `/ServiceProviderConfig`,
//! `/ResourceTypes`, `/Schemas`. Not supported (as in Identity Center): bulk, sorting, `/Me`,
//! `/.search` (501), passwords. A user's `emails`, `phoneNumbers` and `addresses` hold one
//! entry each. A group's `members` are its memberships; listing them in a group is a
//! Tessera extension (Identity Center answers with an empty list).

mod documents;
mod groups;
mod patch;
mod query;
mod schemas;
#[cfg(test)]
mod tests;
mod users;

use crate::identity_store::writes;
use crate::scim_endpoint::ScimOp;
use documents::{group_to_scim, user_to_scim};
use patch::{operations, patch_user};
use query::{list_response, project, query_pairs};
use schemas::{resource_type, schemas, service_provider_config};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tessera_authz::directory::DirectoryView;
use tessera_crypto::token::token_digest;
use tessera_store::{IdentityCenterStore, StoreError};
use tessera_wire::CommonError;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = tessera_wire::SCIM_ERROR_SCHEMA;
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The `Issuer` of the `ExternalIds` entry SCIM's `externalId` is kept in.
pub const SCIM_ISSUER: &str = "scim";
/// The extension key of the enterprise attributes in the identity store.
const ENTERPRISE_KEY: &str = "aws:identitystore:enterprise";
/// Largest SCIM request body.
pub const MAX_BODY: usize = 256 * 1024;
/// Most operations in one PATCH, and most member changes (Identity Center's limit).
const MAX_OPERATIONS: usize = 100;
const MAX_PAGE: usize = 100;
/// The principal recorded as `CreatedBy` / `UpdatedBy`.
const BY: &str = "SCIM";

/// A SCIM failure: HTTP status, `scimType` and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> ScimError {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        Self::new(400, Some(scim_type), detail)
    }
    fn not_found(detail: impl Into<String>) -> ScimError {
        Self::new(404, None, detail)
    }

    /// The SCIM Error body (RFC 7644 §3.12).
    pub fn body(&self) -> Value {
        let mut v =
            json!({"schemas": [ERROR], "status": self.status.to_string(), "detail": self.detail});
        if let Some(t) = self.scim_type {
            v["scimType"] = json!(t);
        }
        v
    }

    /// The AWS-style error name for audit records.
    pub fn code(&self) -> &'static str {
        match self.status {
            401 => "UnauthorizedException",
            403 => "AccessDeniedException",
            404 => "ResourceNotFoundException",
            409 => "ConflictException",
            413 => "ValidationException",
            405 | 501 => "ValidationException",
            s if s >= 500 => "InternalServerException",
            _ => "ValidationException",
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        ScimError::new(
            500,
            None,
            "The request processing has failed because of an unknown error.",
        )
    }
}

impl From<crate::IdentityCenterError> for ScimError {
    fn from(e: crate::IdentityCenterError) -> Self {
        use crate::IdentityCenterError as E;
        match e {
            E::Common(CommonError::Validation(m)) => ScimError::bad("invalidValue", m),
            E::Conflict(m) | E::Uniqueness(m) => ScimError::new(409, Some("uniqueness"), m),
            E::NotFound { message, .. } => ScimError::not_found(message),
            E::ResourceNotFound(m) => ScimError::not_found(m),
            E::Common(CommonError::AccessDenied(m)) => ScimError::new(403, None, m),
            E::ServiceQuotaExceeded(m) => ScimError::bad("tooMany", m),
            E::Common(CommonError::InternalFailure) => ScimError::new(500, None, "Internal error."),
            E::Common(other) => {
                let e = other.to_aws(tessera_wire::Protocol::Scim);
                ScimError::new(e.status, None, e.message)
            }
        }
    }
}

type R<T> = Result<T, ScimError>;

/// One SCIM request, as the server hands it over.
#[derive(Debug)]
pub struct ScimRequest<'a> {
    /// The operation the method and path denote, with the resource it names.
    pub op: &'a ScimOp,
    pub method: &'a str,
    /// The whole path: `/{tenant}/scim/v2/…`.
    pub path: &'a str,
    pub query: &'a str,
    /// The bearer token, if the request carried one.
    pub bearer: Option<&'a str>,
    pub body: &'a [u8],
    /// Unix seconds.
    pub now: i64,
    /// `http://host:port` of this server, for `meta.location`.
    pub base_url: &'a str,
}

/// What a SCIM request produced.
#[derive(Debug)]
pub struct ScimResponse {
    pub status: u16,
    pub body: Option<Value>,
    pub location: Option<String>,
    /// The identity store, once the token was checked.
    pub tenant: Option<String>,
    pub error: Option<ScimError>,
}

#[derive(Debug, Clone)]
pub struct ScimService {
    store: Arc<dyn IdentityCenterStore>,
    /// The directory view every user and membership write is folded into.
    directory: Arc<DirectoryView>,
    /// `http://host:port` of this server, for `meta.location`.
    pub(crate) base_url: String,
}

fn iso(t: i64) -> String {
    tessera_core::iso8601(t)
}

/// A case-insensitive member of an object.
fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn body_json(body: &[u8]) -> R<Value> {
    if body.len() > MAX_BODY {
        return Err(ScimError::new(
            413,
            Some("tooLarge"),
            format!("The request body exceeds {MAX_BODY} bytes."),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("The body is not valid JSON: {e}")))
}

impl ScimService {
    pub fn new(store: Arc<dyn IdentityCenterStore>, directory: Arc<DirectoryView>) -> ScimService {
        ScimService {
            store,
            directory,
            base_url: String::new(),
        }
    }

    /// The URL clients reach this server at, the base of `meta.location`.
    pub fn with_base_url(mut self, base_url: &str) -> ScimService {
        self.base_url = base_url.trim_end_matches('/').to_owned();
        self
    }

    /// Serve one SCIM request.
    pub async fn handle(&self, r: &ScimRequest<'_>) -> ScimResponse {
        let mut resp = ScimResponse {
            status: 200,
            body: None,
            location: None,
            tenant: None,
            error: None,
        };
        match self.route(r, &mut resp).await {
            Ok(()) => {}
            Err(e) => {
                resp.status = e.status;
                resp.body = Some(e.body());
                resp.location = None;
                resp.error = Some(e);
            }
        }
        resp
    }

    async fn route(&self, r: &ScimRequest<'_>, resp: &mut ScimResponse) -> R<()> {
        let segs: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
        let [tenant, "scim", "v2", ..] = segs.as_slice() else {
            return Err(ScimError::not_found("No such SCIM endpoint."));
        };
        // The token must be a live token of this tenant's identity store.
        let unauthorized =
            || ScimError::new(401, None, "The bearer token is not valid for this tenant.");
        let token = r.bearer.ok_or_else(unauthorized)?;
        if token.len() > 512 {
            return Err(unauthorized());
        }
        let t = self
            .store
            .scim_token_by_hash(&token_digest(token))
            .await?
            .filter(|t| t.identity_store_id == *tenant && t.expires_at > r.now)
            .ok_or_else(unauthorized)?;
        let store = t.identity_store_id;
        resp.tenant = Some(store.clone());
        let base = format!("{}/{store}/scim/v2", r.base_url.trim_end_matches('/'));
        let q = query_pairs(r.query);
        let m = r.method;
        let not_allowed = || ScimError::new(405, None, "Method not allowed.");
        match r.op {
            ScimOp::GetServiceProviderConfig => {
                if m != "GET" {
                    return Err(not_allowed());
                }
                resp.body = Some(service_provider_config(&base));
            }
            ScimOp::ListResourceTypes { name } => {
                if m != "GET" {
                    return Err(not_allowed());
                }
                resp.body = Some(match name.as_deref() {
                    None => {
                        let all = vec![resource_type("User", &base), resource_type("Group", &base)];
                        list_response(all, 1, MAX_PAGE)
                    }
                    Some(name) if ["User", "Group"].contains(&name) => resource_type(name, &base),
                    Some(_) => return Err(ScimError::not_found("No such resource type.")),
                });
            }
            ScimOp::ListSchemas { id } => {
                if m != "GET" {
                    return Err(not_allowed());
                }
                let all = schemas(&base);
                resp.body = Some(match id {
                    None => list_response(all, 1, MAX_PAGE),
                    Some(urn) => all
                        .into_iter()
                        .find(|s| s["id"] == *urn)
                        .ok_or_else(|| ScimError::not_found("No such schema."))?,
                });
            }
            ScimOp::Search => {
                return Err(ScimError::new(501, None, "POST /.search is not supported."));
            }
            ScimOp::ListUsers => {
                resp.body = Some(self.list_users(&store, &q, &base).await?);
            }
            ScimOp::CreateUser => {
                let doc = body_json(r.body)?;
                let u = self.create_user(&store, &doc, r.now).await?;
                resp.status = 201;
                resp.location = Some(format!("{base}/Users/{}", u.user_id));
                resp.body = Some(user_to_scim(&u, &base));
            }
            ScimOp::GetUser { id } => {
                let u = self.user(&store, id).await?;
                resp.body = Some(project(user_to_scim(&u, &base), &q));
            }
            ScimOp::PutUser { id } => {
                let doc = body_json(r.body)?;
                let u = self.user(&store, id).await?;
                let u = self.replace_user(u, &doc, r.now).await?;
                resp.body = Some(user_to_scim(&u, &base));
            }
            ScimOp::PatchUser { id } => {
                let doc = body_json(r.body)?;
                let ops = operations(&doc)?;
                let u = self.user(&store, id).await?;
                let mut scim = user_to_scim(&u, &base);
                for (op, path, value) in &ops {
                    patch_user(&mut scim, op, path.as_deref(), value.as_ref())?;
                }
                let u = self.replace_user(u, &scim, r.now).await?;
                resp.body = Some(user_to_scim(&u, &base));
            }
            ScimOp::DeleteUser { id } => {
                if !writes::delete_user(&*self.store, &self.directory, &store, id).await? {
                    return Err(ScimError::not_found(format!("User {id} does not exist.")));
                }
                resp.status = 204;
            }
            ScimOp::ListGroups => {
                resp.body = Some(self.list_groups(&store, &q, &base).await?);
            }
            ScimOp::CreateGroup => {
                let doc = body_json(r.body)?;
                let (g, members) = self.create_group(&store, &doc, r.now).await?;
                resp.status = 201;
                resp.location = Some(format!("{base}/Groups/{}", g.group_id));
                resp.body = Some(group_to_scim(&g, &members, &base));
            }
            ScimOp::GetGroup { id } => {
                let g = self.group(&store, id).await?;
                let members = self.store.group_memberships(&store, id).await?;
                resp.body = Some(project(group_to_scim(&g, &members, &base), &q));
            }
            ScimOp::PutGroup { id } => {
                let doc = body_json(r.body)?;
                let g = self.group(&store, id).await?;
                let (g, members) = self.replace_group(g, &doc, r.now).await?;
                resp.body = Some(group_to_scim(&g, &members, &base));
            }
            ScimOp::PatchGroup { id } => {
                let doc = body_json(r.body)?;
                let ops = operations(&doc)?;
                let g = self.group(&store, id).await?;
                let (g, members) = self.patch_group(g, &ops, r.now).await?;
                resp.body = Some(group_to_scim(&g, &members, &base));
            }
            ScimOp::DeleteGroup { id } => {
                if !writes::delete_group(&*self.store, &self.directory, &store, id).await? {
                    return Err(ScimError::not_found(format!("Group {id} does not exist.")));
                }
                resp.status = 204;
            }
            ScimOp::Unknown { resource: true } => return Err(not_allowed()),
            ScimOp::Unknown { resource: false } => {
                return Err(ScimError::not_found("No such SCIM resource."));
            }
        }
        Ok(())
    }
}
