//! Composition: from a configuration to a running server. `tessera serve`, `tessera dev`,
//! the in-process tests and (later) the demo all start Tessera through [`start`].

use crate::app::{App, AppParts};
use crate::config::Config;
use crate::error::{Result, ServerError, Step};
use crate::{serve, setup};
use std::sync::Arc;
use tessera_core::{Deployment, Secret};
use tessera_crypto::MasterKey;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What to start.
#[derive(Debug)]
pub struct StartOptions {
    pub config: Config,
    pub master: MasterKey,
    /// `tessera dev`: make sure the dev accounts and their root keys exist.
    pub dev_accounts: bool,
}

/// A dev account and its root key.
#[derive(Debug, Clone)]
pub struct DevAccount {
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// A running server: its endpoints, and the handle that stops it.
#[derive(Debug)]
pub struct Running {
    /// `http://host:port` of the API listener.
    pub endpoint: String,
    /// `http://host:port` of the admin listener (`/metrics`, `/healthz`, `/readyz`), when configured.
    pub admin_endpoint: Option<String>,
    /// The dev accounts, when started with `dev_accounts`.
    pub dev_accounts: Vec<DevAccount>,
    pub app: Arc<App>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    refresher: JoinHandle<()>,
    /// Background refreshes (the upstream store's bucket catalog, audit digests).
    background: Vec<JoinHandle<()>>,
    /// Unseals the audit signing key for each digest (the newest: `tessera audit rotate-key`
    /// takes effect at the next digest, without a restart).
    audit_master: tessera_crypto::MasterKey,
    exporter: tessera_audit_trail::Exporter,
}

impl Running {
    /// Stop accepting, drain open connections, write the audit records still queued.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.refresher.abort();
        // Wait for each to be gone: an aborted task stops only at its next await, and the
        // export task must not be mid-round while the final export below runs (two rounds
        // at once would append the same records twice).
        for b in &self.background {
            b.abort();
        }
        for b in self.background {
            let _ = b.await;
        }
        self.app.audit.flush().await;
        if let Err(e) =
            tessera_audit_trail::seal_with_newest_key(self.app.store.as_ref(), &self.audit_master)
                .await
        {
            tracing::error!(error = %e, "the shutdown audit digest could not be written");
        }
        if let Err(e) = self.exporter.run_once(self.app.store.as_ref()).await {
            tracing::error!(error = %e, "the audit export could not catch up at shutdown");
        }
    }
}

/// Open the store, load keys and views, bind the listeners and serve until stopped.
pub async fn start(opts: StartOptions) -> Result<Running> {
    let StartOptions {
        config,
        master,
        dev_accounts,
    } = opts;
    let store = setup::open_store(&config).await?;
    setup::private_dir(&config.data_dir)?;
    // The audit trail: durable first in the local segment log, then chained into the store
    // behind it (records a crash left in the log are indexed before serving); exported from
    // the store (`tessera_audit_trail::export`).
    let index = Arc::new(tessera_audit_trail::StoreSink::new(
        store.clone(),
        tokio::runtime::Handle::current(),
    ));
    let log_dir = config.data_dir.join("audit").join("log");
    let (log, recovery) = {
        let dir = log_dir.clone();
        tokio::task::spawn_blocking(move || tessera_audit::segment::SegmentLog::open(&dir, index))
            .await
            .map_err(|e| ServerError::Invalid(format!("the audit log's recovery stopped: {e}")))?
            .step_with(|| format!("opening the audit log {}", log_dir.display()))?
    };
    if recovery != tessera_audit::segment::Recovery::default() {
        tracing::warn!(
            caught_up = recovery.caught_up,
            torn_bytes = recovery.torn_bytes,
            "the audit log held records the trail lacked after an unclean stop; they are in the trail now"
        );
    }
    let audit = tessera_audit::AuditQueue::log(log);
    let exporter = tessera_audit_trail::Exporter::new(config.data_dir.join("audit"));
    // Fail at start, not at the first digest, when the key cannot be unsealed.
    tessera_audit_trail::signing_key(store.as_ref(), &master)
        .await
        .step("loading the audit signing key")?;
    let audit_master = master.clone();
    let deployment = Deployment {
        partition: config.partition.clone(),
        region: config.region.clone(),
    };
    let dev_accounts = if dev_accounts {
        setup::ensure_dev_accounts(store.as_ref(), &master)
            .await?
            .into_iter()
            .map(
                |(account_id, access_key_id, secret_access_key)| DevAccount {
                    account_id,
                    access_key_id,
                    secret_access_key,
                },
            )
            .collect()
    } else {
        Vec::new()
    };
    let mut background = Vec::new();
    let objects: Arc<dyn tessera_s3::Backend> =
        match config.objects.upstream().map_err(ServerError::Invalid)? {
            None => {
                let dir = config
                    .objects
                    .dir
                    .clone()
                    .unwrap_or_else(|| config.data_dir.join("objects"));
                Arc::new(
                    tessera_s3::FsBackend::open(&dir)
                        .await
                        .step_with(|| format!("opening the object store {}", dir.display()))?,
                )
            }
            Some(up) => {
                let endpoint = up.endpoint.clone();
                let b = tessera_s3::UpstreamBackend::open(up)
                    .await
                    .map_err(ServerError::Invalid)
                    .step_with(|| format!("connecting to the object store at {endpoint}"))?;
                tracing::info!(%endpoint, "objects are kept in an S3-compatible store");
                background.push(b.spawn_refresh(std::time::Duration::from_secs(2)));
                Arc::new(b)
            }
        };
    let tls = match &config.tls {
        None => None,
        Some(t) => Some(Arc::new(
            crate::tls::Tls::load(&t.cert_file, &t.key_file)
                .step("loading the TLS certificate and key")?,
        )),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let proxies = Arc::new(config.proxy.proxies().map_err(ServerError::Invalid)?);
    let listener = TcpListener::bind(config.listen)
        .await
        .step_with(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let fetch_policy = config.oidc.fetch_policy().map_err(ServerError::Invalid)?;
    let fetch = tessera_oidc::ReqwestFetch::new(fetch_policy)
        .map_err(|e| ServerError::Invalid(format!("OIDC HTTP client: {e}")))?;
    let oidc = Arc::new(tessera_oidc::OidcVerifier::new(
        Arc::new(fetch),
        tessera_oidc::VerifierConfig::default(),
    ));
    let app = Arc::new(
        App::build(AppParts {
            deployment,
            store,
            master,
            audit,
            audit_policy: config.audit,
            limits: config.limits.clone(),
            oidc,
            allow_http_issuers: config.oidc.allow_http_loopback_issuers,
            public_url: config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}")),
            objects: objects.clone(),
        })
        .await
        .step("loading the in-memory views (IAM principals, session keys)")?,
    );
    // Digests seal the audit chain hourly (and once more at shutdown).
    background.push({
        let (store, master) = (app.store.clone(), audit_master.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tessera_audit_trail::DIGEST_INTERVAL).await;
                if let Err(e) =
                    tessera_audit_trail::seal_with_newest_key(store.as_ref(), &master).await
                {
                    tracing::error!(error = %e, "the audit digest could not be written");
                }
            }
        })
    });
    // The export follows the store, off the request path.
    background.push({
        let (store, exporter) = (app.store.clone(), exporter.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = exporter.run_once(store.as_ref()).await {
                    tracing::error!(error = %e, "the audit export could not be written");
                }
                tokio::time::sleep(tessera_audit_trail::EXPORT_INTERVAL).await;
            }
        })
    });
    // One refresher keeps every replicated view fresh: counters polled every
    // `store.refresh_interval_ms` (250 ms by default), so that what one replica changes the
    // others enforce within a second.
    let refresher = app.refresher().spawn(config.store.refresh_interval());
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let mut admin_endpoint = None;
    if let Some(a) = config.admin_listen {
        let l = TcpListener::bind(a)
            .await
            .step_with(|| format!("binding admin {a}"))?;
        let local = l.local_addr()?;
        tracing::info!(addr = %local, "admin listener (/metrics, /healthz, /readyz)");
        admin_endpoint = Some(format!("{scheme}://{local}"));
        let options = crate::admin::AdminOptions {
            allowed_hosts: config.admin_allowed_hosts.clone(),
        };
        tasks.push(tokio::spawn(crate::admin::serve_admin(
            app.clone(),
            options,
            l,
            tls.clone(),
            rx.clone(),
        )));
    }
    // SIGHUP reads the certificate and key again (a renewal); connections stay up.
    #[cfg(unix)]
    if let Some(tls) = tls.clone() {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .step("installing the SIGHUP handler")?;
        background.push(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match tls.reload() {
                    Ok(()) => tracing::info!("TLS certificate and key reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS reload failed; the previous certificate stays in use")
                    }
                }
            }
        }));
    }
    let endpoint = format!("{scheme}://{addr}");
    tracing::info!(%endpoint, region = %config.region, store = app.store.dialect(), "tessera is listening");
    tasks.insert(
        0,
        tokio::spawn(serve::serve_api(
            app.clone(),
            listener,
            serve::ApiOptions { tls, proxies },
            rx,
        )),
    );
    Ok(Running {
        endpoint,
        admin_endpoint,
        dev_accounts,
        app,
        shutdown: tx,
        tasks,
        refresher,
        background,
        audit_master,
        exporter,
    })
}
