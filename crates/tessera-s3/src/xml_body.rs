//! Request bodies that are XML documents (DeleteObjects, CompleteMultipartUpload, the
//! configurations): known from the method and query before the body is read, bounded by what
//! S3 accepts for the operation, and read whole.

use crate::body::ByteStream;
use bytes::Bytes;
use futures::StreamExt;
use tessera_wire::AwsError;

/// An S3 operation whose request body is an XML document (or a bucket policy) that is
/// parsed whole, with the most S3 accepts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlBody {
    /// `POST /bucket?delete`: at most 1,000 keys.
    DeleteObjects,
    /// `POST /bucket/key?uploadId=…`: at most 10,000 parts.
    CompleteMultipartUpload,
    /// Configurations (`?acl`, `?tagging`, `?cors`, `?lifecycle`, `?policy`, …) and
    /// CreateBucket's `CreateBucketConfiguration`.
    Configuration,
}

/// Subresources whose PUT (or POST) body is a configuration document.
const CONFIG_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metadataTable",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "versioning",
    "website",
];

impl XmlBody {
    /// The largest body accepted: every valid request fits with room to spare (the longest
    /// keys with every character escaped, version ids, checksums of every part), and
    /// anything larger is refused with S3's `MaxMessageLengthExceeded` before it is read.
    pub fn max_bytes(self) -> u64 {
        match self {
            XmlBody::DeleteObjects | XmlBody::CompleteMultipartUpload => 8 << 20,
            XmlBody::Configuration => 1 << 20,
        }
    }

    /// The most XML markup (`<`) a valid request needs: an element per key or part with
    /// each of its fields, twice (open and close). Parsing cost grows with the number of
    /// elements, not bytes, so a body of many tiny elements is refused as S3 refuses more
    /// than 1,000 keys or 10,000 parts (`MalformedXML`).
    fn max_markup(self) -> usize {
        match self {
            XmlBody::DeleteObjects => 1000 * 16 + 64,
            XmlBody::CompleteMultipartUpload => 10_000 * 20 + 64,
            XmlBody::Configuration => 64 * 1024,
        }
    }
}

/// Which XML operation a request is, from its method and query (and `has_key`: whether the
/// request names an object, path-style or virtual-hosted).
pub fn xml_body(method: &http::Method, uri: &http::Uri, has_key: bool) -> Option<XmlBody> {
    let keys: Vec<String> = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        })
        .unwrap_or_default();
    let has = |k: &str| keys.iter().any(|q| q == k);
    if *method == http::Method::POST {
        if has("delete") {
            return Some(XmlBody::DeleteObjects);
        }
        if has("uploadId") {
            return Some(XmlBody::CompleteMultipartUpload);
        }
        if CONFIG_SUBRESOURCES.iter().any(|s| has(s)) {
            return Some(XmlBody::Configuration);
        }
        return None;
    }
    if *method == http::Method::PUT {
        if CONFIG_SUBRESOURCES.iter().any(|s| has(s)) {
            return Some(XmlBody::Configuration);
        }
        // CreateBucket: a bucket and no subresource.
        if !has_key && keys.is_empty() {
            return Some(XmlBody::Configuration);
        }
    }
    None
}

fn too_big() -> AwsError {
    AwsError::new(400, "MaxMessageLengthExceeded", "Your request was too big.")
}

/// Read an XML operation's body, refusing one larger than `op` accepts before reading it
/// (by its declared length), or as soon as it grows past it (no declared length).
pub async fn read_xml_body(
    op: XmlBody,
    declared: Option<u64>,
    mut body: ByteStream,
) -> Result<Bytes, AwsError> {
    let max = op.max_bytes();
    if declared.is_some_and(|n| n > max) {
        return Err(too_big());
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(max) as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| match e.downcast::<s3s::S3Error>() {
            Ok(s3) => AwsError::new(
                s3.status_code().map_or(400, |c| c.as_u16()),
                s3.code().as_str(),
                s3.message().unwrap_or_default(),
            ),
            Err(e) => {
                tracing::debug!(error = %e, "reading an XML request body failed");
                AwsError::new(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.")
            }
        })?;
        if (buf.len() + chunk.len()) as u64 > max {
            return Err(too_big());
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.iter().filter(|&&b| b == b'<').count() > op.max_markup() {
        return Err(AwsError::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ));
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_operations_are_known_before_their_body() {
        let op = |m: &str, uri: &str, key: bool| {
            xml_body(&m.parse().unwrap(), &uri.parse().unwrap(), key)
        };
        assert_eq!(op("POST", "/b?delete", false), Some(XmlBody::DeleteObjects));
        assert_eq!(
            op("POST", "/b?delete=", false),
            Some(XmlBody::DeleteObjects)
        );
        assert_eq!(
            op("POST", "/b/k?uploadId=u", true),
            Some(XmlBody::CompleteMultipartUpload)
        );
        assert_eq!(op("POST", "/b/k?uploads", true), None);
        assert_eq!(
            op("PUT", "/b/k?tagging", true),
            Some(XmlBody::Configuration)
        );
        assert_eq!(op("PUT", "/b?cors", false), Some(XmlBody::Configuration));
        assert_eq!(op("PUT", "/b", false), Some(XmlBody::Configuration));
        // Object bodies stream.
        assert_eq!(op("PUT", "/b/k", true), None);
        assert_eq!(op("PUT", "/k", true), None, "virtual-hosted PutObject");
        assert_eq!(op("PUT", "/b/k?partNumber=1&uploadId=u", true), None);
        assert_eq!(op("POST", "/b", false), None, "a browser form upload");
        assert_eq!(op("GET", "/b?delete", false), None);
    }
}
