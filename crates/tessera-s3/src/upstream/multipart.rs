//! Multipart uploads in the store: create, upload and copy parts, complete, abort, and list
//! parts and uploads.

use super::*;

impl UpstreamBackend {
    pub(super) async fn create_upload(
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

    pub(super) async fn upload_part(
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

    pub(super) async fn complete_upload(
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

    pub(super) async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<()> {
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

    pub(super) async fn list_parts(
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

    pub(super) async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> S3Result<Vec<UploadInfo>> {
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

    pub(super) async fn upload_part_copy(
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
