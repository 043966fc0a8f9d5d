//! Listeners: the API endpoint and the optional admin endpoint (metrics, health), with
//! connection caps (in all and per client address), header, body, idle and per-request
//! timeouts, and graceful shutdown.
//!
//! Slow clients cannot hold the endpoint: request headers must arrive within
//! `limits.header_read_timeout_secs`, a body within `limits.body_read_timeout_secs` (see
//! `app`), a whole request is answered within `limits.request_timeout_secs`, a connection
//! with no request in progress and no bytes moving is closed after
//! `limits.idle_timeout_secs`, and one client address holds at most
//! `limits.max_connections_per_client` connections (further ones are closed at once).

use crate::app::{App, handle};
use crate::config::Limits;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

fn http1(header_read_timeout: Duration) -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(256 * 1024)
        .keep_alive(true);
    b
}

/// What a connection is doing: when bytes last moved, and how many requests are in progress.
#[derive(Debug)]
struct Activity {
    base: Instant,
    /// Milliseconds after `base` when bytes were last read or written.
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }

    /// Marks one request in progress until the guard drops.
    fn busy(self: &Arc<Self>) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::SeqCst);
        BusyGuard(self.clone())
    }

    /// Resolves once no request is in progress and no bytes have moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let deadline = self.last() + idle;
            tokio::time::sleep_until(deadline.into()).await;
            if self.busy.load(Ordering::SeqCst) == 0 && self.last().elapsed() >= idle {
                return;
            }
            if self.last() + idle <= Instant::now() {
                // Busy (a request is being handled: its own deadline applies); look again later.
                tokio::time::sleep(idle.min(Duration::from_secs(1))).await;
            }
        }
    }
}

struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A socket that records progress (bytes read or written) in its [`Activity`].
struct Tracked<IO> {
    inner: IO,
    activity: Arc<Activity>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct ClientSlots {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl ClientSlots {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            slots: self.clone(),
            ip,
        })
    }
}

struct ClientSlot {
    slots: Arc<ClientSlots>,
    ip: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serve the API on `listener` until `shutdown` resolves, then drain.
pub async fn serve_api(app: Arc<App>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let limits: Limits = app.limits.clone();
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let slots = Arc::new(ClientSlots::default());
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("semaphore is never closed"),
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        // One form per client: an IPv4 client of a dual-stack listener arrives as
        // `::ffff:a.b.c.d`; policies (`aws:SourceIp`), audit records and the per-client cap
        // all see `a.b.c.d`.
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let Some(slot) = slots.take(peer.ip(), limits.max_connections_per_client.max(1)) else {
            tracing::warn!(client = %peer.ip(), "connection closed: too many connections from this client");
            app.metrics.connection_refused();
            drop(stream);
            continue;
        };
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            activity: activity.clone(),
        });
        let app = app.clone();
        let tracker = activity.clone();
        let svc = service_fn(move |req: Request<Incoming>| {
            let app = app.clone();
            let busy = tracker.busy();
            async move {
                let response = handle(app, req, peer).await;
                drop(busy);
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let conn = graceful.watch(http1(limits.header_read_timeout()).serve_connection(io, svc));
        let idle = limits.idle_timeout();
        tokio::spawn(async move {
            let _permit = permit;
            let _slot = slot;
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                _ = activity.idle_for(idle) => {
                    tracing::debug!(client = %peer.ip(), "closing an idle connection");
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(DRAIN) => tracing::warn!("shutdown drain timed out; closing remaining connections"),
    }
}

fn admin_response(
    app: &App,
    req: &Request<Incoming>,
) -> impl Future<Output = Response<Full<Bytes>>> + use<> {
    let path = req.uri().path().to_owned();
    let revoke = (req.method() == http::Method::POST && path == "/sessions/revoke").then(|| {
        req.uri()
            .query()
            .and_then(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "user")
                    .map(|(_, v)| v.into_owned())
            })
            .unwrap_or_default()
    });
    let params: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let is_get = req.method() == http::Method::GET;
    let revocations = app.revocations.clone();
    let store = app.store.clone();
    let metrics = app.metrics.clone();
    metrics.set_audit_failures(app.audit.failures());
    async move {
        let (status, ctype, body) = match path.as_str() {
            // The audit trail, for the operator (and the demo's audit page): the same query
            // as `tessera audit query` / `explain`.
            "/audit/events" | "/audit/explain" if !is_get => (
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "use GET\n".to_owned(),
            ),
            "/audit/events" => audit_events(store.as_ref(), &params).await,
            "/audit/explain" => {
                let id = params
                    .iter()
                    .find(|(k, _)| k == "requestId")
                    .map(|(_, v)| v);
                match id {
                    None => (
                        StatusCode::BAD_REQUEST,
                        "text/plain",
                        "give ?requestId=<request id>\n".to_owned(),
                    ),
                    Some(id) => match crate::audit_trail::explain(store.as_ref(), id).await {
                        Ok(Some(text)) => (StatusCode::OK, "text/plain; charset=utf-8", text),
                        Ok(None) => (
                            StatusCode::NOT_FOUND,
                            "text/plain",
                            "no audit record has that request id\n".to_owned(),
                        ),
                        Err(e) => {
                            tracing::error!(error = %e, "explaining a request failed");
                            (
                                StatusCode::SERVICE_UNAVAILABLE,
                                "text/plain",
                                "store unavailable\n".to_owned(),
                            )
                        }
                    },
                }
            }
            // Operator only: the admin listener must not be reachable by API clients.
            "/sessions/revoke" => match revoke {
                None => (
                    StatusCode::METHOD_NOT_ALLOWED,
                    "text/plain",
                    "use POST /sessions/revoke?user=ID\n".to_owned(),
                ),
                Some(user) if user.is_empty() || user.len() > 47 => (
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    "give ?user=<identity store user id>\n".to_owned(),
                ),
                Some(user) => {
                    let at = chrono::Utc::now().timestamp();
                    match tessera_authz::revocations::revoke(
                        &revocations,
                        store.as_ref(),
                        &user,
                        at,
                    )
                    .await
                    {
                        Ok(()) => (
                            StatusCode::OK,
                            "application/json",
                            serde_json::json!({"userId": user, "revokedAt": at}).to_string(),
                        ),
                        Err(e) => {
                            tracing::error!(error = %e, "revoking a user failed");
                            (
                                StatusCode::SERVICE_UNAVAILABLE,
                                "text/plain",
                                "store unavailable\n".to_owned(),
                            )
                        }
                    }
                }
            },
            "/metrics" => (
                StatusCode::OK,
                "text/plain; version=0.0.4",
                metrics.render(),
            ),
            "/healthz" => match store.list_accounts().await {
                Ok(_) => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
                Err(e) => {
                    tracing::warn!(error = %e, "health check: store unavailable");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "store unavailable\n".to_owned(),
                    )
                }
            },
            _ => (
                StatusCode::NOT_FOUND,
                "text/plain",
                "not found\n".to_owned(),
            ),
        };
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(ctype),
        );
        r
    }
}

/// `GET /audit/events?user=&principal=&event=&requestId=&since=&until=&limit=`: the matching
/// records newest first, as `{"Records": [...]}` (CloudTrail's log-file shape).
async fn audit_events(
    store: &dyn tessera_store::Store,
    params: &[(String, String)],
) -> (StatusCode, &'static str, String) {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let bad = |m: String| (StatusCode::BAD_REQUEST, "text/plain", format!("{m}\n"));
    let now = chrono::Utc::now();
    let time = |k: &str| {
        get(k)
            .map(|v| crate::audit_trail::since(&v, now))
            .transpose()
            .map_err(|e| format!("{k}: {e}"))
    };
    let (since, until) = match (time("since"), time("until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let limit = match get("limit").map(|l| l.parse::<i64>()) {
        None => 100,
        Some(Ok(l)) if (1..=10_000).contains(&l) => l,
        Some(_) => return bad("limit must be a number from 1 to 10000".into()),
    };
    let q = crate::audit_trail::Query {
        user: get("user"),
        principal_arn: get("principal"),
        event_name: get("event"),
        request_id: get("requestId"),
        since,
        until,
        limit,
    };
    match crate::audit_trail::query(store, &q).await {
        Ok(rows) => {
            let mut body = String::from("{\"Records\":[");
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&r.body);
            }
            body.push_str("]}");
            (StatusCode::OK, "application/json", body)
        }
        Err(e) => {
            tracing::error!(error = %e, "querying the audit trail failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "store unavailable\n".to_owned(),
            )
        }
    }
}

/// Serve `/metrics` and `/healthz` until shutdown.
pub async fn serve_admin(
    app: Arc<App>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
            _ = shutdown.changed() => return,
        };
        let app = app.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let fut = admin_response(&app, &req);
                async move { Ok::<_, std::convert::Infallible>(fut.await) }
            });
            let _ = http1(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
