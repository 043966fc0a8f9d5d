//! Test support for Tessera's end-to-end tests: start the real `tessera dev` binary on an
//! ephemeral port with its own data directory, read the manifest it writes, and build AWS SDK
//! configurations and CLI environments that point at it.
//!
//! The binary is found through `TESSERA_BIN`, else next to the test executable
//! (`target/<profile>/tessera`); the test script builds it before running the tests.

pub mod cluster;
pub mod layers;
pub mod load;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Manifest {
    pub endpoint: String,
    pub region: String,
    pub accounts: Vec<AccountKeys>,
    /// `http://ADDR` of the admin listener, when one was asked for.
    #[serde(default)]
    pub admin_endpoint: Option<String>,
    /// The demo data application (a server started with the demo).
    #[serde(default)]
    pub demo_url: Option<String>,
    /// The development identity provider and its users (with the demo).
    #[serde(default)]
    pub idp: Option<DevIdp>,
    /// The `tip configure idp …` line for the development identity provider (with the demo).
    #[serde(default)]
    pub tip_configure: Option<String>,
}

/// The development identity provider, as the manifest describes it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevIdp {
    pub issuer: String,
    pub client_id: String,
    pub users: Vec<DevIdpUser>,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct DevIdpUser {
    pub username: String,
    pub password: String,
    pub name: String,
    pub groups: Vec<String>,
    pub user_id: String,
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct AccountKeys {
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Run a `tessera` operator command; returns its stdout, panicking with stderr on failure.
pub fn tessera_command(args: &[&str]) -> String {
    let out = Command::new(tessera_bin())
        .args(args)
        .output()
        .expect("run tessera");
    assert!(
        out.status.success(),
        "tessera {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A URL for a fresh schema (named `{prefix}_…`, made with `psql`) on the PostgreSQL server
/// at `base`: the connection's `search_path` is that schema, so the server under test starts
/// on an empty store there.
pub fn fresh_postgres_schema(base: &str, prefix: &str) -> String {
    let schema = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos()
    );
    let made = Command::new("psql")
        .args([base, "-q", "-c", &format!("CREATE SCHEMA {schema}")])
        .status()
        .expect("psql");
    assert!(made.success(), "could not create schema {schema} on {base}");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// A minimal HTTP/1.1 GET over a plain TCP connection: (status, body).
pub fn http_get(endpoint: &str, path: &str) -> (u16, String) {
    http_request(endpoint, "GET", path, &[], "")
}

/// A minimal HTTP/1.1 request over a plain TCP connection: (status, body).
pub fn http_request(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body.as_bytes()).expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A running `tessera dev`. Stopped with SIGTERM (and waited for) on drop.
#[derive(Debug)]
pub struct DevServer {
    child: Option<Child>,
    pub manifest: Manifest,
    pub data_dir: PathBuf,
    pub manifest_path: PathBuf,
}

/// This crate's directory: the one cargo runs the tests and examples in (`CARGO_MANIFEST_DIR`
/// at run time), so that a binary built from another checkout sharing the target directory
/// still reads this checkout's files.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

/// Path of the `tessera` binary under test. Without `TESSERA_BIN`, it is the one next to the
/// test executable, and it must not be older than the server's sources (a stale binary would
/// test yesterday's server): the test script builds it first; by hand, run
/// `cargo build --bin tessera`.
pub fn tessera_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TESSERA_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> → target/<profile>/tessera
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("tessera");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build --bin tessera) or set TESSERA_BIN",
        bin.display()
    );
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| {
        let built = std::fs::metadata(&bin)
            .and_then(|m| m.modified())
            .expect("binary mtime");
        let crates = manifest_dir()
            .parent()
            .expect("crates dir")
            .to_owned();
        if let Some((newest, path)) = newest_server_source(&crates)
            && newest > built
        {
            panic!(
                "{} is older than {}: rebuild it (cargo build --bin tessera; ./scripts/test does) or set TESSERA_BIN",
                bin.display(),
                path.display()
            );
        }
    });
    bin
}

/// Path of the `tip` binary under test (`TIP_BIN`, or the one next to the test executable,
/// which must not be older than its sources: `cargo build --bin tip`).
pub fn tip_bin() -> PathBuf {
    if let Ok(p) = std::env::var("TIP_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("tip");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build --bin tip) or set TIP_BIN",
        bin.display()
    );
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .expect("binary mtime");
    let crates = manifest_dir().parent().expect("crates dir").to_owned();
    for c in ["tessera-tip", "tessera-s3ag-credentials"] {
        for e in std::fs::read_dir(crates.join(c).join("src"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
            {
                panic!(
                    "{} is older than {}: rebuild it (cargo build --bin tip)",
                    bin.display(),
                    e.path().display()
                );
            }
        }
    }
    bin
}

/// The newest source file that goes into the `tessera` binary: everything under
/// `crates/*/src` and `crates/*/migrations` except this test kit.
fn newest_server_source(crates: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    fn walk(dir: &Path, best: &mut Option<(std::time::SystemTime, PathBuf)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                walk(&p, best);
            } else if let Ok(t) = meta.modified()
                && best.as_ref().is_none_or(|(b, _)| t > *b)
            {
                *best = Some((t, p));
            }
        }
    }
    let mut best = None;
    for e in std::fs::read_dir(crates).ok()?.flatten() {
        let dir = e.path();
        // Edge crates the server does not contain.
        if dir.file_name().is_some_and(|n| {
            n == "tessera-testkit" || n == "tessera-tip" || n == "tessera-s3ag-credentials"
        }) {
            continue;
        }
        walk(&dir.join("src"), &mut best);
        walk(&dir.join("migrations"), &mut best);
    }
    // Manifests are not compared: a change to one (a dev-dependency, say) may rightly leave
    // the binary as it was, and cargo relinks it only when something it contains changed.
    best
}

impl DevServer {
    /// Start `tessera dev` on `127.0.0.1:0` with `data_dir`, wait for its manifest: the bare
    /// server (`--no-demo`), two accounts and nothing else, which most tests build on.
    pub fn start(data_dir: &Path) -> DevServer {
        Self::start_with(data_dir, &[])
    }

    /// `tessera dev` with its whole world: the development IdP, the seeded accounts,
    /// directory, application, grants and data, and the demo application.
    pub fn start_demo(data_dir: &Path) -> DevServer {
        Self::start_env(data_dir, &["--with-demo"], &[])
    }

    /// As [`DevServer::start`], with extra `tessera dev` arguments.
    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> DevServer {
        Self::start_env(data_dir, extra_args, &[])
    }

    /// `tessera dev` keeping its objects in `garage` (the upstream backend).
    pub fn start_upstream(data_dir: &Path, garage: &GarageNode) -> DevServer {
        Self::start_upstream_env(data_dir, garage, &[])
    }

    /// As [`DevServer::start_upstream`], with extra environment variables.
    pub fn start_upstream_env(
        data_dir: &Path,
        garage: &GarageNode,
        envs: &[(&str, &str)],
    ) -> DevServer {
        let secret = [(
            "TESSERA_UPSTREAM_SECRET_ACCESS_KEY",
            garage.secret_access_key.as_str(),
        )];
        let envs: Vec<(&str, &str)> = secret.iter().chain(envs).copied().collect();
        Self::start_env(
            data_dir,
            &[
                "--upstream-endpoint",
                &garage.endpoint,
                "--upstream-region",
                GarageNode::REGION,
                "--upstream-access-key-id",
                &garage.access_key_id,
            ],
            &envs,
        )
    }

    /// A handle on a server started otherwise (`tessera serve`, by the scale-out harness):
    /// `manifest` says where it listens and its root key.
    pub fn adopt(child: Child, manifest: Manifest, data_dir: &Path) -> DevServer {
        DevServer {
            child: Some(child),
            manifest,
            data_dir: data_dir.to_owned(),
            manifest_path: data_dir.join("manifest.json"),
        }
    }

    /// Kill the server with SIGKILL (no shutdown, no flushing): a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// As [`DevServer::start_with`], with environment variables for the server.
    pub fn start_env(data_dir: &Path, extra_args: &[&str], envs: &[(&str, &str)]) -> DevServer {
        let manifest_path = data_dir.join("manifest.json");
        let _ = std::fs::remove_file(&manifest_path);
        std::fs::create_dir_all(data_dir).expect("data dir");
        let log = std::fs::File::create(data_dir.join("server.log")).expect("log file");
        // `--with-demo` is this kit's word for "without --no-demo".
        let demo = extra_args.contains(&"--with-demo");
        let extra: Vec<&str> = extra_args
            .iter()
            .copied()
            .filter(|a| *a != "--with-demo")
            .chain((!demo).then_some("--no-demo"))
            .collect();
        let child = Command::new(tessera_bin())
            .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--manifest")
            .arg(&manifest_path)
            .args(&extra)
            .env("RUST_LOG", "info")
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn tessera");
        let deadline = Instant::now() + Duration::from_secs(30);
        let manifest = loop {
            if let Ok(text) = std::fs::read_to_string(&manifest_path)
                && let Ok(m) = serde_json::from_str::<Manifest>(&text)
            {
                break m;
            }
            assert!(
                Instant::now() < deadline,
                "tessera dev did not write its manifest; log:\n{}",
                std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        DevServer {
            child: Some(child),
            manifest,
            data_dir: data_dir.to_owned(),
            manifest_path,
        }
    }

    /// Stop the server with SIGTERM and wait for it to exit; returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn account(&self, id: &str) -> &AccountKeys {
        self.manifest
            .accounts
            .iter()
            .find(|a| a.account_id == id)
            .expect("account in manifest")
    }

    /// Environment for the AWS CLI / boto3 with the given keys.
    pub fn cli_env(&self, access_key_id: &str, secret: &str) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.manifest.endpoint.clone()),
            ("AWS_REGION".into(), self.manifest.region.clone()),
            ("AWS_DEFAULT_REGION".into(), self.manifest.region.clone()),
            ("AWS_ACCESS_KEY_ID".into(), access_key_id.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), secret.into()),
            ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
            ("AWS_MAX_ATTEMPTS".into(), "1".into()),
        ]
    }

    /// An SDK configuration for aws-sdk-rust with the given keys (retries off, so every call
    /// is exactly one request).
    pub async fn sdk_config(&self, access_key_id: &str, secret: &str) -> aws_config::SdkConfig {
        self.sdk_session_config(access_key_id, secret, None).await
    }

    /// [`DevServer::sdk_config`] with temporary credentials (a session token).
    pub async fn sdk_session_config(
        &self,
        access_key_id: &str,
        secret: &str,
        session_token: Option<&str>,
    ) -> aws_config::SdkConfig {
        let creds = aws_credential_types::Credentials::new(
            access_key_id,
            secret,
            session_token.map(str::to_owned),
            None,
            "tessera-testkit",
        );
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.manifest.endpoint)
            .region(aws_config::Region::new(self.manifest.region.clone()))
            .credentials_provider(creds)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await
    }

    /// The audit records in the server's trail (its store), oldest first. In the default
    /// `sync` mode a record is in the server's local audit log before its response is sent
    /// and in the store just after: this waits until `tessera audit verify` finds none of the
    /// log's records waiting, then (for `async` mode) until the trail has stopped growing
    /// (for at most five seconds each).
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        let data_dir = self.data_dir.display().to_string();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // Exit status aside (a test may have tampered with the trail): only the count.
            let out = Command::new(tessera_bin())
                .args(["audit", "verify", "--data-dir", &data_dir])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let waiting = out
                .lines()
                .find_map(|l| {
                    l.strip_prefix("local audit log: ")?
                        .split(", ")
                        .find_map(|p| p.strip_suffix(" waiting to be indexed"))
                })
                .and_then(|n| n.parse::<u64>().ok());
            if waiting == Some(0) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let read = || {
            let mut records: Vec<serde_json::Value> = tessera_command(&[
                "audit",
                "query",
                "--data-dir",
                &data_dir,
                "--json",
                "--limit",
                "100000",
            ])
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit records are JSON"))
            .collect();
            records.reverse();
            records
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut records = read();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let again = read();
            if again.len() == records.len() || Instant::now() > deadline {
                return again;
            }
            records = again;
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A single Garage node on loopback (`garage server --single-node --default-bucket`), the
/// S3-compatible store of the upstream-backend tests. The binary comes from
/// `TESSERA_TEST_GARAGE` (set by the test script, which installs Garage), else `garage` on
/// the `PATH`.
pub struct GarageNode {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT` of its S3 API.
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The bucket the node creates at start.
    pub bucket: String,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("random bytes");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl GarageNode {
    /// Its S3 region.
    pub const REGION: &'static str = "garage";

    pub fn start(work: &Path) -> GarageNode {
        let bin = std::env::var("TESSERA_TEST_GARAGE").unwrap_or_else(|_| "garage".into());
        let dir = work.join("garage");
        std::fs::create_dir_all(dir.join("meta")).unwrap();
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let (s3, rpc) = (free_port(), free_port());
        let cfg = dir.join("garage.toml");
        std::fs::write(
            &cfg,
            format!(
                "metadata_dir = \"{m}\"\ndata_dir = \"{d}\"\ndb_engine = \"sqlite\"\nreplication_factor = 1\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
                 [s3_api]\ns3_region = \"{region}\"\napi_bind_addr = \"127.0.0.1:{s3}\"\nroot_domain = \".s3.garage.localhost\"\n",
                m = dir.join("meta").display(),
                d = dir.join("data").display(),
                secret = random_hex(32),
                region = Self::REGION,
            ),
        )
        .unwrap();
        let access_key_id = format!("GK{}", random_hex(12));
        let secret_access_key = random_hex(32);
        let bucket = "garage-default".to_owned();
        let log = std::fs::File::create(dir.join("garage.log")).unwrap();
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&cfg)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", &access_key_id)
            .env("GARAGE_DEFAULT_SECRET_KEY", &secret_access_key)
            .env("GARAGE_DEFAULT_BUCKET", &bucket)
            .env("RUST_LOG", "garage=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("running {bin}: {e} (the test script installs Garage and sets TESSERA_TEST_GARAGE)")
            });
        let node = GarageNode {
            child: Some(child),
            endpoint: format!("http://127.0.0.1:{s3}"),
            access_key_id,
            secret_access_key,
            bucket,
        };
        // Ready when its S3 port answers and its layout lists the default bucket.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = std::net::TcpStream::connect(("127.0.0.1", s3)).is_ok()
                && Command::new(&bin)
                    .arg("-c")
                    .arg(&cfg)
                    .args(["bucket", "info", &node.bucket])
                    .output()
                    .is_ok_and(|o| o.status.success());
            if up {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "garage did not come up; log:\n{}",
                std::fs::read_to_string(dir.join("garage.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        node
    }
}

impl Drop for GarageNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The test OpenID Connect provider (npm `oidc-provider`, see `oidc-idp/`), started on a free
/// loopback port with its own signing key so tests can also mint tokens with that key.
/// Needs `TESSERA_TEST_OIDC_IDP` (set by the test script) pointing at an installed copy.
#[derive(Debug)]
pub struct TestIdp {
    child: Child,
    pub issuer: String,
    dir: PathBuf,
    jwks: PathBuf,
}

fn idp_dir() -> PathBuf {
    PathBuf::from(std::env::var("TESSERA_TEST_OIDC_IDP").expect(
        "TESSERA_TEST_OIDC_IDP is not set: run ./scripts/test, which installs the test IdP",
    ))
}

fn node(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("node")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "node {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl TestIdp {
    /// Start the IdP with the example users and clients, in `work` (a scratch directory).
    pub fn start(work: &Path) -> TestIdp {
        Self::start_under(work, "")
    }

    /// As [`TestIdp::start`], serving the provider under `path` (e.g. `/oauth2/default`), so
    /// that its issuer has a path as Okta's, Keycloak's and Entra's issuers do.
    pub fn start_under(work: &Path, path: &str) -> TestIdp {
        use std::io::BufRead;
        let dir = idp_dir();
        let jwks = work.join("idp-jwks.json");
        node(&dir, &["mint.mjs", "--genkey", jwks.to_str().unwrap()]);
        let mut config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("example-config.json")).unwrap(),
        )
        .unwrap();
        config["jwks"] = serde_json::from_str(&std::fs::read_to_string(&jwks).unwrap()).unwrap();
        let config_path = work.join("idp-config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let mut child = Command::new("node")
            .current_dir(&dir)
            .args(["idp.mjs", "--port", "0", "--path", path, "--config"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the test IdP (node idp.mjs)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("IdP ready line {line:?}: {e}"));
        TestIdp {
            child,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            dir,
            jwks,
        }
    }

    /// Log `username` in through the real login form (PKCE, no browser); returns the id_token.
    pub fn login(&self, client_id: &str, username: &str, password: &str) -> String {
        let (redirect, secret) = match client_id {
            "example-web" => (
                "http://127.0.0.1:8080/auth/callback",
                Some("example-web-secret"),
            ),
            _ => ("http://127.0.0.1:8090/callback", None),
        };
        let mut args = vec![
            "login.mjs",
            "--issuer",
            &self.issuer,
            "--client-id",
            client_id,
            "--redirect-uri",
            redirect,
            "--username",
            username,
            "--password",
            password,
        ];
        if let Some(s) = secret {
            args.extend(["--client-secret", s]);
        }
        let out = node(&self.dir, &args);
        let v: serde_json::Value = serde_json::from_str(&out).expect("login.mjs prints JSON");
        v["id_token"].as_str().expect("id_token").to_owned()
    }

    /// A token signed with the IdP's own key, with the given claims (for expired or
    /// foreign-issuer cases).
    pub fn mint(&self, claims: &serde_json::Value) -> String {
        node(
            &self.dir,
            &[
                "mint.mjs",
                "--jwks",
                self.jwks.to_str().unwrap(),
                "--claims",
                &claims.to_string(),
            ],
        )
    }

    /// `host:port[/path]`: the issuer without its scheme, as IAM names the provider (and as
    /// condition keys are prefixed).
    pub fn host_path(&self) -> String {
        self.issuer.trim_start_matches("http://").to_owned()
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
