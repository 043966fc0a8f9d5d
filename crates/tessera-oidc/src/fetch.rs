//! The network port ([`HttpFetch`]) and its implementations.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;

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

/// Which hosts and addresses a fetcher may reach.
///
/// By default only public addresses: loopback, private (RFC 1918, CGNAT), link-local (and
/// with it the cloud metadata services at `169.254.169.254` and `169.254.170.2`), IPv6
/// unique-local (`fc00::/7`, with `fd00:ec2::254`), unspecified, multicast, broadcast,
/// documentation, benchmarking and reserved ranges are refused, as are IPv4 addresses
/// wrapped in IPv6 (mapped, NAT64, 6to4) that fall in one of them. The check is made on the
/// addresses a host name resolves to, which are then the only ones connected to, so DNS
/// rebinding cannot get around it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Permit `http://` to loopback hosts, and loopback addresses (dev mode, tests).
    pub allow_insecure_loopback: bool,
    /// Networks that may be reached although they are not public (on-premises identity
    /// providers), e.g. `10.20.0.0/16`.
    pub allowed_networks: Vec<IpNet>,
}

impl FetchPolicy {
    /// Public addresses only, `https://` only.
    pub fn public_only() -> FetchPolicy {
        FetchPolicy::default()
    }

    /// Development: public addresses and loopback, `http://` allowed to loopback hosts.
    pub fn dev() -> FetchPolicy {
        FetchPolicy {
            allow_insecure_loopback: true,
            allowed_networks: Vec::new(),
        }
    }

    /// May a connection go to `ip`?
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.allowed_networks.iter().any(|n| n.contains(&ip)) {
            return true;
        }
        if ip.is_loopback() {
            return self.allow_insecure_loopback;
        }
        !is_restricted(ip)
    }
}

/// Is `ip` outside the public internet (see [`FetchPolicy`] for the list)?
pub fn is_restricted(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_restricted_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_restricted_v4(v4);
            }
            let seg = v6.segments();
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7 (fd00:ec2::254 too)
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation 2001:db8::/32
                || (seg[0] == 0x0100 && seg[1..4] == [0, 0, 0]) // discard-only 100::/64
        }
    }
}

fn is_restricted_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16: the EC2/ECS metadata services live here
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10 (and 100.100.100.200)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved 240.0.0.0/4
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`) or 6to4 (`2002:AABB:CCDD::/48`) IPv6 address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = v6.segments();
    let tail =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if seg[..6] == [0, 0, 0, 0, 0, 0] && !(seg[6] == 0 && seg[7] <= 1) {
        return Some(tail(seg[6], seg[7]));
    }
    if seg[0] == 0x0064 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        return Some(tail(seg[6], seg[7]));
    }
    if seg[0] == 0x2002 {
        return Some(tail(seg[1], seg[2]));
    }
    None
}

/// The error a refused address is reported with (the address itself goes to the log only).
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to addresses that may not be reached")]
struct BlockedAddress {
    host: String,
}

/// Resolves host names with the system resolver (`localhost` always to `127.0.0.1`) and keeps
/// only the addresses the policy allows: these are the addresses the client then connects to.
#[derive(Debug)]
struct GuardedResolver {
    policy: FetchPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = if host.eq_ignore_ascii_case("localhost") {
                vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)]
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if allowed.is_empty() {
                tracing::warn!(
                    host = %sanitize_for_message(&host, 100),
                    addresses = ?found.iter().map(|a| a.ip()).collect::<Vec<_>>(),
                    "OIDC fetch refused: the host resolves only to addresses outside the allowed networks"
                );
                let e: Box<dyn std::error::Error + Send + Sync> = Box::new(BlockedAddress {
                    host: sanitize_for_message(&host, 100),
                });
                return Err(e);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Check a URL against the fetch rules without any network IO: `https://` to any host, `http://` only to a
/// loopback host and only when `allow_insecure_loopback` is true; no user name or password in the URL.
/// (An IP-literal host must also be allowed by the [`FetchPolicy`]; see [`check_fetch_target`].)
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

/// [`check_fetch_url`] plus the [`FetchPolicy`]'s address rule for IP-literal hosts (host
/// names are checked on the addresses they resolve to, when connecting).
pub fn check_fetch_target(url: &str, policy: &FetchPolicy) -> Result<reqwest::Url, FetchError> {
    let parsed = check_fetch_url(url, policy.allow_insecure_loopback)?;
    // The URL parser normalises IPv4 literals (`2130706433`, `0x7f.1`) to dotted form.
    let literal = parsed
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok());
    if let Some(ip) = literal
        && !policy.allows(ip)
    {
        tracing::warn!(address = %ip, "OIDC fetch refused: the address is outside the allowed networks");
        return Err(FetchError::NotAllowed(
            "the address may not be reached".into(),
        ));
    }
    Ok(parsed)
}

/// The production fetcher: reqwest + rustls (aws-lc-rs). HTTPS only, except `http://` to loopback hosts
/// (`127.0.0.0/8`, `::1`, `localhost`) when the policy allows insecure loopback (dev mode and tests);
/// only the addresses the [`FetchPolicy`] allows are ever connected to.
///
/// Every URL is checked before any connection is made. Connect timeout 5 s, total timeout 10 s, body cap
/// 1 MiB, no redirects, no proxies (environment proxy variables are ignored) and `localhost` always
/// resolves to `127.0.0.1`.
#[derive(Debug, Clone)]
pub struct ReqwestFetch {
    client: reqwest::Client,
    policy: FetchPolicy,
    max_body_bytes: usize,
}

impl ReqwestFetch {
    /// Connect timeout.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Timeout for the whole request, body included.
    pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
    /// Largest accepted response body.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;

    /// Build the client for `policy`.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Self::CONNECT_TIMEOUT)
            .timeout(Self::TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!policy.allow_insecure_loopback)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: policy.clone(),
            }))
            .user_agent(concat!("tessera-oidc/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Client(e.without_url().to_string()))?;
        Ok(ReqwestFetch {
            client,
            policy,
            max_body_bytes: Self::MAX_BODY_BYTES,
        })
    }

    /// Does this fetcher allow `http://` to loopback hosts?
    pub fn allows_insecure_loopback(&self) -> bool {
        self.policy.allow_insecure_loopback
    }

    /// The policy this fetcher enforces.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }
}

fn map_reqwest_error(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BlockedAddress>() {
            return FetchError::NotAllowed(b.to_string());
        }
        source = s.source();
    }
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
        let parsed = check_fetch_target(url, &self.policy)?;
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

    #[test]
    fn restricted_addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for a in [
            "127.0.0.1",
            "127.9.9.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.170.2",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.170",
            "198.18.0.1",
            "192.0.2.1",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "2001:db8::1",
        ] {
            assert!(is_restricted(ip(a)), "{a}");
            assert!(!FetchPolicy::public_only().allows(ip(a)), "{a}");
        }
        for a in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
        ] {
            assert!(!is_restricted(ip(a)), "{a}");
            assert!(FetchPolicy::public_only().allows(ip(a)), "{a}");
        }
    }

    #[test]
    fn policy_allow_list_and_dev_loopback() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let onprem = FetchPolicy {
            allow_insecure_loopback: false,
            allowed_networks: vec!["10.20.0.0/16".parse().unwrap()],
        };
        assert!(onprem.allows(ip("10.20.3.4")));
        assert!(
            onprem.allows(ip("::ffff:10.20.3.4")),
            "mapped form is canonicalised"
        );
        assert!(!onprem.allows(ip("10.21.0.1")));
        assert!(!onprem.allows(ip("127.0.0.1")));
        assert!(!onprem.allows(ip("169.254.169.254")));
        let dev = FetchPolicy::dev();
        assert!(dev.allows(ip("127.0.0.1")));
        assert!(dev.allows(ip("::1")));
        assert!(!dev.allows(ip("10.0.0.1")));
        assert!(!dev.allows(ip("169.254.169.254")));
    }

    #[test]
    fn literal_targets_are_checked_before_any_io() {
        let public = FetchPolicy::public_only();
        for url in [
            "https://127.0.0.1:8443/jwks",
            "https://2130706433/jwks",
            "https://10.1.2.3/.well-known/openid-configuration",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[::1]/",
            "https://100.100.100.200/",
        ] {
            assert!(
                matches!(
                    check_fetch_target(url, &public),
                    Err(FetchError::NotAllowed(_))
                ),
                "{url}"
            );
        }
        assert!(check_fetch_target("https://idp.example.com/jwks", &public).is_ok());
        assert!(check_fetch_target("https://93.184.216.34/jwks", &public).is_ok());
        let onprem = FetchPolicy {
            allow_insecure_loopback: false,
            allowed_networks: vec!["10.20.0.0/16".parse().unwrap()],
        };
        assert!(check_fetch_target("https://10.20.0.5/jwks", &onprem).is_ok());
        assert!(check_fetch_target("https://10.30.0.5/jwks", &onprem).is_err());
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
