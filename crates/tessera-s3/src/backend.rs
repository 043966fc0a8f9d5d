//! Where objects live: the port the S3 handlers call once a request is authorised. The local
//! filesystem backend ([`crate::fs::FsBackend`]) is the embedded default.

use crate::body::ByteStream;
use s3s::S3Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A bucket: its owner decides whose identity policies may reach it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    /// The owning account id.
    pub owner: String,
    /// Creation time, milliseconds since the epoch.
    pub created_ms: i64,
}

/// The headers stored with an object and given back on GET and HEAD.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `x-amz-meta-*`, names lower-cased.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// An object's stored description.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    /// The ETag without quotes: hex MD5, or `md5-of-md5s-N` for a multipart object.
    pub etag: String,
    /// Last modification, milliseconds since the epoch.
    pub last_modified_ms: i64,
    #[serde(default)]
    pub headers: ObjectHeaders,
    /// Checksums the client sent (and that were verified), by header name, base64.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
    /// Parts of a multipart object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartInfo {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
}

/// An upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadInfo {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    #[serde(default)]
    pub headers: ObjectHeaders,
    /// `x-amz-checksum-algorithm` given at creation, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
}

/// An object to store: its body is checked while it streams (see [`crate::body`]).
pub struct NewObject {
    pub headers: ObjectHeaders,
    /// Checksums to keep with the object (already verified by the body's checks).
    pub checksums: BTreeMap<String, String>,
    /// The declared length, if known (a body that ends short fails).
    pub length: Option<u64>,
}

/// A byte range of an object, `start..end` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// An object being read.
pub struct ObjectRead {
    pub meta: ObjectMeta,
    /// The range returned (the whole object when no range was asked for).
    pub range: ByteRange,
    pub body: ByteStream,
}

/// One page of a listing.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<ObjectMeta>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts after.
    pub last: Option<String>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Start strictly after this key.
    pub after: Option<&'a str>,
    pub max_keys: usize,
}

/// Largest object a single PUT may store: 5 GiB.
pub const MAX_PUT_BYTES: u64 = 5 << 30;
/// Smallest part but the last one in a completed multipart upload: 5 MiB.
pub const MIN_PART_BYTES: u64 = 5 << 20;
/// Highest part number.
pub const MAX_PART_NUMBER: i32 = 10_000;

/// The object store port.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    async fn create_bucket(&self, name: &str, owner: &str) -> S3Result<BucketInfo>;
    /// `BucketNotEmpty` if it holds objects.
    async fn delete_bucket(&self, name: &str) -> S3Result<()>;
    fn bucket(&self, name: &str) -> Option<BucketInfo>;
    fn buckets(&self) -> Vec<BucketInfo>;

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        new: NewObject,
    ) -> S3Result<ObjectMeta>;
    /// The object's description, if `cond` holds (`PreconditionFailed`, `NotModified`).
    async fn head_object(&self, bucket: &str, key: &str, cond: &Conditions)
    -> S3Result<ObjectMeta>;
    /// The object (or `range` of it, resolved against its size), if `cond` holds.
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
        cond: &Conditions,
    ) -> S3Result<ObjectRead>;
    /// Copy an object; `headers` replaces the source's (`REPLACE` directive) when given.
    /// `cond` applies to the source.
    async fn copy_object(
        &self,
        src: (&str, &str),
        dst: (&str, &str),
        cond: &Conditions,
        headers: Option<ObjectHeaders>,
    ) -> S3Result<ObjectMeta> {
        let r = self.get_object(src.0, src.1, None, cond).await?;
        let m = r.meta.clone();
        let new = NewObject {
            headers: headers.unwrap_or(m.headers),
            checksums: if m.parts.is_none() {
                m.checksums
            } else {
                BTreeMap::new()
            },
            length: Some(m.size),
        };
        self.put_object(dst.0, dst.1, r.body, new).await
    }
    /// A range of an object as a part of an upload.
    async fn upload_part_copy(
        &self,
        src: (&str, &str),
        range: Option<RangeSpec>,
        cond: &Conditions,
        dst: (&str, &str),
        upload_id: &str,
        part: u32,
    ) -> S3Result<PartInfo> {
        let r = self.get_object(src.0, src.1, range, cond).await?;
        let new = NewObject {
            headers: ObjectHeaders::default(),
            checksums: BTreeMap::new(),
            length: Some(r.range.end - r.range.start),
        };
        self.upload_part(dst.0, dst.1, upload_id, part, r.body, new)
            .await
    }
    /// Deleting a missing key succeeds, as in S3.
    async fn delete_object(&self, bucket: &str, key: &str) -> S3Result<()>;
    async fn list(&self, bucket: &str, q: &ListQuery<'_>) -> S3Result<Listing>;

    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: ObjectHeaders,
        checksum_algorithm: Option<String>,
    ) -> S3Result<UploadInfo>;
    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: u32,
        body: ByteStream,
        new: NewObject,
    ) -> S3Result<PartInfo>;
    /// Parts given as `(number, etag)`, in the order the client listed them.
    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> S3Result<ObjectMeta>;
    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()>;
    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<(UploadInfo, Vec<PartInfo>)>;
    async fn list_uploads(&self, bucket: &str, prefix: &str) -> S3Result<Vec<UploadInfo>>;
}

/// Read preconditions (`If-Match`, `If-None-Match`, `If-Modified-Since`,
/// `If-Unmodified-Since`; times in unix seconds), evaluated as RFC 9110 and S3 do.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    pub if_match: Option<s3s::dto::ETagCondition>,
    pub if_none_match: Option<s3s::dto::ETagCondition>,
    pub if_modified_since: Option<i64>,
    pub if_unmodified_since: Option<i64>,
}

fn etag_matches(cond: &s3s::dto::ETagCondition, current: &str) -> bool {
    match cond {
        s3s::dto::ETagCondition::Any => true,
        s3s::dto::ETagCondition::ETag(e) => e.value() == current,
    }
}

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self.if_match.is_none()
            && self.if_none_match.is_none()
            && self.if_modified_since.is_none()
            && self.if_unmodified_since.is_none()
    }

    /// `PreconditionFailed` (412) or `NotModified` (304) unless the object satisfies them.
    /// A true If-Match overrides a false If-Unmodified-Since; an If-None-Match overrides
    /// If-Modified-Since.
    pub fn check(&self, meta: &ObjectMeta) -> S3Result<()> {
        let modified = meta.last_modified_ms.div_euclid(1000);
        let failed = || {
            s3s::s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            )
        };
        match &self.if_match {
            Some(c) if !etag_matches(c, &meta.etag) => return Err(failed()),
            Some(_) => {}
            None => {
                if self.if_unmodified_since.is_some_and(|t| modified > t) {
                    return Err(failed());
                }
            }
        }
        let not_modified = || s3s::S3Error::new(s3s::S3ErrorCode::NotModified);
        match &self.if_none_match {
            Some(c) if etag_matches(c, &meta.etag) => Err(not_modified()),
            Some(_) => Ok(()),
            None if self.if_modified_since.is_some_and(|t| modified <= t) => Err(not_modified()),
            None => Ok(()),
        }
    }
}

/// Check a CompleteMultipartUpload part list against the stored parts, as S3 does: part
/// numbers ascending (`InvalidPartOrder`), each part present with that ETag (`InvalidPart`),
/// every part but the last at least 5 MiB (`EntityTooSmall`). Yields the indexes into
/// `stored` of the parts to join, in order.
pub fn choose_parts(listed: &[(u32, String)], stored: &[PartInfo]) -> S3Result<Vec<usize>> {
    if listed.is_empty() {
        return Err(s3s::s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema."
        ));
    }
    let by_number: BTreeMap<u32, usize> = stored
        .iter()
        .enumerate()
        .map(|(i, p)| (p.number, i))
        .collect();
    let mut out = Vec::with_capacity(listed.len());
    let mut last = 0u32;
    for (i, (n, etag)) in listed.iter().enumerate() {
        if *n <= last {
            return Err(s3s::s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number."
            ));
        }
        last = *n;
        let want = etag.trim().trim_matches('"');
        let Some(&idx) = by_number.get(n).filter(|&&i| stored[i].etag == want) else {
            return Err(s3s::s3_error!(
                InvalidPart,
                "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
            ));
        };
        if i + 1 < listed.len() && stored[idx].size < MIN_PART_BYTES {
            return Err(s3s::s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size."
            ));
        }
        out.push(idx);
    }
    Ok(out)
}

/// A requested range, before it is resolved against an object's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// `bytes=first-` or `bytes=first-last` (inclusive).
    From { first: u64, last: Option<u64> },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl RangeSpec {
    /// The bytes this range selects of an object of `size` bytes, or `None` when it cannot
    /// be satisfied (`InvalidRange`, 416).
    pub fn resolve(self, size: u64) -> Option<ByteRange> {
        match self {
            RangeSpec::From { first, last } => {
                if first >= size {
                    return None;
                }
                let end = match last {
                    Some(l) if l < first => return None,
                    Some(l) => l.saturating_add(1).min(size),
                    None => size,
                };
                Some(ByteRange { start: first, end })
            }
            RangeSpec::Suffix(n) => {
                if n == 0 || size == 0 {
                    return None;
                }
                Some(ByteRange {
                    start: size.saturating_sub(n),
                    end: size,
                })
            }
        }
    }
}

impl From<s3s::dto::Range> for RangeSpec {
    fn from(r: s3s::dto::Range) -> Self {
        match r {
            s3s::dto::Range::Int { first, last } => RangeSpec::From { first, last },
            s3s::dto::Range::Suffix { length } => RangeSpec::Suffix(length),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_as_rfc_9110_says() {
        let r = |first, last| RangeSpec::From { first, last };
        assert_eq!(
            r(0, Some(9)).resolve(100),
            Some(ByteRange { start: 0, end: 10 })
        );
        assert_eq!(
            r(90, Some(200)).resolve(100),
            Some(ByteRange {
                start: 90,
                end: 100
            })
        );
        assert_eq!(
            r(50, None).resolve(100),
            Some(ByteRange {
                start: 50,
                end: 100
            })
        );
        assert_eq!(r(100, None).resolve(100), None);
        assert_eq!(r(5, Some(4)).resolve(100), None);
        assert_eq!(
            RangeSpec::Suffix(10).resolve(100),
            Some(ByteRange {
                start: 90,
                end: 100
            })
        );
        assert_eq!(
            RangeSpec::Suffix(1000).resolve(100),
            Some(ByteRange { start: 0, end: 100 })
        );
        assert_eq!(RangeSpec::Suffix(0).resolve(100), None);
        assert_eq!(r(0, None).resolve(0), None);
    }
}
