//! The request pipeline: limits → route (by the registry's declarations) → read body →
//! the protocol adapter (authenticate once, dispatch, render) → audit, metrics and a log line
//! carrying the request id. Nothing here names a service or an operation.

use crate::app::App;
use crate::auth;
use crate::protocols;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tessera_audit::EventDetails;
use tessera_core::{Caller, RequestMeta};
use tessera_service::{Routed, Routing, ServiceSpec};
use tessera_wire::{AwsError, CommonError, Protocol};
use tracing::Instrument;

/// A response body: a buffered one, or a streaming service's stream.
pub type ResponseBody = tessera_service::StreamBody;

/// What the pipeline learnt about a request, for audit, metrics and the log line.
pub(crate) struct Handled {
    /// The service's name in metrics and logs.
    pub(crate) service: &'static str,
    pub(crate) event_source: &'static str,
    pub(crate) action: String,
    pub(crate) caller: Option<Caller>,
    pub(crate) access_key_id: Option<String>,
    pub(crate) details: Option<EventDetails>,
    pub(crate) error: Option<AwsError>,
    pub(crate) response: Response<Bytes>,
    /// A streamed body that replaces `response`'s (a streaming service's).
    pub(crate) stream: Option<ResponseBody>,
    /// Data events (object reads and writes) are not management events.
    pub(crate) data_event: bool,
}

/// Who a request is for before (or without) a registered service: its metrics name, audit
/// source and error protocol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub(crate) service: &'static str,
    pub(crate) event_source: &'static str,
    pub(crate) protocol: Protocol,
}

impl Target {
    pub(crate) fn of(spec: &ServiceSpec) -> Target {
        Target {
            service: spec.name,
            event_source: spec.event_source,
            protocol: spec.protocol,
        }
    }

    /// A request for this target, before anything is known of its outcome.
    pub(crate) fn handled(self, action: impl Into<String>) -> Handled {
        Handled {
            service: self.service,
            event_source: self.event_source,
            action: action.into(),
            caller: None,
            access_key_id: None,
            details: None,
            error: None,
            response: Response::new(Bytes::new()),
            stream: None,
            data_event: false,
        }
    }

    pub(crate) fn fail(self, action: impl Into<String>, e: AwsError, request_id: &str) -> Handled {
        Handled {
            response: e.render(self.protocol, request_id),
            error: Some(e),
            ..self.handled(action)
        }
    }
}

pub(crate) fn internal_failure(protocol: Protocol) -> AwsError {
    CommonError::InternalFailure.to_aws(protocol)
}

/// A request id: a UUID, time-ordered (version 7) so that the audit trail's request-id index
/// grows at its end instead of at random places (a random id dirtied one index page per
/// record in every commit: a third more per append, and worse as the index grows).
fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Serve one HTTP request.
pub async fn handle<B>(app: Arc<App>, req: Request<B>, peer: SocketAddr) -> Response<ResponseBody>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let request_id = new_request_id();
    let span = tracing::info_span!("request", request_id = %request_id);
    async move {
        let started = Instant::now();
        let meta = RequestMeta {
            request_id: request_id.clone(),
            // Canonical form: an IPv4 client of a dual-stack listener (`::ffff:a.b.c.d`) is
            // `a.b.c.d` for `aws:SourceIp` and in the audit record.
            source_ip: peer.ip().to_canonical(),
            user_agent: req
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .chars()
                .take(256)
                .collect(),
            now: chrono::Utc::now(),
            secure_transport: false,
            decisions: Default::default(),
        };
        let (parts, body) = req.into_parts();
        let parts = Arc::new(parts);
        let route = Arc::new(app.services.route(&parts));
        // Streamed bodies may take long to upload or download; one that falls behind its pace
        // is cut off instead (see `protocols::stream`).
        let deadline = if matches!(*route, Routed::Fallback(_)) {
            protocols::stream::STREAM_DEADLINE
        } else {
            app.limits.request_timeout()
        };
        // The work runs as its own task so that the deadline, or a client that goes away
        // (hyper then drops this future), never cancels it half-way (a store write without
        // its change-counter bump, say); the task submits the request's one audit record
        // when it finishes, whatever the client was told.
        let work = {
            let (app, meta, parts, route) =
                (app.clone(), meta.clone(), parts.clone(), route.clone());
            tokio::spawn(
                async move {
                    let h = pipeline(&app, &parts, body, &route, &meta).await;
                    if record_audit(&app, audit_record(&app, &meta, &h)).await
                        || app.audit_policy.on_failure == tessera_audit::AuditFailure::FailOpen
                    {
                        h
                    } else {
                        // Fail-closed: no result leaves without its record in the trail.
                        tracing::error!("request answered InternalFailure: its audit record could not be written");
                        let t = route_target(&app, &route, &parts);
                        t.fail(h.action, internal_failure(t.protocol), &meta.request_id)
                    }
                }
                .in_current_span(),
            )
        };
        // Only for a request that fails here (panic, deadline): its service and error protocol.
        let failed = |e: CommonError| {
            let t = route_target(&app, &route, &parts);
            t.fail("Unknown", e.to_aws(t.protocol), &meta.request_id)
        };
        let mut h = match tokio::time::timeout(deadline, work).await {
            Ok(Ok(h)) => h,
            Ok(Err(join)) => {
                // A panic in a handler: the task wrote no record, so this is the one.
                tracing::error!(error = %join, "request handler panicked");
                let h = failed(CommonError::InternalFailure);
                record_audit(&app, audit_record(&app, &meta, &h)).await;
                h
            }
            Err(_) => {
                tracing::warn!(
                    deadline_secs = deadline.as_secs(),
                    "request not handled within its deadline; it completes in the background"
                );
                failed(CommonError::ServiceUnavailable)
            }
        };
        if h.error
            .as_ref()
            .is_some_and(|e| e.code == "RequestTimeout" || e.code == "ServiceUnavailable")
        {
            // Part of the request may still be unread: do not reuse the connection.
            h.response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        let status = h.response.status().as_u16();
        app.metrics
            .observe(h.service, &h.action, status, started.elapsed());
        tracing::debug!(
            method = %parts.method,
            path = %parts.uri.path(),
            service = h.service,
            action = %h.action,
            status,
            error_code = h.error.as_ref().map(|e| e.code.as_str()).unwrap_or(""),
            access_key_id = h.access_key_id.as_deref().unwrap_or(""),
            latency_us = started.elapsed().as_micros() as u64,
            "handled"
        );
        let (parts, body) = h.response.into_parts();
        let body = match h.stream.take() {
            Some(s) => s,
            None => Full::new(body).map_err(|n| match n {}).boxed_unsync(),
        };
        Response::from_parts(parts, body)
    }
    .instrument(span)
    .await
}

fn header_bytes(headers: &http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}

/// The target of a request no registered service claims (an unknown `X-Amz-Target`, an
/// awsQuery request with no awsQuery service): answered in `protocol`'s vocabulary.
pub(crate) fn unrouted(protocol: Protocol) -> Target {
    Target {
        service: "unrouted",
        event_source: "tessera.unrouted",
        protocol,
    }
}

/// The service a request is for, as far as it can be told without reading its body: for
/// awsQuery, from the credential scope or the `Action` in the query string.
fn route_target(app: &App, route: &Routed, parts: &http::request::Parts) -> Target {
    match route {
        Routed::Service { service, .. } => Target::of(service.spec()),
        Routed::Query => {
            let scope = auth::parse(parts).ok().map(|a| a.service);
            let action = parts
                .uri
                .query()
                .and_then(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "Action")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_default();
            match app.services.query_service(scope.as_deref(), &action) {
                Some(s) => Target::of(s.spec()),
                None => unrouted(Protocol::RestXml),
            }
        }
        Routed::UnknownTarget { .. } => unrouted(Protocol::Json11),
        Routed::Fallback(service) => Target::of(service.spec()),
        Routed::Unclaimed => unrouted(Protocol::RestXml),
    }
}

async fn pipeline<B>(
    app: &App,
    parts: &http::request::Parts,
    body: B,
    route: &Routed,
    meta: &RequestMeta,
) -> Handled
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let rid = &meta.request_id;
    if header_bytes(&parts.headers) > app.limits.max_header_bytes {
        let t = route_target(app, route, parts);
        let e = CommonError::HeadersTooLarge(app.limits.max_header_bytes).to_aws(t.protocol);
        return t.fail("Unknown", e, rid);
    }
    let read = |body: B| read_body(body, app.limits.max_body_bytes, app.limits.body_pace());
    match route {
        Routed::Service { service, op, name } => {
            let t = Target::of(service.spec());
            if let Err(e) = service.check(parts) {
                return t.fail(name.as_str(), e, rid);
            }
            let Some(op) = op else {
                let e = CommonError::UnknownOperation(if name == "Unknown" {
                    format!(
                        "The operation {} {} is not supported by this server.",
                        parts.method,
                        parts.uri.path()
                    )
                } else {
                    format!("The operation {name} is not supported.")
                })
                .to_aws(t.protocol);
                return t.fail(name.as_str(), e, rid);
            };
            let body = match read(body).await {
                Ok(b) => b,
                Err(e) => return t.fail(op.name, e.to_aws(t.protocol), rid),
            };
            let call = protocols::Call {
                app,
                service: service.as_ref(),
                op: *op,
                parts,
                body,
                meta,
            };
            match service.spec().routing {
                Routing::JsonTarget { .. } | Routing::RestJson { .. } => {
                    protocols::json::serve(call).await
                }
                Routing::RestXml { .. } => protocols::rest_xml::serve(call).await,
                Routing::Bearer { .. } | Routing::Unsigned { .. } => {
                    protocols::document::serve(call).await
                }
                Routing::Query { .. } | Routing::Fallback => {
                    unreachable!("awsQuery and the fallback route as Routed::Query and ::Fallback")
                }
            }
        }
        Routed::Query => {
            let body = match read(body).await {
                Ok(b) => b,
                Err(e) => {
                    let t = route_target(app, route, parts);
                    return t.fail("Unknown", e.to_aws(t.protocol), rid);
                }
            };
            protocols::query::serve(app, parts, body, meta).await
        }
        Routed::UnknownTarget { target } => {
            let op = target.rsplit('.').next().unwrap_or("").to_owned();
            let e = CommonError::UnknownOperation(format!(
                "The operation {target} is not supported by this server."
            ))
            .to_aws(Protocol::Json11);
            unrouted(Protocol::Json11).fail(op, e, rid)
        }
        Routed::Fallback(service) => {
            protocols::stream::serve(app, service.as_ref(), parts, body, meta).await
        }
        Routed::Unclaimed => {
            let e = CommonError::UnknownOperation(format!(
                "The operation {} {} is not supported by this server.",
                parts.method,
                parts.uri.path()
            ))
            .to_aws(Protocol::RestXml);
            unrouted(Protocol::RestXml).fail("Unknown", e, rid)
        }
    }
}

/// Read a request body of at most `limit` bytes within `timeout`.
async fn read_body<B>(
    body: B,
    limit: usize,
    pace: crate::config::BodyPace,
) -> Result<Bytes, CommonError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // The body must keep its pace: no gap longer than the stall limit, and on average the
    // minimum rate once the initial allowance has passed.
    let start = std::time::Instant::now();
    let mut last = start;
    let mut received = 0u64;
    let mut body = std::pin::pin!(Limited::new(body, limit));
    let mut buf = Vec::new();
    loop {
        let deadline = pace.deadline(start, received, last);
        let frame = match tokio::time::timeout_at(deadline.into(), body.frame()).await {
            Err(_) => return Err(CommonError::RequestTimeout),
            Ok(None) => break,
            Ok(Some(f)) => f,
        };
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    received += data.len() as u64;
                    last = std::time::Instant::now();
                    buf.extend_from_slice(&data);
                }
            }
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(CommonError::BodyTooLarge(limit));
            }
            Err(e) => return Err(CommonError::IncompleteBody(e.to_string())),
        }
    }
    Ok(Bytes::from(buf))
}

/// Hand the request's record to the audit trail: in `sync` mode wait until it is written and
/// say whether it was; in `async` mode queue it (always `true`).
/// The record is shaped first ([`audit_record`]): `Handled` may hold a body stream, which is
/// `Send` but not `Sync`, so no reference to it may live across an await.
async fn record_audit(app: &App, rec: Option<tessera_audit::AuditRecord>) -> bool {
    let Some(rec) = rec else { return true };
    match app.audit_policy.mode {
        tessera_audit::AuditMode::Off => true,
        tessera_audit::AuditMode::Sync => app.audit.submit_durable(rec).await,
        tessera_audit::AuditMode::Async => {
            app.audit.submit(rec).await;
            true
        }
    }
}

/// The request's audit record (`None` when auditing is off).
fn audit_record(app: &App, meta: &RequestMeta, h: &Handled) -> Option<tessera_audit::AuditRecord> {
    if app.audit_policy.mode == tessera_audit::AuditMode::Off {
        return None;
    }
    Some(tessera_audit::shape::api_call(
        tessera_audit::shape::ApiCall {
            meta,
            region: &app.deployment.region,
            partition: &app.deployment.partition,
            event_source: h.event_source,
            event_name: &h.action,
            caller: h.caller.as_ref(),
            access_key_id: h.access_key_id.as_deref(),
            error: h
                .error
                .as_ref()
                .map(|e| (e.code.as_str(), e.message.as_str())),
            details: h.details.clone().unwrap_or_default(),
            data_event: h.data_event,
            event_id: new_request_id(),
        },
    ))
}
