//! The protocol adapters: how a routed request for a registered service is authenticated,
//! decoded, dispatched and rendered, one module per kind of [`tessera_service::Routing`].
//! Each reads the service's declaration and names no service.

pub(crate) mod document;
pub(crate) mod json;
pub(crate) mod query;
pub(crate) mod rest_xml;
pub(crate) mod stream;

use crate::app::App;
use crate::auth::{self, AuthRequest};
use crate::pipeline::Handled;
use bytes::Bytes;
use tessera_audit::EventDetails;
use tessera_core::{Caller, RequestMeta};
use tessera_service::{Failed, OpInfo, Registered};
use tessera_sigv4::{Canonicalization, SigV4Error};
use tessera_wire::{AwsError, CommonError};

/// A request routed to a registered service's operation, its body read.
pub(crate) struct Call<'a> {
    pub(crate) app: &'a App,
    pub(crate) service: &'a dyn Registered,
    pub(crate) op: OpInfo,
    pub(crate) parts: &'a http::request::Parts,
    pub(crate) body: Bytes,
    pub(crate) meta: &'a RequestMeta,
}

/// A failed dispatch: the error for the response, and the service's audit details (if any)
/// into `h`.
fn failed(h: &mut Handled, f: Failed) -> AwsError {
    if let Some(d) = f.details {
        h.details = Some(d);
    }
    f.error
}

/// Set `h`'s response and outcome: the success response and its audit details, or the
/// error rendered in the service's protocol.
fn finish(
    h: &mut Handled,
    result: Result<(http::Response<Bytes>, EventDetails), AwsError>,
    protocol: tessera_wire::Protocol,
    request_id: &str,
) {
    match result {
        Ok((resp, details)) => {
            h.response = resp;
            h.details = Some(details);
        }
        Err(e) => {
            h.response = e.render(protocol, request_id);
            h.error = Some(e);
        }
    }
}

/// The request id header the protocol's SDKs read.
fn request_id_header(resp: &mut http::Response<Bytes>, name: &'static str, request_id: &str) {
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(name, v);
    }
}

/// A signed request for `spec`'s service: its caller, or the error its protocol gives for a
/// missing or bad signature.
pub(crate) async fn authenticate_signed(
    app: &App,
    parts: &http::request::Parts,
    body: &[u8],
    parsed_auth: Result<tessera_sigv4::ParsedAuth, SigV4Error>,
    spec: &tessera_service::ServiceSpec,
    meta: &RequestMeta,
) -> Result<Caller, AwsError> {
    let auth = match parsed_auth {
        Ok(a) => a,
        Err(SigV4Error::MissingAuthentication) => {
            return Err(CommonError::MissingAuthenticationToken.to_aws(spec.protocol));
        }
        Err(e) => return Err(auth::sig_error(&e, Canonicalization::Standard)),
    };
    auth::authenticate(
        app,
        &AuthRequest {
            parts,
            payload: tessera_sigv4::Payload::Body(body),
            auth: &auth,
            canon: Canonicalization::Standard,
            services: spec.signing_names,
            now: meta.now,
            protocol: spec.protocol,
        },
    )
    .await
}
