//! Multipart uploads on disk: an upload's directory, its parts, and joining them into an
//! object.

use super::*;

/// A directory taken out of the tree (in `tmp/`), removed when dropped.
pub(super) struct ClaimedDir(PathBuf);

impl Drop for ClaimedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
impl FsBackend {
    pub(super) fn upload_dir(b: &Bucket, upload_id: &str) -> S3Result<PathBuf> {
        if !valid_upload_id(upload_id) {
            return Err(no_such_upload());
        }
        Ok(b.dir.join("mpu").join(upload_id))
    }

    pub(super) async fn read_upload(
        b: &Bucket,
        key: &str,
        upload_id: &str,
    ) -> S3Result<(PathBuf, UploadInfo)> {
        let dir = Self::upload_dir(b, upload_id)?;
        let text = match tokio::fs::read(dir.join("upload.json")).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
            Err(e) => return Err(io_err(e)),
        };
        let info: UploadInfo =
            serde_json::from_slice(&text).map_err(|e| io_err(std::io::Error::other(e)))?;
        if info.key != key {
            return Err(no_such_upload());
        }
        Ok((dir, info))
    }

    /// Join the `chosen` parts of a claimed upload directory into the object `key`.
    pub(super) async fn join_parts(
        &self,
        b: &Bucket,
        key: &str,
        claimed: &Path,
        chosen: &[&(PartInfo, u64)],
        headers: ObjectHeaders,
    ) -> S3Result<ObjectMeta> {
        let path = self.temp_path();
        let file = tokio::fs::File::create(&path).await.map_err(io_err)?;
        let temp = TempFile { path, armed: true };
        let mut w = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut size = 0u64;
        for (p, body_len) in chosen {
            let src = tokio::fs::File::open(claimed.join(format!("part-{:05}", p.number)))
                .await
                .map_err(io_err)?;
            let mut src = tokio::io::AsyncReadExt::take(src, *body_len);
            let n = tokio::io::copy(&mut src, &mut w).await.map_err(io_err)?;
            if n != *body_len {
                return Err(io_err(std::io::Error::other(
                    "part file shorter than recorded",
                )));
            }
            size += n;
        }
        w.flush().await.map_err(io_err)?;
        let etag = multipart_etag(chosen.iter().map(|(p, _)| p.etag.as_str()))
            .ok_or_else(|| io_err(std::io::Error::other("a part's ETag is not an MD5")))?;
        let meta = ObjectMeta {
            key: key.to_owned(),
            size,
            etag,
            last_modified_ms: now_ms(),
            headers,
            checksums: BTreeMap::new(),
            parts: Some(chosen.len() as u32),
            part_sizes: chosen.iter().map(|(_, len)| *len).collect(),
        };
        let written = Written {
            temp,
            size,
            md5: [0; 16],
            file: w.into_inner(),
        };
        self.commit_object(b, written, meta).await
    }

    pub(super) fn read_parts(dir: &Path) -> std::io::Result<Vec<(PartInfo, u64)>> {
        let mut parts = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let path = e?.path();
            let is_part = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("part-"));
            if !is_part {
                continue;
            }
            let mut f = std::fs::File::open(&path)?;
            let (info, body_len) = read_trailer::<PartInfo>(&mut f)?;
            parts.push((info, body_len));
        }
        parts.sort_by_key(|(p, _)| p.number);
        Ok(parts)
    }

    pub(super) async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: ObjectHeaders,
        checksum_algorithm: Option<String>,
    ) -> S3Result<UploadInfo> {
        let b = self.get_bucket(bucket)?;
        let info = UploadInfo {
            upload_id: uuid::Uuid::new_v4().simple().to_string(),
            key: key.to_owned(),
            initiated_ms: now_ms(),
            headers,
            checksum_algorithm,
        };
        let staging = self.temp_path();
        let dest = b.dir.join("mpu").join(&info.upload_id);
        let text = serde_json::to_vec(&info).map_err(|e| io_err(std::io::Error::other(e)))?;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir(&staging)?;
            let mut f = std::fs::File::create(staging.join("upload.json"))?;
            std::io::Write::write_all(&mut f, &text)?;
            f.sync_all()?;
            sync_dir(&staging)?;
            std::fs::rename(&staging, &dest)?;
            sync_dir(dest.parent().expect("mpu dir"))
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                s3_error!(NoSuchBucket, "The specified bucket does not exist")
            } else {
                io_err(e)
            }
        })?;
        Ok(info)
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
        let b = self.get_bucket(bucket)?;
        let (dir, _) = Self::read_upload(&b, key, upload_id).await?;
        let mut w = self.write_temp(body, MAX_PUT_BYTES).await?;
        if let Some(len) = new.length
            && len != w.size
        {
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            ));
        }
        let info = PartInfo {
            number: part,
            size: w.size,
            etag: hex::encode(w.md5),
            last_modified_ms: now_ms(),
            checksums: new.checksums,
        };
        w.file
            .write_all(&trailer_bytes(&info))
            .await
            .map_err(io_err)?;
        w.file.sync_all().await.map_err(io_err)?;
        match tokio::fs::rename(&w.temp.path, dir.join(format!("part-{part:05}"))).await {
            Ok(()) => w.temp.armed = false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
            Err(e) => return Err(io_err(e)),
        }
        sync_dir_async(dir).await?;
        Ok(info)
    }

    pub(super) async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> S3Result<ObjectMeta> {
        let b = self.get_bucket(bucket)?;
        let (dir, upload) = Self::read_upload(&b, key, upload_id).await?;
        let d = dir.clone();
        let stored = tokio::task::spawn_blocking(move || FsBackend::read_parts(&d))
            .await
            .map_err(|e| io_err(std::io::Error::other(e)))?
            .map_err(io_err)?;
        let infos: Vec<PartInfo> = stored.iter().map(|(p, _)| p.clone()).collect();
        let picked = choose_parts(parts, &infos)?;
        let chosen: Vec<&(PartInfo, u64)> = picked.iter().map(|i| &stored[*i]).collect();
        // Claim the upload: a concurrent abort or completion now finds nothing.
        let claimed = self.temp_path();
        match tokio::fs::rename(&dir, &claimed).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
            Err(e) => return Err(io_err(e)),
        }
        let claimed_guard = ClaimedDir(claimed.clone());
        match self
            .join_parts(&b, key, &claimed, &chosen, upload.headers)
            .await
        {
            Ok(meta) => {
                drop(claimed_guard);
                sync_dir_async(b.dir.join("mpu")).await?;
                Ok(meta)
            }
            Err(e) => {
                // A failed completion leaves the upload as it was (S3 keeps it, so the
                // client can retry or abort): put the claimed parts back.
                if tokio::fs::rename(&claimed, &dir).await.is_ok() {
                    std::mem::forget(claimed_guard);
                }
                Err(e)
            }
        }
    }

    pub(super) async fn abort_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<()> {
        let b = self.get_bucket(bucket)?;
        let (dir, _) = Self::read_upload(&b, key, upload_id).await?;
        let claimed = self.temp_path();
        match tokio::fs::rename(&dir, &claimed).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
            Err(e) => return Err(io_err(e)),
        }
        drop(ClaimedDir(claimed));
        sync_dir_async(b.dir.join("mpu")).await
    }

    pub(super) async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<(UploadInfo, Vec<PartInfo>)> {
        let b = self.get_bucket(bucket)?;
        let (dir, info) = Self::read_upload(&b, key, upload_id).await?;
        let parts = tokio::task::spawn_blocking(move || FsBackend::read_parts(&dir))
            .await
            .map_err(|e| io_err(std::io::Error::other(e)))?
            .map_err(io_err)?;
        Ok((info, parts.into_iter().map(|(p, _)| p).collect()))
    }

    pub(super) async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> S3Result<Vec<UploadInfo>> {
        let b = self.get_bucket(bucket)?;
        let dir = b.dir.join("mpu");
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || -> std::io::Result<Vec<UploadInfo>> {
            let mut out = Vec::new();
            for e in std::fs::read_dir(&dir)? {
                let p = e?.path().join("upload.json");
                let Ok(text) = std::fs::read(&p) else {
                    continue;
                };
                let info: UploadInfo =
                    serde_json::from_slice(&text).map_err(std::io::Error::other)?;
                if info.key.starts_with(&prefix) {
                    out.push(info);
                }
            }
            out.sort_by(|a, b| (&a.key, a.initiated_ms).cmp(&(&b.key, b.initiated_ms)));
            Ok(out)
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?
        .map_err(io_err)
    }
}
