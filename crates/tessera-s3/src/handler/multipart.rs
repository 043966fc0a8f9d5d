//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts and ListMultipartUploads.

use super::*;

impl S3Handler {
    /// The object `key` holds, if it is the one a completion with `parts` made (its ETag is
    /// theirs: the MD5 of the listed parts' MD5s and their count, a part listed twice in a
    /// row counted once).
    pub(super) async fn completed_before(
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
    pub(super) async fn create_multipart_upload(
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

    pub(super) async fn upload_part(
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

    pub(super) async fn upload_part_copy(
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

    pub(super) async fn complete_multipart_upload(
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

    pub(super) async fn abort_multipart_upload(
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

    pub(super) async fn list_parts(
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

    pub(super) async fn list_multipart_uploads(
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
