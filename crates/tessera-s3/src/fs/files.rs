//! Object files: the metadata trailer after the body, temp files written and fsynced, then
//! renamed into place; and reading a byte range of one back as a stream.

use super::*;

/// Read the metadata trailer of an object or part file.
pub(super) fn read_trailer<T: serde::de::DeserializeOwned>(
    f: &mut std::fs::File,
) -> std::io::Result<(T, u64)> {
    let len = f.metadata()?.len();
    if len < 8 {
        return Err(std::io::Error::other("object file too short"));
    }
    f.seek(SeekFrom::Start(len - 8))?;
    let mut tail = [0u8; 8];
    f.read_exact(&mut tail)?;
    if &tail[4..] != MAGIC {
        return Err(std::io::Error::other("object file without trailer"));
    }
    let meta_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if meta_len + 8 > len {
        return Err(std::io::Error::other("object trailer length out of range"));
    }
    f.seek(SeekFrom::Start(len - 8 - meta_len))?;
    let mut buf = vec![0u8; meta_len as usize];
    f.read_exact(&mut buf)?;
    let meta = serde_json::from_slice(&buf).map_err(std::io::Error::other)?;
    Ok((meta, len - 8 - meta_len))
}

pub(super) fn parse_trailer_bytes<T: serde::de::DeserializeOwned>(
    data: &[u8],
) -> std::io::Result<(T, usize)> {
    let len = data.len();
    if len < 8 || &data[len - 4..] != MAGIC {
        return Err(std::io::Error::other("object file without trailer"));
    }
    let meta_len =
        u32::from_le_bytes([data[len - 8], data[len - 7], data[len - 6], data[len - 5]]) as usize;
    if meta_len + 8 > len {
        return Err(std::io::Error::other("object trailer length out of range"));
    }
    let body_len = len - 8 - meta_len;
    let meta = serde_json::from_slice(&data[body_len..len - 8]).map_err(std::io::Error::other)?;
    Ok((meta, body_len))
}

pub(super) fn trailer_bytes<T: serde::Serialize>(meta: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec(meta).expect("metadata serialises");
    let len = u32::try_from(out.len()).expect("metadata under 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(MAGIC);
    out
}

/// A file in `tmp/` that is removed unless it was committed.
pub(super) struct TempFile {
    pub(super) path: PathBuf,
    pub(super) armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What was written to a temp file.
pub(super) struct Written {
    pub(super) temp: TempFile,
    pub(super) size: u64,
    pub(super) md5: [u8; 16],
    pub(super) file: tokio::fs::File,
}
impl FsBackend {
    /// Stream `body` into a new temp file, at most `limit` bytes.
    pub(super) async fn write_temp(&self, mut body: ByteStream, limit: u64) -> S3Result<Written> {
        let path = self.temp_path();
        let file = tokio::fs::File::create(&path).await.map_err(io_err)?;
        let temp = TempFile { path, armed: true };
        let mut w = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut md5 = s3s::crypto::Md5::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(stream_error)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(s3_error!(
                    EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed object size."
                ));
            }
            md5.update(&chunk);
            w.write_all(&chunk).await.map_err(io_err)?;
        }
        w.flush().await.map_err(io_err)?;
        Ok(Written {
            temp,
            size,
            md5: md5.finalize(),
            file: w.into_inner(),
        })
    }

    /// Append the trailer, fsync, rename into place and index it.
    pub(super) async fn commit_object(
        &self,
        b: &Bucket,
        mut w: Written,
        meta: ObjectMeta,
    ) -> S3Result<ObjectMeta> {
        w.file
            .write_all(&trailer_bytes(&meta))
            .await
            .map_err(io_err)?;
        w.file.sync_all().await.map_err(io_err)?;
        drop(w.file);
        let (path, dir) = Self::object_path(b, &meta.key);
        {
            let _order = b.commit.lock().await;
            match tokio::fs::rename(&w.temp.path, &path).await {
                Ok(()) => w.temp.armed = false,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(s3_error!(
                        NoSuchBucket,
                        "The specified bucket does not exist"
                    ));
                }
                Err(e) => return Err(io_err(e)),
            }
            b.objects
                .write()
                .expect("object index lock")
                .insert(meta.key.clone(), Arc::new(meta.clone()));
        }
        sync_dir_async(dir).await?;
        Ok(meta)
    }
}

/// Read `[start, end)` of a file, positioned at `start`, as a stream of chunks.
pub(super) fn file_stream(file: std::fs::File, start: u64, end: u64) -> ByteStream {
    let file = tokio::fs::File::from_std(file);
    let stream = futures::stream::try_unfold((file, start, end), |(mut f, pos, end)| async move {
        use tokio::io::AsyncReadExt;
        if pos >= end {
            return Ok(None);
        }
        let want = ((end - pos) as usize).min(READ_CHUNK);
        let mut buf = vec![0u8; want];
        f.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(Some((bytes::Bytes::from(buf), (f, pos + want as u64, end))))
    });
    Box::pin(stream.map(|r| r.map_err(|e| Box::new(e) as s3s::StdError)))
}

pub(super) fn resolve(range: Option<RangeSpec>, size: u64) -> S3Result<ByteRange> {
    match range {
        None => Ok(ByteRange {
            start: 0,
            end: size,
        }),
        Some(r) => r
            .resolve(size)
            .ok_or_else(|| s3_error!(InvalidRange, "The requested range is not satisfiable")),
    }
}
