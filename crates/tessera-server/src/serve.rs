//! The API listener (the admin listener is `admin`), with a connection ceiling, a cap per
//! client address, header, body, idle and per-request timeouts, and graceful shutdown.
//!
//! Slow clients cannot hold the endpoint: request headers must arrive within
//! `limits.header_read_timeout_secs`; a body must keep moving (`limits.body_read_timeout_secs`
//! without bytes ends it) and keep up `limits.min_body_bytes_per_sec` on average (see
//! `config::BodyPace`); a whole request is answered within `limits.request_timeout_secs`; a
//! connection with no request in progress and no bytes moving is closed after
//! `limits.idle_timeout_secs`; one client address holds at most
//! `limits.max_connections_per_client` connections (further ones are closed at once); and at
//! the connection ceiling — what the process's open-file limit can hold — a new connection
//! sheds the slowest open one, so clients spread over many addresses cannot hold it either.

use crate::app::{App, handle};
use crate::config::Limits;
use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

pub(crate) fn http1(header_read_timeout: Duration) -> http1::Builder {
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

/// File descriptors kept free of connections: the store's pools, object files being read
/// or written, connections to an upstream store, logs.
const RESERVED_FDS: u64 = 512;
/// The most connections the automatic ceiling allows.
const AUTO_CEILING: u64 = 16_384;
/// A connection is slow enough to shed once its bytes have not moved for this long.
const SHED_AFTER: Duration = Duration::from_secs(1);

/// Raise the open-file limit to its hard maximum (where it is lower) and return the soft
/// limit now in force.
fn raise_open_file_limit() -> u64 {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let now = getrlimit(Resource::Nofile);
        if let (Some(cur), Some(max)) = (now.current, now.maximum)
            && cur < max
            && setrlimit(
                Resource::Nofile,
                rustix::process::Rlimit {
                    current: Some(max),
                    maximum: Some(max),
                },
            )
            .is_ok()
        {
            return max;
        }
        now.current.unwrap_or(u64::MAX)
    }
    #[cfg(not(unix))]
    {
        u64::MAX
    }
}

/// The most connections this process takes: what its open-file limit can hold (less a
/// reserve), capped by `configured` (0: automatic, at most [`AUTO_CEILING`]).
pub fn connection_ceiling(configured: usize) -> usize {
    let fit = raise_open_file_limit().saturating_sub(RESERVED_FDS).max(64);
    let want = if configured == 0 {
        AUTO_CEILING
    } else {
        configured as u64
    };
    want.min(fit) as usize
}

/// An open connection: how its bytes move, and the signal that sheds it.
type OpenConnection = (Arc<Activity>, Arc<tokio::sync::Notify>);

/// The open connections, so that the slowest can be shed when the ceiling is reached.
#[derive(Debug, Default)]
struct Connections {
    next: AtomicU64,
    open: Mutex<HashMap<u64, OpenConnection>>,
}

/// A connection's place in [`Connections`]: removed when it drops.
struct Registered {
    conns: Arc<Connections>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

impl Connections {
    fn register(
        self: &Arc<Self>,
        activity: Arc<Activity>,
    ) -> (Registered, Arc<tokio::sync::Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let shed = Arc::new(tokio::sync::Notify::new());
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, (activity, shed.clone()));
        (
            Registered {
                conns: self.clone(),
                id,
            },
            shed,
        )
    }

    fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Close the connection whose bytes stopped moving longest ago, if that is at least
    /// [`SHED_AFTER`] ago; whether one was shed.
    fn shed_slowest(&self) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let slowest = open
            .iter()
            .map(|(id, (a, _))| (now.saturating_duration_since(a.last()), *id))
            .max();
        match slowest {
            Some((quiet, id)) if quiet >= SHED_AFTER => {
                if let Some((_, shed)) = open.remove(&id) {
                    shed.notify_one();
                }
                true
            }
            _ => false,
        }
    }
}

/// Serve the API on `listener` until `shutdown` resolves, then drain.
///
/// At most [`connection_ceiling`] connections are open: at the ceiling a new one sheds the
/// slowest open connection (bytes quiet for a second or more), or is closed at once when
/// every open one is moving. One client address holds at most
/// `limits.max_connections_per_client`.
/// How the API listener meets its clients: TLS, and the proxies in front of it.
#[derive(Debug, Clone, Default)]
pub struct ApiOptions {
    pub tls: Option<Arc<crate::tls::Tls>>,
    pub proxies: Arc<crate::proxy::Proxies>,
}

pub async fn serve_api(
    app: Arc<App>,
    listener: TcpListener,
    options: ApiOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    let ApiOptions { tls, proxies } = options;
    let per_client = app.limits.max_connections_per_client.max(1);
    let graceful = GracefulShutdown::new();
    let limits: Limits = app.limits.clone();
    let ceiling = connection_ceiling(limits.max_connections);
    tracing::debug!(ceiling, "connection ceiling");
    let conns = Arc::new(Connections::default());
    let slots = Arc::new(ClientSlots::default());
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors: make room by shedding the slowest.
                    let fds = matches!(e.raw_os_error(), Some(23 | 24));
                    if !(fds && conns.shed_slowest()) {
                        tracing::warn!(error = %e, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        // One form per client: an IPv4 client of a dual-stack listener arrives as
        // `::ffff:a.b.c.d`; policies (`aws:SourceIp`), audit records and the per-client cap
        // all see `a.b.c.d`.
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        // Responses go out as they are written, not held back for the client's ACK of the
        // previous segment (Nagle), as nginx's `tcp_nodelay` does.
        let _ = stream.set_nodelay(true);
        // A trusted proxy's connection is capped as its client's once its PROXY header
        // names the client; one that forwards requests (X-Forwarded-For) carries many
        // clients and is not capped as one.
        let header = proxies.expects_header(peer.ip());
        let slot = if header || proxies.forwards_requests(peer.ip()) {
            None
        } else {
            match slots.take(peer.ip(), per_client) {
                Some(s) => Some(s),
                None => {
                    tracing::warn!(client = %peer.ip(), "connection closed: too many connections from this client");
                    app.metrics.connection_refused();
                    drop(stream);
                    continue;
                }
            }
        };
        if conns.len() >= ceiling && !conns.shed_slowest() {
            tracing::warn!(
                ceiling,
                "connection closed: at the connection ceiling and no open connection is slow"
            );
            app.metrics.connection_refused();
            drop(stream);
            continue;
        }
        let activity = Arc::new(Activity::new());
        let (registered, shed) = conns.register(activity.clone());
        let watcher = graceful.watcher();
        let (app, tls, proxies, slots) = (app.clone(), tls.clone(), proxies.clone(), slots.clone());
        let header_timeout = limits.header_read_timeout();
        let idle = limits.idle_timeout();
        tokio::spawn(async move {
            let _registered = registered;
            let mut _slot = slot;
            let mut stream = stream;
            let mut peer = peer;
            if header {
                match tokio::time::timeout(
                    crate::proxy::HEADER_TIMEOUT,
                    crate::proxy::read_header(&mut stream),
                )
                .await
                {
                    Ok(Ok(client)) => {
                        if let Some(c) = client {
                            peer = SocketAddr::new(c.ip().to_canonical(), c.port());
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(proxy = %peer.ip(), error = %e, "connection closed: no usable PROXY header");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(proxy = %peer.ip(), "connection closed: no PROXY header in time");
                        return;
                    }
                }
                match slots.take(peer.ip(), per_client) {
                    Some(s) => _slot = Some(s),
                    None => {
                        tracing::warn!(client = %peer.ip(), "connection closed: too many connections from this client");
                        app.metrics.connection_refused();
                        return;
                    }
                }
            }
            let serve = async {
                let io = Tracked {
                    inner: stream,
                    activity: activity.clone(),
                };
                match tls {
                    None => {
                        serve_connection(
                            app,
                            io,
                            peer,
                            &proxies,
                            &activity,
                            watcher,
                            header_timeout,
                        )
                        .await
                    }
                    // The handshake's bytes count as traffic, and it has its own timeout.
                    Some(tls) => match tls.accept(io).await {
                        Ok(io) => {
                            serve_connection(
                                app,
                                io,
                                peer,
                                &proxies,
                                &activity,
                                watcher,
                                header_timeout,
                            )
                            .await
                        }
                        Err(e) => {
                            tracing::debug!(client = %peer.ip(), error = %e, "TLS handshake failed");
                        }
                    },
                }
            };
            tokio::select! {
                _ = serve => {}
                _ = activity.idle_for(idle) => {
                    tracing::debug!(client = %peer.ip(), "closing an idle connection");
                }
                _ = shed.notified() => {
                    tracing::debug!(client = %peer.ip(), "shedding the slowest connection at the ceiling");
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

/// Serve HTTP/1.1 requests on one accepted connection (plain or TLS) until it ends or the
/// server drains.
async fn serve_connection<IO>(
    app: Arc<App>,
    io: IO,
    peer: SocketAddr,
    proxies: &Arc<crate::proxy::Proxies>,
    activity: &Arc<Activity>,
    watcher: hyper_util::server::graceful::Watcher,
    header_timeout: Duration,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let tracker = activity.clone();
    let forwarded = proxies
        .forwards_requests(peer.ip())
        .then(|| proxies.clone());
    let svc = service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        let busy = tracker.busy();
        // Behind a trusted proxy that forwards requests, each names its own client (its
        // port is not known).
        let client = match &forwarded {
            Some(p) => SocketAddr::new(p.client_of(peer.ip(), req.headers()), 0),
            None => peer,
        };
        async move {
            let response = handle(app, req, client).await;
            drop(busy);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let conn = http1(header_timeout).serve_connection(TokioIo::new(io), svc);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
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
