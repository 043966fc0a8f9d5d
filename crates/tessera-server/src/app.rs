//! The request pipeline: limits → route → read body → authenticate once → service → audit,
//! metrics and a log line carrying the request id.

use crate::auth;
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::routing::{Route, classify};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tessera_audit::{AuditRecord, AuditSink, EventDetails};
use tessera_core::{Caller, Deployment, Principal, RequestMeta};
use tessera_crypto::MasterKey;
use tessera_crypto::session::{KeyRing, SharedRing};
use tessera_iam::Authorizer;
use tessera_iam::IamService;
use tessera_iam::directory::Directory;
use tessera_oidc::OidcVerifier;
use tessera_sigv4::{Canonicalization, SigV4Error};
use tessera_store::Store;
use tessera_sts::StsService;
use tessera_wire::query::QueryParams;
use tessera_wire::{AwsError, IAM_NAMESPACE, Protocol, STS_NAMESPACE};
use tracing::Instrument;

/// Everything a request needs, built once at start-up.
#[derive(Debug)]
pub struct App {
    pub deployment: Deployment,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    pub ring: Arc<SharedRing>,
    pub directory: Arc<Directory>,
    pub iam: IamService,
    pub sts: StsService,
    pub audit: Arc<dyn AuditSink>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

/// How an [`App`] is put together.
#[derive(Debug)]
pub struct AppParts {
    pub deployment: Deployment,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    pub ring: KeyRing,
    pub audit: Arc<dyn AuditSink>,
    pub limits: Limits,
    pub oidc: Arc<OidcVerifier>,
    /// Accept `http://` OIDC issuers on loopback hosts (dev mode and tests).
    pub allow_http_issuers: bool,
}

impl App {
    pub async fn build(p: AppParts) -> Result<App, tessera_store::StoreError> {
        let directory = Arc::new(Directory::load(p.store.clone()).await?);
        let authz = Authorizer::new(directory.clone(), p.deployment.clone());
        let ring = Arc::new(SharedRing::new(p.ring));
        Ok(App {
            iam: IamService::new(
                p.store.clone(),
                p.deployment.clone(),
                p.master.clone(),
                authz.clone(),
            )
            .with_http_loopback_issuers(p.allow_http_issuers),
            sts: StsService::new(
                p.deployment.clone(),
                authz,
                ring.clone(),
                p.store.clone(),
                p.oidc,
                p.allow_http_issuers,
            ),
            deployment: p.deployment,
            store: p.store,
            master: p.master,
            ring,
            directory,
            audit: p.audit,
            metrics: Arc::new(Metrics::default()),
            limits: p.limits,
        })
    }
}

/// What the pipeline learnt about a request, for audit, metrics and the log line.
struct Handled {
    service: &'static str,
    action: String,
    caller: Option<Caller>,
    access_key_id: Option<String>,
    details: Option<EventDetails>,
    error: Option<AwsError>,
    response: Response<Bytes>,
}

pub(crate) fn internal_failure() -> AwsError {
    AwsError::new(
        500,
        "InternalFailure",
        "The request processing has failed because of an unknown error.",
    )
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Serve one HTTP request.
pub async fn handle<B>(app: Arc<App>, req: Request<B>, peer: SocketAddr) -> Response<Full<Bytes>>
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
        };
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let (parts, body) = req.into_parts();
        let parts = Arc::new(parts);
        let route = Arc::new(classify(&parts));
        let deadline = app.limits.request_timeout();
        // The work runs as its own task so that the deadline never cancels it half-way (a
        // store write without its change-counter bump, say); the task writes the request's
        // one audit record when it finishes, whatever the client was told.
        let work = {
            let (app, meta, parts, route) =
                (app.clone(), meta.clone(), parts.clone(), route.clone());
            tokio::spawn(
                async move {
                    let h = pipeline(&app, &parts, body, &route, &meta).await;
                    record_audit(&app, &meta, &h);
                    h
                }
                .in_current_span(),
            )
        };
        // Only for a request that fails here (panic, deadline): its service and error protocol.
        let failed = |e: AwsError| {
            let (service, protocol) = route_protocol(&route, &parts);
            Handled {
                service,
                action: "Unknown".into(),
                caller: None,
                access_key_id: None,
                details: None,
                response: e.render(protocol, &meta.request_id),
                error: Some(e),
            }
        };
        let mut h = match tokio::time::timeout(deadline, work).await {
            Ok(Ok(h)) => h,
            Ok(Err(join)) => {
                // A panic in a handler: the task wrote no record, so this is the one.
                tracing::error!(error = %join, "request handler panicked");
                let h = failed(internal_failure());
                record_audit(&app, &meta, &h);
                h
            }
            Err(_) => {
                tracing::warn!(
                    deadline_secs = deadline.as_secs(),
                    "request not handled within its deadline; it completes in the background"
                );
                failed(AwsError::new(
                    503,
                    "ServiceUnavailable",
                    "The request could not be completed in time. Please retry.",
                ))
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
        tracing::info!(
            %method,
            path = %path,
            service = h.service,
            action = %h.action,
            status,
            error_code = h.error.as_ref().map(|e| e.code.as_str()).unwrap_or(""),
            access_key_id = h.access_key_id.as_deref().unwrap_or(""),
            latency_us = started.elapsed().as_micros() as u64,
            "handled"
        );
        let (parts, body) = h.response.into_parts();
        Response::from_parts(parts, Full::new(body))
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

/// The service name (for audit and metrics) of a route before its request is parsed.
fn route_service(route: &Route) -> &'static str {
    match route {
        Route::Query => "query",
        Route::Json { .. } => "json",
        Route::SsoOidc => "sso-oidc",
        Route::S3Control => "s3control",
        Route::Scim => "scim",
        Route::S3 => "s3",
    }
}

/// The service name and the error protocol of a route, for requests that fail before their
/// service is known (query requests: the protocol is guessed from the signature).
fn route_protocol(route: &Route, parts: &http::request::Parts) -> (&'static str, Protocol) {
    let protocol = match route {
        Route::Query => guess_query_protocol(parts),
        Route::Json { .. } => Protocol::Json11,
        Route::SsoOidc | Route::Scim => Protocol::RestJson,
        Route::S3Control | Route::S3 => Protocol::RestXml,
    };
    (route_service(route), protocol)
}

async fn pipeline<B>(
    app: &App,
    parts: &http::request::Parts,
    body: B,
    route: &Route,
    meta: &RequestMeta,
) -> Handled
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let service = route_service(route);
    // Refined (by parsing the signature) only if the request fails before it is parsed.
    let protocol = match route {
        Route::Query => Protocol::Query {
            namespace: IAM_NAMESPACE,
        },
        other => route_protocol(other, parts).1,
    };
    let error_protocol = || match route {
        Route::Query => guess_query_protocol(parts),
        _ => protocol,
    };
    let fail = |service: &'static str, action: String, e: AwsError, protocol: Protocol| Handled {
        service,
        action,
        caller: None,
        access_key_id: None,
        details: None,
        response: e.render(protocol, &meta.request_id),
        error: Some(e),
    };
    if header_bytes(&parts.headers) > app.limits.max_header_bytes {
        let e = match error_protocol() {
            Protocol::RestXml => AwsError::new(
                400,
                "RequestHeaderSectionTooLarge",
                format!(
                    "Your request header section exceeds the maximum allowed size of {} bytes.",
                    app.limits.max_header_bytes
                ),
            ),
            _ => AwsError::new(
                400,
                "ValidationError",
                format!(
                    "Request header section exceeds the maximum allowed size of {} bytes.",
                    app.limits.max_header_bytes
                ),
            ),
        };
        return fail(service, "Unknown".into(), e, error_protocol());
    }
    match route {
        Route::Query => {
            let body = match read_body(
                body,
                app.limits.max_body_bytes,
                app.limits.body_read_timeout(),
            )
            .await
            {
                Ok(b) => b,
                Err(e) => return fail("query", "Unknown".into(), e, error_protocol()),
            };
            query(app, parts, body, meta).await
        }
        Route::Json { target } => {
            let op = target.rsplit('.').next().unwrap_or("").to_owned();
            let e = AwsError::new(
                400,
                "UnknownOperationException",
                format!("The operation {target} is not supported by this server yet."),
            );
            fail("json", op, e, protocol)
        }
        Route::SsoOidc => {
            let e = AwsError::new(
                400,
                "InvalidRequestException",
                "CreateTokenWithIAM is not supported by this server yet.",
            );
            fail("sso-oidc", "CreateTokenWithIAM".into(), e, protocol)
        }
        Route::S3Control => {
            let e = match crate::routing::s3control_account(parts) {
                Err(e) => e,
                Ok(_) => AwsError::new(
                    501,
                    "NotImplemented",
                    "S3 Access Grants are not supported by this server yet.",
                ),
            };
            fail("s3control", "Unknown".into(), e, protocol)
        }
        Route::Scim => {
            let e = AwsError::new(
                501,
                "NotImplemented",
                "SCIM is not supported by this server yet.",
            );
            fail("scim", "Unknown".into(), e, protocol)
        }
        Route::S3 => {
            let e = AwsError::new(
                501,
                "NotImplemented",
                "The S3 data plane is not supported by this server yet.",
            );
            fail("s3", "Unknown".into(), e, protocol)
        }
    }
}

/// Read a request body of at most `limit` bytes within `timeout`.
async fn read_body<B>(
    body: B,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, AwsError>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Ok(read) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await else {
        return Err(AwsError::new(
            400,
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
        ));
    };
    match read {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(AwsError::new(
                413,
                "RequestEntityTooLarge",
                format!("Request body must be no larger than {limit} bytes."),
            ))
        }
        Err(e) => Err(AwsError::new(
            400,
            "IncompleteBody",
            format!("The request body could not be read: {e}"),
        )),
    }
}

/// Which query service (and so which XML namespace) a request is for, before it is parsed:
/// the credential scope's service when there is one, else STS for STS's action names.
fn guess_query_protocol(parts: &http::request::Parts) -> Protocol {
    let scope_service = auth::parse(parts).ok().map(|a| a.service);
    match scope_service.as_deref() {
        Some("sts") => Protocol::Query {
            namespace: STS_NAMESPACE,
        },
        Some(_) => Protocol::Query {
            namespace: IAM_NAMESPACE,
        },
        None => {
            let q = parts.uri.query().unwrap_or("");
            let sts = tessera_sts::KNOWN_ACTIONS
                .iter()
                .any(|a| q.contains(&format!("Action={a}")));
            Protocol::Query {
                namespace: if sts { STS_NAMESPACE } else { IAM_NAMESPACE },
            }
        }
    }
}

async fn query(
    app: &App,
    parts: &http::request::Parts,
    body: Bytes,
    meta: &RequestMeta,
) -> Handled {
    let raw_query = parts.uri.query().unwrap_or("");
    // Until the parameters are parsed, STS actions get STS's namespace, everything else IAM's.
    let parsed_auth = auth::parse(parts);
    let params = QueryParams::parse(&[raw_query.as_bytes(), &body]);
    let action = params
        .as_ref()
        .ok()
        .and_then(|p| p.get("Action"))
        .unwrap_or("")
        .to_owned();
    let is_sts_action = tessera_sts::KNOWN_ACTIONS.contains(&action.as_str());
    let (service, namespace): (&'static str, &'static str) = match &parsed_auth {
        Ok(a) if a.service == "sts" => ("sts", STS_NAMESPACE),
        Ok(a) if a.service == "iam" => ("iam", IAM_NAMESPACE),
        _ if is_sts_action => ("sts", STS_NAMESPACE),
        _ => ("iam", IAM_NAMESPACE),
    };
    let protocol = Protocol::Query { namespace };
    let mut h = Handled {
        service,
        action: if action.is_empty() {
            "Unknown".into()
        } else {
            action.clone()
        },
        caller: None,
        access_key_id: parsed_auth.as_ref().ok().map(|a| a.access_key_id.clone()),
        details: None,
        error: None,
        response: Response::new(Bytes::new()),
    };
    let result = query_inner(
        app,
        parts,
        &body,
        meta,
        params,
        &action,
        service,
        parsed_auth,
        &mut h,
    )
    .await;
    match result {
        Ok((xml, details)) => {
            h.response = tessera_wire::query_response(namespace, &action, &xml, &meta.request_id);
            h.details = Some(details);
        }
        Err(e) => {
            h.response = e.render(protocol, &meta.request_id);
            h.error = Some(e);
        }
    }
    h
}

#[allow(clippy::too_many_arguments)]
async fn query_inner(
    app: &App,
    parts: &http::request::Parts,
    body: &[u8],
    meta: &RequestMeta,
    params: Result<QueryParams, tessera_wire::query::QueryError>,
    action: &str,
    service: &'static str,
    parsed_auth: Result<tessera_sigv4::ParsedAuth, SigV4Error>,
    h: &mut Handled,
) -> Result<(String, EventDetails), AwsError> {
    let params = params.map_err(|e| match service {
        "sts" => tessera_sts::StsError::from(e).to_aws(),
        _ => tessera_iam::IamError::from(e).to_aws(),
    })?;
    if action.is_empty() {
        return Err(AwsError::new(
            400,
            "MissingAction",
            "Could not find operation: the request must contain the parameter Action.",
        ));
    }
    // Calls that authenticate with a token in the request (AssumeRoleWithWebIdentity) are
    // not signed; a signature, if a client sends one anyway, is not needed.
    if service == "sts" && tessera_sts::UNSIGNED_ACTIONS.contains(&action) {
        let o = app
            .sts
            .handle_unsigned(meta, action, &params)
            .await
            .map_err(|e| e.to_aws())?;
        return Ok((o.result_xml, o.details));
    }
    let auth = match parsed_auth {
        Ok(a) => a,
        Err(SigV4Error::MissingAuthentication) => {
            return Err(AwsError::new(
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            ));
        }
        Err(e) => return Err(auth::sig_error(&e, Canonicalization::Standard)),
    };
    let known = match service {
        "sts" => tessera_sts::KNOWN_ACTIONS.contains(&action),
        _ => tessera_iam::ACTIONS.contains(&action),
    };
    let caller = auth::authenticate(
        app,
        parts,
        body,
        &auth,
        Canonicalization::Standard,
        &[service],
        meta.now,
    )
    .await?;
    h.caller = Some(caller.clone());
    if !known {
        let version = if service == "sts" {
            tessera_sts::VERSION
        } else {
            tessera_iam::VERSION
        };
        return Err(AwsError::new(
            400,
            "InvalidAction",
            format!("Could not find operation {action} for version {version}"),
        ));
    }
    match service {
        "sts" => app
            .sts
            .handle(&caller, meta, action, &params)
            .await
            .map(|o| (o.result_xml, o.details))
            .map_err(|e| e.to_aws()),
        _ => app
            .iam
            .handle(&caller, meta, action, &params)
            .await
            .map(|o| (o.result_xml, o.details))
            .map_err(|e| e.to_aws()),
    }
}

fn user_identity(app: &App, caller: Option<&Caller>, access_key_id: Option<&str>) -> Value {
    let Some(c) = caller else {
        return json!({"type": "Unknown", "accessKeyId": access_key_id});
    };
    let arn = c.arn(&app.deployment.partition);
    match &c.principal {
        Principal::Root => json!({"type": "Root", "principalId": c.account.as_str(), "arn": arn,
            "accountId": c.account.as_str(), "accessKeyId": c.access_key_id}),
        Principal::User { name, user_id, .. } => {
            json!({"type": "IAMUser", "principalId": user_id, "arn": arn,
            "accountId": c.account.as_str(), "accessKeyId": c.access_key_id, "userName": name})
        }
        Principal::AssumedRole {
            role_name, role_id, ..
        } => {
            let session = c.session.as_deref();
            let mut v = json!({"type": "AssumedRole", "principalId": c.user_id(), "arn": arn,
                "accountId": c.account.as_str(), "accessKeyId": c.access_key_id,
                "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": role_id,
                    "arn": c.principal_arn(&app.deployment.partition), "accountId": c.account.as_str(), "userName": role_name},
                    "attributes": {"creationDate": session.map(|s| tessera_core::iso8601(s.issued_at)),
                        "mfaAuthenticated": "false"}}});
            if let Some(si) = session.and_then(|s| s.source_identity.as_deref()) {
                v["sessionContext"]["sourceIdentity"] = json!(si);
            }
            if let Some(w) = session.and_then(|s| s.web_identity.as_ref()) {
                v["sessionContext"]["webIdFederationData"] =
                    json!({"federatedProvider": w.provider_arn, "attributes": {}});
            }
            v
        }
    }
}

fn record_audit(app: &App, meta: &RequestMeta, h: &Handled) {
    let details = h.details.clone().unwrap_or_default();
    let source = match h.service {
        "iam" => "iam.amazonaws.com",
        "sts" => "sts.amazonaws.com",
        "sso-oidc" => "sso-oauth.amazonaws.com",
        "scim" => "identitystore-scim.amazonaws.com",
        "json" => "sso.amazonaws.com",
        _ => "s3.amazonaws.com",
    };
    let account = h
        .caller
        .as_ref()
        .map(|c| c.account.to_string())
        .unwrap_or_default();
    let rec = AuditRecord {
        event_version: "1.11",
        user_identity: details
            .user_identity
            .unwrap_or_else(|| user_identity(app, h.caller.as_ref(), h.access_key_id.as_deref())),
        event_time: meta.now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        event_source: source.into(),
        event_name: h.action.clone(),
        aws_region: app.deployment.region.clone(),
        source_ip_address: meta.source_ip.to_string(),
        user_agent: meta.user_agent.clone(),
        error_code: h.error.as_ref().map(|e| e.code.clone()),
        error_message: h.error.as_ref().map(|e| e.message.clone()),
        request_parameters: details.request_parameters,
        response_elements: details.response_elements,
        request_id: meta.request_id.clone(),
        event_id: new_request_id(),
        read_only: details.read_only,
        resources: details.resources,
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: account,
        event_category: "Management",
    };
    if let Err(e) = app.audit.record(&rec) {
        app.metrics.audit_failed();
        tracing::error!(error = %e, "audit record could not be written");
    }
}
