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
    /// The size of each part of a multipart object, in order (GET and HEAD `?partNumber=`);
    /// empty where a backend does not keep them (the upstream store answers part requests
    /// itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub part_sizes: Vec<u64>,
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
    /// Whether the objects can be reached now (the readiness check); why not, when not.
    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }
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
    /// Part `part` (1-based) of an object, with its description, the part's bytes within
    /// the object, and the object's part count (`None` for an object stored whole, which is
    /// one part): `InvalidPartNumber` beyond the last part.
    async fn head_part(
        &self,
        bucket: &str,
        key: &str,
        part: u32,
        cond: &Conditions,
    ) -> S3Result<(ObjectMeta, ByteRange, Option<u32>)> {
        let m = self.head_object(bucket, key, cond).await?;
        let (range, count) = part_range(&m, part)?;
        Ok((m, range, count))
    }
    /// The bytes of part `part` of an object, and its part count (see
    /// [`Backend::head_part`]).
    async fn get_part(
        &self,
        bucket: &str,
        key: &str,
        part: u32,
        cond: &Conditions,
    ) -> S3Result<(ObjectRead, Option<u32>)> {
        let (m, range, count) = self.head_part(bucket, key, part, cond).await?;
        // The object read is the one described (its ETag), not one written since.
        let same = Conditions {
            if_match: Some(s3s::dto::ETagCondition::ETag(s3s::dto::ETag::Strong(
                m.etag.clone(),
            ))),
            ..Default::default()
        };
        let spec = (range.end > range.start).then_some(RangeSpec::From {
            first: range.start,
            last: Some(range.end - 1),
        });
        let mut r = self.get_object(bucket, key, spec, &same).await?;
        r.range = range;
        Ok((r, count))
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

/// S3's answer to a part number beyond an object's last part (416).
pub fn invalid_part_number() -> s3s::S3Error {
    let mut e = s3s::S3Error::with_message(
        s3s::S3ErrorCode::Custom("InvalidPartNumber".into()),
        "The requested partnumber is not satisfiable",
    );
    e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
    e
}

/// The bytes of part `part` of the object `m` describes, and its part count.
pub fn part_range(m: &ObjectMeta, part: u32) -> S3Result<(ByteRange, Option<u32>)> {
    let beyond = invalid_part_number;
    match m.parts {
        // Stored whole: one part.
        None if part == 1 => Ok((
            ByteRange {
                start: 0,
                end: m.size,
            },
            None,
        )),
        None => Err(beyond()),
        Some(n) if part > n => Err(beyond()),
        Some(n) => {
            if m.part_sizes.len() != n as usize {
                return Err(s3s::s3_error!(
                    NotImplemented,
                    "The part boundaries of this object were not recorded (it was completed by an older Tessera)."
                ));
            }
            let start: u64 = m.part_sizes[..part as usize - 1].iter().sum();
            let end = start + m.part_sizes[part as usize - 1];
            Ok((ByteRange { start, end }, Some(n)))
        }
    }
}

/// The ETag S3 gives the object a multipart upload completes with `parts` (their ETags, in
/// order): the MD5 of their MD5s, and their count.
pub fn multipart_etag<'a>(parts: impl IntoIterator<Item = &'a str>) -> Option<String> {
    use s3s::crypto::Checksum as _;
    let mut md5s = s3s::crypto::Md5::new();
    let mut n = 0;
    for e in parts {
        let mut raw = [0u8; 16];
        hex::decode_to_slice(e.trim().trim_matches('"'), &mut raw).ok()?;
        md5s.update(&raw);
        n += 1;
    }
    Some(format!("{}-{n}", hex::encode(md5s.finalize())))
}

/// Check a CompleteMultipartUpload part list against the stored parts, as S3 does: at least
/// one part (`InvalidRequest`), part numbers ascending (`InvalidPartOrder`), each part present
/// with that ETag (`InvalidPart`), every part but the last at least 5 MiB (`EntityTooSmall`).
/// A part number listed more than once in a row (a part uploaded twice, both uploads listed)
/// counts once, as the part stored last, which one of its entries must name. Yields the
/// indexes into `stored` of the parts to join, in order.
pub fn choose_parts(listed: &[(u32, String)], stored: &[PartInfo]) -> S3Result<Vec<usize>> {
    if listed.is_empty() {
        return Err(s3s::s3_error!(
            InvalidRequest,
            "You must specify at least one part"
        ));
    }
    let by_number: BTreeMap<u32, usize> = stored
        .iter()
        .enumerate()
        .map(|(i, p)| (p.number, i))
        .collect();
    let invalid_part = || {
        s3s::s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
        )
    };
    let mut out: Vec<usize> = Vec::with_capacity(listed.len());
    let mut i = 0;
    let mut last = 0u32;
    while i < listed.len() {
        let n = listed[i].0;
        if n <= last {
            return Err(s3s::s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ));
        }
        last = n;
        // The entries for this part number.
        let mut j = i;
        while j < listed.len() && listed[j].0 == n {
            j += 1;
        }
        let idx = *by_number.get(&n).ok_or_else(invalid_part)?;
        let named = listed[i..j]
            .iter()
            .any(|(_, e)| stored[idx].etag == e.trim().trim_matches('"'));
        if !named {
            return Err(invalid_part());
        }
        out.push(idx);
        i = j;
    }
    for (k, &idx) in out.iter().enumerate() {
        if k + 1 < out.len() && stored[idx].size < MIN_PART_BYTES {
            return Err(s3s::s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed size"
            ));
        }
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
    use s3s::S3ErrorCode;

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

    fn part(number: u32, etag: &str, size: u64) -> PartInfo {
        PartInfo {
            number,
            size,
            etag: etag.into(),
            last_modified_ms: 0,
            checksums: BTreeMap::new(),
        }
    }

    #[test]
    fn completion_part_lists_are_checked_as_s3_does() {
        let big = MIN_PART_BYTES;
        let stored = vec![part(1, "aa", big), part(2, "bb", big), part(3, "cc", 7)];
        let l = |v: &[(u32, &str)]| -> Vec<(u32, String)> {
            v.iter().map(|(n, e)| (*n, format!("\"{e}\""))).collect()
        };
        assert_eq!(
            choose_parts(&l(&[(1, "aa"), (2, "bb"), (3, "cc")]), &stored).unwrap(),
            vec![0, 1, 2]
        );
        // Gaps are fine; the last part may be small.
        assert_eq!(
            choose_parts(&l(&[(1, "aa"), (3, "cc")]), &stored).unwrap(),
            vec![0, 2]
        );
        let code = |v: &[(u32, &str)]| choose_parts(&l(v), &stored).unwrap_err().code().clone();
        assert_eq!(code(&[]), S3ErrorCode::InvalidRequest);
        assert_eq!(code(&[(2, "bb"), (1, "aa")]), S3ErrorCode::InvalidPartOrder);
        assert_eq!(code(&[(1, "zz")]), S3ErrorCode::InvalidPart);
        assert_eq!(code(&[(4, "dd")]), S3ErrorCode::InvalidPart);
        assert_eq!(code(&[(3, "cc"), (4, "dd")]), S3ErrorCode::InvalidPart);
        let small = vec![part(1, "aa", 4), part(2, "bb", 4)];
        assert_eq!(
            choose_parts(&l(&[(1, "aa"), (2, "bb")]), &small)
                .unwrap_err()
                .code()
                .clone(),
            S3ErrorCode::EntityTooSmall
        );
        // A part uploaded twice and listed twice counts once, as stored; one of its entries
        // must name the stored upload.
        assert_eq!(
            choose_parts(&l(&[(1, "old"), (1, "aa"), (2, "bb")]), &stored).unwrap(),
            vec![0, 1]
        );
        assert_eq!(
            code(&[(1, "old"), (1, "older"), (2, "bb")]),
            S3ErrorCode::InvalidPart
        );
    }

    #[test]
    fn parts_of_an_object() {
        let mut m = ObjectMeta {
            key: "k".into(),
            size: 25,
            etag: "e".into(),
            last_modified_ms: 0,
            headers: ObjectHeaders::default(),
            checksums: BTreeMap::new(),
            parts: None,
            part_sizes: Vec::new(),
        };
        // Stored whole: one part.
        assert_eq!(
            part_range(&m, 1).unwrap(),
            (ByteRange { start: 0, end: 25 }, None)
        );
        let e = part_range(&m, 2).unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidPartNumber");
        assert_eq!(
            e.status_code(),
            Some(http::StatusCode::RANGE_NOT_SATISFIABLE)
        );
        m.parts = Some(3);
        m.part_sizes = vec![10, 10, 5];
        assert_eq!(
            part_range(&m, 2).unwrap(),
            (ByteRange { start: 10, end: 20 }, Some(3))
        );
        assert_eq!(
            part_range(&m, 3).unwrap(),
            (ByteRange { start: 20, end: 25 }, Some(3))
        );
        assert!(part_range(&m, 4).is_err());
        m.part_sizes.clear();
        assert_eq!(
            *part_range(&m, 1).unwrap_err().code(),
            S3ErrorCode::NotImplemented
        );
    }

    #[test]
    fn multipart_etags() {
        // MD5s of 5 MiB of 'A', 'B' and 'C' (the ETag S3 gives their three-part object).
        let parts = [
            "f8f4c36dce65b1ae6e1ba2a1ee2da4f0",
            "b2f5ee2fc1b0c6c7c7df5b2cd6d1b7e7",
        ];
        let e = multipart_etag(parts).unwrap();
        assert!(e.ends_with("-2") && e.len() == 34, "{e}");
        assert_eq!(multipart_etag(["\"aa\""]), None, "not an MD5");
        assert_eq!(
            multipart_etag([format!("\"{}\"", parts[0]).as_str(), parts[1]]),
            Some(e),
            "quotes are not part of the ETag"
        );
    }
}
