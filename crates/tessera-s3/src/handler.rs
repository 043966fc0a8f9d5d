//! The S3 operations: authorise every bucket and key a request names, then call the backend.
//!
//! **Authorisation.** IAM callers (account root, users, role sessions) by policy through
//! [`Authorizer::check`]: the S3 action on `arn:…:s3:::bucket` or `arn:…:s3:::bucket/key`, the
//! bucket's owner as the resource account (there are no bucket policies, so another
//! account's bucket is out of reach), `s3:prefix` / `s3:delimiter` / `s3:max-keys` on
//! ListBucket. A session vended by S3 Access Grants is held to its typed grant scope first
//! (READ: get, head, list within the scope; WRITE: put, delete, multipart; copy needs READ on
//! the source and WRITE on the destination) and then to its role's policies, as AWS
//! intersects the grant's session policy with the role's. Every key is checked: copy
//! sources, part-copy sources, and each key of DeleteObjects.

use crate::backend::{
    Backend, BucketInfo as BucketMeta, Conditions, ListQuery, Listing, MAX_PART_NUMBER,
    MAX_PUT_BYTES, NewObject, ObjectHeaders, PartInfo, RangeSpec, UploadInfo,
};
use crate::body::{ByteStream, Checked, ChecksumAlgo, Expect, valid_checksum_value};
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tessera_authz::{Access, Authorizer};
use tessera_core::{Caller, GrantPermission, GrantScope, RequestMeta};
use tessera_policy::ContextKeys;

/// What the pipeline learns of an S3 request from its handler, for the audit record.
#[derive(Debug, Default, Clone)]
pub struct S3Event {
    pub operation: &'static str,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub read_only: bool,
    /// Object keys a multi-key request named (DeleteObjects) or a copy's source.
    pub other_objects: Vec<(String, String)>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The authenticated caller and the request's facts, in the request's extensions.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    pub meta: RequestMeta,
    pub event: Arc<Mutex<S3Event>>,
}

/// The S3 handlers over one backend.
#[derive(Debug, Clone)]
pub struct S3Handler {
    backend: Arc<dyn Backend>,
    authz: Authorizer,
    partition: String,
    region: String,
}

fn access_denied(msg: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, msg.into())
}

/// An Access Grants session asked for more than its grant: refused, and why kept for the
/// audit record (the grant that vended the credentials, and what it allows).
fn outside_grant(a: &Authenticated, action: &str, resource: &str, msg: String) -> S3Error {
    if let Some(g) = a.caller.session.as_ref().and_then(|s| s.grant.as_ref()) {
        a.meta.decisions.push(serde_json::json!({
            "decision": "OutsideGrantScope",
            "action": action,
            "resource": resource,
            "grantId": g.grant_id,
            "grantScope": g.target(),
            "permission": g.permission.as_str(),
            "getDataAccessRequestId": g.request_id,
        }));
    }
    access_denied(msg)
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn secs(t: &Timestamp) -> i64 {
    let t: SystemTime = time_of(t);
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn time_of(t: &Timestamp) -> SystemTime {
    // Timestamp formats as RFC 3339; read it back through chrono.
    let mut buf = Vec::new();
    if t.format(TimestampFormat::DateTime, &mut buf).is_ok()
        && let Ok(s) = std::str::from_utf8(&buf)
        && let Ok(d) = chrono::DateTime::parse_from_rfc3339(s)
    {
        return UNIX_EPOCH + Duration::from_secs(d.timestamp().max(0) as u64);
    }
    UNIX_EPOCH
}

fn etag(v: &str) -> ETag {
    ETag::Strong(v.to_owned())
}

/// A copy's source conditions fail as 412, never 304.
fn source_error(e: S3Error) -> S3Error {
    if *e.code() == S3ErrorCode::NotModified {
        s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        )
    } else {
        e
    }
}

/// Whether a key is one S3 stores: at most 1024 bytes of UTF-8 (already guaranteed by the
/// codec) and no NUL, which no XML listing could carry.
fn check_key(key: &str) -> S3Result<()> {
    if key.len() > 1024 {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    if key.is_empty() || key.contains('\0') {
        return Err(s3_error!(InvalidArgument, "The object key is not valid."));
    }
    Ok(())
}

/// S3's bucket naming rules (general purpose buckets, `tessera_core::names`), and neither
/// `.-` nor `-.`.
pub fn valid_bucket_name(name: &str) -> bool {
    tessera_core::names::bucket_name_ok(name) && !name.contains(".-") && !name.contains("-.")
}

/// A `Content-Encoding` without its `aws-chunked` codings (a transfer coding of the
/// request, not the object's encoding), the rest exactly as sent (`deflate, gzip` stays
/// `deflate, gzip`); `None` when nothing is left.
pub fn strip_aws_chunked(value: &str) -> Option<String> {
    let kept: Vec<&str> = value
        .split(',')
        .filter(|c| !c.trim().eq_ignore_ascii_case("aws-chunked"))
        .collect();
    let joined = kept.join(",");
    let joined = joined.trim();
    (!joined.is_empty()).then(|| joined.to_owned())
}

fn headers_of(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<&Timestamp>,
    metadata: Option<Metadata>,
) -> ObjectHeaders {
    let content_encoding = content_encoding.and_then(|e| strip_aws_chunked(&e));
    ObjectHeaders {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires: expires.map(|t| {
            let mut b = Vec::new();
            let _ = t.format(TimestampFormat::HttpDate, &mut b);
            String::from_utf8_lossy(&b).into_owned()
        }),
        metadata: metadata
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
    }
}

/// User metadata as S3 answers it: non-ASCII values RFC 2047-encoded (`crate::meta`).
fn metadata_out(h: &ObjectHeaders) -> Option<Metadata> {
    (!h.metadata.is_empty()).then(|| {
        h.metadata
            .iter()
            .map(|(k, v)| (k.clone(), crate::meta::response_value(v)))
            .collect()
    })
}

fn expires_out(h: &ObjectHeaders) -> Option<Timestamp> {
    h.expires
        .as_deref()
        .and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, e).ok())
}

/// The checksum headers a request carries, checked for form.
fn request_checksums(headers: &http::HeaderMap) -> S3Result<Vec<(ChecksumAlgo, String)>> {
    let mut out = Vec::new();
    for a in ChecksumAlgo::ALL {
        if let Some(v) = headers.get(a.header()) {
            let v = v.to_str().unwrap_or("").trim().to_owned();
            if !valid_checksum_value(a, &v) {
                return Err(s3_error!(
                    InvalidRequest,
                    "Value for {} header is invalid.",
                    a.header()
                ));
            }
            out.push((a, v));
        }
    }
    if out.len() > 1 {
        return Err(s3_error!(
            InvalidRequest,
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        ));
    }
    Ok(out)
}

fn content_md5(v: Option<&str>) -> S3Result<Option<[u8; 16]>> {
    use base64::Engine as _;
    let Some(v) = v else { return Ok(None) };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
    let arr: [u8; 16] = raw
        .try_into()
        .map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
    Ok(Some(arr))
}

fn checksum_fields(m: &BTreeMap<String, String>) -> [Option<String>; 5] {
    [
        m.get("x-amz-checksum-crc32").cloned(),
        m.get("x-amz-checksum-crc32c").cloned(),
        m.get("x-amz-checksum-crc64nvme").cloned(),
        m.get("x-amz-checksum-sha1").cloned(),
        m.get("x-amz-checksum-sha256").cloned(),
    ]
}

/// Percent-encode a key for `encoding-type=url` listings (everything but unreserved
/// characters and `/`).
fn url_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// `encoding-type`: `url` or nothing.
fn url_encoding(e: Option<&EncodingType>) -> S3Result<bool> {
    match e.map(|e| e.as_str()) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request"
        )),
    }
}

/// A listing page's objects and common prefixes, keys URL-encoded when asked.
fn entries(l: &Listing, url: bool, owner: Option<Owner>) -> (Vec<Object>, Vec<CommonPrefix>) {
    let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
    let objects = l
        .objects
        .iter()
        .map(|o| Object {
            e_tag: Some(etag(&o.etag)),
            key: Some(enc(&o.key)),
            last_modified: Some(ts(o.last_modified_ms)),
            owner: owner.clone(),
            size: Some(o.size as i64),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            ..Default::default()
        })
        .collect();
    let prefixes = l
        .common_prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    (objects, prefixes)
}

fn continuation_encode(last: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn continuation_decode(t: &str) -> S3Result<String> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

fn body_of(blob: Option<StreamingBlob>) -> ByteStream {
    match blob {
        Some(b) => Box::pin(b),
        None => Box::pin(futures::stream::empty()),
    }
}

fn blob_of(body: ByteStream) -> StreamingBlob {
    let frames = body.map(|r| r.map(http_body::Frame::data));
    StreamingBlob::from(s3s::Body::http_body_unsync(
        http_body_util::StreamBody::new(frames),
    ))
}

fn part_number(n: i32) -> S3Result<u32> {
    if !(1..=MAX_PART_NUMBER).contains(&n) {
        return Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive"
        ));
    }
    Ok(n as u32)
}

/// `versionId` on a bucket that was never versioned: `null` names the one version each
/// object has; any other id is refused as S3 refuses it.
fn unversioned(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
}

/// `partNumber` of a GET or HEAD: 1 to 10,000, and not together with a `Range`.
fn read_part_number(part: Option<i32>, ranged: bool) -> S3Result<Option<u32>> {
    let Some(n) = part else { return Ok(None) };
    let n = part_number(n)?;
    if ranged {
        return Err(s3_error!(
            InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter"
        ));
    }
    Ok(Some(n))
}

/// An empty `delimiter=` is no delimiter (and is not echoed).
fn delimiter_of(d: Option<&str>) -> Option<&str> {
    d.filter(|d| !d.is_empty())
}

fn http_date(ms: i64) -> Option<http::HeaderValue> {
    let mut b = Vec::new();
    ts(ms).format(TimestampFormat::HttpDate, &mut b).ok()?;
    http::HeaderValue::from_bytes(&b).ok()
}

impl S3Handler {
    pub fn new(backend: Arc<dyn Backend>, authz: Authorizer) -> S3Handler {
        let d = authz.deployment().clone();
        S3Handler {
            backend,
            authz,
            partition: d.partition.clone(),
            region: d.region.clone(),
        }
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn who<T>(req: &S3Request<T>) -> S3Result<&Authenticated> {
        req.extensions
            .get::<Authenticated>()
            .ok_or_else(|| access_denied("Access Denied"))
    }

    fn note(a: &Authenticated, op: &'static str, bucket: &str, key: Option<&str>, read_only: bool) {
        let mut e = a.event.lock().expect("event lock");
        e.operation = op;
        e.bucket = Some(bucket.to_owned());
        e.key = key.map(str::to_owned);
        e.read_only = read_only;
    }

    fn grant(a: &Authenticated) -> Option<&GrantScope> {
        a.caller.session.as_ref().and_then(|s| s.grant.as_ref())
    }

    fn policy(
        &self,
        a: &Authenticated,
        action: &str,
        resource: &str,
        owner: &str,
        extra: ContextKeys,
    ) -> S3Result<()> {
        self.authz
            .check(
                &a.caller,
                &a.meta,
                Access {
                    action,
                    resource,
                    resource_account: owner,
                    resource_policy: None,
                    extra,
                },
            )
            .map_err(|d| access_denied(d.message))
    }

    fn bucket(&self, name: &str) -> S3Result<BucketMeta> {
        if !valid_bucket_name(name) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid."
            ));
        }
        self.backend
            .bucket(name)
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    fn object_arn(&self, bucket: &str, key: &str) -> String {
        format!("arn:{}:s3:::{bucket}/{key}", self.partition)
    }

    fn bucket_arn(&self, bucket: &str) -> String {
        format!("arn:{}:s3:::{bucket}", self.partition)
    }

    /// `action` on one object: the grant scope (for Access Grants sessions), then policy.
    fn object_access(
        &self,
        a: &Authenticated,
        action: &str,
        b: &BucketMeta,
        key: &str,
        need: GrantPermission,
    ) -> S3Result<()> {
        check_key(key)?;
        if let Some(g) = Self::grant(a)
            && !(g.permission.covers(need) && g.covers_object(&b.name, key))
        {
            return Err(outside_grant(
                a,
                action,
                &self.object_arn(&b.name, key),
                format!(
                    "Access Denied: {action} on s3://{}/{key} is outside the scope {} ({}) of these Access Grants credentials",
                    b.name,
                    g.target(),
                    g.permission.as_str()
                ),
            ));
        }
        self.policy(
            a,
            action,
            &self.object_arn(&b.name, key),
            &b.owner,
            ContextKeys::new(),
        )
    }

    /// A bucket-level action (not allowed to Access Grants sessions, whose scope is objects).
    fn bucket_access(&self, a: &Authenticated, action: &str, b: &BucketMeta) -> S3Result<()> {
        if Self::grant(a).is_some() {
            return Err(outside_grant(
                a,
                action,
                &self.bucket_arn(&b.name),
                format!(
                    "Access Denied: {action} is outside the scope of these Access Grants credentials"
                ),
            ));
        }
        self.policy(
            a,
            action,
            &self.bucket_arn(&b.name),
            &b.owner,
            ContextKeys::new(),
        )
    }

    /// ListBucket under `prefix`.
    fn list_access(
        &self,
        a: &Authenticated,
        b: &BucketMeta,
        prefix: &str,
        delimiter: Option<&str>,
        max_keys: Option<i32>,
    ) -> S3Result<()> {
        self.list_access_as(a, "s3:ListBucket", b, prefix, delimiter, max_keys)
    }

    /// A listing action (`s3:ListBucket`, `s3:ListBucketVersions`) under `prefix`.
    fn list_access_as(
        &self,
        a: &Authenticated,
        action: &str,
        b: &BucketMeta,
        prefix: &str,
        delimiter: Option<&str>,
        max_keys: Option<i32>,
    ) -> S3Result<()> {
        if let Some(g) = Self::grant(a)
            && !(g.permission.covers(GrantPermission::Read) && g.covers_listing(&b.name, prefix))
        {
            return Err(outside_grant(
                a,
                action,
                &self.bucket_arn(&b.name),
                format!(
                    "Access Denied: listing s3://{}/{prefix} is outside the scope {} of these Access Grants credentials",
                    b.name,
                    g.target()
                ),
            ));
        }
        let mut extra = ContextKeys::new();
        extra.insert("s3:prefix", prefix.to_owned());
        if let Some(d) = delimiter {
            extra.insert("s3:delimiter", d.to_owned());
        }
        if let Some(m) = max_keys {
            extra.insert("s3:max-keys", m.to_string());
        }
        self.policy(a, action, &self.bucket_arn(&b.name), &b.owner, extra)
    }

    /// The object `key` holds, if it is the one a completion with `parts` made (its ETag is
    /// theirs: the MD5 of the listed parts' MD5s and their count, a part listed twice in a
    /// row counted once).
    async fn completed_before(
        &self,
        b: &BucketMeta,
        key: &str,
        parts: &[(u32, String)],
    ) -> Option<crate::backend::ObjectMeta> {
        let mut last = 0;
        let mut etags: Vec<&str> = Vec::new();
        for (n, e) in parts {
            if *n == last {
                // Only the stored upload of a part counts; which of a run was stored is
                // not known here, so a run of one part with differing ETags is no match.
                if etags
                    .last()
                    .is_some_and(|l| l.trim_matches('"') != e.trim().trim_matches('"'))
                {
                    return None;
                }
                continue;
            }
            last = *n;
            etags.push(e.as_str());
        }
        let want = crate::backend::multipart_etag(etags.iter().copied())?;
        let m = self
            .backend
            .head_object(&b.name, key, &Conditions::default())
            .await
            .ok()?;
        (m.etag == want).then_some(m)
    }

    /// A 304 or 412 answer carries the object's validators (`ETag`, `Last-Modified`), as
    /// S3's do.
    async fn with_validators(&self, b: &BucketMeta, key: &str, e: S3Error) -> S3Error {
        let code = e.code().clone();
        if code != S3ErrorCode::NotModified && code != S3ErrorCode::PreconditionFailed {
            return e;
        }
        let Ok(m) = self
            .backend
            .head_object(&b.name, key, &Conditions::default())
            .await
        else {
            return e;
        };
        let mut h = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", m.etag)) {
            h.insert(http::header::ETAG, v);
        }
        if let Some(v) = http_date(m.last_modified_ms) {
            h.insert(http::header::LAST_MODIFIED, v);
        }
        // These headers replace the error's own: keep its document's type.
        if code == S3ErrorCode::PreconditionFailed {
            h.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/xml"),
            );
        }
        let mut e = e;
        e.set_headers(h);
        e
    }

    /// A missing key is `NoSuchKey` only to a caller who may list the bucket; to others it
    /// is `AccessDenied`, as in S3 (which does not reveal what exists to who cannot list).
    fn missing_key(&self, a: &Authenticated, b: &BucketMeta, key: &str, e: S3Error) -> S3Error {
        if *e.code() != S3ErrorCode::NoSuchKey {
            return e;
        }
        if self.list_access(a, b, key, None, None).is_ok() {
            e
        } else {
            access_denied("Access Denied")
        }
    }

    /// The body of a PUT or UploadPart, checked against its Content-MD5 and checksum headers.
    fn checked_body(
        headers: &http::HeaderMap,
        body: Option<StreamingBlob>,
        md5: Option<&str>,
        length: Option<i64>,
    ) -> S3Result<(ByteStream, BTreeMap<String, String>)> {
        let checksums = request_checksums(headers)?;
        let expect = Expect {
            sha256: None,
            md5: content_md5(md5)?,
            checksums: checksums.clone(),
            length: length.map(|l| l.max(0) as u64),
        };
        let stored = checksums
            .into_iter()
            .map(|(a, v)| (a.header().to_owned(), v))
            .collect();
        Ok((Box::pin(Checked::new(body_of(body), expect)), stored))
    }

    fn conditions(
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
        if_modified_since: Option<&Timestamp>,
        if_unmodified_since: Option<&Timestamp>,
    ) -> Conditions {
        Conditions {
            if_match: if_match.cloned(),
            if_none_match: if_none_match.cloned(),
            if_modified_since: if_modified_since.map(secs),
            if_unmodified_since: if_unmodified_since.map(secs),
        }
    }

    /// A copy source the caller may read: its bucket, key, and the bucket's description.
    fn source(&self, a: &Authenticated, src: &CopySource) -> S3Result<(BucketMeta, String)> {
        let (sb, sk) = Self::copy_source(src)?;
        let b = self.bucket(&sb)?;
        self.object_access(a, "s3:GetObject", &b, &sk, GrantPermission::Read)?;
        a.event
            .lock()
            .expect("event lock")
            .other_objects
            .push((sb, sk.clone()));
        Ok((b, sk))
    }

    fn copy_source(src: &CopySource) -> S3Result<(String, String)> {
        match src {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => {
                unversioned(version_id.as_deref())?;
                Ok((bucket.to_string(), key.to_string()))
            }
            _ => Err(s3_error!(
                NotImplemented,
                "Access point copy sources are not supported by this server."
            )),
        }
    }

    fn owner(&self, account: &str) -> Owner {
        use sha2::Digest as _;
        Owner {
            display_name: Some(account.to_owned()),
            id: Some(hex::encode(sha2::Sha256::digest(account.as_bytes()))),
        }
    }
}

#[async_trait::async_trait]
impl S3 for S3Handler {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let a = Self::who(&req)?;
        {
            let mut e = a.event.lock().expect("event lock");
            e.operation = "ListBuckets";
            e.read_only = true;
        }
        if Self::grant(a).is_some() {
            return Err(outside_grant(
                a,
                "s3:ListAllMyBuckets",
                "*",
                "Access Denied: ListBuckets is outside the scope of these Access Grants credentials"
                    .into(),
            ));
        }
        self.policy(
            a,
            "s3:ListAllMyBuckets",
            "*",
            a.caller.account.as_str(),
            ContextKeys::new(),
        )?;
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let mut mine: Vec<BucketMeta> = self
            .backend
            .buckets()
            .into_iter()
            .filter(|b| b.owner == a.caller.account.as_str() && b.name.starts_with(&prefix))
            .collect();
        mine.sort_by(|x, y| x.name.cmp(&y.name));
        let after = match &req.input.continuation_token {
            Some(t) => Some(continuation_decode(t)?),
            None => None,
        };
        let max = req.input.max_buckets.unwrap_or(10_000).clamp(1, 10_000) as usize;
        let rest: Vec<BucketMeta> = mine
            .into_iter()
            .filter(|b| after.as_ref().is_none_or(|a| b.name > *a))
            .collect();
        let more = rest.len() > max;
        let page: Vec<Bucket> = rest
            .iter()
            .take(max)
            .map(|b| Bucket {
                bucket_region: Some(self.region.clone()),
                creation_date: Some(ts(b.created_ms)),
                name: Some(b.name.clone()),
            })
            .collect();
        let token = more.then(|| continuation_encode(&rest[max - 1].name));
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(page),
            continuation_token: token,
            owner: Some(self.owner(a.caller.account.as_str())),
            prefix: req.input.prefix.clone(),
        }))
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let a = Self::who(&req)?;
        let name = &req.input.bucket;
        Self::note(a, "CreateBucket", name, None, false);
        if !valid_bucket_name(name) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid."
            ));
        }
        if Self::grant(a).is_some() {
            return Err(outside_grant(
                a,
                "s3:CreateBucket",
                &self.bucket_arn(name),
                "Access Denied: CreateBucket is outside the scope of these Access Grants credentials"
                    .into(),
            ));
        }
        let account = a.caller.account.as_str().to_owned();
        self.policy(
            a,
            "s3:CreateBucket",
            &self.bucket_arn(name),
            &account,
            ContextKeys::new(),
        )?;
        let wanted = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_owned());
        match wanted.as_deref() {
            None | Some("") if self.region == "us-east-1" => {}
            Some(r) if r == self.region && r != "us-east-1" => {}
            _ => {
                return Err(s3_error!(
                    IllegalLocationConstraintException,
                    "The {} location constraint is incompatible for the region specific endpoint this request was sent to.",
                    wanted.as_deref().unwrap_or("unspecified")
                ));
            }
        }
        match self.backend.create_bucket(name, &account).await {
            Ok(_) => {}
            // us-east-1 answers 200 to its owner re-creating a bucket (S3's legacy behaviour).
            Err(e)
                if *e.code() == S3ErrorCode::BucketAlreadyOwnedByYou
                    && self.region == "us-east-1" => {}
            Err(e) => return Err(e),
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let a = Self::who(&req)?;
        Self::note(a, "DeleteBucket", &req.input.bucket, None, false);
        let b = self.bucket(&req.input.bucket)?;
        self.bucket_access(a, "s3:DeleteBucket", &b)?;
        self.backend.delete_bucket(&b.name).await?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let a = Self::who(&req)?;
        Self::note(a, "HeadBucket", &req.input.bucket, None, true);
        let b = self.bucket(&req.input.bucket)?;
        if Self::grant(a).is_some() {
            return Err(access_denied("Access Denied"));
        }
        self.policy(
            a,
            "s3:ListBucket",
            &self.bucket_arn(&b.name),
            &b.owner,
            ContextKeys::new(),
        )?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let a = Self::who(&req)?;
        Self::note(a, "GetBucketLocation", &req.input.bucket, None, true);
        let b = self.bucket(&req.input.bucket)?;
        self.bucket_access(a, "s3:GetBucketLocation", &b)?;
        // us-east-1 is the empty constraint.
        let loc = (self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: loc,
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "ListObjects", &i.bucket, None, true);
        let b = self.bucket(&i.bucket)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        if i.max_keys.is_some_and(|m| m < 0) {
            return Err(s3_error!(InvalidArgument, "max-keys cannot be negative"));
        }
        self.list_access(
            a,
            &b,
            &prefix,
            delimiter_of(i.delimiter.as_deref()),
            i.max_keys,
        )?;
        let url = url_encoding(i.encoding_type.as_ref())?;
        let token = match &i.continuation_token {
            Some(t) => Some(continuation_decode(t)?),
            None => None,
        };
        let after = match (&token, &i.start_after) {
            (Some(t), _) => Some(t.as_str()),
            (None, Some(s)) => Some(s.as_str()),
            (None, None) => None,
        };
        let max_keys = i.max_keys.unwrap_or(1000).clamp(0, 1000);
        let l = self
            .backend
            .list(
                &b.name,
                &ListQuery {
                    prefix: &prefix,
                    delimiter: delimiter_of(i.delimiter.as_deref()),
                    after,
                    max_keys: max_keys as usize,
                },
            )
            .await?;
        let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
        let owner = i.fetch_owner.unwrap_or(false).then(|| self.owner(&b.owner));
        let (contents, prefixes) = entries(&l, url, owner);
        let count = (contents.len() + prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(b.name.clone()),
            prefix: Some(enc(&prefix)),
            max_keys: Some(max_keys),
            key_count: Some(count),
            continuation_token: i.continuation_token.clone(),
            is_truncated: Some(l.truncated),
            next_continuation_token: l
                .truncated
                .then(|| l.last.as_deref().map(continuation_encode))
                .flatten(),
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            delimiter: delimiter_of(i.delimiter.as_deref()).map(enc),
            encoding_type: i.encoding_type.clone(),
            start_after: i.start_after.as_deref().map(enc),
            request_charged: None,
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "ListObjects", &i.bucket, None, true);
        let b = self.bucket(&i.bucket)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        if i.max_keys.is_some_and(|m| m < 0) {
            return Err(s3_error!(InvalidArgument, "max-keys cannot be negative"));
        }
        self.list_access(
            a,
            &b,
            &prefix,
            delimiter_of(i.delimiter.as_deref()),
            i.max_keys,
        )?;
        let url = url_encoding(i.encoding_type.as_ref())?;
        let max_keys = i.max_keys.unwrap_or(1000).clamp(0, 1000);
        let l = self
            .backend
            .list(
                &b.name,
                &ListQuery {
                    prefix: &prefix,
                    delimiter: delimiter_of(i.delimiter.as_deref()),
                    after: i.marker.as_deref().filter(|m| !m.is_empty()),
                    max_keys: max_keys as usize,
                },
            )
            .await?;
        let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
        let owner = Some(self.owner(&b.owner));
        let (contents, prefixes) = entries(&l, url, owner);
        // NextMarker is returned only with a delimiter (without one, clients use the last key).
        let next_marker = (l.truncated && delimiter_of(i.delimiter.as_deref()).is_some())
            .then(|| l.last.as_deref().map(enc))
            .flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(b.name.clone()),
            prefix: Some(enc(&prefix)),
            marker: Some(i.marker.as_deref().map(enc).unwrap_or_default()),
            max_keys: Some(max_keys),
            is_truncated: Some(l.truncated),
            contents: Some(contents),
            common_prefixes: Some(prefixes),
            delimiter: delimiter_of(i.delimiter.as_deref()).map(enc),
            next_marker,
            encoding_type: i.encoding_type.clone(),
            request_charged: None,
        }))
    }

    /// Buckets are never versioned here: an empty configuration (no `Status`), as S3 answers
    /// for a bucket whose versioning was never set.
    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "GetBucketVersioning", &i.bucket, None, true);
        let b = self.bucket(&i.bucket)?;
        self.bucket_access(a, "s3:GetBucketVersioning", &b)?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }

    /// An unversioned bucket's versions: each object once, as its latest version, with the
    /// version id `null` (what tools that empty a bucket by its versions expect).
    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "ListObjectVersions", &i.bucket, None, true);
        let b = self.bucket(&i.bucket)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        if i.max_keys.is_some_and(|m| m < 0) {
            return Err(s3_error!(InvalidArgument, "max-keys cannot be negative"));
        }
        let delimiter = delimiter_of(i.delimiter.as_deref());
        self.list_access_as(
            a,
            "s3:ListBucketVersions",
            &b,
            &prefix,
            delimiter,
            i.max_keys,
        )?;
        let url = url_encoding(i.encoding_type.as_ref())?;
        let max_keys = i.max_keys.unwrap_or(1000).clamp(0, 1000);
        // After the key marker's `null` version (or without a version marker, after the key):
        // each key has one version, so both start after the key.
        let after = i.key_marker.as_deref().filter(|k| !k.is_empty());
        let l = self
            .backend
            .list(
                &b.name,
                &ListQuery {
                    prefix: &prefix,
                    delimiter,
                    after,
                    max_keys: max_keys as usize,
                },
            )
            .await?;
        let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
        let owner = self.owner(&b.owner);
        let versions: Vec<ObjectVersion> = l
            .objects
            .iter()
            .map(|o| ObjectVersion {
                e_tag: Some(etag(&o.etag)),
                is_latest: Some(true),
                key: Some(enc(&o.key)),
                last_modified: Some(ts(o.last_modified_ms)),
                owner: Some(owner.clone()),
                size: Some(o.size as i64),
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                version_id: Some("null".into()),
                ..Default::default()
            })
            .collect();
        let prefixes: Vec<CommonPrefix> = l
            .common_prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc(p)),
            })
            .collect();
        let next = l.truncated.then_some(l.last.as_deref()).flatten();
        let next_is_object = next.is_some_and(|n| l.objects.last().is_some_and(|o| o.key == n));
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(b.name.clone()),
            prefix: Some(enc(&prefix)),
            key_marker: Some(i.key_marker.as_deref().map(enc).unwrap_or_default()),
            version_id_marker: Some(i.version_id_marker.clone().unwrap_or_default()),
            max_keys: Some(max_keys),
            is_truncated: Some(l.truncated),
            next_key_marker: next.map(enc),
            next_version_id_marker: next_is_object.then(|| "null".to_owned()),
            versions: Some(versions),
            common_prefixes: Some(prefixes),
            delimiter: delimiter.map(enc),
            encoding_type: i.encoding_type.clone(),
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "GetObject", &i.bucket, Some(&i.key), true);
        let b = self.bucket(&i.bucket)?;
        self.object_access(a, "s3:GetObject", &b, &i.key, GrantPermission::Read)?;
        unversioned(i.version_id.as_deref())?;
        let part = read_part_number(i.part_number, i.range.is_some())?;
        let cond = Self::conditions(
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        );
        let range = i.range.map(RangeSpec::from);
        let read = match part {
            None => self
                .backend
                .get_object(&b.name, &i.key, range, &cond)
                .await
                .map(|r| (r, None)),
            Some(n) => self.backend.get_part(&b.name, &i.key, n, &cond).await,
        };
        let (r, parts_count) = match read {
            Ok(x) => x,
            Err(e) => {
                let e = self.missing_key(a, &b, &i.key, e);
                return Err(self.with_validators(&b, &i.key, e).await);
            }
        };
        let m = &r.meta;
        let len = r.range.end - r.range.start;
        a.event.lock().expect("event lock").bytes_out = len;
        // A part is answered as a range of the object (206), even a whole one.
        let full = range.is_none() && (part.is_none() || m.size == 0);
        let [crc32, crc32c, crc64, sha1, sha256] =
            if full && m.parts.is_none() && i.checksum_mode.is_some() {
                checksum_fields(&m.checksums)
            } else {
                Default::default()
            };
        let h = &m.headers;
        let out = GetObjectOutput {
            accept_ranges: Some("bytes".into()),
            body: Some(blob_of(r.body)),
            content_length: Some(len as i64),
            content_range: (!full)
                .then(|| format!("bytes {}-{}/{}", r.range.start, r.range.end - 1, m.size)),
            content_type: i
                .response_content_type
                .clone()
                .or_else(|| h.content_type.clone())
                .or_else(|| Some("binary/octet-stream".into())),
            content_encoding: i
                .response_content_encoding
                .clone()
                .or_else(|| h.content_encoding.clone()),
            content_disposition: i
                .response_content_disposition
                .clone()
                .or_else(|| h.content_disposition.clone()),
            content_language: i
                .response_content_language
                .clone()
                .or_else(|| h.content_language.clone()),
            cache_control: i
                .response_cache_control
                .clone()
                .or_else(|| h.cache_control.clone()),
            expires: i.response_expires.clone().or_else(|| expires_out(h)),
            e_tag: Some(etag(&m.etag)),
            last_modified: Some(ts(m.last_modified_ms)),
            metadata: metadata_out(h),
            // Only for a part of a multipart object, as S3.
            parts_count: parts_count.map(|p| p as i32),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            ..Default::default()
        };
        let mut resp = S3Response::new(out);
        if !full {
            resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(resp)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "HeadObject", &i.bucket, Some(&i.key), true);
        let b = self.bucket(&i.bucket)?;
        self.object_access(a, "s3:GetObject", &b, &i.key, GrantPermission::Read)?;
        unversioned(i.version_id.as_deref())?;
        let part = read_part_number(i.part_number, i.range.is_some())?;
        let cond = Self::conditions(
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        );
        let found = match part {
            None => self
                .backend
                .head_object(&b.name, &i.key, &cond)
                .await
                .map(|m| (m, None)),
            Some(n) => self
                .backend
                .head_part(&b.name, &i.key, n, &cond)
                .await
                .map(|(m, r, count)| (m, Some((r, count)))),
        };
        let (m, part) = match found {
            Ok(x) => x,
            Err(e) => {
                let e = self.missing_key(a, &b, &i.key, e);
                return Err(self.with_validators(&b, &i.key, e).await);
            }
        };
        let parts_count = part.and_then(|(_, count)| count);
        let (len, content_range) = match (part, i.range.map(RangeSpec::from)) {
            (Some((r, _)), _) if m.size > 0 => (
                r.end - r.start,
                Some(format!("bytes {}-{}/{}", r.start, r.end - 1, m.size)),
            ),
            (_, None) => (m.size, None),
            (_, Some(r)) => {
                let r = r.resolve(m.size).ok_or_else(|| {
                    s3_error!(InvalidRange, "The requested range is not satisfiable")
                })?;
                (
                    r.end - r.start,
                    Some(format!("bytes {}-{}/{}", r.start, r.end - 1, m.size)),
                )
            }
        };
        let [crc32, crc32c, crc64, sha1, sha256] =
            if m.parts.is_none() && i.checksum_mode.is_some() && content_range.is_none() {
                checksum_fields(&m.checksums)
            } else {
                Default::default()
            };
        let h = &m.headers;
        let partial = content_range.is_some();
        let mut resp = S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: Some(len as i64),
            content_range,
            content_type: h
                .content_type
                .clone()
                .or_else(|| Some("binary/octet-stream".into())),
            content_encoding: h.content_encoding.clone(),
            content_disposition: h.content_disposition.clone(),
            content_language: h.content_language.clone(),
            cache_control: h.cache_control.clone(),
            expires: expires_out(h),
            e_tag: Some(etag(&m.etag)),
            last_modified: Some(ts(m.last_modified_ms)),
            metadata: metadata_out(h),
            parts_count: parts_count.map(|p| p as i32),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            ..Default::default()
        });
        if partial {
            resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(resp)
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let a = Self::who(&req)?.clone();
        let S3Request {
            input: i, headers, ..
        } = req;
        Self::note(&a, "PutObject", &i.bucket, Some(&i.key), false);
        let b = self.bucket(&i.bucket)?;
        self.object_access(&a, "s3:PutObject", &b, &i.key, GrantPermission::Write)?;
        if let Some(l) = i.content_length
            && l as u64 > MAX_PUT_BYTES
        {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed object size."
            ));
        }
        if let Some(c) = &i.if_none_match {
            // Conditional write: only if the key does not exist yet.
            if matches!(c, ETagCondition::Any)
                && self
                    .backend
                    .head_object(&b.name, &i.key, &Conditions::default())
                    .await
                    .is_ok()
            {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
        let (body, checksums) =
            Self::checked_body(&headers, i.body, i.content_md5.as_deref(), i.content_length)?;
        let new = NewObject {
            headers: headers_of(
                i.content_type,
                i.content_encoding,
                i.content_disposition,
                i.content_language,
                i.cache_control,
                i.expires.as_ref(),
                i.metadata,
            ),
            checksums,
            length: i.content_length.map(|l| l.max(0) as u64),
        };
        let m = self.backend.put_object(&b.name, &i.key, body, new).await?;
        a.event.lock().expect("event lock").bytes_in = m.size;
        let [crc32, crc32c, crc64, sha1, sha256] = checksum_fields(&m.checksums);
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&m.etag)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "DeleteObject", &i.bucket, Some(&i.key), false);
        let b = self.bucket(&i.bucket)?;
        self.object_access(a, "s3:DeleteObject", &b, &i.key, GrantPermission::Write)?;
        unversioned(i.version_id.as_deref())?;
        if let Some(c) = &i.if_match {
            let cond = Conditions {
                if_match: Some(c.clone()),
                ..Default::default()
            };
            self.backend.head_object(&b.name, &i.key, &cond).await?;
        }
        self.backend.delete_object(&b.name, &i.key).await?;
        let mut resp = S3Response::new(DeleteObjectOutput::default());
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "DeleteObjects", &i.bucket, None, false);
        let b = self.bucket(&i.bucket)?;
        if i.delete.objects.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema."
            ));
        }
        let quiet = i.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for o in &i.delete.objects {
            a.event
                .lock()
                .expect("event lock")
                .other_objects
                .push((b.name.clone(), o.key.clone()));
            // Each key is authorised on its own; a refused key is reported, the rest proceed.
            // `null` names the one version an object of an unversioned bucket has (what SDK
            // helpers that empty a bucket by its versions send); other ids name nothing.
            let version = o.version_id.as_deref();
            let r = match self.object_access(
                a,
                "s3:DeleteObject",
                &b,
                &o.key,
                GrantPermission::Write,
            ) {
                Ok(()) if version.is_some_and(|v| v != "null") => Err(s3_error!(
                    NoSuchVersion,
                    "The specified version does not exist."
                )),
                Ok(()) => self.backend.delete_object(&b.name, &o.key).await,
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => {
                    if !quiet {
                        deleted.push(DeletedObject {
                            key: Some(o.key.clone()),
                            ..Default::default()
                        });
                    }
                }
                Err(e) => errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    key: Some(o.key.clone()),
                    message: e.message().map(str::to_owned),
                    version_id: o.version_id.clone(),
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errors),
            request_charged: None,
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let a = Self::who(&req)?.clone();
        let i = req.input;
        Self::note(&a, "CopyObject", &i.bucket, Some(&i.key), false);
        let b = self.bucket(&i.bucket)?;
        self.object_access(&a, "s3:PutObject", &b, &i.key, GrantPermission::Write)?;
        let (sb, sk) = self.source(&a, &i.copy_source)?;
        let cond = Self::conditions(
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        );
        let replace = match i.metadata_directive.as_ref().map(|d| d.as_str()) {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(_) => return Err(s3_error!(InvalidArgument, "Unknown metadata directive.")),
        };
        if !replace && sb.name == b.name && sk == i.key {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let headers = replace.then(|| {
            headers_of(
                i.content_type,
                i.content_encoding,
                i.content_disposition,
                i.content_language,
                i.cache_control,
                i.expires.as_ref(),
                i.metadata,
            )
        });
        let m = self
            .backend
            .copy_object((&sb.name, &sk), (&b.name, &i.key), &cond, headers)
            .await
            .map_err(|e| source_error(self.missing_key(&a, &sb, &sk, e)))?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&m.etag)),
                last_modified: Some(ts(m.last_modified_ms)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let a = Self::who(&req)?.clone();
        let i = req.input;
        Self::note(&a, "CreateMultipartUpload", &i.bucket, Some(&i.key), false);
        let b = self.bucket(&i.bucket)?;
        self.object_access(&a, "s3:PutObject", &b, &i.key, GrantPermission::Write)?;
        let algo = i.checksum_algorithm.as_ref().map(|c| c.as_str().to_owned());
        let u = self
            .backend
            .create_upload(
                &b.name,
                &i.key,
                headers_of(
                    i.content_type,
                    i.content_encoding,
                    i.content_disposition,
                    i.content_language,
                    i.cache_control,
                    i.expires.as_ref(),
                    i.metadata,
                ),
                algo,
            )
            .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(b.name.clone()),
            key: Some(i.key.clone()),
            upload_id: Some(u.upload_id),
            checksum_algorithm: i.checksum_algorithm.clone(),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let a = Self::who(&req)?.clone();
        let S3Request {
            input: i, headers, ..
        } = req;
        Self::note(&a, "UploadPart", &i.bucket, Some(&i.key), false);
        let b = self.bucket(&i.bucket)?;
        self.object_access(&a, "s3:PutObject", &b, &i.key, GrantPermission::Write)?;
        let n = part_number(i.part_number)?;
        let (body, checksums) =
            Self::checked_body(&headers, i.body, i.content_md5.as_deref(), i.content_length)?;
        let p = self
            .backend
            .upload_part(
                &b.name,
                &i.key,
                &i.upload_id,
                n,
                body,
                NewObject {
                    headers: ObjectHeaders::default(),
                    checksums,
                    length: i.content_length.map(|l| l.max(0) as u64),
                },
            )
            .await?;
        a.event.lock().expect("event lock").bytes_in = p.size;
        let [crc32, crc32c, crc64, sha1, sha256] = checksum_fields(&p.checksums);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&p.etag)),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let a = Self::who(&req)?.clone();
        let i = req.input;
        Self::note(&a, "UploadPartCopy", &i.bucket, Some(&i.key), false);
        let b = self.bucket(&i.bucket)?;
        self.object_access(&a, "s3:PutObject", &b, &i.key, GrantPermission::Write)?;
        let n = part_number(i.part_number)?;
        let range = match i.copy_source_range.as_deref() {
            None => None,
            Some(r) => {
                let parsed = Range::parse(r).map_err(|_| {
                    s3_error!(
                        InvalidArgument,
                        "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
                    )
                })?;
                match parsed {
                    Range::Int {
                        first,
                        last: Some(last),
                    } if first <= last => Some(RangeSpec::From {
                        first,
                        last: Some(last),
                    }),
                    _ => {
                        return Err(s3_error!(
                            InvalidArgument,
                            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy"
                        ));
                    }
                }
            }
        };
        let (sb, sk) = self.source(&a, &i.copy_source)?;
        let cond = Self::conditions(
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        );
        if let Some(RangeSpec::From {
            first,
            last: Some(last),
        }) = range
        {
            // Unlike GET, a part copy's range must lie wholly within the source.
            let sm = self
                .backend
                .head_object(&sb.name, &sk, &cond)
                .await
                .map_err(|e| source_error(self.missing_key(&a, &sb, &sk, e)))?;
            // S3: a range starting past the source is InvalidRequest; one ending past it,
            // InvalidArgument (never 416, unlike a GET).
            if first >= sm.size {
                return Err(s3_error!(
                    InvalidRequest,
                    "The specified copy range is invalid for the source object size"
                ));
            }
            if last >= sm.size {
                return Err(s3_error!(
                    InvalidArgument,
                    "Range specified is not valid for source object of size: {}",
                    sm.size
                ));
            }
        }
        let p = self
            .backend
            .upload_part_copy(
                (&sb.name, &sk),
                range,
                &cond,
                (&b.name, &i.key),
                &i.upload_id,
                n,
            )
            .await
            .map_err(|e| source_error(self.missing_key(&a, &sb, &sk, e)))?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.last_modified_ms)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "CompleteMultipartUpload", &i.bucket, Some(&i.key), false);
        let b = self.bucket(&i.bucket)?;
        self.object_access(a, "s3:PutObject", &b, &i.key, GrantPermission::Write)?;
        let mut parts = Vec::new();
        for p in i
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.as_ref())
            .into_iter()
            .flatten()
        {
            let n = part_number(p.part_number.unwrap_or(0))?;
            let e = p
                .e_tag
                .as_ref()
                .map(|e| e.value().to_owned())
                .ok_or_else(|| {
                    s3_error!(
                        InvalidPart,
                        "One or more of the specified parts could not be found."
                    )
                })?;
            parts.push((n, e));
        }
        let m = match self
            .backend
            .complete_upload(&b.name, &i.key, &i.upload_id, &parts)
            .await
        {
            Ok(m) => m,
            // Completing again with the parts it was completed with answers as the first
            // completion did (S3 does, so a client may retry a completion whose answer it
            // lost): the object there is the one these parts make.
            Err(e) if *e.code() == S3ErrorCode::NoSuchUpload => {
                self.completed_before(&b, &i.key, &parts).await.ok_or(e)?
            }
            Err(e) => return Err(e),
        };
        a.event.lock().expect("event lock").bytes_in = m.size;
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(b.name.clone()),
            key: Some(i.key.clone()),
            e_tag: Some(etag(&m.etag)),
            location: Some(format!("/{}/{}", b.name, i.key)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "AbortMultipartUpload", &i.bucket, Some(&i.key), false);
        let b = self.bucket(&i.bucket)?;
        self.object_access(
            a,
            "s3:AbortMultipartUpload",
            &b,
            &i.key,
            GrantPermission::Write,
        )?;
        self.backend
            .abort_upload(&b.name, &i.key, &i.upload_id)
            .await?;
        let mut resp = S3Response::new(AbortMultipartUploadOutput::default());
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "ListParts", &i.bucket, Some(&i.key), true);
        let b = self.bucket(&i.bucket)?;
        self.object_access(
            a,
            "s3:ListMultipartUploadParts",
            &b,
            &i.key,
            GrantPermission::Write,
        )?;
        let (u, parts) = self
            .backend
            .list_parts(&b.name, &i.key, &i.upload_id)
            .await?;
        let marker = i.part_number_marker.unwrap_or(0).max(0) as u32;
        let max = i.max_parts.unwrap_or(1000).clamp(1, 1000) as usize;
        let rest: Vec<&PartInfo> = parts.iter().filter(|p| p.number > marker).collect();
        let truncated = rest.len() > max;
        let page: Vec<Part> = rest
            .iter()
            .take(max)
            .map(|p| {
                let [crc32, crc32c, crc64, sha1, sha256] = checksum_fields(&p.checksums);
                Part {
                    e_tag: Some(etag(&p.etag)),
                    last_modified: Some(ts(p.last_modified_ms)),
                    part_number: Some(p.number as i32),
                    size: Some(p.size as i64),
                    checksum_crc32: crc32,
                    checksum_crc32c: crc32c,
                    checksum_crc64nvme: crc64,
                    checksum_sha1: sha1,
                    checksum_sha256: sha256,
                }
            })
            .collect();
        let next = page.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(b.name.clone()),
            key: Some(u.key.clone()),
            upload_id: Some(u.upload_id.clone()),
            max_parts: Some(max as i32),
            part_number_marker: i.part_number_marker,
            next_part_number_marker: truncated.then_some(next).flatten(),
            is_truncated: Some(truncated),
            parts: Some(page),
            owner: Some(self.owner(&b.owner)),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm: u.checksum_algorithm.clone().map(ChecksumAlgorithm::from),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "ListMultipartUploads", &i.bucket, None, true);
        let b = self.bucket(&i.bucket)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        // Uploads are writes in progress: listing them takes WRITE on the whole prefix.
        if let Some(g) = Self::grant(a)
            && !(g.permission.covers(GrantPermission::Write) && g.covers_listing(&b.name, &prefix))
        {
            return Err(outside_grant(
                a,
                "s3:ListBucketMultipartUploads",
                &self.bucket_arn(&b.name),
                format!(
                    "Access Denied: listing the uploads of s3://{}/{prefix} is outside the scope {} ({}) of these Access Grants credentials",
                    b.name,
                    g.target(),
                    g.permission.as_str()
                ),
            ));
        }
        // The vended session policy conditions this listing on its prefix, as ListBucket.
        let mut extra = ContextKeys::new();
        if Self::grant(a).is_some() {
            extra.insert("s3:prefix", prefix.clone());
        }
        self.policy(
            a,
            "s3:ListBucketMultipartUploads",
            &self.bucket_arn(&b.name),
            &b.owner,
            extra,
        )?;
        let max = i.max_uploads.unwrap_or(1000).clamp(1, 1000) as usize;
        let key_marker = i.key_marker.clone().unwrap_or_default();
        let uploads = self.backend.list_uploads(&b.name, &prefix).await?;
        let rest: Vec<&UploadInfo> = uploads
            .iter()
            .filter(|u| key_marker.is_empty() || u.key > key_marker)
            .collect();
        let truncated = rest.len() > max;
        let page: Vec<&UploadInfo> = rest.into_iter().take(max).collect();
        let out: Vec<MultipartUpload> = page
            .iter()
            .map(|u| MultipartUpload {
                initiated: Some(ts(u.initiated_ms)),
                key: Some(u.key.clone()),
                upload_id: Some(u.upload_id.clone()),
                owner: Some(self.owner(&b.owner)),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                ..Default::default()
            })
            .collect();
        let url = url_encoding(i.encoding_type.as_ref())?;
        let enc = |s: &str| if url { url_encode(s) } else { s.to_owned() };
        let out: Vec<MultipartUpload> = out
            .into_iter()
            .map(|mut u| {
                u.key = u.key.as_deref().map(enc);
                u
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(b.name.clone()),
            prefix: i.prefix.as_deref().map(enc),
            key_marker: i.key_marker.as_deref().map(enc),
            encoding_type: i.encoding_type.clone(),
            upload_id_marker: i.upload_id_marker.clone(),
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: truncated
                .then(|| page.last().map(|u| enc(&u.key)))
                .flatten(),
            next_upload_id_marker: truncated
                .then(|| page.last().map(|u| u.upload_id.clone()))
                .flatten(),
            uploads: Some(out),
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "example-bucket", "a.b.c", "123", "my-bucket-2026"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "Bad_Bucket",
            "UPPER",
            "-lead",
            "trail-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--punycode",
            "name-s3alias",
            &"a".repeat(64),
            "with space",
            "../etc",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn keys_are_bounded() {
        assert!(check_key(&"k".repeat(1024)).is_ok());
        assert_eq!(
            *check_key(&"k".repeat(1025)).unwrap_err().code(),
            S3ErrorCode::KeyTooLongError
        );
        assert!(check_key("a\0b").is_err());
        assert!(
            check_key("../../x").is_ok(),
            "a legal S3 key, stored by hash"
        );
    }

    #[test]
    fn aws_chunked_leaves_the_other_codings_as_sent() {
        for (sent, kept) in [
            ("gzip", Some("gzip")),
            ("deflate, gzip", Some("deflate, gzip")),
            ("gzip, aws-chunked", Some("gzip")),
            ("aws-chunked, gzip", Some("gzip")),
            ("aws-chunked,gzip", Some("gzip")),
            ("gzip, aws-chunked, br", Some("gzip, br")),
            ("AWS-CHUNKED", None),
            ("aws-chunked, aws-chunked", None),
        ] {
            assert_eq!(strip_aws_chunked(sent).as_deref(), kept, "{sent}");
        }
    }

    #[test]
    fn continuation_tokens_round_trip() {
        for k in ["a", "projects/red/ü", ""] {
            assert_eq!(continuation_decode(&continuation_encode(k)).unwrap(), k);
        }
        assert!(continuation_decode("!!").is_err());
        assert_eq!(url_encode("a b/c+d"), "a%20b/c%2Bd");
    }
}
