//! Multipart uploads on disk: an upload's directory and parts, and joining them into an
//! object.

use super::*;

/// A directory taken out of the tree (in `tmp/`), removed when dropped.
pub(super) struct ClaimedDir(pub(super) PathBuf);

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
}
