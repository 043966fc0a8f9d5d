//! Objects in the store: put, head, get (whole or by part), delete, list and copy.

use super::*;

impl UpstreamBackend {
    pub(super) async fn put_object(
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

    pub(super) async fn head_object(
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

    pub(super) async fn get_object(
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

    pub(super) async fn head_part(
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

    pub(super) async fn get_part(
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

    pub(super) async fn delete_object(&self, bucket: &str, key: &str) -> S3Result<()> {
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

    pub(super) async fn list(&self, bucket: &str, q: &ListQuery<'_>) -> S3Result<Listing> {
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

    pub(super) async fn copy_object(
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
}
