//! The S3-compatible upstream backend: Tessera authorises and audits, then forwards each
//! operation to any S3 store (Garage, MinIO, Ceph, AWS S3) with the store's own credentials,
//! streaming bodies both ways without buffering whole objects.
//!
//! Buckets map one to one to the store's buckets, so data already in the store stays where
//! it is. Which account owns a bucket is recorded in a catalog bucket of the store (one empty
//! object per bucket, `buckets/<name>/<owner account>/<creation ms>`), read into memory at
//! start and refreshed every few seconds, so that replicas sharing one store agree. A bucket
//! the catalog does not name does not exist for Tessera's callers (the catalog bucket
//! itself included). Creating a bucket that already exists in the store under Tessera's
//! credentials adopts it.
//!
//! Requests are sent path-style over HTTP/1.1 with `http::Uri` (no URL normalisation, so a
//! key such as `../x` stays a key), signed with SigV4 (`UNSIGNED-PAYLOAD` for streamed
//! bodies, whose digests Tessera has already checked while they stream).

mod backend;
mod transport;
use crate::backend::*;
use crate::body::ByteStream;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tessera_sigv4::sign::{self, Outgoing, Signer};
use transport::*;

pub(super) type ReqBody = http_body_util::combinators::UnsyncBoxBody<Bytes, s3s::StdError>;
type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    ReqBody,
>;

/// How to reach the store.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// `http://host:port` or `https://host:port` of the store's S3 API.
    pub endpoint: String,
    /// For an https endpoint: the CA certificates (PEM) its certificate is checked against,
    /// instead of the system's roots (a private CA).
    pub ca_file: Option<std::path::PathBuf>,
    /// The store's region (its SigV4 scope), e.g. `garage`.
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The bucket holding Tessera's catalog of buckets.
    pub catalog_bucket: String,
}

impl std::fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("endpoint", &self.endpoint)
            .field("ca_file", &self.ca_file)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("catalog_bucket", &self.catalog_bucket)
            .finish_non_exhaustive()
    }
}

/// Objects in an S3-compatible store.
#[derive(Debug)]
pub struct UpstreamBackend {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: UpstreamConfig,
    scheme_authority: String,
    host: String,
    client: Client,
    catalog: RwLock<BTreeMap<String, BucketInfo>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

/// A body to send.
pub(super) enum Send {
    Empty,
    Bytes(Bytes),
    Stream(ByteStream, u64),
}

impl UpstreamBackend {
    /// Connect to the store, make sure the catalog bucket exists and load it.
    pub async fn open(cfg: UpstreamConfig) -> Result<UpstreamBackend, String> {
        let uri: http::Uri = cfg
            .endpoint
            .parse()
            .map_err(|e| format!("upstream endpoint {:?}: {e}", cfg.endpoint))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_owned(),
            _ => return Err("the upstream endpoint must be http:// or https://".into()),
        };
        if scheme == "http" && cfg.ca_file.is_some() {
            return Err("objects.ca_file is for an https:// upstream endpoint".into());
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("upstream endpoint {:?} has no host", cfg.endpoint))?
            .to_string();
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(https_connector(connector, cfg.ca_file.as_deref())?);
        let inner = Arc::new(Inner {
            scheme_authority: format!("{scheme}://{authority}"),
            host: authority,
            cfg,
            client,
            catalog: RwLock::new(BTreeMap::new()),
        });
        // Reach the store first, so that a refused connection or an untrusted certificate
        // is reported as such (a request's failure is only an InternalError to clients).
        let probe = http::Request::get(format!("{}/", inner.scheme_authority))
            .body(
                http_body_util::Empty::new()
                    .map_err(|n| match n {})
                    .boxed_unsync(),
            )
            .map_err(|e| e.to_string())?;
        if let Err(e) = inner.client.request(probe).await {
            let mut why = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                why.push_str(&format!(": {s}"));
                src = s.source();
            }
            return Err(format!(
                "cannot reach the store at {}: {why}",
                inner.cfg.endpoint
            ));
        }
        let b = UpstreamBackend { inner };
        let catalog = b.inner.cfg.catalog_bucket.clone();
        match b
            .call(
                Method::PUT,
                Some(&catalog),
                None,
                &[],
                Vec::new(),
                Send::Empty,
            )
            .await
        {
            Ok(_) => {}
            Err(e) if matches!(e.code(), S3ErrorCode::BucketAlreadyOwnedByYou) => {}
            Err(e) => return Err(format!("creating the catalog bucket {catalog}: {e}")),
        }
        b.refresh()
            .await
            .map_err(|e| format!("reading the catalog: {e}"))?;
        Ok(b)
    }

    /// Keep the catalog fresh (other replicas create and delete buckets too).
    pub fn spawn_refresh(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let b = UpstreamBackend {
            inner: self.inner.clone(),
        };
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = b.refresh().await {
                    tracing::warn!(error = %e, "refreshing the bucket catalog failed");
                }
            }
        })
    }

    async fn refresh(&self) -> S3Result<()> {
        let catalog = self.inner.cfg.catalog_bucket.clone();
        let mut found = BTreeMap::new();
        let mut after: Option<String> = None;
        loop {
            let mut q = vec![
                ("list-type", "2".to_owned()),
                ("prefix", "buckets/".to_owned()),
            ];
            if let Some(a) = &after {
                q.push(("start-after", a.clone()));
            }
            let qr: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let resp = self
                .call(
                    Method::GET,
                    Some(&catalog),
                    None,
                    &qr,
                    Vec::new(),
                    Send::Empty,
                )
                .await?;
            let doc = self.xml(resp).await?;
            let mut last = None;
            for c in doc.children_named("Contents") {
                let Some(k) = c.child_text("Key") else {
                    continue;
                };
                last = Some(k.to_owned());
                let mut parts = k.trim_start_matches("buckets/").split('/');
                if let (Some(name), Some(owner), Some(created)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    found.insert(
                        name.to_owned(),
                        BucketInfo {
                            name: name.to_owned(),
                            owner: owner.to_owned(),
                            created_ms: created.parse().unwrap_or(0),
                        },
                    );
                }
            }
            let truncated = doc.child_text("IsTruncated") == Some("true");
            match (truncated, last) {
                (true, Some(l)) => after = Some(l),
                _ => break,
            }
        }
        *self.inner.catalog.write().expect("catalog lock") = found;
        Ok(())
    }

    fn known(&self, bucket: &str) -> S3Result<BucketInfo> {
        self.inner
            .catalog
            .read()
            .expect("catalog lock")
            .get(bucket)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }
}

/// A connector for `http://` and `https://` endpoints; https certificates are verified
/// against `ca_file`'s certificates when given, else the system's roots.
fn https_connector(
    http: hyper_util::client::legacy::connect::HttpConnector,
    ca_file: Option<&std::path::Path>,
) -> Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, String>
{
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS for the upstream store: {e}"))?;
    let config = match ca_file {
        Some(path) => {
            let read = |e: rustls_pki_types::pem::Error| {
                format!("the upstream CA file {}: {e}", path.display())
            };
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path).map_err(read)? {
                roots
                    .add(cert.map_err(read)?)
                    .map_err(|e| format!("the upstream CA file {}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!(
                    "the upstream CA file {} holds no certificate",
                    path.display()
                ));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => {
            let found = rustls_native_roots();
            if found.is_empty() {
                tracing::warn!(
                    "no system CA certificates found: https upstream endpoints need objects.ca_file"
                );
            }
            builder.with_root_certificates(found).with_no_client_auth()
        }
    };
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// The system's CA certificates (those that parse).
fn rustls_native_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!(error = %e, "a system CA certificate could not be loaded");
    }
    roots.add_parsable_certificates(found.certs);
    roots
}
