//! The request pipeline: limits → route → read body → authenticate once → service → audit,
//! metrics and a log line carrying the request id.

use crate::auth::{self, AuthRequest};
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::routing::{Route, classify};
use crate::s3::S3_REQUEST_DEADLINE;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tessera_access_grants::{AccessGrantsService, Quotas};
use tessera_audit::{AuditQueue, AuditRecord, AuditSink, EventDetails};
use tessera_authz::GrantView;
use tessera_authz::{Authorizer, DirectoryView, KeyRingView, PrincipalView, RevocationView};
use tessera_core::{Caller, Deployment, Principal, RequestMeta};
use tessera_crypto::MasterKey;
use tessera_crypto::token::ContextSealer;
use tessera_iam::IamService;
use tessera_identity_center::scim::ScimRequest;
use tessera_identity_center::{
    IdentityCenterView, IdentityStoreService, ScimService, SsoAdminService, SsoOidcService,
    TokenIssuer,
};
use tessera_oidc::OidcVerifier;
use tessera_service::{Body, Ctx, Input, Registered, Registry, Routing};
use tessera_sigv4::{Canonicalization, SigV4Error};
use tessera_store::Store;
use tessera_store::view::Refresher;
use tessera_sts::StsService;
use tessera_wire::query::QueryParams;
use tessera_wire::{AwsError, CommonError, Protocol};
use tracing::Instrument;

/// Everything a request needs, built once at start-up.
#[derive(Debug)]
pub struct App {
    pub deployment: Deployment,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    /// The session key ring (a replicated view).
    pub ring: Arc<KeyRingView>,
    /// The IAM principal view every decision reads.
    pub principals: Arc<PrincipalView>,
    /// Authentication caches (shared with the authoriser IAM forgets deleted keys through).
    pub credentials: Arc<tessera_authz::credentials::CredentialCache>,
    /// Revoked directory users (a replicated view), checked on every session request.
    pub revocations: Arc<RevocationView>,
    /// sso-admin configuration (a replicated view) the token endpoint reads.
    pub identity_center: Arc<IdentityCenterView>,
    /// Identity-store users and memberships (a replicated view).
    pub directory: Arc<DirectoryView>,
    /// The S3 Access Grants index (a replicated view).
    pub grants: Arc<GrantView>,
    /// The Identity Center token issuer (its discovery and JWKS documents).
    pub issuer: Arc<TokenIssuer>,
    /// SCIM provisioning of identity stores (bearer tokens, not SigV4).
    pub scim: ScimService,
    /// The URL clients reach this server at.
    pub public_url: String,
    /// Every service, registered once ([`register_services`]).
    pub services: Registry,
    pub audit: AuditQueue,
    /// When records must be written, and what a failed write does to the request.
    pub audit_policy: tessera_audit::AuditPolicy,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// The S3 data plane: `s3s` as codec over our handlers and the object backend.
    pub s3: tessera_s3::S3Codec,
}

/// How an [`App`] is put together.
#[derive(Debug)]
pub struct AppParts {
    pub deployment: Deployment,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    pub audit: Arc<dyn AuditSink>,
    pub audit_policy: tessera_audit::AuditPolicy,
    pub limits: Limits,
    pub oidc: Arc<OidcVerifier>,
    /// Accept `http://` OIDC issuers on loopback hosts (dev mode and tests).
    pub allow_http_issuers: bool,
    /// The URL clients reach this server at (`http://host:port`): the base of the Identity
    /// Center token issuer's URL.
    pub public_url: String,
    /// Where S3 objects live.
    pub objects: Arc<dyn tessera_s3::Backend>,
}

/// The kernel a service is built from: the composition root hands each service what it needs.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub deployment: Deployment,
    pub store: Arc<dyn Store>,
    pub master: MasterKey,
    pub authz: Authorizer,
    pub ring: Arc<KeyRingView>,
    pub oidc: Arc<OidcVerifier>,
    pub allow_http_issuers: bool,
    pub revocations: Arc<RevocationView>,
    pub identity_center: Arc<IdentityCenterView>,
    pub directory: Arc<DirectoryView>,
    pub grants: Arc<GrantView>,
    pub issuer: Arc<TokenIssuer>,
    pub limits: Limits,
}

/// **The one place services are registered.** A new service is a crate implementing
/// `tessera_service::Service`, constructed here from the kernel and added to the registry;
/// routing, authentication, dispatch, metrics and audit read its declaration.
pub fn register_services(k: &Kernel, r: &mut Registry) {
    r.register(Arc::new(
        AccessGrantsService::new(
            k.store.clone(),
            k.store.clone(),
            k.grants.clone(),
            k.directory.clone(),
            k.authz.clone(),
            k.ring.clone(),
            k.deployment.clone(),
        )
        .with_quotas(Quotas {
            locations: k.limits.max_access_grants_locations,
            grants: k.limits.max_access_grants,
        }),
    ));
    r.register(Arc::new(
        IamService::new(
            k.store.clone(),
            k.deployment.clone(),
            k.master.clone(),
            k.authz.clone(),
        )
        .with_http_loopback_issuers(k.allow_http_issuers),
    ));
    r.register(Arc::new(
        StsService::new(
            k.deployment.clone(),
            k.authz.clone(),
            k.ring.clone(),
            k.store.clone(),
            k.oidc.clone(),
            k.allow_http_issuers,
        )
        .with_identity_contexts(
            ContextSealer::new(&k.master),
            k.revocations.clone(),
            k.directory.clone(),
        ),
    ));
    r.register(Arc::new(
        SsoAdminService::new(
            k.store.clone(),
            k.identity_center.clone(),
            k.authz.clone(),
            k.deployment.clone(),
        )
        .with_http_loopback_issuers(k.allow_http_issuers),
    ));
    r.register(Arc::new(IdentityStoreService::new(
        k.store.clone(),
        k.directory.clone(),
        k.authz.clone(),
        k.deployment.clone(),
    )));
    r.register(Arc::new(SsoOidcService::new(
        k.directory.clone(),
        k.identity_center.clone(),
        k.store.clone(),
        k.authz.clone(),
        k.oidc.clone(),
        k.issuer.clone(),
        &k.master,
        k.revocations.clone(),
    )));
}

impl App {
    /// Load the views and register the standard services.
    pub async fn build(p: AppParts) -> Result<App, tessera_store::StoreError> {
        App::build_with(p, |_, _| {}).await
    }

    /// [`App::build`], then let `extra` register more services (tests).
    pub async fn build_with(
        p: AppParts,
        extra: impl FnOnce(&Kernel, &mut Registry),
    ) -> Result<App, tessera_store::StoreError> {
        let principals = Arc::new(PrincipalView::load(p.store.clone(), p.store.clone()).await?);
        let ring = Arc::new(
            tessera_authz::keyring::load_view(p.store.clone(), p.store.clone(), p.master.clone())
                .await?,
        );
        let revocations = Arc::new(
            tessera_authz::revocations::load_view(p.store.clone(), p.store.clone()).await?,
        );
        let identity_center = Arc::new(
            tessera_identity_center::view::load_view(p.store.clone(), p.store.clone()).await?,
        );
        let directory =
            Arc::new(tessera_authz::directory::load_view(p.store.clone(), p.store.clone()).await?);
        let grants =
            Arc::new(tessera_authz::grants::load_view(p.store.clone(), p.store.clone()).await?);
        let issuer = Arc::new(
            TokenIssuer::load(
                p.store.as_ref(),
                &p.master,
                &p.public_url,
                chrono::Utc::now().timestamp(),
            )
            .await?,
        );
        let kernel = Kernel {
            deployment: p.deployment.clone(),
            store: p.store.clone(),
            master: p.master.clone(),
            authz: Authorizer::new(principals.clone(), p.deployment.clone()),
            ring: ring.clone(),
            oidc: p.oidc,
            allow_http_issuers: p.allow_http_issuers,
            revocations: revocations.clone(),
            identity_center: identity_center.clone(),
            directory: directory.clone(),
            grants: grants.clone(),
            issuer: issuer.clone(),
            limits: p.limits.clone(),
        };
        let mut services = Registry::new();
        register_services(&kernel, &mut services);
        extra(&kernel, &mut services);
        let scim = ScimService::new(p.store.clone(), directory.clone());
        let s3 = tessera_s3::S3Codec::new(
            tessera_s3::S3Handler::new(p.objects.clone(), kernel.authz.clone()),
            tessera_s3::codec::BaseDomains::new(s3_base_domains(&p.public_url)),
        );
        Ok(App {
            deployment: p.deployment,
            store: p.store,
            master: p.master,
            ring,
            principals,
            credentials: kernel.authz.credentials().clone(),
            revocations,
            identity_center,
            directory,
            grants,
            issuer,
            scim,
            public_url: p.public_url.trim_end_matches('/').to_owned(),
            services,
            audit: AuditQueue::start(p.audit, tessera_audit::DEFAULT_QUEUE_CAPACITY),
            audit_policy: p.audit_policy,
            metrics: Arc::new(Metrics::default()),
            limits: p.limits,
            s3,
        })
    }

    /// The refresher that keeps every replicated view fresh (the composition root spawns it).
    pub fn refresher(&self) -> Refresher {
        let mut r = Refresher::new();
        r.register(self.principals.clone());
        r.register(self.ring.clone());
        r.register(self.revocations.clone());
        r.register(self.identity_center.clone());
        r.register(self.directory.clone());
        r.register(self.grants.clone());
        r
    }
}

/// The host names under which `<bucket>.<host>` is virtual-host-style S3 addressing: the
/// public URL's host (unless it is an IP address) and `localhost`.
fn s3_base_domains(public_url: &str) -> Vec<String> {
    let mut out = vec!["localhost".to_owned()];
    if let Ok(u) = public_url.parse::<http::Uri>()
        && let Some(h) = u.host()
        && h.parse::<std::net::IpAddr>().is_err()
        && !h.starts_with('[')
        && h != "localhost"
    {
        out.insert(0, h.to_ascii_lowercase());
    }
    out
}

/// A response body: a buffered one, or a stream (S3 object bodies).
pub type ResponseBody =
    http_body_util::combinators::UnsyncBoxBody<Bytes, tessera_s3::body::StdError>;

/// What the pipeline learnt about a request, for audit, metrics and the log line.
pub(crate) struct Handled {
    /// The service's name in metrics and logs (a route's placeholder name before a service
    /// is known).
    pub(crate) service: &'static str,
    pub(crate) event_source: &'static str,
    pub(crate) action: String,
    pub(crate) caller: Option<Caller>,
    pub(crate) access_key_id: Option<String>,
    pub(crate) details: Option<EventDetails>,
    pub(crate) error: Option<AwsError>,
    pub(crate) response: Response<Bytes>,
    /// A streamed body that replaces `response`'s (S3).
    pub(crate) stream: Option<tessera_s3::Body>,
    /// Data events (S3 objects) are not management events.
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
    fn of(s: &dyn Registered) -> Target {
        let spec = s.spec();
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
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let (parts, body) = req.into_parts();
        let parts = Arc::new(parts);
        let route = Arc::new(classify(&parts));
        // S3 bodies may take long to upload or download; a stalled S3 body is cut off by its
        // per-read timeout instead (see `s3_body`).
        let deadline = if *route == Route::S3 {
            S3_REQUEST_DEADLINE
        } else {
            app.limits.request_timeout()
        };
        // The work runs as its own task so that the deadline never cancels it half-way (a
        // store write without its change-counter bump, say); the task submits the request's
        // one audit record when it finishes, whatever the client was told.
        let work = {
            let (app, meta, parts, route) =
                (app.clone(), meta.clone(), parts.clone(), route.clone());
            tokio::spawn(
                async move {
                    let h = pipeline(&app, &parts, body, &route, &meta).await;
                    if record_audit(&app, &meta, &h).await
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
                record_audit(&app, &meta, &h).await;
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
        let body = match h.stream.take() {
            Some(s) => s.boxed_unsync(),
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

/// Routes no registered service serves yet: their placeholder name, audit source and error
/// protocol.
pub(crate) fn placeholder(route: &Route) -> Target {
    let (service, event_source, protocol) = match route {
        Route::Query => ("query", "iam.amazonaws.com", Protocol::RestXml),
        Route::Json { .. } => ("json", "sso.amazonaws.com", Protocol::Json11),
        Route::SsoOidc => ("sso-oidc", "sso-oauth.amazonaws.com", Protocol::RestJson),
        Route::TokenIssuer => (
            "token-issuer",
            "sso-oauth.amazonaws.com",
            Protocol::RestJson,
        ),
        Route::S3Control => ("s3control", "s3.amazonaws.com", Protocol::RestXmlWrapped),
        Route::Scim => (
            "scim",
            "identitystore-scim.amazonaws.com",
            Protocol::RestJson,
        ),
        Route::S3 => ("s3", "s3.amazonaws.com", Protocol::RestXml),
    };
    Target {
        service,
        event_source,
        protocol,
    }
}

/// The service a request is for, as far as it can be told without reading its body: for
/// awsQuery, from the credential scope or the `Action` in the query string.
fn route_target(app: &App, route: &Route, parts: &http::request::Parts) -> Target {
    match route {
        Route::Query => {
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
                Some(s) => Target::of(s.as_ref()),
                None => placeholder(route),
            }
        }
        Route::Json { target } => match app.services.json_service(target) {
            Some((s, _)) => Target::of(s.as_ref()),
            None => placeholder(route),
        },
        other => placeholder(other),
    }
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
    let rid = &meta.request_id;
    if header_bytes(&parts.headers) > app.limits.max_header_bytes {
        let t = route_target(app, route, parts);
        let e = CommonError::HeadersTooLarge(app.limits.max_header_bytes).to_aws(t.protocol);
        return t.fail("Unknown", e, rid);
    }
    let read = |body: B| read_body(body, app.limits.max_body_bytes, app.limits.body_pace());
    match route {
        Route::Query => {
            let body = match read(body).await {
                Ok(b) => b,
                Err(e) => {
                    let t = route_target(app, route, parts);
                    return t.fail("Unknown", e.to_aws(t.protocol), rid);
                }
            };
            query(app, parts, body, meta).await
        }
        Route::Json { target } => {
            let Some((service, op)) = app.services.json_service(target) else {
                let op = target.rsplit('.').next().unwrap_or("").to_owned();
                let e = AwsError::new(
                    400,
                    "UnknownOperationException",
                    format!("The operation {target} is not supported by this server yet."),
                );
                return placeholder(route).fail(op, e, rid);
            };
            let t = Target::of(service.as_ref());
            let body = match read(body).await {
                Ok(b) => b,
                Err(e) => return t.fail(op, e.to_aws(t.protocol), rid),
            };
            json(app, service.as_ref(), op, parts, body, meta).await
        }
        Route::SsoOidc => {
            let Some(service) = app.services.by_name("sso-oidc") else {
                let e = AwsError::new(
                    400,
                    "InvalidRequestException",
                    "CreateTokenWithIAM is not served here.",
                );
                return placeholder(route).fail("CreateTokenWithIAM", e, rid);
            };
            let t = Target::of(service.as_ref());
            let body = match read(body).await {
                Ok(b) => b,
                Err(e) => return t.fail("CreateTokenWithIAM", e.to_aws(t.protocol), rid),
            };
            json(
                app,
                service.as_ref(),
                "CreateTokenWithIAM",
                parts,
                body,
                meta,
            )
            .await
        }
        Route::TokenIssuer => {
            let t = placeholder(route);
            match app.issuer.document(parts.uri.path()) {
                Some(doc) if parts.method == http::Method::GET => {
                    let mut h = t.handled("GetIssuerDocument");
                    let mut resp = Response::new(Bytes::from(doc.to_string()));
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                    h.response = resp;
                    h.details = Some(EventDetails {
                        read_only: true,
                        ..EventDetails::default()
                    });
                    h
                }
                _ => t.fail(
                    "GetIssuerDocument",
                    AwsError::new(404, "NotFound", "No such issuer document."),
                    rid,
                ),
            }
        }
        Route::S3Control => {
            let t = placeholder(route);
            if let Err(e) = crate::routing::s3control_account(parts) {
                return t.fail("Unknown", e, rid);
            }
            let Some(service) = app.services.rest_service(parts.uri.path()) else {
                let e = CommonError::UnknownOperation(
                    "This s3control operation is not supported by this server.".into(),
                )
                .to_aws(t.protocol);
                return t.fail("Unknown", e, rid);
            };
            let t = Target::of(service.as_ref());
            let Some(op) = service.rest_operation(&parts.method, parts.uri.path()) else {
                let e = CommonError::UnknownOperation(format!(
                    "The s3control operation {} {} is not supported by this server.",
                    parts.method,
                    parts.uri.path()
                ))
                .to_aws(t.protocol);
                return t.fail("Unknown", e, rid);
            };
            let body = match read(body).await {
                Ok(b) => b,
                Err(e) => return t.fail(op.name, e.to_aws(t.protocol), rid),
            };
            rest_xml(app, service.as_ref(), op.name, parts, body, meta).await
        }
        Route::Scim => {
            let t = placeholder(route);
            let body = match read(body).await {
                Ok(b) => b,
                Err(e) => return t.fail("Unknown", e.to_aws(t.protocol), rid),
            };
            scim(app, parts, &body, meta).await
        }
        Route::S3 => crate::s3::request(app, parts, body, meta).await,
    }
}

/// A SCIM request: the bearer token is checked by the SCIM service; the answer is SCIM JSON.
async fn scim(app: &App, parts: &http::request::Parts, body: &[u8], meta: &RequestMeta) -> Handled {
    let bearer = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim())
        });
    let r = ScimRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        bearer,
        body,
        now: meta.now.timestamp(),
        base_url: &app.public_url,
    };
    let out = app.scim.handle(&r).await;
    let mut h = placeholder(&Route::Scim).handled(out.operation);
    let mut resp = Response::new(match &out.body {
        Some(v) => Bytes::from(v.to_string()),
        None => Bytes::new(),
    });
    *resp.status_mut() =
        http::StatusCode::from_u16(out.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
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
    if let Ok(v) = http::HeaderValue::from_str(&meta.request_id) {
        hd.insert("x-amzn-requestid", v);
    }
    h.response = resp;
    if let Some(e) = &out.error {
        h.error = Some(AwsError::new(e.status, e.code(), e.detail.clone()));
    }
    // As Identity Center logs SCIM calls: the tenant, and the body hidden (personal data).
    h.details = Some(EventDetails {
        user_identity: Some(
            json!({"type": "WebIdentityUser", "principalId": out.tenant, "identityProvider": "SCIM"}),
        ),
        request_parameters: json!({"tenantId": out.tenant, "httpMethod": parts.method.as_str(),
            "httpBody": if body.is_empty() { Value::Null } else { json!(tessera_audit::HIDDEN) }}),
        response_elements: Value::Null,
        resources: Vec::new(),
        read_only: parts.method == http::Method::GET,
        additional_event_data: Value::Null,
    });
    h
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
async fn query(
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
        return placeholder(&Route::Query).fail(
            action,
            e.to_aws(Protocol::RestXml),
            &meta.request_id,
        );
    };
    let t = Target::of(service.as_ref());
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
        return query_reply(c.service.dispatch(op.name, &ctx).await?);
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
    query_reply(c.service.dispatch(op.name, &ctx).await?)
}

/// A signed request for `spec`'s service: its caller, or the error its protocol gives for a
/// missing or bad signature.
async fn authenticate_signed(
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

fn query_reply(r: tessera_service::Reply) -> Result<(String, EventDetails), AwsError> {
    match r.body {
        Body::QueryResult(xml) => Ok((xml, r.details)),
        _ => {
            tracing::error!("an awsQuery service returned another protocol's body");
            Err(internal_failure(Protocol::RestXml))
        }
    }
}

/// An awsJson1.1 request for a registered service: decode the JSON body, authenticate
/// (unless the operation is unsigned), dispatch, render.
async fn json(
    app: &App,
    service: &dyn Registered,
    op_name: &str,
    parts: &http::request::Parts,
    body: Bytes,
    meta: &RequestMeta,
) -> Handled {
    let t = Target::of(service);
    let parsed_auth = auth::parse(parts);
    let mut h = Handled {
        access_key_id: parsed_auth.as_ref().ok().map(|a| a.access_key_id.clone()),
        ..t.handled(op_name)
    };
    let result = async {
        let spec = service.spec();
        let op = service.operation(op_name).ok_or_else(|| {
            CommonError::UnknownOperation(format!("The operation {op_name} is not supported."))
                .to_aws(t.protocol)
        })?;
        let doc: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&body).map_err(|e| {
                AwsError::new(
                    400,
                    "SerializationException",
                    format!("The request body is not valid JSON: {e}"),
                )
            })?
        };
        let caller = if op.signed {
            let caller = authenticate_signed(app, parts, &body, parsed_auth, spec, meta).await?;
            h.caller = Some(caller.clone());
            Some(caller)
        } else {
            None
        };
        let ctx = Ctx {
            caller: caller.as_ref(),
            meta,
            input: Input {
                parts,
                body: &body,
                params: None,
                json: Some(&doc),
            },
        };
        service.dispatch(op.name, &ctx).await
    }
    .await;
    match result {
        Ok(r) => {
            let doc = match r.body {
                Body::Json(v) => v,
                _ => {
                    tracing::error!("an awsJson1.1 service returned another protocol's body");
                    json!({})
                }
            };
            let mut resp = Response::new(Bytes::from(doc.to_string()));
            let hd = resp.headers_mut();
            let ctype = if t.protocol == Protocol::RestJson {
                "application/json"
            } else {
                "application/x-amz-json-1.1"
            };
            hd.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(ctype),
            );
            if let Ok(v) = http::HeaderValue::from_str(&meta.request_id) {
                hd.insert("x-amzn-requestid", v);
            }
            h.response = resp;
            h.details = Some(r.details);
        }
        Err(e) => {
            h.response = e.render(t.protocol, &meta.request_id);
            h.error = Some(e);
        }
    }
    h
}

/// A restXml request for a [`tessera_service::Routing::RestPath`] service (s3control):
/// authenticate with S3 canonicalisation against the Host as received, dispatch, render.
async fn rest_xml(
    app: &App,
    service: &dyn Registered,
    op_name: &'static str,
    parts: &http::request::Parts,
    body: Bytes,
    meta: &RequestMeta,
) -> Handled {
    let t = Target::of(service);
    let parsed_auth = auth::parse(parts);
    let mut h = Handled {
        access_key_id: parsed_auth.as_ref().ok().map(|a| a.access_key_id.clone()),
        ..t.handled(op_name)
    };
    let result = async {
        let spec = service.spec();
        let auth = match parsed_auth {
            Ok(a) => a,
            Err(SigV4Error::MissingAuthentication) => {
                return Err(CommonError::AccessDenied("Access Denied".into()).to_aws(t.protocol));
            }
            Err(e) => return Err(auth::sig_error(&e, Canonicalization::S3)),
        };
        let caller = auth::authenticate(
            app,
            &AuthRequest {
                parts,
                payload: tessera_sigv4::Payload::Body(&body),
                auth: &auth,
                canon: Canonicalization::S3,
                services: spec.signing_names,
                now: meta.now,
                protocol: spec.protocol,
            },
        )
        .await?;
        h.caller = Some(caller.clone());
        let ctx = Ctx {
            caller: Some(&caller),
            meta,
            input: Input {
                parts,
                body: &body,
                params: None,
                json: None,
            },
        };
        service.dispatch(op_name, &ctx).await
    }
    .await;
    match result {
        Ok(r) => {
            let mut resp = match r.body {
                Body::Xml(xml) => {
                    let mut resp = Response::new(Bytes::from(xml));
                    resp.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/xml"),
                    );
                    resp
                }
                Body::NoContent => {
                    let mut resp = Response::new(Bytes::new());
                    *resp.status_mut() = http::StatusCode::NO_CONTENT;
                    resp
                }
                _ => {
                    tracing::error!("a restXml service returned another protocol's body");
                    let e = internal_failure(t.protocol);
                    h.response = e.render(t.protocol, &meta.request_id);
                    h.error = Some(e);
                    return h;
                }
            };
            if let Ok(v) = http::HeaderValue::from_str(&meta.request_id) {
                resp.headers_mut().insert("x-amz-request-id", v.clone());
                resp.headers_mut().insert("x-amz-id-2", v);
            }
            h.response = resp;
            h.details = Some(r.details);
        }
        Err(e) => {
            h.response = e.render(t.protocol, &meta.request_id);
            h.error = Some(e);
        }
    }
    h
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
            // An identity-enhanced session (and Access Grants credentials vended for a
            // directory user) acts on behalf of that user.
            if let Some(ic) = session.and_then(|s| s.identity_context.as_ref()) {
                v["onBehalfOf"] =
                    json!({"userId": ic.user_id, "identityStoreArn": ic.identity_store_arn});
            }
            v
        }
    }
}

/// Hand the request's record to the audit trail: in `sync` mode wait until it is written and
/// say whether it was; in `async` mode queue it (always `true`).
async fn record_audit(app: &App, meta: &RequestMeta, h: &Handled) -> bool {
    if app.audit_policy.mode == tessera_audit::AuditMode::Off {
        return true;
    }
    let mut details = h.details.clone().unwrap_or_default();
    // A refused request keeps why it was refused (what each refusing decision saw); a request
    // that succeeded despite a refused probe along the way keeps nothing of it.
    let decisions = meta.decisions.take();
    if h.error.is_some() && !decisions.is_empty() {
        if !details.additional_event_data.is_object() {
            details.additional_event_data = json!({});
        }
        details.additional_event_data["authorizationDecisions"] = Value::Array(decisions);
    }
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
        event_source: h.event_source.into(),
        event_name: h.action.clone(),
        aws_region: app.deployment.region.clone(),
        source_ip_address: meta.source_ip.to_string(),
        user_agent: meta.user_agent.clone(),
        error_code: h.error.as_ref().map(|e| e.code.clone()),
        error_message: h.error.as_ref().map(|e| e.message.clone()),
        request_parameters: details.request_parameters,
        response_elements: details.response_elements,
        additional_event_data: details.additional_event_data,
        request_id: meta.request_id.clone(),
        event_id: new_request_id(),
        read_only: details.read_only,
        resources: details.resources,
        event_type: "AwsApiCall",
        management_event: !h.data_event,
        recipient_account_id: account,
        event_category: if h.data_event { "Data" } else { "Management" },
    };
    match app.audit_policy.mode {
        tessera_audit::AuditMode::Off => true,
        tessera_audit::AuditMode::Sync => app.audit.submit_durable(rec).await,
        tessera_audit::AuditMode::Async => {
            app.audit.submit(rec).await;
            true
        }
    }
}
