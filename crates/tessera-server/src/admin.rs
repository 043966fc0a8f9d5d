//! The admin listener (`admin_listen`): open `/metrics`, `/healthz` and `/readyz` for scrapers and
//! probes, and the operator endpoints — `GET /audit/events`, `GET /audit/explain`,
//! `POST /sessions/revoke` — which answer only an operator.
//!
//! An operator endpoint request must
//! 1. name an expected `Host`: an IP address or `localhost` (with any port), or one of
//!    `admin_allowed_hosts` — so a web page cannot reach the listener through a DNS name it
//!    controls that resolves to it (DNS rebinding);
//! 2. not come from another site: a browser's `Sec-Fetch-Site` other than `same-origin` or
//!    `none`, or an `Origin` that is not the listener's own, is refused (so is any `Origin`
//!    on a request without `Sec-Fetch-Site`);
//! 3. carry `Authorization: Bearer <operator token>` — a token made by
//!    `tessera operator-token create`, stored as its SHA-256, compared in constant time.
//!
//! Every operator request, allowed or refused, leaves one audit record (event source
//! `tessera.admin`): who (the token's id, or nothing), what, from where, and the outcome.

use crate::app::App;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tessera_audit::AuditRecord;
use tessera_store::OperatorTokenRecord;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The audit event source of operator requests.
pub const EVENT_SOURCE: &str = "tessera.admin";

/// What the admin listener is configured with.
#[derive(Debug, Clone, Default)]
pub struct AdminOptions {
    /// Host names (without port) besides IP addresses and `localhost` that operator requests
    /// may name in `Host`.
    pub allowed_hosts: Vec<String>,
}

/// Serve the admin listener until shutdown.
pub async fn serve_admin(
    app: Arc<App>,
    options: AdminOptions,
    listener: TcpListener,
    tls: Option<Arc<crate::tls::Tls>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let options = Arc::new(options);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            _ = shutdown.changed() => return,
        };
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let options = options.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let app = app.clone();
                let options = options.clone();
                async move {
                    let (parts, _) = req.into_parts();
                    Ok::<_, std::convert::Infallible>(respond(&app, &options, &parts, peer).await)
                }
            });
            let http = crate::serve::http1(Duration::from_secs(10));
            match tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                }
                Some(tls) => match tls.accept(stream).await {
                    Ok(s) => {
                        let _ = http.serve_connection(TokioIo::new(s), svc).await;
                    }
                    Err(e) => {
                        tracing::debug!(client = %peer.ip(), error = %e, "TLS handshake failed")
                    }
                },
            }
        });
    }
}

fn reply(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(ctype),
    );
    r
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    reply(status, "text/plain; charset=utf-8", format!("{body}\n"))
}

fn header<'a>(parts: &'a http::request::Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The host of a `Host` value, without its port (`[::1]:9100` → `::1`).
fn host_name(value: &str) -> &str {
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match value.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => value,
    }
}

/// Whether `Host` names this listener as operators reach it (not a name an attacker's DNS
/// could point here).
pub fn host_allowed(host: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = host else { return false };
    let name = host_name(host.trim());
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// Why a request is cross-site, if it is: a browser says so (`Sec-Fetch-Site`), or sends an
/// `Origin` that is not this listener's own.
pub fn cross_site(parts: &http::request::Parts) -> Option<&'static str> {
    match header(parts, "sec-fetch-site") {
        Some("same-origin") | Some("none") => return None,
        Some(_) => return Some("Sec-Fetch-Site is not same-origin"),
        None => {}
    }
    let origin = header(parts, "origin")?;
    let host = header(parts, "host").unwrap_or("");
    let same = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host));
    (!same).then_some("the Origin is another site")
}

/// The operator token a request carries, if it is a live one.
async fn operator(app: &App, parts: &http::request::Parts) -> Option<OperatorTokenRecord> {
    let value = header(parts, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    if token.is_empty() || token.len() > 512 {
        return None;
    }
    let digest = tessera_crypto::token::token_digest(token);
    let found = match app.store.operator_token_by_hash(&digest).await {
        Ok(f) => f?,
        Err(e) => {
            tracing::error!(error = %e, "looking up an operator token failed");
            return None;
        }
    };
    // The lookup was by digest; compare it again in constant time all the same.
    let same: bool =
        subtle::ConstantTimeEq::ct_eq(found.token_hash.as_bytes(), digest.as_bytes()).into();
    (same && found.expires_at > chrono::Utc::now().timestamp()).then_some(found)
}

/// The operator endpoints: their audit event names, and the method each takes.
fn operation(path: &str) -> Option<(&'static str, http::Method)> {
    match path {
        "/audit/events" => Some(("LookupAuditEvents", http::Method::GET)),
        "/audit/explain" => Some(("ExplainAuditEvent", http::Method::GET)),
        "/sessions/revoke" => Some(("RevokeUserSessions", http::Method::POST)),
        _ => None,
    }
}

async fn respond(
    app: &App,
    options: &AdminOptions,
    parts: &http::request::Parts,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let path = parts.uri.path();
    let Some((event, method)) = operation(path) else {
        return open_endpoint(app, path).await;
    };
    let params: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let started = chrono::Utc::now();
    let mut who: Option<OperatorTokenRecord> = None;
    let (response, error): (Response<Full<Bytes>>, Option<(&str, String)>) = if !host_allowed(
        header(parts, "host"),
        &options.allowed_hosts,
    ) {
        let m = "the Host of this request is not one this listener answers operators at";
        (
            text(StatusCode::FORBIDDEN, m),
            Some(("UnexpectedHost", m.into())),
        )
    } else if let Some(why) = cross_site(parts) {
        let m = format!("cross-site request refused: {why}");
        (
            text(StatusCode::FORBIDDEN, &m),
            Some(("CrossSiteRequest", m)),
        )
    } else if let Some(t) = operator(app, parts).await {
        who = Some(t);
        if parts.method != method {
            let m = format!("use {method} {path}");
            (
                text(StatusCode::METHOD_NOT_ALLOWED, &m),
                Some(("MethodNotAllowed", m)),
            )
        } else {
            operate(app, path, &params).await
        }
    } else {
        let m = "an operator token is required: Authorization: Bearer <token> (tessera operator-token create)";
        let mut r = text(StatusCode::UNAUTHORIZED, m);
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"tessera-admin\""),
        );
        (r, Some(("Unauthorized", m.into())))
    };
    let record = audit_record(
        app,
        parts,
        peer,
        started,
        event,
        who.as_ref(),
        &params,
        error,
    );
    if record_admin(app, record).await {
        response
    } else {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the audit trail could not record this request",
        )
    }
}

/// `/metrics`, `/healthz` and `/readyz`: open to anyone who reaches the listener.
async fn open_endpoint(app: &App, path: &str) -> Response<Full<Bytes>> {
    match path {
        "/metrics" => {
            app.metrics.set_audit_failures(app.audit.failures());
            reply(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                app.metrics.render(),
            )
        }
        // Alive: the process answers. A load balancer's restart decision.
        "/healthz" => text(StatusCode::OK, "ok"),
        // Ready: the store and the object store answer (the views were loaded before the
        // listeners opened). A load balancer's routing decision.
        "/readyz" => {
            // A store that does not answer in time is as away as one that refuses: a probe
            // gets its answer within seconds either way.
            const WITHIN: Duration = Duration::from_secs(2);
            match tokio::time::timeout(WITHIN, app.store.list_accounts()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: the store is unavailable");
                    return text(StatusCode::SERVICE_UNAVAILABLE, "store unavailable");
                }
                Err(_) => {
                    tracing::warn!("readiness: the store did not answer within 2 s");
                    return text(StatusCode::SERVICE_UNAVAILABLE, "store unavailable");
                }
            }
            match tokio::time::timeout(WITHIN, app.objects.ready()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "readiness: the object store is unavailable");
                    return text(StatusCode::SERVICE_UNAVAILABLE, "object store unavailable");
                }
                Err(_) => {
                    tracing::warn!("readiness: the object store did not answer within 2 s");
                    return text(StatusCode::SERVICE_UNAVAILABLE, "object store unavailable");
                }
            }
            text(StatusCode::OK, "ready")
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// An authorised operator request.
async fn operate(
    app: &App,
    path: &str,
    params: &[(String, String)],
) -> (Response<Full<Bytes>>, Option<(&'static str, String)>) {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let unavailable = || {
        (
            text(StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
            Some(("ServiceUnavailable", "store unavailable".to_owned())),
        )
    };
    let bad = |m: String| {
        (
            text(StatusCode::BAD_REQUEST, &m),
            Some(("InvalidRequest", m)),
        )
    };
    if path.starts_with("/audit/") {
        // Records are durable in the local log first and reach the store just behind: an
        // operator's query waits for what this server has answered so far.
        app.audit.flush().await;
    }
    match path {
        "/audit/events" => match audit_events(app.store.as_ref(), params).await {
            Ok(body) => (reply(StatusCode::OK, "application/json", body), None),
            Err(AdminError::Bad(m)) => bad(m),
            Err(AdminError::Store) => unavailable(),
        },
        "/audit/explain" => {
            let Some(id) = get("requestId") else {
                return bad("give ?requestId=<request id>".into());
            };
            match tessera_audit_trail::explain(app.store.as_ref(), &id).await {
                Ok(Some(t)) => (reply(StatusCode::OK, "text/plain; charset=utf-8", t), None),
                Ok(None) => (
                    text(StatusCode::NOT_FOUND, "no audit record has that request id"),
                    Some(("NotFound", "no audit record has that request id".into())),
                ),
                Err(e) => {
                    tracing::error!(error = %e, "explaining a request failed");
                    unavailable()
                }
            }
        }
        "/sessions/revoke" => {
            let user = get("user").unwrap_or_default();
            if user.is_empty() || user.len() > 47 {
                return bad("give ?user=<identity store user id>".into());
            }
            let at = chrono::Utc::now().timestamp();
            match tessera_authz::revocations::revoke(
                &app.revocations,
                app.store.as_ref(),
                &user,
                at,
            )
            .await
            {
                Ok(()) => (
                    reply(
                        StatusCode::OK,
                        "application/json",
                        json!({"userId": user, "revokedAt": at}).to_string(),
                    ),
                    None,
                ),
                Err(e) => {
                    tracing::error!(error = %e, "revoking a user failed");
                    unavailable()
                }
            }
        }
        _ => (text(StatusCode::NOT_FOUND, "not found"), None),
    }
}

enum AdminError {
    Bad(String),
    Store,
}

/// `GET /audit/events?user=&principal=&event=&requestId=&since=&until=&limit=`: the matching
/// records newest first, as `{"Records": [...]}` (CloudTrail's log-file shape).
async fn audit_events(
    store: &dyn tessera_store::Store,
    params: &[(String, String)],
) -> Result<String, AdminError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let now = chrono::Utc::now();
    let time = |k: &str| {
        get(k)
            .map(|v| tessera_audit_trail::since(&v, now))
            .transpose()
            .map_err(|e| AdminError::Bad(format!("{k}: {e}")))
    };
    let (since, until) = (time("since")?, time("until")?);
    let limit = match get("limit").map(|l| l.parse::<i64>()) {
        None => 100,
        Some(Ok(l)) if (1..=10_000).contains(&l) => l,
        Some(_) => {
            return Err(AdminError::Bad(
                "limit must be a number from 1 to 10000".into(),
            ));
        }
    };
    let q = tessera_audit_trail::Query {
        user: get("user"),
        principal_arn: get("principal"),
        event_name: get("event"),
        request_id: get("requestId"),
        since,
        until,
        limit,
    };
    let rows = tessera_audit_trail::query(store, &q).await.map_err(|e| {
        tracing::error!(error = %e, "querying the audit trail failed");
        AdminError::Store
    })?;
    let mut body = String::from("{\"Records\":[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&r.body);
    }
    body.push_str("]}");
    Ok(body)
}

#[allow(clippy::too_many_arguments)]
fn audit_record(
    app: &App,
    parts: &http::request::Parts,
    peer: SocketAddr,
    at: chrono::DateTime<chrono::Utc>,
    event: &str,
    who: Option<&OperatorTokenRecord>,
    params: &[(String, String)],
    error: Option<(&str, String)>,
) -> AuditRecord {
    let user_identity = match who {
        Some(t) => json!({"type": "TesseraOperator", "principalId": t.token_id,
            "arn": format!("tessera:operator-token/{}", t.token_id),
            "description": t.description}),
        None => json!({"type": "Unknown"}),
    };
    // The query as given (it names users and filters, never a secret); the revoked user is
    // also kept where `audit query --user` finds it.
    let request_parameters: Value = params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let mut additional = json!({"host": header(parts, "host"), "method": parts.method.as_str()});
    if event == "RevokeUserSessions"
        && error.is_none()
        && let Some((_, u)) = params.iter().find(|(k, _)| k == "user")
    {
        additional["identitystore:UserId"] = json!(u);
    }
    let (error_code, error_message) = match error {
        Some((c, m)) => (Some(c.to_owned()), Some(m)),
        None => (None, None),
    };
    AuditRecord {
        event_version: "1.11",
        user_identity,
        event_time: at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        event_source: EVENT_SOURCE.into(),
        event_name: event.into(),
        aws_region: app.deployment.region.clone(),
        source_ip_address: peer.ip().to_string(),
        user_agent: header(parts, "user-agent")
            .unwrap_or("")
            .chars()
            .take(256)
            .collect(),
        error_code,
        error_message,
        request_parameters,
        response_elements: Value::Null,
        additional_event_data: additional,
        request_id: uuid::Uuid::now_v7().to_string(),
        event_id: uuid::Uuid::new_v4().to_string(),
        read_only: event != "RevokeUserSessions",
        resources: Vec::new(),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: String::new(),
        event_category: "Management",
    }
}

/// The record of an operator command run on the store directly (`tessera sessions revoke`):
/// the operating-system user who ran it, on this host.
pub fn command_record(region: &str, event: &str, params: Value, additional: Value) -> AuditRecord {
    let os_user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    AuditRecord {
        event_version: "1.11",
        user_identity: json!({"type": "TesseraOperator", "principalId": format!("command:{os_user}"),
            "arn": format!("tessera:operator-command/{os_user}")}),
        event_time: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        event_source: EVENT_SOURCE.into(),
        event_name: event.into(),
        aws_region: region.to_owned(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: format!("tessera/{}", env!("CARGO_PKG_VERSION")),
        error_code: None,
        error_message: None,
        request_parameters: params,
        response_elements: Value::Null,
        additional_event_data: additional,
        request_id: uuid::Uuid::now_v7().to_string(),
        event_id: uuid::Uuid::new_v4().to_string(),
        read_only: false,
        resources: Vec::new(),
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: String::new(),
        event_category: "Management",
    }
}

/// Record an operator request as the API's requests are (sync: after its commit).
async fn record_admin(app: &App, rec: AuditRecord) -> bool {
    match app.audit_policy.mode {
        tessera_audit::AuditMode::Off => true,
        tessera_audit::AuditMode::Sync => {
            app.audit.submit_durable(rec).await
                || app.audit_policy.on_failure == tessera_audit::AuditFailure::FailOpen
        }
        tessera_audit::AuditMode::Async => {
            app.audit.submit(rec).await;
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_operators_reach_the_listener_at() {
        let none: Vec<String> = Vec::new();
        for ok in [
            "127.0.0.1:9100",
            "[::1]:9100",
            "10.0.0.5",
            "localhost:9100",
            "LOCALHOST",
        ] {
            assert!(host_allowed(Some(ok), &none), "{ok}");
        }
        for bad in [
            "evil.example.com:9100",
            "127.0.0.1.nip.io:9100",
            "localhost.evil.com",
            "",
        ] {
            assert!(!host_allowed(Some(bad), &none), "{bad}");
        }
        assert!(!host_allowed(None, &none));
        let named = vec!["tessera-admin.internal".to_owned()];
        assert!(host_allowed(Some("tessera-admin.internal:9100"), &named));
    }

    fn parts(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = Request::builder().uri("/sessions/revoke");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        assert!(cross_site(&parts(&[("host", "127.0.0.1:9100")])).is_none());
        assert!(
            cross_site(&parts(&[
                ("host", "127.0.0.1:9100"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_some()
        );
        assert!(
            cross_site(&parts(&[
                ("host", "127.0.0.1:9100"),
                ("sec-fetch-site", "same-site")
            ]))
            .is_some()
        );
        assert!(
            cross_site(&parts(&[
                ("host", "127.0.0.1:9100"),
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:9100")
            ]))
            .is_none()
        );
        assert!(
            cross_site(&parts(&[
                ("host", "127.0.0.1:9100"),
                ("origin", "http://evil.example.com")
            ]))
            .is_some()
        );
        assert!(
            cross_site(&parts(&[
                ("host", "127.0.0.1:9100"),
                ("origin", "http://127.0.0.1:9100")
            ]))
            .is_none()
        );
    }
}
