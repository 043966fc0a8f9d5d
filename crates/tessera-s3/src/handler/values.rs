//! Values between s3s and the backend: times, ETags, headers, user metadata, checksums and
//! bodies; and the checks of keys, bucket names, part numbers and version ids.

use super::*;

pub(super) fn ts(ms: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

pub(super) fn secs(t: &Timestamp) -> i64 {
    let t: SystemTime = time_of(t);
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(super) fn time_of(t: &Timestamp) -> SystemTime {
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

pub(super) fn etag(v: &str) -> ETag {
    ETag::Strong(v.to_owned())
}

/// A copy's source conditions fail as 412, never 304.
pub(super) fn source_error(e: S3Error) -> S3Error {
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
pub(super) fn check_key(key: &str) -> S3Result<()> {
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

pub(super) fn headers_of(
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
pub(super) fn metadata_out(h: &ObjectHeaders) -> Option<Metadata> {
    (!h.metadata.is_empty()).then(|| {
        h.metadata
            .iter()
            .map(|(k, v)| (k.clone(), crate::meta::response_value(v)))
            .collect()
    })
}

pub(super) fn expires_out(h: &ObjectHeaders) -> Option<Timestamp> {
    h.expires
        .as_deref()
        .and_then(|e| Timestamp::parse(TimestampFormat::HttpDate, e).ok())
}

/// The checksum headers a request carries, checked for form.
pub(super) fn request_checksums(
    headers: &http::HeaderMap,
) -> S3Result<Vec<(ChecksumAlgo, String)>> {
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

pub(super) fn content_md5(v: Option<&str>) -> S3Result<Option<[u8; 16]>> {
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

pub(super) fn checksum_fields(m: &BTreeMap<String, String>) -> [Option<String>; 5] {
    [
        m.get("x-amz-checksum-crc32").cloned(),
        m.get("x-amz-checksum-crc32c").cloned(),
        m.get("x-amz-checksum-crc64nvme").cloned(),
        m.get("x-amz-checksum-sha1").cloned(),
        m.get("x-amz-checksum-sha256").cloned(),
    ]
}

pub(super) fn body_of(blob: Option<StreamingBlob>) -> ByteStream {
    match blob {
        Some(b) => Box::pin(b),
        None => Box::pin(futures::stream::empty()),
    }
}

pub(super) fn blob_of(body: ByteStream) -> StreamingBlob {
    let frames = body.map(|r| r.map(http_body::Frame::data));
    StreamingBlob::from(s3s::Body::http_body_unsync(
        http_body_util::StreamBody::new(frames),
    ))
}

pub(super) fn part_number(n: i32) -> S3Result<u32> {
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
pub(super) fn unversioned(version_id: Option<&str>) -> S3Result<()> {
    match version_id {
        None | Some("null") => Ok(()),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid version id specified")),
    }
}

/// `partNumber` of a GET or HEAD: 1 to 10,000, and not together with a `Range`.
pub(super) fn read_part_number(part: Option<i32>, ranged: bool) -> S3Result<Option<u32>> {
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

pub(super) fn http_date(ms: i64) -> Option<http::HeaderValue> {
    let mut b = Vec::new();
    ts(ms).format(TimestampFormat::HttpDate, &mut b).ok()?;
    http::HeaderValue::from_bytes(&b).ok()
}
