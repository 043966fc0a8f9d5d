//! Listing objects: ListObjectsV2, ListObjects and ListObjectVersions, with their
//! continuation tokens, URL encoding and delimiters.

use super::*;

/// Percent-encode a key for `encoding-type=url` listings (everything but unreserved
/// characters and `/`).
pub(super) fn url_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// `encoding-type`: `url` or nothing.
pub(super) fn url_encoding(e: Option<&EncodingType>) -> S3Result<bool> {
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
pub(super) fn entries(
    l: &Listing,
    url: bool,
    owner: Option<Owner>,
) -> (Vec<Object>, Vec<CommonPrefix>) {
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

pub(super) fn continuation_encode(last: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes())
}

pub(super) fn continuation_decode(t: &str) -> S3Result<String> {
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

/// An empty `delimiter=` is no delimiter (and is not echoed).
pub(super) fn delimiter_of(d: Option<&str>) -> Option<&str> {
    d.filter(|d| !d.is_empty())
}
impl S3Handler {
    pub(super) async fn list_objects_v2(
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

    pub(super) async fn list_objects(
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
    /// An unversioned bucket's versions: each object once, as its latest version, with the
    /// version id `null` (what tools that empty a bucket by its versions expect).
    pub(super) async fn list_object_versions(
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
}
