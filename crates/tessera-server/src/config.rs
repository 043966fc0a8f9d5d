//! The one configuration file (`tessera serve --config tessera.toml`), with documented
//! defaults. Secrets may come from the environment instead of the file:
//! `TESSERA_MASTER_KEY` (64 hex characters or base64 of 32 bytes) and `TESSERA_DATABASE_URL`.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the AWS API endpoint. Default `127.0.0.1:4566`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Optional separate listener: `/metrics` (Prometheus), `/healthz` and `/readyz`, open to anyone who
    /// reaches it, and the operator endpoints (`/audit/events`, `/audit/explain`,
    /// `/sessions/revoke`), which need an operator token. Default: none.
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
    /// Host names (besides IP addresses and `localhost`) under which operators reach the admin
    /// listener; operator requests naming any other `Host` are refused. Default: none.
    #[serde(default)]
    pub admin_allowed_hosts: Vec<String>,
    /// The URL clients reach the API endpoint at (e.g. `https://tessera.example.com`): the base
    /// of the Identity Center token issuer URL published in idTokens. Default
    /// `http://<listen address>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The region this deployment serves. Default `us-east-1`.
    #[serde(default = "default_region")]
    pub region: String,
    /// The partition used in ARNs. Default `aws`.
    #[serde(default = "default_partition")]
    pub partition: String,
    /// Directory for local state: the SQLite database (unless `store.url` says otherwise), the
    /// audit log, and a generated master key in dev mode. Default `./tessera-data`.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub keys: KeysConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub oidc: OidcConfig,
    #[serde(default)]
    pub objects: ObjectsConfig,
    /// `[audit]`: `mode = "sync" | "async" | "off"` (off: benchmarks only), `on_failure = "fail-closed" | "fail-open"`.
    #[serde(default)]
    pub audit: tessera_audit::AuditPolicy,
    /// `[tls]`: serve HTTPS on the API and admin listeners. Default: plain HTTP.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// `[proxy]`: where the client's address comes from behind a load balancer.
    #[serde(default)]
    pub proxy: ProxyConfig,
}

/// `[proxy]`: the API listener behind a load balancer. The client's address (for
/// `aws:SourceIp`, the audit record's `sourceIPAddress` and the per-client connection cap) is
/// taken from what `trusted` proxies say, in the way `mode` names, and from nowhere else.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// `"none"` (the default: the TCP peer is the client), `"x-forwarded-for"` (trusted
    /// proxies add the header to each request) or `"proxy-protocol"` (trusted proxies open
    /// each connection with a PROXY protocol v1 or v2 header).
    #[serde(default)]
    pub mode: Option<String>,
    /// The proxies' addresses, as networks in CIDR form (`["10.0.0.0/24"]`). Required with
    /// a mode other than `"none"`.
    #[serde(default)]
    pub trusted: Vec<String>,
}

impl ProxyConfig {
    /// The proxies these settings describe.
    pub fn proxies(&self) -> Result<crate::proxy::Proxies, String> {
        use crate::proxy::ProxyMode;
        let mode = match self.mode.as_deref().unwrap_or("none") {
            "none" => ProxyMode::None,
            "x-forwarded-for" => ProxyMode::XForwardedFor,
            "proxy-protocol" => ProxyMode::ProxyProtocol,
            other => {
                return Err(format!(
                    "proxy.mode must be \"none\", \"x-forwarded-for\" or \"proxy-protocol\", not {other:?}"
                ));
            }
        };
        let trusted = self
            .trusted
            .iter()
            .map(|n| {
                n.parse::<ipnet::IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("proxy.trusted: {n:?} is not an address or a network such as \"10.0.0.0/24\"")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if mode != ProxyMode::None && trusted.is_empty() {
            return Err(format!(
                "proxy.mode = {:?} needs proxy.trusted: the addresses of the proxies to believe",
                self.mode.as_deref().unwrap_or("none")
            ));
        }
        Ok(crate::proxy::Proxies::new(mode, trusted))
    }
}

/// `[tls]`: the listeners' certificate and key, PEM files read at start and again on SIGHUP
/// (a renewed certificate is taken without dropping a connection).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first (PEM).
    pub cert_file: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// Where S3 objects live (`[objects]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectsConfig {
    /// `"local"` (the default: files under `dir`) or `"s3"` (an S3-compatible store that
    /// Tessera fronts: Garage, MinIO, Ceph, AWS S3).
    #[serde(default)]
    pub backend: Option<String>,
    /// Local backend: the directory. Default `<data_dir>/objects`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// S3 backend: the store's endpoint, `http://host:port` or `https://host:port`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// S3 backend with an `https://` endpoint: the CA certificates (PEM) that the store's
    /// certificate is verified against, instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// S3 backend: the store's region (its signing scope). Default `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// S3 backend: Tessera's access key id at the store.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// S3 backend: a file holding the secret access key. The environment variable
    /// `TESSERA_UPSTREAM_SECRET_ACCESS_KEY` is used when this is not set.
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    /// S3 backend: the bucket where Tessera records which account owns which bucket.
    /// Default `tessera-catalog`.
    #[serde(default)]
    pub catalog_bucket: Option<String>,
}

impl ObjectsConfig {
    /// The upstream store's settings, when the S3 backend is chosen.
    pub fn upstream(&self) -> Result<Option<tessera_s3::UpstreamConfig>, String> {
        match self.backend.as_deref().unwrap_or("local") {
            "local" => Ok(None),
            "s3" => {
                let endpoint = self
                    .endpoint
                    .clone()
                    .ok_or("objects.endpoint is required for the s3 backend")?;
                let access_key_id = self
                    .access_key_id
                    .clone()
                    .ok_or("objects.access_key_id is required for the s3 backend")?;
                let secret_access_key = match &self.secret_access_key_file {
                    Some(f) => std::fs::read_to_string(f)
                        .map_err(|e| format!("reading {}: {e}", f.display()))?
                        .trim()
                        .to_owned(),
                    None => std::env::var("TESSERA_UPSTREAM_SECRET_ACCESS_KEY").map_err(|_| {
                        "the s3 backend needs objects.secret_access_key_file or TESSERA_UPSTREAM_SECRET_ACCESS_KEY"
                    })?,
                };
                Ok(Some(tessera_s3::UpstreamConfig {
                    endpoint: endpoint.trim_end_matches('/').to_owned(),
                    ca_file: self.ca_file.clone(),
                    region: self.region.clone().unwrap_or_else(|| "us-east-1".into()),
                    access_key_id,
                    secret_access_key,
                    catalog_bucket: self
                        .catalog_bucket
                        .clone()
                        .unwrap_or_else(|| "tessera-catalog".into()),
                }))
            }
            other => Err(format!(
                "objects.backend must be \"local\" or \"s3\", not {other:?}"
            )),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Accept `http://` OIDC issuers on loopback hosts (127.0.0.0/8, ::1, localhost) for IAM
    /// OIDC providers and token verification, and let key fetches reach loopback addresses.
    /// For local development only; `tessera dev` turns it on. Default false: issuers must be
    /// `https://`.
    #[serde(default)]
    pub allow_http_loopback_issuers: bool,
    /// Networks that OIDC discovery and JWKS fetches may reach although they are not public
    /// (an on-premises identity provider), e.g. `["10.20.0.0/16"]`. Default: none, so fetches
    /// go to public addresses only: never to loopback, private, link-local, unique-local or
    /// cloud-metadata addresses, checked on the address actually connected to.
    #[serde(default)]
    pub allowed_networks: Vec<String>,
}

impl OidcConfig {
    /// The fetch policy these settings describe (`allowed_networks` must be valid CIDRs; see
    /// [`Config::validate`]).
    pub fn fetch_policy(&self) -> Result<tessera_oidc::FetchPolicy, String> {
        let allowed_networks = self
            .allowed_networks
            .iter()
            .map(|n| {
                n.parse::<tessera_oidc::IpNet>().map_err(|_| {
                    format!("oidc.allowed_networks: {n:?} is not a network in CIDR form such as \"10.20.0.0/16\"")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(tessera_oidc::FetchPolicy {
            allow_insecure_loopback: self.allow_http_loopback_issuers,
            allowed_networks,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST:PORT/DB`. Default:
    /// `sqlite://{data_dir}/tessera.db`. Overridden by `TESSERA_DATABASE_URL`.
    pub url: Option<String>,
    /// How often each replicated view asks the store whether it changed (one small query
    /// per view), in milliseconds: a change made through one replica is enforced by the
    /// others within about this long plus the reload. Default 250.
    #[serde(default)]
    pub refresh_interval_ms: Option<u64>,
}

impl StoreConfig {
    /// [`StoreConfig::refresh_interval_ms`], at least 10 ms.
    pub fn refresh_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.refresh_interval_ms.unwrap_or(250).max(10))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// File holding the master key (64 hex characters). Overridden by `TESSERA_MASTER_KEY`.
    /// One of the two is required for `serve`.
    pub master_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `json` (one object per line) or `text`. Default `text`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// A tracing filter such as `info` or `tessera=debug`. Default `info`; `RUST_LOG` overrides.
    #[serde(default = "default_log_level")]
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted by the API services (not S3 objects). Default 1 MiB.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Largest total size of request headers. Default 16 KiB.
    #[serde(default = "default_max_headers")]
    pub max_header_bytes: usize,
    /// Concurrent connections at most. `0` (the default) sizes the ceiling by what the
    /// process can hold: its open-file limit (raised to the hard limit at start) less a
    /// reserve for the store and object files, at most 16,384. A larger value is cut to that
    /// too. At the ceiling a new connection sheds the slowest one open (the one whose bytes
    /// stopped moving longest ago, if over a second), or is closed when none is slow.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Concurrent connections from one client address; further connections from it are
    /// closed at once, so one client cannot take every connection. Default 128.
    #[serde(default = "default_max_connections_per_client")]
    pub max_connections_per_client: usize,
    /// Time a client has to send a request's headers, in seconds. Default 10.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_secs: u64,
    /// A request body that sends nothing for this long is cut off (`RequestTimeout`, and
    /// the connection closed), in seconds; it is also the allowance before
    /// `min_body_bytes_per_sec` applies. Default 20.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_secs: u64,
    /// The slowest a request body may arrive on average, after `body_read_timeout_secs`:
    /// its `n`-th byte must have arrived `body_read_timeout_secs + n / min_body_bytes_per_sec`
    /// seconds after the headers. A body of any size may take as long as it needs at this
    /// rate; a trickle is cut off. `0` turns the rate off. Default 1,024 bytes per second.
    #[serde(default = "default_min_body_rate")]
    pub min_body_bytes_per_sec: u64,
    /// A connection with no request in progress and no bytes moving for this long is
    /// closed, in seconds. Default 60.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Deadline for handling one request, from its headers to its response, in seconds;
    /// past it the answer is `ServiceUnavailable` (retryable). Default 60.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Access Grants locations one instance may have. Default 1,000 (AWS's quota).
    #[serde(default = "default_max_ag_locations")]
    pub max_access_grants_locations: i64,
    /// Access Grants grants one instance may have. Default 100,000 (AWS's quota).
    #[serde(default = "default_max_ag_grants")]
    pub max_access_grants: i64,
}

/// How fast a request body must arrive: a gap of `stall` with no bytes ends it, and so does
/// falling behind `min_rate` bytes per second on average once `stall` has passed since the
/// headers (a trickle that keeps a connection busy for minutes is cut off early, while a
/// large body at a decent pace may take as long as it needs).
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub stall: std::time::Duration,
    /// Bytes per second; 0: no rate, only the stall limit.
    pub min_rate: u64,
}

impl BodyPace {
    /// When the next bytes must have arrived, for a body that began at `start`, has
    /// `received` bytes so far and last moved at `last`.
    pub fn deadline(
        &self,
        start: std::time::Instant,
        received: u64,
        last: std::time::Instant,
    ) -> std::time::Instant {
        let stalled = last + self.stall;
        if self.min_rate == 0 {
            return stalled;
        }
        let owed = std::time::Duration::from_millis(received.saturating_mul(1000) / self.min_rate);
        stalled.min(start + self.stall + owed)
    }
}

fn default_max_ag_locations() -> i64 {
    1000
}

fn default_max_ag_grants() -> i64 {
    100_000
}

impl Limits {
    pub fn header_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.header_read_timeout_secs.max(1))
    }
    pub fn body_read_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.body_read_timeout_secs.max(1))
    }
    /// The pace a request body must keep (see [`BodyPace`]).
    pub fn body_pace(&self) -> BodyPace {
        BodyPace {
            stall: self.body_read_timeout(),
            min_rate: self.min_body_bytes_per_sec,
        }
    }
    pub fn idle_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.idle_timeout_secs.max(1))
    }
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs.max(1))
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: default_max_body(),
            max_header_bytes: default_max_headers(),
            max_connections: default_max_connections(),
            max_connections_per_client: default_max_connections_per_client(),
            header_read_timeout_secs: default_header_read_timeout(),
            body_read_timeout_secs: default_body_read_timeout(),
            min_body_bytes_per_sec: default_min_body_rate(),
            idle_timeout_secs: default_idle_timeout(),
            request_timeout_secs: default_request_timeout(),
            max_access_grants_locations: default_max_ag_locations(),
            max_access_grants: default_max_ag_grants(),
        }
    }
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:4566".parse().expect("valid default")
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_partition() -> String {
    "aws".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./tessera-data")
}
fn default_log_format() -> String {
    "text".into()
}
fn default_log_level() -> String {
    "info".into()
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_max_headers() -> usize {
    16 << 10
}
fn default_max_connections() -> usize {
    0
}
fn default_max_connections_per_client() -> usize {
    128
}
fn default_header_read_timeout() -> u64 {
    10
}
fn default_body_read_timeout() -> u64 {
    20
}
fn default_min_body_rate() -> u64 {
    1024
}
fn default_idle_timeout() -> u64 {
    60
}
fn default_request_timeout() -> u64 {
    60
}

impl Config {
    pub fn parse(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Defaults for a data directory, as `tessera dev` uses.
    pub fn for_data_dir(data_dir: PathBuf) -> Config {
        let mut c = Config::parse("").expect("empty config is valid");
        c.data_dir = data_dir;
        c
    }

    pub fn database_url(&self) -> String {
        if let Ok(u) = std::env::var("TESSERA_DATABASE_URL")
            && !u.is_empty()
        {
            return u;
        }
        self.store
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("tessera.db").display()))
    }

    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.log.format.as_str(), "json" | "text") {
            return Err(format!(
                "log.format must be \"json\" or \"text\", not {:?}",
                self.log.format
            ));
        }
        if self.region.is_empty()
            || !self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "region {:?} is not a valid region name",
                self.region
            ));
        }
        if self.partition.is_empty()
            || !self
                .partition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-')
        {
            return Err(format!(
                "partition {:?} is not a valid partition name",
                self.partition
            ));
        }
        self.oidc.fetch_policy()?;
        self.proxy.proxies()?;
        self.objects.upstream()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_full_file() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:4566");
        assert_eq!(c.region, "us-east-1");
        assert!(c.admin_listen.is_none());
        let c = Config::parse(
            r#"
            listen = "0.0.0.0:8080"
            admin_listen = "127.0.0.1:9100"
            region = "eu-west-1"
            partition = "aws"
            data_dir = "/var/lib/tessera"
            [store]
            url = "postgres://u:p@db/tessera"
            [keys]
            master_key_file = "/etc/tessera/master.key"
            [log]
            format = "json"
            level = "debug"
            [limits]
            max_body_bytes = 65536
            max_connections_per_client = 16
            body_read_timeout_secs = 5
            [oidc]
            allowed_networks = ["10.20.0.0/16", "fd12:3456::/32"]
            "#,
        )
        .unwrap();
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.limits.max_body_bytes, 65536);
        assert_eq!(c.limits.max_header_bytes, 16384);
        assert_eq!(c.limits.max_connections_per_client, 16);
        assert_eq!(c.limits.body_read_timeout().as_secs(), 5);
        assert_eq!(c.limits.idle_timeout().as_secs(), 60);
        assert_eq!(c.limits.request_timeout().as_secs(), 60);
        c.validate().unwrap();
        let policy = c.oidc.fetch_policy().unwrap();
        assert!(!policy.allow_insecure_loopback);
        assert!(policy.allows("10.20.1.2".parse().unwrap()));
        assert!(!policy.allows("10.21.1.2".parse().unwrap()));
        // By default only public addresses.
        let d = Config::parse("").unwrap().oidc.fetch_policy().unwrap();
        assert_eq!(d, tessera_oidc::FetchPolicy::public_only());
    }

    #[test]
    fn bad_networks_are_refused() {
        let c = Config::parse("[oidc]\nallowed_networks = [\"10.20.0.0\"]").unwrap();
        assert!(c.validate().unwrap_err().contains("oidc.allowed_networks"));
    }

    #[test]
    fn rejects_unknown_and_bad_values() {
        assert!(Config::parse("lisen = \"x\"").is_err());
        let mut c = Config::parse("").unwrap();
        c.log.format = "xml".into();
        assert!(c.validate().is_err());
    }
}
