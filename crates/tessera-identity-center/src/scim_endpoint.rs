//! SCIM as a registered service: how the server reaches it (a bearer token, or an unsigned
//! request for `/{identity-store-id}/scim/v2/…`), its operations named from method and path,
//! and its answers and errors as SCIM documents.

use crate::scim::{ScimError, ScimRequest, ScimResponse, ScimService};
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{Value, json};
use tessera_audit::EventDetails;
use tessera_service::{Body, Ctx, Reply, Routing, Service, ServiceSpec};
use tessera_wire::{AwsError, Protocol};

tessera_service::operations! {
    /// SCIM operations, as audit records and metrics name them, with the resource the path
    /// names. SCIM requests carry a bearer token, which the service checks itself.
    pub enum ScimOp {
        GetServiceProviderConfig [unsigned],
        /// `name`: what follows `/ResourceTypes/` (none: the list).
        ListResourceTypes { name: Option<String> } [unsigned],
        /// `id`: what follows `/Schemas/` (none: the list).
        ListSchemas { id: Option<String> } [unsigned],
        Search [unsigned],
        ListUsers [unsigned],
        CreateUser [unsigned],
        GetUser { id: String } [unsigned],
        PutUser { id: String } [unsigned],
        PatchUser { id: String } [unsigned],
        DeleteUser { id: String } [unsigned],
        ListGroups [unsigned],
        CreateGroup [unsigned],
        GetGroup { id: String } [unsigned],
        PutGroup { id: String } [unsigned],
        PatchGroup { id: String } [unsigned],
        DeleteGroup { id: String } [unsigned],
        /// No SCIM operation: `resource` when the path names users or groups (the method
        /// is not allowed), else the path names nothing.
        Unknown { resource: bool } [unsigned],
    }
}

/// Whether a path is a SCIM path of an identity store: `/d-xxxxxxxxxx/scim/v2/…`.
fn is_scim_path(path: &str) -> bool {
    let mut segs = path.trim_start_matches('/').split('/');
    let tenant = segs.next().unwrap_or("");
    tenant.len() == 12
        && tenant.starts_with("d-")
        && tenant[2..].bytes().all(|b| b.is_ascii_hexdigit())
        && segs.next() == Some("scim")
        && segs.next() == Some("v2")
}

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "scim",
    signing_names: &[],
    protocol: Protocol::Scim,
    event_source: "identitystore-scim.amazonaws.com",
    routing: Routing::Bearer {
        claims: is_scim_path,
    },
};

/// The operation a SCIM method and path denote.
pub(crate) fn operation(method: &str, path: &str) -> ScimOp {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let [_, "scim", "v2", rest @ ..] = segs.as_slice() else {
        return ScimOp::Unknown { resource: false };
    };
    let rest: Vec<&str> = rest.iter().copied().filter(|s| !s.is_empty()).collect();
    let tail = |t: &[&str]| (!t.is_empty()).then(|| t.join("/"));
    let id = |id: &str| id.to_owned();
    use ScimOp::*;
    match (method, rest.as_slice()) {
        (_, ["ServiceProviderConfig"]) => GetServiceProviderConfig,
        (_, ["ResourceTypes", t @ ..]) => ListResourceTypes { name: tail(t) },
        (_, ["Schemas", t @ ..]) => ListSchemas { id: tail(t) },
        (_, [".search"]) | (_, [_, ".search"]) => Search,
        ("GET", ["Users"]) => ListUsers,
        ("POST", ["Users"]) => CreateUser,
        ("GET", ["Users", i]) => GetUser { id: id(i) },
        ("PUT", ["Users", i]) => PutUser { id: id(i) },
        ("PATCH", ["Users", i]) => PatchUser { id: id(i) },
        ("DELETE", ["Users", i]) => DeleteUser { id: id(i) },
        ("GET", ["Groups"]) => ListGroups,
        ("POST", ["Groups"]) => CreateGroup,
        ("GET", ["Groups", i]) => GetGroup { id: id(i) },
        ("PUT", ["Groups", i]) => PutGroup { id: id(i) },
        ("PATCH", ["Groups", i]) => PatchGroup { id: id(i) },
        ("DELETE", ["Groups", i]) => DeleteGroup { id: id(i) },
        (_, ["Users"] | ["Users", _] | ["Groups"] | ["Groups", _]) => Unknown { resource: true },
        _ => Unknown { resource: false },
    }
}

/// A failed SCIM request, with what its audit record says.
#[derive(Debug, thiserror::Error)]
#[error("{}", error.detail)]
pub struct ScimFailure {
    error: ScimError,
    details: EventDetails,
}

/// As Identity Center logs SCIM calls: the tenant, and the body hidden (personal data).
fn details(out: &ScimResponse, method: &http::Method, body: &[u8]) -> EventDetails {
    EventDetails {
        user_identity: Some(
            json!({"type": "WebIdentityUser", "principalId": out.tenant, "identityProvider": "SCIM"}),
        ),
        request_parameters: json!({"tenantId": out.tenant, "httpMethod": method.as_str(),
            "httpBody": if body.is_empty() { Value::Null } else { json!(tessera_audit::HIDDEN) }}),
        response_elements: Value::Null,
        resources: Vec::new(),
        read_only: method == http::Method::GET,
        additional_event_data: Value::Null,
    }
}

#[async_trait]
impl Service for ScimService {
    type Op = ScimOp;
    type Error = ScimFailure;

    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    fn rest_operation(&self, method: &http::Method, path: &str) -> Option<ScimOp> {
        Some(operation(method.as_str(), path))
    }

    async fn call(&self, op: ScimOp, ctx: &Ctx<'_>) -> Result<Reply, ScimFailure> {
        let parts = ctx.input.parts;
        let body = ctx.input.body;
        let r = ScimRequest {
            op: &op,
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            bearer: ctx.input.bearer,
            body,
            now: ctx.meta.now.timestamp(),
            base_url: &self.base_url,
        };
        let mut out = self.handle(&r).await;
        let details = details(&out, &parts.method, body);
        if let Some(error) = out.error.take() {
            return Err(ScimFailure { error, details });
        }
        let mut resp = http::Response::new(match &out.body {
            Some(v) => Bytes::from(v.to_string()),
            None => Bytes::new(),
        });
        *resp.status_mut() = http::StatusCode::from_u16(out.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let hd = resp.headers_mut();
        if out.body.is_some() {
            hd.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/scim+json"),
            );
        }
        if let Some(l) = out
            .location
            .as_deref()
            .and_then(|l| http::HeaderValue::from_str(l).ok())
        {
            hd.insert(http::header::LOCATION, l);
        }
        Ok(Reply {
            body: Body::Http(resp),
            details,
        })
    }

    fn to_aws(&self, e: &ScimFailure) -> AwsError {
        let e = &e.error;
        let out = AwsError::new(e.status, e.code(), e.detail.clone());
        match e.scim_type {
            Some(t) => out.with_field("scimType", t),
            None => out,
        }
    }

    fn failure_details(&self, e: &ScimFailure) -> Option<EventDetails> {
        Some(e.details.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_operations() {
        assert!(is_scim_path("/d-0123456789/scim/v2/Users"));
        assert!(!is_scim_path("/bucket/scim/v2/Users"));
        assert!(!is_scim_path("/d-012345678z/scim/v2/Users"));
        assert_eq!(
            operation("PATCH", "/d-0123456789/scim/v2/Groups/g1"),
            ScimOp::PatchGroup { id: "g1".into() }
        );
        assert_eq!(
            operation("GET", "/d-0123456789/scim/v2/Users/"),
            ScimOp::ListUsers
        );
        assert_eq!(
            operation("POST", "/d-0123456789/scim/v2/Users/.search"),
            ScimOp::Search
        );
        assert_eq!(
            operation("GET", "/d-0123456789/scim/v2/ResourceTypes/User"),
            ScimOp::ListResourceTypes {
                name: Some("User".into())
            }
        );
        assert_eq!(
            operation("PUT", "/d-0123456789/scim/v2/Users"),
            ScimOp::Unknown { resource: true }
        );
        assert_eq!(
            operation("GET", "/elsewhere"),
            ScimOp::Unknown { resource: false }
        );
    }
}
