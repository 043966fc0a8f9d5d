//! `tessera`: the server and its operator commands.

use anyhow::{Context, Result};

/// mimalloc: the request path allocates many small, short-lived buffers, which glibc's
/// allocator served at about a tenth of a small GET's cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use tessera_server::config::Config;
use tessera_server::start::DevAccount;
use tessera_server::{StartOptions, serve, setup};

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Trusted identity propagation with S3 Access Grants, self-hosted."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where operator commands find the store and the master key.
#[derive(clap::Args, Clone)]
struct Target {
    /// Configuration file (as for `serve`).
    #[arg(long, conflicts_with = "data_dir")]
    config: Option<PathBuf>,
    /// A `tessera dev` data directory (its SQLite database and generated master key).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server from a configuration file.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Check the configuration (the file, the master key, the TLS certificate and key,
        /// the object store and OIDC settings) without starting, and exit: 0 when it is usable.
        #[arg(long)]
        check_config: bool,
    },
    /// Run the embedded default: SQLite and local files, generated keys, two accounts.
    Dev {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:4566")]
        listen: SocketAddr,
        /// Data directory; a fresh temporary directory when omitted.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Write the endpoint, region and root keys as JSON to this file.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Optional admin listener: /metrics, /healthz and /readyz (open), and the operator endpoints
        /// (/audit/events, /audit/explain, /sessions/revoke: `tessera operator-token create`).
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// Keep objects in this S3-compatible store (`http://host:port`) instead of local
        /// files; its secret key comes from `TESSERA_UPSTREAM_SECRET_ACCESS_KEY`.
        #[arg(long, requires = "upstream_access_key_id")]
        upstream_endpoint: Option<String>,
        /// The store's region (its signing scope).
        #[arg(long, default_value = "us-east-1")]
        upstream_region: String,
        /// Tessera's access key id at the store.
        #[arg(long)]
        upstream_access_key_id: Option<String>,
        /// The audit trail's mode: `sync` (the default), `async`, or `off` (no records at
        /// all: only for measuring what the trail costs).
        #[arg(long, default_value = "sync", value_parser = ["sync", "async", "off"])]
        audit_mode: String,
        /// The bare server: no development identity provider, no demo application, no
        /// seeded world (only the two accounts).
        #[arg(long)]
        no_demo: bool,
        /// Where the demo data application listens (default: the endpoint's port + 14, or
        /// a free port when that is 0).
        #[arg(long)]
        demo_listen: Option<SocketAddr>,
        /// Where the development identity provider listens (default: the endpoint's port +
        /// 15, or a free port when that is 0).
        #[arg(long)]
        idp_listen: Option<SocketAddr>,
        /// Serve HTTPS with this certificate chain (PEM), as `[tls] cert_file` does; with
        /// the bare server only (`--no-demo`).
        #[arg(long, requires_all = ["tls_key", "no_demo"])]
        tls_cert: Option<PathBuf>,
        /// The private key (PEM) of `--tls-cert`.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Apply pending store migrations.
    Migrate {
        #[command(flatten)]
        target: Target,
    },
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Manage an account root's long-term access keys.
    #[command(name = "root-key", alias = "key")]
    RootKey {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Manage the session key ring (the keys that seal STS session tokens).
    #[command(name = "session-keys", alias = "keys")]
    SessionKeys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage SCIM bearer tokens (what an IdP's provisioning connector authenticates with).
    #[command(name = "scim-token")]
    ScimToken {
        #[command(subcommand)]
        command: ScimTokenCommand,
    },
    /// Manage operator tokens: what the admin listener's operator endpoints (the audit
    /// trail, session revocation) authenticate with.
    #[command(name = "operator-token")]
    OperatorToken {
        #[command(subcommand)]
        command: OperatorTokenCommand,
    },
    /// Void sessions and tokens now.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// List audit records, newest first, as a table (or one JSON record per line).
    Query {
        /// A directory user: user name or identity-store user id (`userIdentity.onBehalfOf`).
        #[arg(long)]
        user: Option<String>,
        /// The caller's ARN (`userIdentity.arn`).
        #[arg(long)]
        principal: Option<String>,
        /// The event name (`GetObject`, `GetDataAccess`, …).
        #[arg(long)]
        event: Option<String>,
        /// The request id.
        #[arg(long)]
        request_id: Option<String>,
        /// Only records this recent (`15m`, `2h`, `7d`) or since an RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Only records before this RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print the records themselves, one JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Explain one request: its caller, its result, and why it was decided as it was (the
    /// denying policy and statement, the policy types that lacked an allow, or the grants
    /// nearest to a GetDataAccess target that none matched).
    Explain {
        /// The request id (`x-amz-request-id`, `requestID` in the record).
        request_id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Make a new audit signing key: the next digests are signed with it (running servers
    /// pick it up at their next digest); digests signed with older keys still verify.
    RotateKey {
        #[command(flatten)]
        target: Target,
    },
    /// Check the audit trail's hash chain and signed digests: reports gaps, edited or
    /// reordered records, and missing or invalid digests; exits non-zero on any.
    Verify {
        /// From the first record at or after this time (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Up to the last record before this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum ScimTokenCommand {
    /// Create a token for an identity store's SCIM endpoint; it is printed once, with the
    /// endpoint. It is valid for one year (as Identity Center's).
    Create {
        /// The identity store (`d-…`).
        #[arg(long)]
        identity_store_id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a token by its id: requests with it are refused at once.
    Revoke {
        #[arg(long)]
        token_id: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum OperatorTokenCommand {
    /// Create a token for the admin listener's operator endpoints
    /// (`Authorization: Bearer <token>`); it is printed once and stored only as its SHA-256.
    Create {
        /// What it is for (kept with it, and in the audit record of each use).
        #[arg(long)]
        description: String,
        /// Days it stays valid (default 90).
        #[arg(long, default_value_t = 90)]
        valid_days: i64,
        #[command(flatten)]
        target: Target,
    },
    /// List tokens (ids, descriptions, expiry; never the tokens).
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Revoke a token by its id: requests with it are refused at once.
    Revoke {
        #[arg(long)]
        token_id: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Void every live session and refresh token that carries a directory user (identity-
    /// enhanced sessions, and the credentials vended from them). Running servers refuse them
    /// within a second; the user can sign in again afterwards.
    Revoke {
        /// The identity store user id.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new session key: new sessions use it once every replica has it, older sessions
    /// stay valid until they expire; keys past their grace period are deleted. Running
    /// servers load it within a second.
    Rotate {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create a 12-digit account.
    Create {
        id: String,
        /// Put it in this organization (`o-…`): accounts of one organization may use each
        /// other's Identity Center instance (as AWS's organization instance is shared).
        #[arg(long)]
        organization: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Put an account into an organization, or take it out with `--none`.
    #[command(name = "set-organization")]
    SetOrganization {
        id: String,
        #[arg(long, required_unless_present = "none")]
        organization: Option<String>,
        #[arg(long, conflicts_with = "organization")]
        none: bool,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a root access key for an account; the secret is printed once.
    Create {
        #[arg(long)]
        account: String,
        #[command(flatten)]
        target: Target,
    },
}

fn init_logging(format: &str, level: &str) {
    use tracing_subscriber::EnvFilter;
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_owned());
    // The S3 codec logs every client error at ERROR level; our own request line already
    // carries the error code, so it stays quiet unless asked for by name.
    let spec = if spec.contains("s3s") {
        spec
    } else {
        format!("{spec},s3s=off")
    };
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new(level));
    if format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        use std::io::IsTerminal;
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
    }
}

/// What kind of store a database URL names, without its credentials.
fn store_kind(url: &str) -> &'static str {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        "PostgreSQL store"
    } else {
        "SQLite store"
    }
}

fn load_config(path: &Path) -> Result<Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let c = Config::parse(&text).with_context(|| format!("parsing {}", path.display()))?;
    c.validate().map_err(anyhow::Error::msg)?;
    Ok(c)
}

fn target_config(t: &Target) -> Result<(Config, bool)> {
    match (&t.config, &t.data_dir) {
        (Some(p), _) => Ok((load_config(p)?, false)),
        (None, Some(d)) => Ok((Config::for_data_dir(d.clone()), true)),
        (None, None) => anyhow::bail!("give --config FILE or --data-dir DIR"),
    }
}

fn target_master(config: &Config, dev: bool) -> Result<tessera_crypto::MasterKey> {
    if dev {
        Ok(setup::dev_master_key(&config.data_dir)?)
    } else {
        Ok(setup::load_master_key(config)?)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            check_config: true,
        } => {
            let path = config;
            let config = load_config(&path)?;
            setup::load_master_key(&config)?;
            if let Some(t) = &config.tls {
                tessera_server::tls::Tls::load(&t.cert_file, &t.key_file)?;
            }
            let objects = config
                .objects
                .upstream()
                .map_err(anyhow::Error::msg)
                .context("the [objects] settings")?;
            config
                .oidc
                .fetch_policy()
                .map_err(anyhow::Error::msg)
                .context("the [oidc] settings")?;
            println!(
                "{}: the configuration is usable (API on {}{}, {}, objects {})",
                path.display(),
                if config.tls.is_some() {
                    "https://"
                } else {
                    "http://"
                },
                config.listen,
                store_kind(&config.database_url()),
                match &objects {
                    Some(u) => u.endpoint.clone(),
                    None => "on local disk".into(),
                }
            );
            Ok(())
        }
        Command::Serve { config, .. } => {
            let config = load_config(&config)?;
            init_logging(&config.log.format, &config.log.level);
            let master = setup::load_master_key(&config)?;
            run(config, master, None).await
        }
        Command::Dev {
            listen,
            data_dir,
            manifest,
            admin_listen,
            upstream_endpoint,
            upstream_region,
            upstream_access_key_id,
            audit_mode,
            no_demo,
            demo_listen,
            idp_listen,
            tls_cert,
            tls_key,
        } => {
            init_logging("text", "info");
            let (dir, _temp) = match data_dir {
                Some(d) => (d, None),
                None => {
                    let t = tempdir()?;
                    (t.clone(), Some(t))
                }
            };
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut config = Config::for_data_dir(dir.clone());
            config.listen = listen;
            // The demo's "who read what" reads the audit trail from the admin listener.
            config.admin_listen = match admin_listen {
                None if !no_demo => Some(SocketAddr::new(listen.ip(), 0)),
                a => a,
            };
            config.oidc.allow_http_loopback_issuers = true;
            if let (Some(cert_file), Some(key_file)) = (tls_cert, tls_key) {
                config.tls = Some(tessera_server::config::TlsConfig {
                    cert_file,
                    key_file,
                });
            }
            config.audit.mode = match audit_mode.as_str() {
                "async" => tessera_audit::AuditMode::Async,
                "off" => tessera_audit::AuditMode::Off,
                _ => tessera_audit::AuditMode::Sync,
            };
            if let Some(e) = upstream_endpoint {
                config.objects.backend = Some("s3".into());
                config.objects.endpoint = Some(e);
                config.objects.region = Some(upstream_region);
                config.objects.access_key_id = upstream_access_key_id;
            }
            let master = setup::dev_master_key(&dir)?;
            let near = |offset: u16| {
                let port = if listen.port() == 0 {
                    0
                } else {
                    listen.port().saturating_add(offset)
                };
                SocketAddr::new(listen.ip(), port)
            };
            let demo = (!no_demo).then(|| DemoOptions {
                demo_listen: demo_listen.unwrap_or_else(|| near(14)),
                idp_listen: idp_listen.unwrap_or_else(|| near(15)),
            });
            run(config, master, Some(DevOptions { manifest, demo })).await
        }
        Command::Migrate { target } => {
            let (config, _) = target_config(&target)?;
            setup::open_store(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Account {
            command:
                AccountCommand::Create {
                    id,
                    organization,
                    target,
                },
        } => {
            let (config, dev) = target_config(&target)?;
            if dev {
                setup::dev_master_key(&config.data_dir)?;
            }
            let store = setup::open_store(&config).await?;
            setup::create_account(store.as_ref(), &id, organization.as_deref()).await?;
            match organization {
                Some(o) => println!("account {id} created in organization {o}"),
                None => println!("account {id} created"),
            }
            Ok(())
        }
        Command::Account {
            command:
                AccountCommand::SetOrganization {
                    id,
                    organization,
                    none: _,
                    target,
                },
        } => {
            let (config, _) = target_config(&target)?;
            let store = setup::open_store(&config).await?;
            setup::set_account_organization(store.as_ref(), &id, organization.as_deref()).await?;
            match organization {
                Some(o) => println!("account {id} is in organization {o}"),
                None => println!("account {id} is in no organization"),
            }
            Ok(())
        }
        Command::SessionKeys {
            command: KeysCommand::Rotate { target },
        } => {
            let (config, dev) = target_config(&target)?;
            let master = target_master(&config, dev)?;
            let store = setup::open_store(&config).await?;
            let (id, deleted) = setup::rotate_ring(store.as_ref(), &master).await?;
            println!("session key {id} is now current");
            if !deleted.is_empty() {
                println!("deleted expired session keys: {deleted:?}");
            }
            Ok(())
        }
        Command::ScimToken { command } => {
            match command {
                ScimTokenCommand::Create {
                    identity_store_id,
                    target,
                } => {
                    let (config, _) = target_config(&target)?;
                    let store = setup::open_store(&config).await?;
                    let (id, token) =
                        setup::create_scim_token(store.as_ref(), &identity_store_id).await?;
                    println!("TokenId:  {id}");
                    println!("Token:    {}", token.expose());
                    match &config.public_url {
                        Some(base) => {
                            println!("Endpoint: {base}/{identity_store_id}/scim/v2")
                        }
                        None => println!(
                            "Endpoint: <the server's endpoint>/{identity_store_id}/scim/v2"
                        ),
                    }
                    println!("(the token is shown only this once)");
                }
                ScimTokenCommand::Revoke { token_id, target } => {
                    let (config, _) = target_config(&target)?;
                    let store = setup::open_store(&config).await?;
                    if !store.delete_scim_token(&token_id).await? {
                        anyhow::bail!("no SCIM token {token_id}");
                    }
                    println!("SCIM token {token_id} revoked");
                }
            }
            Ok(())
        }
        Command::OperatorToken { command } => {
            match command {
                OperatorTokenCommand::Create {
                    description,
                    valid_days,
                    target,
                } => {
                    let (config, _) = target_config(&target)?;
                    let store = setup::open_store(&config).await?;
                    let (id, token, expires) =
                        setup::create_operator_token(store.as_ref(), &description, valid_days)
                            .await?;
                    println!("TokenId:  {id}");
                    println!("Token:    {}", token.expose());
                    println!("Expires:  {}", tessera_core::iso8601(expires));
                    println!("(the token is shown only this once)");
                }
                OperatorTokenCommand::List { target } => {
                    let (config, _) = target_config(&target)?;
                    let store = setup::open_store(&config).await?;
                    for t in store.list_operator_tokens().await? {
                        println!(
                            "{}  expires {}  {}",
                            t.token_id,
                            tessera_core::iso8601(t.expires_at),
                            t.description
                        );
                    }
                }
                OperatorTokenCommand::Revoke { token_id, target } => {
                    let (config, _) = target_config(&target)?;
                    let store = setup::open_store(&config).await?;
                    if !store.delete_operator_token(&token_id).await? {
                        anyhow::bail!("no operator token {token_id}");
                    }
                    println!("operator token {token_id} revoked");
                }
            }
            Ok(())
        }
        Command::Sessions {
            command: SessionsCommand::Revoke { user, target },
        } => {
            let (config, _) = target_config(&target)?;
            let store = setup::open_store(&config).await?;
            let at = setup::revoke_user(store.as_ref(), &user).await?;
            // An operator action leaves its record in the trail, as one over the admin
            // listener does.
            let rec = tessera_server::admin::command_record(
                &config.region,
                "RevokeUserSessions",
                serde_json::json!({"user": user}),
                serde_json::json!({"identitystore:UserId": user, "revokedAt": at}),
            );
            tessera_audit_trail::append(store.clone(), &[rec]).await?;
            println!("sessions and tokens of user {user} issued until {at} are revoked");
            Ok(())
        }
        Command::Audit {
            command:
                AuditCommand::Query {
                    user,
                    principal,
                    event,
                    request_id,
                    since,
                    until,
                    limit,
                    json,
                    target,
                },
        } => {
            use tessera_audit_trail as audit_trail;
            let now = chrono::Utc::now();
            let q = audit_trail::Query {
                user,
                principal_arn: principal,
                event_name: event,
                request_id,
                since: since.map(|s| audit_trail::since(&s, now)).transpose()?,
                until: until.map(|s| audit_trail::since(&s, now)).transpose()?,
                limit: limit.clamp(1, 100_000),
            };
            let (config, _) = target_config(&target)?;
            let store = setup::open_store(&config).await?;
            let rows = audit_trail::query(store.as_ref(), &q).await?;
            if json {
                for r in &rows {
                    println!("{}", r.body);
                }
            } else {
                print!("{}", audit_trail::table(&rows));
            }
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::RotateKey { target },
        } => {
            let (config, dev) = target_config(&target)?;
            let master = target_master(&config, dev)?;
            let store = setup::open_store(&config).await?;
            let fp = tessera_audit_trail::rotate_signing_key(store.as_ref(), &master).await?;
            println!("new audit signing key {fp}");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Explain { request_id, target },
        } => {
            let (config, _) = target_config(&target)?;
            let store = setup::open_store(&config).await?;
            match tessera_audit_trail::explain(store.as_ref(), &request_id).await? {
                Some(text) => {
                    print!("{text}");
                    Ok(())
                }
                None => anyhow::bail!("no audit record has request id {request_id:?}"),
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { from, to, target },
        } => {
            let time = |t: &Option<String>| -> Result<Option<String>> {
                t.as_deref()
                    .map(|t| {
                        chrono::DateTime::parse_from_rfc3339(t)
                            .map(|d| {
                                d.with_timezone(&chrono::Utc)
                                    .format("%Y-%m-%dT%H:%M:%SZ")
                                    .to_string()
                            })
                            .with_context(|| format!("{t:?} is not an RFC 3339 time"))
                    })
                    .transpose()
            };
            let (from, to) = (time(&from)?, time(&to)?);
            let (config, _) = target_config(&target)?;
            let store = setup::open_store(&config).await?;
            let report =
                tessera_audit_trail::verify(store.as_ref(), from.as_deref(), to.as_deref()).await?;
            // This data directory's local audit log: what the trail has, and what waits.
            let log = tessera_audit_trail::verify_log(
                store.as_ref(),
                &config.data_dir.join("audit").join("log"),
            )
            .await?;
            for p in &report.problems {
                println!("FAIL: {p}");
            }
            for p in &log.problems {
                println!("FAIL: {p}");
            }
            println!(
                "{} records, {} digests checked; {} records after the last digest",
                report.records, report.digests, report.unsealed
            );
            println!(
                "local audit log: {} records, {} of them in the trail, {} waiting to be indexed",
                log.records, log.indexed, log.waiting
            );
            if log.torn_bytes > 0 {
                println!(
                    "local audit log: {} bytes of a write cut short by a crash (no request was answered on them; the next start removes them)",
                    log.torn_bytes
                );
            }
            if report.problems.is_empty() && log.problems.is_empty() {
                println!("audit trail verified");
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Command::RootKey {
            command: KeyCommand::Create { account, target },
        } => {
            let (config, dev) = target_config(&target)?;
            let master = target_master(&config, dev)?;
            let store = setup::open_store(&config).await?;
            let (id, secret) = setup::create_root_key(store.as_ref(), &master, &account).await?;
            println!(
                "AccessKeyId:     {id}\nSecretAccessKey: {}",
                secret.expose()
            );
            println!("(the secret is shown only this once)");
            Ok(())
        }
    }
}

fn tempdir() -> Result<PathBuf> {
    let base = std::env::temp_dir().join(format!("tessera-dev-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&base)?;
    Ok(base)
}

struct DevOptions {
    manifest: Option<PathBuf>,
    demo: Option<DemoOptions>,
}

struct DemoOptions {
    demo_listen: SocketAddr,
    idp_listen: SocketAddr,
}

/// The operator actions the development world needs, done on the store as the operator
/// commands do them.
struct DevOperator {
    store: std::sync::Arc<dyn tessera_store::Store>,
}

#[async_trait::async_trait]
impl tessera_dev::Operator for DevOperator {
    async fn scim_token(&self, identity_store_id: &str) -> Result<String> {
        let (_, token) = setup::create_scim_token(self.store.as_ref(), identity_store_id).await?;
        Ok(token.expose().to_owned())
    }

    async fn operator_token(&self) -> Result<String> {
        let (_, token, _) = setup::create_operator_token(
            self.store.as_ref(),
            "tessera dev: the demo's who-read-what page",
            3650,
        )
        .await?;
        Ok(token.expose().to_owned())
    }

    async fn operator_token_valid(&self, token: &str) -> bool {
        let digest = tessera_crypto::token::token_digest(token);
        matches!(
            self.store.operator_token_by_hash(&digest).await,
            Ok(Some(t)) if t.expires_at > chrono::Utc::now().timestamp()
        )
    }
}

async fn run(
    config: Config,
    master: tessera_crypto::MasterKey,
    dev: Option<DevOptions>,
) -> Result<()> {
    let region = config.region.clone();
    let data_dir = config.data_dir.clone();
    let running = tessera_server::start(StartOptions {
        config,
        master,
        dev_accounts: dev.is_some(),
    })
    .await?;
    let mut world = None;
    if let Some(dev) = dev {
        if let Some(demo) = &dev.demo {
            let key = |acct: &str| {
                running
                    .dev_accounts
                    .iter()
                    .find(|a| a.account_id == acct)
                    .map(|a| {
                        tessera_dev::clients::Keys::long_term(
                            &a.access_key_id,
                            a.secret_access_key.expose(),
                        )
                    })
                    .ok_or_else(|| anyhow::anyhow!("no dev account {acct}"))
            };
            let started = tessera_dev::start(tessera_dev::Options {
                endpoint: running.endpoint.clone(),
                region: region.clone(),
                data_dir: data_dir.clone(),
                app_root: key(tessera_dev::seed::APP_ACCOUNT)?,
                idc_root: key(tessera_dev::seed::IDC_ACCOUNT)?,
                admin_endpoint: running.admin_endpoint.clone(),
                demo_listen: demo.demo_listen,
                idp_listen: demo.idp_listen,
                operator: std::sync::Arc::new(DevOperator {
                    store: running.app.store.clone(),
                }),
            })
            .await;
            match started {
                Ok(w) => world = Some(w),
                Err(e) => {
                    running.stop().await;
                    return Err(e);
                }
            }
        }
        print_banner(&running.endpoint, &region, &data_dir, &running.dev_accounts);
        if let Some(w) = &world {
            print_world(w, running.admin_endpoint.as_deref());
        }
        if let Some(path) = dev.manifest {
            let mut m = serde_json::json!({
                "endpoint": running.endpoint,
                "region": region,
                "data_dir": data_dir,
                "admin_endpoint": running.admin_endpoint,
                "accounts": running.dev_accounts.iter().map(|a| serde_json::json!({
                    "account_id": a.account_id,
                    "access_key_id": a.access_key_id,
                    "secret_access_key": a.secret_access_key.expose(),
                })).collect::<Vec<_>>(),
            });
            if let Some(w) = &world {
                m["demo_url"] = serde_json::json!(w.demo_url);
                m["tip_configure"] = serde_json::json!(w.tip_configure);
                m["idp"] = serde_json::json!({
                    "issuer": w.issuer,
                    "client_id": w.client_id,
                    "users": w.users.iter().map(|u| serde_json::json!({
                        "username": u.username,
                        "password": u.password,
                        "name": u.display_name,
                        "groups": u.groups,
                        "user_id": u.user_id,
                    })).collect::<Vec<_>>(),
                });
            }
            setup::write_private(&path, &serde_json::to_string_pretty(&m)?)?;
        }
    }
    serve::shutdown_signal().await;
    tracing::info!("shutting down");
    if let Some(w) = world {
        w.stop().await;
    }
    running.stop().await;
    Ok(())
}

/// The world's part of the banner: where to click, who can sign in, how S3 Control clients
/// reach the endpoint.
fn print_world(w: &tessera_dev::DevWorld, admin: Option<&str>) {
    println!(
        "The seeds' data application is running: open {}",
        w.demo_url
    );
    println!(
        "  development identity provider (NOT FOR PRODUCTION): {}",
        w.issuer
    );
    println!("  sign in as:");
    for u in &w.users {
        println!(
            "    {:<16} password {:<28} {} ({})",
            u.username,
            u.password,
            u.display_name,
            u.groups.join(", ")
        );
    }
    if let Some(a) = admin {
        println!(
            "  admin listener: {a} (/metrics, /healthz, /readyz; audit endpoints need `tessera operator-token create`)"
        );
    }
    println!(
        "  S3 Control clients put the account id in front of the host name (111111111111.127.0.0.1): reach it with HTTP_PROXY=<endpoint> (README, \"the account host label\")."
    );
    println!("  use the AWS CLI as one of these users (`tip`, README \"tip\"):");
    println!("    {}", w.tip_configure);
    println!(
        "    tip --profile tessera-dev auth && tip --profile tessera-dev auth set-aws-profile tessera-dev-red --s3-target 's3://example-bucket/projects/red/*'"
    );
    println!();
}

fn print_banner(endpoint: &str, region: &str, data_dir: &Path, keys: &[DevAccount]) {
    println!("Tessera dev is running.");
    println!("  endpoint:  {endpoint}");
    println!("  region:    {region}");
    println!("  data dir:  {}", data_dir.display());
    if let Some(DevAccount {
        account_id: acct,
        access_key_id: id,
        secret_access_key: secret,
    }) = keys.first()
    {
        println!("\nPoint the AWS CLI at account {acct}:");
        println!("  export AWS_ENDPOINT_URL={endpoint}");
        println!("  export AWS_REGION={region} AWS_DEFAULT_REGION={region}");
        println!("  export AWS_ACCESS_KEY_ID={id}");
        println!("  export AWS_SECRET_ACCESS_KEY={}", secret.expose());
        println!("  aws sts get-caller-identity");
    }
    for a in keys.iter().skip(1) {
        println!(
            "  account {}: AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
            a.account_id,
            a.access_key_id,
            a.secret_access_key.expose()
        );
    }
    println!("Roles may not be assumed by an account root: create an IAM user for that.");
    println!();
}
