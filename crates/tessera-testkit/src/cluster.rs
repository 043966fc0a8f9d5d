//! Scale-out on loopback: a Garage cluster of several nodes (replication factor = nodes, so
//! three nodes keep reads and writes going with one down) and the Tessera replicas in front
//! of it, sharing one PostgreSQL. Processes, not containers.

use crate::{AccountKeys, DevServer, free_port, random_hex};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn garage_bin() -> String {
    std::env::var("TESSERA_TEST_GARAGE").unwrap_or_else(|_| "garage".into())
}

struct Node {
    dir: PathBuf,
    s3: u16,
    rpc: u16,
    child: Option<Child>,
}

impl Node {
    fn cfg(&self) -> PathBuf {
        self.dir.join("garage.toml")
    }

    fn garage(&self, args: &[&str]) -> std::process::Output {
        Command::new(garage_bin())
            .arg("-c")
            .arg(self.cfg())
            .args(args)
            .env("RUST_LOG", "garage=warn")
            .output()
            .expect("run garage")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.garage(args);
        assert!(
            out.status.success(),
            "garage {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("garage.log"))
            .unwrap();
        self.child = Some(
            Command::new(garage_bin())
                .arg("-c")
                .arg(self.cfg())
                .arg("server")
                .env("RUST_LOG", "garage=warn")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("running {}: {e} (the test script installs Garage and sets TESSERA_TEST_GARAGE)", garage_bin())
                }),
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.garage(&["status"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "garage node did not come up; log:\n{}",
                std::fs::read_to_string(self.dir.join("garage.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A Garage cluster on loopback with one access key allowed to create buckets.
pub struct GarageCluster {
    nodes: Vec<Node>,
    ids: Vec<String>,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl GarageCluster {
    pub const REGION: &'static str = "garage";

    /// Start `n` nodes under `work`, join them into one layout (zone `dc1`, replication
    /// factor `n`) and import the access key.
    pub fn start(work: &Path, n: usize) -> GarageCluster {
        let secret = random_hex(32);
        let mut nodes: Vec<Node> = (0..n)
            .map(|i| {
                let dir = work.join(format!("garage{}", i + 1));
                std::fs::create_dir_all(dir.join("meta")).unwrap();
                std::fs::create_dir_all(dir.join("data")).unwrap();
                Node {
                    dir,
                    s3: free_port(),
                    rpc: free_port(),
                    child: None,
                }
            })
            .collect();
        for node in &nodes {
            std::fs::write(
                node.cfg(),
                format!(
                    "metadata_dir = \"{m}\"\ndata_dir = \"{d}\"\ndb_engine = \"sqlite\"\nreplication_factor = {n}\n\
                     rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
                     [s3_api]\ns3_region = \"{region}\"\napi_bind_addr = \"127.0.0.1:{s3}\"\nroot_domain = \".s3.garage.localhost\"\n",
                    m = node.dir.join("meta").display(),
                    d = node.dir.join("data").display(),
                    rpc = node.rpc,
                    s3 = node.s3,
                    region = Self::REGION,
                ),
            )
            .unwrap();
        }
        for node in &mut nodes {
            node.spawn();
        }
        let ids: Vec<String> = nodes.iter().map(|n| n.ok(&["node", "id", "-q"])).collect();
        for id in &ids[1..] {
            nodes[0].ok(&["node", "connect", id]);
        }
        for id in &ids {
            let short = &id.split('@').next().unwrap()[..16];
            nodes[0].ok(&["layout", "assign", "-z", "dc1", "-c", "1G", short]);
        }
        nodes[0].ok(&["layout", "apply", "--version", "1"]);
        let access_key_id = format!("GK{}", random_hex(12));
        let secret_access_key = random_hex(32);
        let c = GarageCluster {
            nodes,
            ids,
            access_key_id,
            secret_access_key,
        };
        c.wait_healthy();
        c.nodes[0].ok(&[
            "key",
            "import",
            "--yes",
            "-n",
            "tessera",
            &c.access_key_id,
            &c.secret_access_key,
        ]);
        c.nodes[0].ok(&["key", "allow", "--create-bucket", "tessera"]);
        c
    }

    /// `http://127.0.0.1:PORT` of node `i`'s S3 API (0-based).
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3)
    }

    /// Wait until every running node sees every node of the cluster connected and all
    /// partitions healthy.
    pub fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            loop {
                let out = node.garage(&["json-api", "GetClusterHealth"]);
                let health: serde_json::Value =
                    serde_json::from_slice(&out.stdout).unwrap_or_default();
                if health["status"] == "healthy" && health["connectedNodes"] == self.nodes.len() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "garage cluster not healthy: {health}"
                );
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }

    /// Kill node `i` with SIGKILL (a crashed storage node).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start node `i` again and reconnect it to the others.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].spawn();
        for (j, id) in self.ids.iter().enumerate() {
            if j != i {
                let _ = self.nodes[i].garage(&["node", "connect", id]);
            }
        }
        self.wait_healthy();
    }
}

impl Drop for GarageCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// One Tessera replica: `tessera serve --config <data dir>/tessera.toml` on the shared
/// PostgreSQL and, when given, a node of the Garage cluster, with its admin listener. Every
/// replica gets the same master key (`master_hex`); a restart (its configuration is there
/// already) keeps its file, key and ports, and ignores `master_hex`. The first one (`root` is `None`) also
/// applies the migrations, creates account `111111111111` and its root key (operator
/// commands on the store, before it starts); later ones are given that key. Ready when its
/// `/readyz` answers 200. The handle is a [`DevServer`] (endpoint, admin endpoint, the
/// root key in its manifest, `kill9`, `stop`).
pub fn start_replica(
    data_dir: &Path,
    database_url: &str,
    master_hex: &str,
    garage: Option<(&GarageCluster, usize)>,
    root: Option<&AccountKeys>,
) -> DevServer {
    std::fs::create_dir_all(data_dir).unwrap();
    let config = data_dir.join("tessera.toml");
    // A restart keeps the ports it had: clients and the harness know them.
    if !config.exists() {
        std::fs::write(data_dir.join("master.key"), master_hex).unwrap();
        let mut text = format!(
            "listen = \"127.0.0.1:{}\"\nadmin_listen = \"127.0.0.1:{}\"\ndata_dir = {:?}\n\
             [store]\nurl = {:?}\n[keys]\nmaster_key_file = {:?}\n\
             [oidc]\nallow_http_loopback_issuers = true\n",
            free_port(),
            free_port(),
            data_dir.display().to_string(),
            database_url,
            data_dir.join("master.key").display().to_string(),
        );
        if let Some((g, node)) = garage {
            std::fs::write(data_dir.join("upstream.secret"), &g.secret_access_key).unwrap();
            text.push_str(&format!(
                "[objects]\nbackend = \"s3\"\nendpoint = {:?}\nregion = {:?}\naccess_key_id = {:?}\nsecret_access_key_file = {:?}\n",
                g.endpoint(node),
                GarageCluster::REGION,
                g.access_key_id,
                data_dir.join("upstream.secret").display().to_string(),
            ));
        }
        std::fs::write(&config, text).unwrap();
    }
    let parsed: toml_lite::Ports = toml_lite::ports(&std::fs::read_to_string(&config).unwrap());
    let cfg = config.to_str().unwrap();
    let root = match root {
        Some(k) => k.clone(),
        None => {
            crate::tessera_command(&["migrate", "--config", cfg]);
            crate::tessera_command(&["account", "create", ACCOUNT, "--config", cfg]);
            let out = crate::tessera_command(&[
                "root-key",
                "create",
                "--account",
                ACCOUNT,
                "--config",
                cfg,
            ]);
            let field = |name: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_else(|| panic!("no {name} in {out}"))
                    .trim()
                    .to_owned()
            };
            AccountKeys {
                account_id: ACCOUNT.into(),
                access_key_id: field("AccessKeyId:"),
                secret_access_key: field("SecretAccessKey:"),
            }
        }
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("server.log"))
        .unwrap();
    let child = Command::new(crate::tessera_bin())
        .args(["serve", "--config", cfg])
        .env("RUST_LOG", "info")
        .env_remove("TESSERA_DATABASE_URL")
        .env_remove("TESSERA_MASTER_KEY")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn tessera serve");
    let admin = format!("http://127.0.0.1:{}", parsed.admin);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", parsed.admin)).is_err()
        || crate::http_get(&admin, "/readyz").0 != 200
    {
        assert!(
            Instant::now() < deadline,
            "tessera serve did not become ready; log:\n{}",
            std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    DevServer::adopt(
        child,
        crate::Manifest {
            endpoint: format!("http://127.0.0.1:{}", parsed.listen),
            region: "us-east-1".into(),
            accounts: vec![root],
            admin_endpoint: Some(admin),
            demo_url: None,
            idp: None,
            tip_configure: None,
        },
        data_dir,
    )
}

const ACCOUNT: &str = "111111111111";

/// The two ports of a replica's configuration file (as written above).
mod toml_lite {
    pub struct Ports {
        pub listen: u16,
        pub admin: u16,
    }

    pub fn ports(text: &str) -> Ports {
        let port = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_matches('"').rsplit(':').next()?.parse().ok())
                .unwrap_or_else(|| panic!("no {key} in {text}"))
        };
        Ports {
            listen: port("listen = "),
            admin: port("admin_listen = "),
        }
    }
}

/// A PostgreSQL server of the test's own (`initdb` in a fresh directory, a free loopback
/// port, trust authentication for the `tessera` role), so that a test may stop and start
/// it under load without disturbing the machine's. Run as the `postgres` user when the
/// test runs as root (PostgreSQL refuses root).
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    /// `postgres://tessera@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://tessera@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_owner(&self, program: &str) -> Command {
        as_postgres(&self.bin.join(program))
    }

    pub fn start() -> PrivatePostgres {
        let bin = postgres_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("tessera-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        let pg = PrivatePostgres {
            dir,
            bin,
            port: free_port(),
        };
        std::fs::create_dir_all(pg.data()).unwrap();
        if running_as_root() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(pg.dir.path(), std::fs::Permissions::from_mode(0o755))
                .unwrap();
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown the PostgreSQL directory");
        }
        let out = pg
            .as_owner("initdb")
            .args(["-A", "trust", "-U", "tessera", "-D"])
            .arg(pg.data())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.up();
        pg
    }

    /// Start the server (again) and wait until it accepts connections.
    pub fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .as_owner("pg_ctl")
            .args(["-w", "-t", "60", "-D"])
            .arg(self.data())
            .args(["-l"])
            .arg(self.dir.path().join("postgres.log"))
            .args(["-o", &opts, "start"])
            .output()
            .expect("run pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
        );
    }

    /// Stop the server at once (`immediate`: no checkpoint, as a crash would), and wait.
    pub fn down(&self) {
        let _ = self
            .as_owner("pg_ctl")
            .args(["-w", "-D"])
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.down();
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn as_postgres(program: &Path) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// The newest PostgreSQL server's binaries (`/usr/lib/postgresql/<version>/bin`), or
/// `pg_config --bindir`.
fn postgres_bin_dir() -> PathBuf {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .max();
    if let Some(v) = newest {
        return PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"));
    }
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("PostgreSQL's binaries (the test script installs PostgreSQL)");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}
