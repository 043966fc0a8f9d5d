//! Object operations: GetObject, HeadObject, PutObject, DeleteObject, DeleteObjects and
//! CopyObject, with their conditions and the body checks PUT and UploadPart share.

use super::*;

impl S3Handler {
    /// A 304 or 412 answer carries the object's validators (`ETag`, `Last-Modified`), as
    /// S3's do.
    pub(super) async fn with_validators(&self, b: &BucketMeta, key: &str, e: S3Error) -> S3Error {
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
    /// The body of a PUT or UploadPart, checked against its Content-MD5 and checksum headers.
    pub(super) fn checked_body(
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

    pub(super) fn conditions(
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

    pub(super) async fn get_object(
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

    pub(super) async fn head_object(
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

    pub(super) async fn put_object(
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

    pub(super) async fn delete_object(
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

    pub(super) async fn delete_objects(
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

    pub(super) async fn copy_object(
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
}
