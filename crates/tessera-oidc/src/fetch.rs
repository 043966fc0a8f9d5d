//! The network port ([`HttpFetch`]) and its implementations.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::sanitize_for_message;

/// Port: GET a URL, return the body. Implementations enforce scheme rules, timeouts, size caps.
#[async_trait::async_trait]
pub trait HttpFetch: Send + Sync + std::fmt::Debug {
    /// Fetch `url` and return the response body of a successful (2xx) response.
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError>;
}

/// Why a fetch failed. Messages name at most the scheme and host of a URL, never credentials or paths.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The URL could not be parsed or carries credentials.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The URL's scheme or host is not allowed (for example `http://` to a non-loopback host).
    #[error("URL not allowed: {0}")]
    NotAllowed(String),
    /// Connecting or reading took too long.
    #[error("request timed out")]
    Timeout,
    /// The connection (TCP or TLS) could not be established.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The server answered with a redirect; redirects are never followed.
    #[error("redirect (HTTP {0}) not followed")]
    Redirect(u16),
    /// The server answered with a non-success status.
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// The response body exceeded the size cap.
    #[error("response body larger than {limit} bytes")]
    TooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// Any other client-side failure.
    #[error("HTTP client error: {0}")]
    Client(String),
}

/// Is `host` (as in [`reqwest::Url::host_str`]: IPv6 literals in brackets) a loopback host:
/// `127.0.0.0/8`, `::1` or `localhost`?
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Check a URL against the fetch rules without any network IO: `https://` to any host, `http://` only to a
/// loopback host and only when `allow_insecure_loopback` is true; no user name or password in the URL.
pub fn check_fetch_url(
    url: &str,
    allow_insecure_loopback: bool,
) -> Result<reqwest::Url, FetchError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
    let scheme = parsed.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(FetchError::NotAllowed(format!(
            "scheme {:?} is not allowed",
            sanitize_for_message(scheme, 20)
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FetchError::InvalidUrl(
            "URLs with credentials are not allowed".into(),
        ));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| FetchError::InvalidUrl("URL has no host".into()))?;
    if scheme == "https" {
        return Ok(parsed);
    }
    let shown_host = sanitize_for_message(host, 100);
    if !allow_insecure_loopback {
        Err(FetchError::NotAllowed(format!(
            "http://{shown_host}: only https is allowed"
        )))
    } else if is_loopback_host(host) {
        Ok(parsed)
    } else {
        Err(FetchError::NotAllowed(format!(
            "http://{shown_host}: plain http is allowed to loopback hosts only"
        )))
    }
}

/// The production fetcher: reqwest + rustls (aws-lc-rs). HTTPS only, except `http://` to loopback hosts
/// (`127.0.0.0/8`, `::1`, `localhost`) when `allow_insecure_loopback` is true (dev mode and tests).
///
/// Every URL is checked before any connection is made. Connect timeout 5 s, total timeout 10 s, body cap
/// 1 MiB, no redirects, no proxies (environment proxy variables are ignored) and `localhost` always
/// resolves to `127.0.0.1`.
#[derive(Debug, Clone)]
pub struct ReqwestFetch {
    client: reqwest::Client,
    allow_insecure_loopback: bool,
    max_body_bytes: usize,
}

impl ReqwestFetch {
    /// Connect timeout.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Timeout for the whole request, body included.
    pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
    /// Largest accepted response body.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;

    /// Build the client. `allow_insecure_loopback` permits `http://` to loopback hosts.
    pub fn new(allow_insecure_loopback: bool) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Self::CONNECT_TIMEOUT)
            .timeout(Self::TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!allow_insecure_loopback)
            .resolve(
                "localhost",
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            )
            .user_agent(concat!("tessera-oidc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Client(e.without_url().to_string()))?;
        Ok(ReqwestFetch {
            client,
            allow_insecure_loopback,
            max_body_bytes: Self::MAX_BODY_BYTES,
        })
    }

    /// Does this fetcher allow `http://` to loopback hosts?
    pub fn allows_insecure_loopback(&self) -> bool {
        self.allow_insecure_loopback
    }
}

fn map_reqwest_error(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_connect() {
        FetchError::Connect(e.without_url().to_string())
    } else {
        FetchError::Client(e.without_url().to_string())
    }
}

#[async_trait::async_trait]
impl HttpFetch for ReqwestFetch {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let parsed = check_fetch_url(url, self.allow_insecure_loopback)?;
        let mut response = self
            .client
            .get(parsed)
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/jwk-set+json",
            )
            .send()
            .await
            .map_err(map_reqwest_error)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(FetchError::Redirect(status.as_u16()));
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let limit = self.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(FetchError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map_reqwest_error)? {
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// An in-memory [`HttpFetch`]: a map from URL to body that counts calls. For tests (here and in other
/// crates). Unknown URLs answer [`FetchError::Status`]`(404)`; a URL can also be set to fail.
#[derive(Debug, Default)]
pub struct MemoryFetch {
    state: Mutex<MemoryFetchState>,
}

#[derive(Debug, Default)]
struct MemoryFetchState {
    responses: HashMap<String, Result<Vec<u8>, FetchError>>,
    calls: HashMap<String, usize>,
}

impl MemoryFetch {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryFetchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serve `body` at `url`.
    pub fn set(&self, url: impl Into<String>, body: impl Into<Vec<u8>>) {
        self.state().responses.insert(url.into(), Ok(body.into()));
    }

    /// Make `url` fail with `error`.
    pub fn set_error(&self, url: impl Into<String>, error: FetchError) {
        self.state().responses.insert(url.into(), Err(error));
    }

    /// Stop serving `url` (it then answers 404).
    pub fn remove(&self, url: &str) {
        self.state().responses.remove(url);
    }

    /// How many times `url` was fetched.
    pub fn calls(&self, url: &str) -> usize {
        self.state().calls.get(url).copied().unwrap_or(0)
    }

    /// How many fetches there were in all.
    pub fn total_calls(&self) -> usize {
        self.state().calls.values().sum()
    }

    /// Forget the call counts.
    pub fn reset_calls(&self) {
        self.state().calls.clear();
    }
}

#[async_trait::async_trait]
impl HttpFetch for MemoryFetch {
    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let mut state = self.state();
        *state.calls.entry(url.to_owned()).or_insert(0) += 1;
        state
            .responses
            .get(url)
            .cloned()
            .unwrap_or(Err(FetchError::Status(404)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "127.1.2.3", "[::1]", "localhost", "LOCALHOST"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "10.1.2.3",
            "[::2]",
            "example.com",
            "localhost.example.com",
            "128.0.0.1",
            "0.0.0.0",
            "[::ffff:10.0.0.1]",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn url_rules() {
        assert!(check_fetch_url("https://idp.example.com/jwks", false).is_ok());
        assert!(check_fetch_url("https://10.0.0.1/jwks", false).is_ok());
        assert!(matches!(
            check_fetch_url("http://127.0.0.1:9000/jwks", false),
            Err(FetchError::NotAllowed(_))
        ));
        assert!(check_fetch_url("http://127.0.0.1:9000/jwks", true).is_ok());
        assert!(check_fetch_url("http://127.1/jwks", true).is_ok());
        assert!(check_fetch_url("http://[::1]:8080/jwks", true).is_ok());
        assert!(check_fetch_url("http://localhost:8080/jwks", true).is_ok());
        for bad in [
            "http://10.1.2.3/",
            "http://example.com/",
            "http://169.254.169.254/latest/meta-data",
            "http://167772161/",
            "http://localhost.evil.example/",
        ] {
            assert!(
                matches!(check_fetch_url(bad, true), Err(FetchError::NotAllowed(_))),
                "{bad}"
            );
        }
        // 2130706433 is 127.0.0.1 written as a number: the URL parser normalises it, and it is loopback.
        assert!(check_fetch_url("http://2130706433/", true).is_ok());
        for bad in ["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://x/"] {
            assert!(
                matches!(check_fetch_url(bad, true), Err(FetchError::NotAllowed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            check_fetch_url("https://user:pw@idp.example.com/", false),
            Err(FetchError::InvalidUrl(_))
        ));
        assert!(matches!(
            check_fetch_url("not a url", true),
            Err(FetchError::InvalidUrl(_))
        ));
    }

    #[tokio::test]
    async fn memory_fetch_counts() {
        let f = MemoryFetch::new();
        f.set("https://a/x", b"hello".to_vec());
        assert_eq!(f.get("https://a/x").await.unwrap(), b"hello");
        assert_eq!(f.get("https://a/y").await, Err(FetchError::Status(404)));
        f.set_error("https://a/z", FetchError::Timeout);
        assert_eq!(f.get("https://a/z").await, Err(FetchError::Timeout));
        assert_eq!(f.calls("https://a/x"), 1);
        assert_eq!(f.total_calls(), 3);
        f.reset_calls();
        assert_eq!(f.total_calls(), 0);
    }
}
