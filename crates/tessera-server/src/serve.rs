//! Listeners: the API endpoint and the optional admin endpoint (metrics, health), with a
//! connection cap, header timeouts and graceful shutdown.

use crate::app::{App, handle};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

fn http1() -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .max_buf_size(256 * 1024)
        .keep_alive(true);
    b
}

/// Serve the API on `listener` until `shutdown` resolves, then drain.
pub async fn serve_api(app: Arc<App>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(app.limits.max_connections.max(1)));
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
        let app = app.clone();
        let svc = service_fn(move |req: Request<Incoming>| {
            let app = app.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(app, req, peer).await) }
        });
        let conn = graceful.watch(http1().serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
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
    let store = app.store.clone();
    let metrics = app.metrics.clone();
    async move {
        let (status, ctype, body) = match path.as_str() {
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
            let _ = http1().serve_connection(TokioIo::new(stream), svc).await;
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
