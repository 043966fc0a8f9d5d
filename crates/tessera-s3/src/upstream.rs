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

type ReqBody = http_body_util::combinators::UnsyncBoxBody<Bytes, s3s::StdError>;
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
enum Send {
    Empty,
    Bytes(Bytes),
    Stream(ByteStream, u64),
}

fn upstream_failed(what: impl std::fmt::Display) -> S3Error {
    tracing::error!(error = %what, "the upstream object store failed");
    S3Error::with_message(
        S3ErrorCode::InternalError,
        "We encountered an internal error. Please try again.",
    )
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn unquote(e: &str) -> String {
    e.trim().trim_matches('"').to_owned()
}

fn http_date_ms(v: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|d| d.timestamp_millis())
}

fn iso_ms(v: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|d| d.timestamp_millis())
}

fn http_date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn etag_header(c: &s3s::dto::ETagCondition) -> String {
    match c {
        s3s::dto::ETagCondition::Any => "*".into(),
        s3s::dto::ETagCondition::ETag(e) => format!("\"{}\"", e.value()),
    }
}

fn condition_headers(c: &Conditions, prefix: &str, out: &mut Vec<(String, String)>) {
    if let Some(m) = &c.if_match {
        out.push((format!("{prefix}if-match"), etag_header(m)));
    }
    if let Some(m) = &c.if_none_match {
        out.push((format!("{prefix}if-none-match"), etag_header(m)));
    }
    if let Some(t) = c.if_modified_since {
        out.push((format!("{prefix}if-modified-since"), http_date(t)));
    }
    if let Some(t) = c.if_unmodified_since {
        out.push((format!("{prefix}if-unmodified-since"), http_date(t)));
    }
}

fn object_headers(h: &ObjectHeaders, out: &mut Vec<(String, String)>) {
    let mut put = |n: &str, v: &Option<String>| {
        if let Some(v) = v {
            out.push((n.to_owned(), v.clone()));
        }
    };
    put("content-type", &h.content_type);
    put("content-encoding", &h.content_encoding);
    put("content-disposition", &h.content_disposition);
    put("content-language", &h.content_language);
    put("cache-control", &h.cache_control);
    put("expires", &h.expires);
    for (k, v) in &h.metadata {
        out.push((format!("x-amz-meta-{k}"), crate::meta::stored_value(v)));
    }
}

fn meta_from_headers(key: &str, h: &HeaderMap) -> ObjectMeta {
    let s = |n: &str| header_str(h, n).map(str::to_owned);
    let mut metadata = BTreeMap::new();
    for (n, v) in h {
        if let Some(k) = n.as_str().strip_prefix("x-amz-meta-")
            && let Ok(v) = v.to_str()
        {
            metadata.insert(k.to_owned(), crate::meta::decode_words(v));
        }
    }
    let size = match header_str(h, "content-range").and_then(|r| r.rsplit('/').next()) {
        Some(total) => total.parse().unwrap_or(0),
        None => header_str(h, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    let mut checksums = BTreeMap::new();
    for a in crate::body::ChecksumAlgo::ALL {
        if let Some(v) = header_str(h, a.header()) {
            checksums.insert(a.header().to_owned(), v.to_owned());
        }
    }
    let etag = s("etag").map(|e| unquote(&e)).unwrap_or_default();
    // A multipart object's ETag ends in `-N` (the store also sends a part count for objects
    // stored whole when asked for a part; S3 does not).
    let parts = etag.rsplit_once('-').and_then(|(_, n)| n.parse().ok());
    ObjectMeta {
        key: key.to_owned(),
        size,
        etag,
        last_modified_ms: header_str(h, "last-modified")
            .and_then(http_date_ms)
            .unwrap_or(0),
        headers: ObjectHeaders {
            content_type: s("content-type"),
            content_encoding: s("content-encoding"),
            content_disposition: s("content-disposition"),
            content_language: s("content-language"),
            cache_control: s("cache-control"),
            expires: s("expires"),
            metadata,
        },
        checksums,
        parts,
        part_sizes: Vec::new(),
    }
}

/// The bytes a GET or HEAD was answered with (`Content-Range`), else the whole object.
fn answered_range(h: &HeaderMap, size: u64) -> ByteRange {
    match header_str(h, "content-range")
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.split_once('-'))
    {
        Some((a, b)) => ByteRange {
            start: a.parse().unwrap_or(0),
            end: b.parse::<u64>().map(|e| e + 1).unwrap_or(size),
        },
        None => ByteRange {
            start: 0,
            end: size,
        },
    }
}

/// A part request the store refused for its part number (Garage: `InvalidPart`, or a 400
/// without a body to a HEAD) is S3's `InvalidPartNumber`.
fn part_error(e: S3Error) -> S3Error {
    if matches!(
        e.code(),
        S3ErrorCode::InvalidPart | S3ErrorCode::InvalidRequest
    ) {
        crate::backend::invalid_part_number()
    } else {
        e
    }
}

/// The S3 error an upstream error response stands for. The store refusing Tessera's own
/// credentials, or failing, is an internal error to the caller; the caller's own mistakes
/// (missing keys, preconditions, ranges, parts) pass through with S3's codes.
fn error_from(status: StatusCode, body: &[u8], head: bool) -> S3Error {
    let text = String::from_utf8_lossy(body);
    let doc = tessera_wire::xml::parse(&text).ok();
    let code = doc
        .as_ref()
        .and_then(|d| d.child_text("Code"))
        .map(str::to_owned);
    let message = doc
        .as_ref()
        .and_then(|d| d.child_text("Message"))
        .map(str::to_owned);
    match status.as_u16() {
        304 => return S3Error::new(S3ErrorCode::NotModified),
        401 | 403 => return upstream_failed(format!("{status}: {text}")),
        404 if head || code.is_none() => {
            return s3_error!(NoSuchKey, "The specified key does not exist.");
        }
        // A HEAD's error has no document: a 400 is the request's own fault.
        400 if head && code.is_none() => {
            return s3_error!(InvalidRequest, "The store refused the request");
        }
        412 if code.is_none() => {
            return s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            );
        }
        s if s >= 500 && s != 503 => return upstream_failed(format!("{status}: {text}")),
        _ => {}
    }
    let Some(code) = code else {
        return upstream_failed(format!("{status} without an error document"));
    };
    let c = S3ErrorCode::from_bytes(code.as_bytes())
        .unwrap_or(S3ErrorCode::Custom(code.clone().into()));
    let mut e = match message {
        Some(m) => S3Error::with_message(c, m),
        None => S3Error::new(c),
    };
    e.set_status_code(status);
    e
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

    async fn xml(
        &self,
        resp: http::Response<hyper::body::Incoming>,
    ) -> S3Result<tessera_wire::xml::Element> {
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(upstream_failed)?
            .to_bytes();
        tessera_wire::xml::parse(&String::from_utf8_lossy(&body)).map_err(upstream_failed)
    }

    /// Send one signed request; an error response becomes the S3 error it stands for.
    async fn call(
        &self,
        method: Method,
        bucket: Option<&str>,
        key: Option<&str>,
        query: &[(&str, &str)],
        mut headers: Vec<(String, String)>,
        body: Send,
    ) -> S3Result<http::Response<hyper::body::Incoming>> {
        let mut path = String::from("/");
        if let Some(b) = bucket {
            path.push_str(b);
            if let Some(k) = key {
                path.push('/');
                path.push_str(&upstream_key_path(k));
            }
        }
        let q = sign::canonical_query(query);
        let now = chrono::Utc::now();
        let date = sign::amz_date(now);
        let (payload, body, length): (String, ReqBody, Option<u64>) = match body {
            Send::Empty => (
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"")),
                http_body_util::Empty::new()
                    .map_err(|n| match n {})
                    .boxed_unsync(),
                None,
            ),
            Send::Bytes(b) => (
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&b)),
                http_body_util::Full::new(b.clone())
                    .map_err(|n| match n {})
                    .boxed_unsync(),
                Some(b.len() as u64),
            ),
            Send::Stream(s, len) => (
                tessera_sigv4::UNSIGNED_PAYLOAD.to_owned(),
                // A body failing its checks at the end never reaches the store whole.
                http_body_util::StreamBody::new(
                    crate::body::HoldLast::new(s).map(|r| r.map(http_body::Frame::data)),
                )
                .boxed_unsync(),
                Some(len),
            ),
        };
        headers.push(("host".into(), self.inner.host.clone()));
        headers.push(("x-amz-date".into(), date));
        headers.push(("x-amz-content-sha256".into(), payload.clone()));
        let signed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let auth = sign::authorization(
            &Outgoing {
                method: method.as_str(),
                path: &path,
                query,
                headers: &signed,
                payload: &payload,
            },
            &Signer {
                access_key_id: &self.inner.cfg.access_key_id,
                secret_access_key: &self.inner.cfg.secret_access_key,
                region: &self.inner.cfg.region,
                service: "s3",
            },
            now,
        );
        let uri = if q.is_empty() {
            format!("{}{path}", self.inner.scheme_authority)
        } else {
            format!("{}{path}?{q}", self.inner.scheme_authority)
        };
        let mut b = http::Request::builder().method(method.clone()).uri(uri);
        for (n, v) in &headers {
            if n == "host" {
                continue;
            }
            b = b.header(
                n.as_str(),
                HeaderValue::from_str(v).map_err(upstream_failed)?,
            );
        }
        b = b.header(http::header::AUTHORIZATION, auth);
        if let Some(l) = length {
            b = b.header(http::header::CONTENT_LENGTH, l);
        }
        let req = b.body(body).map_err(upstream_failed)?;
        let resp = match self.inner.client.request(req).await {
            Ok(r) => r,
            Err(e) => {
                // A request body that failed its checks aborts the upload: report why.
                let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
                while let Some(s) = src {
                    if let Some(s3) = s.downcast_ref::<S3Error>() {
                        return Err(S3Error::with_message(
                            s3.code().clone(),
                            s3.message().unwrap_or("").to_owned(),
                        ));
                    }
                    src = s.source();
                }
                return Err(upstream_failed(e));
            }
        };
        if resp.status().is_success() || resp.status() == StatusCode::PARTIAL_CONTENT {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Err(error_from(status, &body, method == Method::HEAD))
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

    fn put_headers(new: &NewObject) -> Vec<(String, String)> {
        let mut h = Vec::new();
        object_headers(&new.headers, &mut h);
        for (n, v) in &new.checksums {
            h.push((n.clone(), v.clone()));
        }
        h
    }
}

/// A key as a request path for the store.
fn upstream_key_path(key: &str) -> String {
    sign::encode_path(key)
}

/// Keys the store cannot keep apart from others are refused rather than aliased: stores such
/// as Garage read a key's leading `/` away, so `/a` and `a` would be one object.
fn representable(key: &str) -> S3Result<()> {
    if key.starts_with('/') {
        return Err(s3_error!(
            InvalidArgument,
            "Object keys beginning with '/' are not supported by the object store behind this server."
        ));
    }
    Ok(())
}

fn body_stream(resp: http::Response<hyper::body::Incoming>) -> ByteStream {
    let s = http_body_util::BodyDataStream::new(resp.into_body())
        .map(|r| r.map_err(|e| Box::new(e) as s3s::StdError));
    Box::pin(s)
}

#[async_trait::async_trait]
impl Backend for UpstreamBackend {
    async fn create_bucket(&self, name: &str, owner: &str) -> S3Result<BucketInfo> {
        if let Some(b) = self.bucket(name) {
            return Err(if b.owner == owner {
                s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                )
            } else {
                s3_error!(BucketAlreadyExists)
            });
        }
        if name == self.inner.cfg.catalog_bucket {
            return Err(s3_error!(BucketAlreadyExists));
        }
        match self
            .call(Method::PUT, Some(name), None, &[], Vec::new(), Send::Empty)
            .await
        {
            Ok(_) => {}
            // A bucket of the store's that Tessera does not know yet: adopt it.
            Err(e) if matches!(e.code(), S3ErrorCode::BucketAlreadyOwnedByYou) => {}
            Err(e) => return Err(e),
        }
        let info = BucketInfo {
            name: name.to_owned(),
            owner: owner.to_owned(),
            created_ms: chrono::Utc::now().timestamp_millis(),
        };
        let record = format!("buckets/{name}/{owner}/{}", info.created_ms);
        let catalog = self.inner.cfg.catalog_bucket.clone();
        self.call(
            Method::PUT,
            Some(&catalog),
            Some(&record),
            &[],
            Vec::new(),
            Send::Bytes(Bytes::new()),
        )
        .await?;
        self.inner
            .catalog
            .write()
            .expect("catalog lock")
            .insert(name.to_owned(), info.clone());
        Ok(info)
    }

    async fn delete_bucket(&self, name: &str) -> S3Result<()> {
        let b = self.known(name)?;
        let resp = self
            .call(
                Method::GET,
                Some(name),
                None,
                &[("list-type", "2"), ("max-keys", "1")],
                Vec::new(),
                Send::Empty,
            )
            .await?;
        let doc = self.xml(resp).await?;
        if doc.children_named("Contents").next().is_some() {
            return Err(s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty"
            ));
        }
        self.call(
            Method::DELETE,
            Some(name),
            None,
            &[],
            Vec::new(),
            Send::Empty,
        )
        .await?;
        let record = format!("buckets/{name}/{}/{}", b.owner, b.created_ms);
        let catalog = self.inner.cfg.catalog_bucket.clone();
        self.call(
            Method::DELETE,
            Some(&catalog),
            Some(&record),
            &[],
            Vec::new(),
            Send::Empty,
        )
        .await?;
        self.inner
            .catalog
            .write()
            .expect("catalog lock")
            .remove(name);
        Ok(())
    }

    fn bucket(&self, name: &str) -> Option<BucketInfo> {
        self.inner
            .catalog
            .read()
            .expect("catalog lock")
            .get(name)
            .cloned()
    }

    fn buckets(&self) -> Vec<BucketInfo> {
        self.inner
            .catalog
            .read()
            .expect("catalog lock")
            .values()
            .cloned()
            .collect()
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        new: NewObject,
    ) -> S3Result<ObjectMeta> {
        self.known(bucket)?;
        representable(key)?;
        let len = new.length.ok_or_else(|| {
            s3_error!(
                MissingContentLength,
                "You must provide the Content-Length HTTP header."
            )
        })?;
        if len > MAX_PUT_BYTES {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size."
            ));
        }
        let headers = Self::put_headers(&new);
        let resp = self
            .call(
                Method::PUT,
                Some(bucket),
                Some(key),
                &[],
                headers,
                Send::Stream(body, len),
            )
            .await?;
        let etag = header_str(resp.headers(), "etag")
            .map(unquote)
            .unwrap_or_default();
        Ok(ObjectMeta {
            key: key.to_owned(),
            size: len,
            etag,
            last_modified_ms: chrono::Utc::now().timestamp_millis(),
            headers: new.headers,
            checksums: new.checksums,
            parts: None,
            part_sizes: Vec::new(),
        })
    }

    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        cond: &Conditions,
    ) -> S3Result<ObjectMeta> {
        self.known(bucket)?;
        let mut h = Vec::new();
        condition_headers(cond, "", &mut h);
        h.push(("x-amz-checksum-mode".into(), "ENABLED".into()));
        let resp = self
            .call(Method::HEAD, Some(bucket), Some(key), &[], h, Send::Empty)
            .await?;
        Ok(meta_from_headers(key, resp.headers()))
    }

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
        cond: &Conditions,
    ) -> S3Result<ObjectRead> {
        self.known(bucket)?;
        let mut h = Vec::new();
        condition_headers(cond, "", &mut h);
        match range {
            Some(RangeSpec::From {
                first,
                last: Some(l),
            }) => h.push(("range".into(), format!("bytes={first}-{l}"))),
            Some(RangeSpec::From { first, last: None }) => {
                h.push(("range".into(), format!("bytes={first}-")))
            }
            Some(RangeSpec::Suffix(n)) => h.push(("range".into(), format!("bytes=-{n}"))),
            None => h.push(("x-amz-checksum-mode".into(), "ENABLED".into())),
        }
        let resp = self
            .call(Method::GET, Some(bucket), Some(key), &[], h, Send::Empty)
            .await?;
        let meta = meta_from_headers(key, resp.headers());
        let r = answered_range(resp.headers(), meta.size);
        if range.is_some() && resp.status() != StatusCode::PARTIAL_CONTENT && meta.size > 0 {
            // The store ignored the range: that is no answer to give.
            return Err(upstream_failed(
                "the store answered a ranged GET with the whole object",
            ));
        }
        Ok(ObjectRead {
            meta,
            range: r,
            body: body_stream(resp),
        })
    }

    async fn head_part(
        &self,
        bucket: &str,
        key: &str,
        part: u32,
        cond: &Conditions,
    ) -> S3Result<(ObjectMeta, ByteRange, Option<u32>)> {
        self.known(bucket)?;
        let mut h = Vec::new();
        condition_headers(cond, "", &mut h);
        let n = part.to_string();
        let resp = self
            .call(
                Method::HEAD,
                Some(bucket),
                Some(key),
                &[("partNumber", &n)],
                h,
                Send::Empty,
            )
            .await
            .map_err(part_error)?;
        let meta = meta_from_headers(key, resp.headers());
        if meta.parts.is_none() && part != 1 {
            return Err(crate::backend::invalid_part_number());
        }
        let range = answered_range(resp.headers(), meta.size);
        let count = meta.parts;
        Ok((meta, range, count))
    }

    async fn get_part(
        &self,
        bucket: &str,
        key: &str,
        part: u32,
        cond: &Conditions,
    ) -> S3Result<(ObjectRead, Option<u32>)> {
        self.known(bucket)?;
        let mut h = Vec::new();
        condition_headers(cond, "", &mut h);
        let n = part.to_string();
        let resp = self
            .call(
                Method::GET,
                Some(bucket),
                Some(key),
                &[("partNumber", &n)],
                h,
                Send::Empty,
            )
            .await
            .map_err(part_error)?;
        let meta = meta_from_headers(key, resp.headers());
        if meta.parts.is_none() && part != 1 {
            return Err(crate::backend::invalid_part_number());
        }
        let range = answered_range(resp.headers(), meta.size);
        let count = meta.parts;
        Ok((
            ObjectRead {
                meta,
                range,
                body: body_stream(resp),
            },
            count,
        ))
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        self.known(bucket)?;
        match self
            .call(
                Method::DELETE,
                Some(bucket),
                Some(key),
                &[],
                Vec::new(),
                Send::Empty,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.code(), S3ErrorCode::NoSuchKey) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, bucket: &str, q: &ListQuery<'_>) -> S3Result<Listing> {
        self.known(bucket)?;
        let max = q.max_keys.to_string();
        let mut query = vec![
            ("list-type", "2"),
            ("prefix", q.prefix),
            ("max-keys", max.as_str()),
        ];
        if let Some(d) = q.delimiter {
            query.push(("delimiter", d));
        }
        if let Some(a) = q.after {
            query.push(("start-after", a));
        }
        if q.max_keys == 0 {
            return Ok(Listing::default());
        }
        let resp = self
            .call(
                Method::GET,
                Some(bucket),
                None,
                &query,
                Vec::new(),
                Send::Empty,
            )
            .await?;
        let doc = self.xml(resp).await?;
        let mut out = Listing {
            truncated: doc.child_text("IsTruncated") == Some("true"),
            ..Default::default()
        };
        let mut entries: Vec<(String, Option<ObjectMeta>)> = Vec::new();
        for c in doc.children_named("Contents") {
            let key = c.child_text("Key").unwrap_or("").to_owned();
            let meta = ObjectMeta {
                key: key.clone(),
                size: c
                    .child_text("Size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                etag: c.child_text("ETag").map(unquote).unwrap_or_default(),
                last_modified_ms: c.child_text("LastModified").and_then(iso_ms).unwrap_or(0),
                headers: ObjectHeaders::default(),
                checksums: BTreeMap::new(),
                parts: None,
                part_sizes: Vec::new(),
            };
            entries.push((key, Some(meta)));
        }
        for p in doc.children_named("CommonPrefixes") {
            let prefix = p.child_text("Prefix").unwrap_or("").to_owned();
            // Resuming after a common prefix: the store lists its group again; skip it.
            if Some(prefix.as_str()) == q.after {
                continue;
            }
            entries.push((prefix, None));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, m) in entries {
            out.last = Some(k.clone());
            match m {
                Some(m) => out.objects.push(m),
                None => out.common_prefixes.push(k),
            }
        }
        Ok(out)
    }

    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: ObjectHeaders,
        checksum_algorithm: Option<String>,
    ) -> S3Result<UploadInfo> {
        self.known(bucket)?;
        representable(key)?;
        let mut h = Vec::new();
        object_headers(&headers, &mut h);
        if let Some(a) = &checksum_algorithm {
            h.push(("x-amz-checksum-algorithm".into(), a.clone()));
        }
        let resp = self
            .call(
                Method::POST,
                Some(bucket),
                Some(key),
                &[("uploads", "")],
                h,
                Send::Empty,
            )
            .await?;
        let doc = self.xml(resp).await?;
        let upload_id = doc
            .child_text("UploadId")
            .ok_or_else(|| upstream_failed("CreateMultipartUpload answer without an UploadId"))?
            .to_owned();
        Ok(UploadInfo {
            upload_id,
            key: key.to_owned(),
            initiated_ms: chrono::Utc::now().timestamp_millis(),
            headers,
            checksum_algorithm,
        })
    }

    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: u32,
        body: ByteStream,
        new: NewObject,
    ) -> S3Result<PartInfo> {
        self.known(bucket)?;
        let len = new.length.ok_or_else(|| {
            s3_error!(
                MissingContentLength,
                "You must provide the Content-Length HTTP header."
            )
        })?;
        let n = part.to_string();
        let mut h = Vec::new();
        for (k, v) in &new.checksums {
            h.push((k.clone(), v.clone()));
        }
        let resp = self
            .call(
                Method::PUT,
                Some(bucket),
                Some(key),
                &[("partNumber", &n), ("uploadId", upload_id)],
                h,
                Send::Stream(body, len),
            )
            .await?;
        Ok(PartInfo {
            number: part,
            size: len,
            etag: header_str(resp.headers(), "etag")
                .map(unquote)
                .unwrap_or_default(),
            last_modified_ms: chrono::Utc::now().timestamp_millis(),
            checksums: new.checksums,
        })
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> S3Result<ObjectMeta> {
        self.known(bucket)?;
        // S3's rules, whether or not the store enforces them (Garage has no minimum part size).
        let (_, stored) = self.list_parts(bucket, key, upload_id).await?;
        // The store gets each part once, as stored (a part listed twice counts once).
        let chosen = choose_parts(parts, &stored)?;
        let mut w = tessera_wire::xml::Writer::new();
        w.open("CompleteMultipartUpload");
        for i in chosen {
            w.open("Part");
            w.elem("PartNumber", &stored[i].number.to_string());
            w.elem("ETag", &format!("\"{}\"", stored[i].etag));
            w.close("Part");
        }
        w.close("CompleteMultipartUpload");
        let body = Bytes::from(w.finish());
        let resp = self
            .call(
                Method::POST,
                Some(bucket),
                Some(key),
                &[("uploadId", upload_id)],
                Vec::new(),
                Send::Bytes(body),
            )
            .await?;
        let doc = self.xml(resp).await?;
        if doc.name == "Error" {
            return Err(error_from(
                StatusCode::BAD_REQUEST,
                tessera_wire_text(&doc).as_bytes(),
                false,
            ));
        }
        let etag = doc.child_text("ETag").map(unquote).unwrap_or_default();
        let m = self
            .head_object(bucket, key, &Conditions::default())
            .await?;
        Ok(ObjectMeta { etag, ..m })
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
        self.known(bucket)?;
        self.call(
            Method::DELETE,
            Some(bucket),
            Some(key),
            &[("uploadId", upload_id)],
            Vec::new(),
            Send::Empty,
        )
        .await?;
        Ok(())
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<(UploadInfo, Vec<PartInfo>)> {
        self.known(bucket)?;
        let mut parts = Vec::new();
        let mut marker = String::from("0");
        let doc = loop {
            let resp = self
                .call(
                    Method::GET,
                    Some(bucket),
                    Some(key),
                    &[("uploadId", upload_id), ("part-number-marker", &marker)],
                    Vec::new(),
                    Send::Empty,
                )
                .await?;
            let doc = self.xml(resp).await?;
            parts.extend(doc.children_named("Part").map(|p| {
                PartInfo {
                    number: p
                        .child_text("PartNumber")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                    size: p
                        .child_text("Size")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                    etag: p.child_text("ETag").map(unquote).unwrap_or_default(),
                    last_modified_ms: p.child_text("LastModified").and_then(iso_ms).unwrap_or(0),
                    checksums: BTreeMap::new(),
                }
            }));
            match (
                doc.child_text("IsTruncated"),
                doc.child_text("NextPartNumberMarker"),
            ) {
                (Some("true"), Some(m)) if m != marker => marker = m.to_owned(),
                _ => break doc,
            }
        };
        Ok((
            UploadInfo {
                upload_id: upload_id.to_owned(),
                key: key.to_owned(),
                initiated_ms: 0,
                headers: ObjectHeaders::default(),
                checksum_algorithm: doc.child_text("ChecksumAlgorithm").map(str::to_owned),
            },
            parts,
        ))
    }

    async fn list_uploads(&self, bucket: &str, prefix: &str) -> S3Result<Vec<UploadInfo>> {
        self.known(bucket)?;
        let resp = self
            .call(
                Method::GET,
                Some(bucket),
                None,
                &[("uploads", ""), ("prefix", prefix)],
                Vec::new(),
                Send::Empty,
            )
            .await?;
        let doc = self.xml(resp).await?;
        Ok(doc
            .children_named("Upload")
            .map(|u| UploadInfo {
                upload_id: u.child_text("UploadId").unwrap_or("").to_owned(),
                key: u.child_text("Key").unwrap_or("").to_owned(),
                initiated_ms: u.child_text("Initiated").and_then(iso_ms).unwrap_or(0),
                headers: ObjectHeaders::default(),
                checksum_algorithm: None,
            })
            .collect())
    }

    async fn copy_object(
        &self,
        src: (&str, &str),
        dst: (&str, &str),
        cond: &Conditions,
        headers: Option<ObjectHeaders>,
    ) -> S3Result<ObjectMeta> {
        self.known(src.0)?;
        self.known(dst.0)?;
        representable(dst.1)?;
        let mut h = vec![(
            "x-amz-copy-source".to_owned(),
            format!("/{}/{}", src.0, sign::encode_path(src.1)),
        )];
        condition_headers(cond, "x-amz-copy-source-", &mut h);
        match &headers {
            Some(hd) => {
                h.push(("x-amz-metadata-directive".into(), "REPLACE".into()));
                object_headers(hd, &mut h);
            }
            None => h.push(("x-amz-metadata-directive".into(), "COPY".into())),
        }
        let resp = self
            .call(Method::PUT, Some(dst.0), Some(dst.1), &[], h, Send::Empty)
            .await?;
        let doc = self.xml(resp).await?;
        if doc.name == "Error" {
            return Err(error_from(
                StatusCode::BAD_REQUEST,
                tessera_wire_text(&doc).as_bytes(),
                false,
            ));
        }
        let m = self
            .head_object(dst.0, dst.1, &Conditions::default())
            .await?;
        Ok(m)
    }

    async fn upload_part_copy(
        &self,
        src: (&str, &str),
        range: Option<RangeSpec>,
        cond: &Conditions,
        dst: (&str, &str),
        upload_id: &str,
        part: u32,
    ) -> S3Result<PartInfo> {
        self.known(src.0)?;
        self.known(dst.0)?;
        let mut h = vec![(
            "x-amz-copy-source".to_owned(),
            format!("/{}/{}", src.0, sign::encode_path(src.1)),
        )];
        condition_headers(cond, "x-amz-copy-source-", &mut h);
        if let Some(RangeSpec::From {
            first,
            last: Some(l),
        }) = range
        {
            h.push((
                "x-amz-copy-source-range".into(),
                format!("bytes={first}-{l}"),
            ));
        }
        let n = part.to_string();
        let resp = self
            .call(
                Method::PUT,
                Some(dst.0),
                Some(dst.1),
                &[("partNumber", &n), ("uploadId", upload_id)],
                h,
                Send::Empty,
            )
            .await?;
        let doc = self.xml(resp).await?;
        if doc.name == "Error" {
            return Err(error_from(
                StatusCode::BAD_REQUEST,
                tessera_wire_text(&doc).as_bytes(),
                false,
            ));
        }
        Ok(PartInfo {
            number: part,
            size: 0,
            etag: doc.child_text("ETag").map(unquote).unwrap_or_default(),
            last_modified_ms: doc.child_text("LastModified").and_then(iso_ms).unwrap_or(0),
            checksums: BTreeMap::new(),
        })
    }
}

/// An error document re-serialised (for an error the store put in a 200 answer).
fn tessera_wire_text(doc: &tessera_wire::xml::Element) -> String {
    let mut w = tessera_wire::xml::Writer::new();
    w.open("Error");
    w.elem("Code", doc.child_text("Code").unwrap_or("InternalError"));
    w.elem("Message", doc.child_text("Message").unwrap_or(""));
    w.close("Error");
    w.finish()
}
