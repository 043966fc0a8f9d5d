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
type Client =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, ReqBody>;

/// How to reach the store.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// `http://host:port` of the store's S3 API.
    pub endpoint: String,
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
        if uri.scheme_str() != Some("http") {
            return Err(
                "the upstream endpoint must be http:// (TLS to the store is not supported yet)"
                    .into(),
            );
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("upstream endpoint {:?} has no host", cfg.endpoint))?
            .to_string();
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector);
        let inner = Arc::new(Inner {
            scheme_authority: format!("http://{authority}"),
            host: authority,
            cfg,
            client,
            catalog: RwLock::new(BTreeMap::new()),
        });
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
