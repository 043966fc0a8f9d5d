//! A small HTTP layer for the identity provider and the demo: one handler per listener, plain
//! requests in (method, path, query, cookies, form), responses out, with the security headers
//! every page carries.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Largest form body read (sign-in forms, token requests).
const MAX_BODY: usize = 64 * 1024;

/// A request as the handlers see it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: http::Method,
    pub path: String,
    pub query: HashMap<String, String>,
    pub cookies: HashMap<String, String>,
    pub form: HashMap<String, String>,
    pub headers: http::HeaderMap,
}

impl Req {
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }

    pub fn f(&self, k: &str) -> Option<&str> {
        self.form.get(k).map(String::as_str)
    }

    pub fn cookie(&self, k: &str) -> Option<&str> {
        self.cookies.get(k).map(String::as_str)
    }
}

pub type Resp = Response<Full<Bytes>>;

fn pairs(s: &str) -> HashMap<String, String> {
    // The first of a repeated name counts.
    let mut m = HashMap::new();
    for (k, v) in form_urlencoded::parse(s.as_bytes()) {
        m.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    m
}

fn cookies(h: &http::HeaderMap) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for v in h.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(';') {
            if let Some((k, val)) = part.trim().split_once('=') {
                m.entry(k.trim().to_owned())
                    .or_insert_with(|| val.trim().to_owned());
            }
        }
    }
    m
}

async fn read(req: http::Request<Incoming>) -> Result<Req, Resp> {
    let (parts, body) = req.into_parts();
    let form_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let body = match tokio::time::timeout(
        Duration::from_secs(10),
        Limited::new(body, MAX_BODY).collect(),
    )
    .await
    {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return Err(text(StatusCode::PAYLOAD_TOO_LARGE, "request too large")),
        Err(_) => return Err(text(StatusCode::REQUEST_TIMEOUT, "request timed out")),
    };
    let form = if form_type {
        pairs(&String::from_utf8_lossy(&body))
    } else {
        HashMap::new()
    };
    Ok(Req {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: pairs(parts.uri.query().unwrap_or("")),
        cookies: cookies(&parts.headers),
        form,
        headers: parts.headers,
    })
}

/// Serve `handler` on `listener` until `shutdown` changes.
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: Arc<H>,
    mut shutdown: watch::Receiver<bool>,
) where
    H: Fn(Req) -> F + Send + Sync + 'static,
    F: Future<Output = Resp> + Send + 'static,
{
    loop {
        let (stream, _): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: http::Request<Incoming>| {
                let handler = handler.clone();
                async move {
                    let resp = match read(req).await {
                        Ok(r) => handler(r).await,
                        Err(resp) => resp,
                    };
                    Ok::<_, std::convert::Infallible>(secure(resp))
                }
            });
            let mut b = http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .keep_alive(true);
            let _ = b.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

/// The headers every answer carries: no framing, no sniffing, no referrer beyond the origin,
/// and a content security policy that allows nothing from elsewhere (pages style themselves
/// inline and draw with inline SVG).
fn secure(mut r: Resp) -> Resp {
    let h = r.headers_mut();
    let set = |h: &mut http::HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self' http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    set(h, "cache-control", "no-store");
    r
}

pub fn html(status: StatusCode, body: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

pub fn text(status: StatusCode, body: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub fn json(status: StatusCode, v: &serde_json::Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A `303 See Other` to `location`.
pub fn redirect(location: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Set a cookie the page's scripts cannot read, sent only by this site (`max_age` 0 removes
/// it).
pub fn set_cookie(r: &mut Resp, name: &str, value: &str, max_age: i64) {
    let c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Text for an HTML element or attribute.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A query-string value.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// 32 random bytes, base64url: session ids, states, codes.
pub fn random_token() -> String {
    use base64::Engine as _;
    let b: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Bind `want`, or (when it is taken) a free port on the same address.
pub async fn bind(want: SocketAddr) -> std::io::Result<TcpListener> {
    match TcpListener::bind(want).await {
        Ok(l) => Ok(l),
        Err(e) if want.port() != 0 => {
            tracing::warn!(addr = %want, error = %e, "address taken; using a free port");
            TcpListener::bind(SocketAddr::new(want.ip(), 0)).await
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(enc("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn cookies_and_pairs() {
        let mut h = http::HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; b=2; a=3"));
        let c = cookies(&h);
        assert_eq!(c.get("a").map(String::as_str), Some("1"));
        assert_eq!(c.get("b").map(String::as_str), Some("2"));
        let p = pairs("x=1&y=%20two&x=3");
        assert_eq!(p.get("x").map(String::as_str), Some("1"));
        assert_eq!(p.get("y").map(String::as_str), Some(" two"));
    }
}
