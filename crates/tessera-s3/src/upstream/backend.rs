//! The backend port over the store: buckets (and the catalog), objects and multipart uploads.

use super::*;

#[async_trait::async_trait]
impl Backend for UpstreamBackend {
    /// The catalog bucket answers a HEAD: the store is up and Tessera's key works there.
    async fn ready(&self) -> Result<(), String> {
        let catalog = self.inner.cfg.catalog_bucket.clone();
        self.call(
            Method::HEAD,
            Some(&catalog),
            None,
            &[],
            Vec::new(),
            Send::Empty,
        )
        .await
        .map(|_| ())
        .map_err(|e| format!("the upstream store: {}", e.code().as_str()))
    }

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
