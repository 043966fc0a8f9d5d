//! awsQuery (`Action=…` at `/`): pick the service (credential scope, else action), decode,
//! check the version, authenticate unless the operation is unsigned, dispatch, wrap the
//! result in `<{Action}Response>`.

use super::{authenticate_signed, failed};
use crate::app::App;
use crate::auth;
use crate::pipeline::{Handled, Target, internal_failure, unrouted};
use bytes::Bytes;
use tessera_audit::EventDetails;
use tessera_core::RequestMeta;
use tessera_service::{Body, Ctx, Input, Registered, Routing};
use tessera_sigv4::SigV4Error;
use tessera_wire::query::QueryParams;
use tessera_wire::{AwsError, CommonError, Protocol};

/// What an awsQuery request brings, once its body is read.
struct QueryCall<'a> {
    app: &'a App,
    service: &'a dyn Registered,
    parts: &'a http::request::Parts,
    body: &'a Bytes,
    meta: &'a RequestMeta,
    action: &'a str,
}

/// An awsQuery request: pick the service (credential scope, else action), then the generic
/// awsQuery steps — decode, version, authenticate (unless the operation is unsigned),
/// dispatch, wrap the result.
pub(crate) async fn serve(
    app: &App,
    parts: &http::request::Parts,
    body: Bytes,
    meta: &RequestMeta,
) -> Handled {
    let raw_query = parts.uri.query().unwrap_or("");
    let parsed_auth = auth::parse(parts);
    let params = QueryParams::parse(&[raw_query.as_bytes(), &body]);
    let action = params
        .as_ref()
        .ok()
        .and_then(|p| p.get("Action"))
        .unwrap_or("")
        .to_owned();
    let scope = parsed_auth.as_ref().ok().map(|a| a.service.as_str());
    let Some(service) = app.services.query_service(scope, &action) else {
        let e = CommonError::UnknownOperation(format!("Could not find operation {action}"));
        return unrouted(Protocol::RestXml).fail(
            action,
            e.to_aws(Protocol::RestXml),
            &meta.request_id,
        );
    };
    let t = Target::of(service.spec());
    let Protocol::Query { namespace } = t.protocol else {
        unreachable!("awsQuery services speak awsQuery");
    };
    let mut h = Handled {
        access_key_id: parsed_auth.as_ref().ok().map(|a| a.access_key_id.clone()),
        ..t.handled(if action.is_empty() {
            "Unknown"
        } else {
            action.as_str()
        })
    };
    let call = QueryCall {
        app,
        service: service.as_ref(),
        parts,
        body: &body,
        meta,
        action: &action,
    };
    match query_call(&call, params, parsed_auth, &mut h).await {
        Ok((xml, details)) => {
            h.response = tessera_wire::query_response(namespace, &action, &xml, &meta.request_id);
            h.details = Some(details);
        }
        Err(e) => {
            h.response = e.render(t.protocol, &meta.request_id);
            h.error = Some(e);
        }
    }
    h
}

async fn query_call(
    c: &QueryCall<'_>,
    params: Result<QueryParams, tessera_wire::query::QueryError>,
    parsed_auth: Result<tessera_sigv4::ParsedAuth, SigV4Error>,
    h: &mut Handled,
) -> Result<(String, EventDetails), AwsError> {
    let spec = c.service.spec();
    let protocol = spec.protocol;
    let common = |e: CommonError| e.to_aws(protocol);
    let params = params.map_err(|e| common(e.into()))?;
    if c.action.is_empty() {
        return Err(common(CommonError::MissingAction));
    }
    let Routing::Query { version } = spec.routing else {
        unreachable!("awsQuery services route by Action");
    };
    let check_version = || match params.get("Version") {
        Some(v) if v != version => Err(common(CommonError::UnknownOperation(format!(
            "Could not find operation {} for version {v}",
            c.action
        )))),
        _ => Ok(()),
    };
    let op = c.service.operation(c.action);
    let input = Input {
        parts: c.parts,
        body: c.body,
        params: Some(&params),
        json: None,
        bearer: None,
    };
    // Calls that authenticate with a token in the request (AssumeRoleWithWebIdentity) are
    // not signed; a signature, if a client sends one anyway, is not needed.
    if let Some(op) = op
        && !op.signed
    {
        check_version()?;
        let ctx = Ctx {
            caller: None,
            meta: c.meta,
            input,
        };
        let r = c.service.dispatch(op.name, &ctx).await;
        return query_reply(r.map_err(|f| failed(h, f))?);
    }
    let caller = authenticate_signed(c.app, c.parts, c.body, parsed_auth, spec, c.meta).await?;
    h.caller = Some(caller.clone());
    let Some(op) = op else {
        return Err(common(CommonError::UnknownOperation(format!(
            "Could not find operation {} for version {version}",
            c.action
        ))));
    };
    check_version()?;
    let ctx = Ctx {
        caller: Some(&caller),
        meta: c.meta,
        input,
    };
    let r = c.service.dispatch(op.name, &ctx).await;
    query_reply(r.map_err(|f| failed(h, f))?)
}

fn query_reply(r: tessera_service::Reply) -> Result<(String, EventDetails), AwsError> {
    match r.body {
        Body::QueryResult(xml) => Ok((xml, r.details)),
        _ => {
            tracing::error!("an awsQuery service returned another protocol's body");
            Err(internal_failure(Protocol::RestXml))
        }
    }
}
