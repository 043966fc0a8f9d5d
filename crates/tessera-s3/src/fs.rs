//! The local filesystem backend.
//!
//! Layout under the root directory:
//!
//! ```text
//! buckets/<bucket>/bucket.json          owner and creation time
//! buckets/<bucket>/o/<hh>/<sha256(key)> one file per object: body, then its metadata
//! buckets/<bucket>/mpu/<upload id>/     upload.json and part-<n> files of an upload
//! tmp/                                  files being written (emptied at start-up)
//! ```
//!
//! **No key can escape its bucket**: an object's file name is the hex SHA-256 of its key, so
//! `..`, `//`, absolute paths, NUL or percent-encoded traversal in a key never reach a path.
//! Bucket names are checked against S3's rules before they name a directory, and upload ids
//! must be ids this backend made (32 hex digits).
//!
//! **Crash safety**: an object's body and metadata are one file (the metadata JSON, its
//! length and a magic number follow the body), written in `tmp/`, fsynced, renamed into
//! place and the directory fsynced before the write is acknowledged. A crash leaves either
//! the old object or the new one; half-written files stay in `tmp/`, which start-up empties.
//! The listing index lives in memory, rebuilt at start-up from the object files.

use crate::backend::*;
use crate::body::{ByteStream, stream_error};
use futures::StreamExt;
use s3s::crypto::Checksum as _;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio::io::AsyncWriteExt;

const MAGIC: &[u8; 4] = b"TSO1";
/// Objects up to this size are read in one go; larger ones stream.
const SMALL_READ: u64 = 1 << 20;
/// Objects up to this size are read on the request's own thread: a read of a few pages
/// (from the page cache, as hot objects are) costs less than the hand-over to tokio's
/// blocking pool and back, which dominated small GETs.
const INLINE_READ: u64 = 64 * 1024;
/// Read size when streaming a large object.
const READ_CHUNK: usize = 256 << 10;

#[derive(Debug)]
struct Bucket {
    info: BucketInfo,
    dir: PathBuf,
    objects: RwLock<BTreeMap<String, Arc<ObjectMeta>>>,
    /// Orders renames into place with index updates for this bucket.
    commit: tokio::sync::Mutex<()>,
}

/// Objects in a directory tree on local disk.
#[derive(Debug)]
pub struct FsBackend {
    root: PathBuf,
    tmp: PathBuf,
    buckets: RwLock<BTreeMap<String, Arc<Bucket>>>,
}

fn io_err(e: std::io::Error) -> S3Error {
    tracing::error!(error = %e, "object storage I/O failed");
    S3Error::with_message(
        S3ErrorCode::InternalError,
        "We encountered an internal error. Please try again.",
    )
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn valid_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

/// fsync a directory (so that a rename or removal in it is durable).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

async fn sync_dir_async(dir: PathBuf) -> S3Result<()> {
    tokio::task::spawn_blocking(move || sync_dir(&dir))
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?
        .map_err(io_err)
}

/// Read the metadata trailer of an object or part file.
fn read_trailer<T: serde::de::DeserializeOwned>(
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

fn parse_trailer_bytes<T: serde::de::DeserializeOwned>(data: &[u8]) -> std::io::Result<(T, usize)> {
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

fn trailer_bytes<T: serde::Serialize>(meta: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec(meta).expect("metadata serialises");
    let len = u32::try_from(out.len()).expect("metadata under 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(MAGIC);
    out
}

/// A file in `tmp/` that is removed unless it was committed.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What was written to a temp file.
struct Written {
    temp: TempFile,
    size: u64,
    md5: [u8; 16],
    file: tokio::fs::File,
}

impl FsBackend {
    /// Open (creating if needed) the object tree at `root`, empty its `tmp/` and index every
    /// bucket's objects.
    pub async fn open(root: impl Into<PathBuf>) -> std::io::Result<FsBackend> {
        let root: PathBuf = root.into();
        tokio::task::spawn_blocking(move || FsBackend::open_blocking(root))
            .await
            .map_err(std::io::Error::other)?
    }

    fn open_blocking(root: PathBuf) -> std::io::Result<FsBackend> {
        let tmp = root.join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        std::fs::create_dir_all(root.join("buckets"))?;
        sync_dir(&root)?;
        let mut buckets = BTreeMap::new();
        for entry in std::fs::read_dir(root.join("buckets"))? {
            let entry = entry?;
            let dir = entry.path();
            let Ok(text) = std::fs::read(dir.join("bucket.json")) else {
                tracing::warn!(dir = %dir.display(), "a bucket directory without bucket.json is ignored");
                continue;
            };
            let info: BucketInfo = serde_json::from_slice(&text).map_err(std::io::Error::other)?;
            let mut objects = BTreeMap::new();
            for sub in std::fs::read_dir(dir.join("o"))? {
                for f in std::fs::read_dir(sub?.path())? {
                    let path = f?.path();
                    let mut file = std::fs::File::open(&path)?;
                    match read_trailer::<ObjectMeta>(&mut file) {
                        Ok((meta, _)) => {
                            objects.insert(meta.key.clone(), Arc::new(meta));
                        }
                        Err(e) => {
                            tracing::error!(file = %path.display(), error = %e, "unreadable object file is ignored")
                        }
                    }
                }
            }
            buckets.insert(
                info.name.clone(),
                Arc::new(Bucket {
                    info,
                    dir,
                    objects: RwLock::new(objects),
                    commit: tokio::sync::Mutex::new(()),
                }),
            );
        }
        Ok(FsBackend {
            root,
            tmp,
            buckets: RwLock::new(buckets),
        })
    }

    fn get_bucket(&self, name: &str) -> S3Result<Arc<Bucket>> {
        self.buckets
            .read()
            .expect("bucket map lock")
            .get(name)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    fn object_path(b: &Bucket, key: &str) -> (PathBuf, PathBuf) {
        let h = key_hash(key);
        let dir = b.dir.join("o").join(&h[..2]);
        (dir.join(&h), dir)
    }

    fn temp_path(&self) -> PathBuf {
        self.tmp.join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Stream `body` into a new temp file, at most `limit` bytes.
    async fn write_temp(&self, mut body: ByteStream, limit: u64) -> S3Result<Written> {
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
    async fn commit_object(
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

    fn upload_dir(b: &Bucket, upload_id: &str) -> S3Result<PathBuf> {
        if !valid_upload_id(upload_id) {
            return Err(no_such_upload());
        }
        Ok(b.dir.join("mpu").join(upload_id))
    }

    async fn read_upload(
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
    async fn join_parts(
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

    fn read_parts(dir: &Path) -> std::io::Result<Vec<(PartInfo, u64)>> {
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

/// Read `[start, end)` of a file, positioned at `start`, as a stream of chunks.
fn file_stream(file: std::fs::File, start: u64, end: u64) -> ByteStream {
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

#[async_trait::async_trait]
impl Backend for FsBackend {
    async fn create_bucket(&self, name: &str, owner: &str) -> S3Result<BucketInfo> {
        if let Some(b) = self.buckets.read().expect("bucket map lock").get(name) {
            return Err(if b.info.owner == owner {
                s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                )
            } else {
                s3_error!(
                    BucketAlreadyExists,
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
                )
            });
        }
        let info = BucketInfo {
            name: name.to_owned(),
            owner: owner.to_owned(),
            created_ms: now_ms(),
        };
        let staging = self.temp_path();
        let dest = self.root.join("buckets").join(name);
        let (info2, staging2, dest2) = (info.clone(), staging.clone(), dest.clone());
        let made = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            std::fs::create_dir(&staging2)?;
            let o = staging2.join("o");
            std::fs::create_dir(&o)?;
            for i in 0..=255u8 {
                let d = o.join(hex::encode([i]));
                std::fs::create_dir(&d)?;
                sync_dir(&d)?;
            }
            sync_dir(&o)?;
            std::fs::create_dir(staging2.join("mpu"))?;
            let mut f = std::fs::File::create(staging2.join("bucket.json"))?;
            std::io::Write::write_all(
                &mut f,
                &serde_json::to_vec(&info2).map_err(std::io::Error::other)?,
            )?;
            f.sync_all()?;
            sync_dir(&staging2)?;
            if dest2.exists() {
                std::fs::remove_dir_all(&staging2)?;
                return Ok(false);
            }
            std::fs::rename(&staging2, &dest2)?;
            sync_dir(dest2.parent().expect("buckets dir"))?;
            Ok(true)
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?
        .map_err(io_err)?;
        if !made {
            return Err(s3_error!(BucketAlreadyExists));
        }
        self.buckets.write().expect("bucket map lock").insert(
            name.to_owned(),
            Arc::new(Bucket {
                info: info.clone(),
                dir: dest,
                objects: RwLock::new(BTreeMap::new()),
                commit: tokio::sync::Mutex::new(()),
            }),
        );
        Ok(info)
    }

    async fn delete_bucket(&self, name: &str) -> S3Result<()> {
        let b = self.get_bucket(name)?;
        let _order = b.commit.lock().await;
        if !b.objects.read().expect("object index lock").is_empty() {
            return Err(s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty"
            ));
        }
        let graveyard = self.temp_path();
        tokio::fs::rename(&b.dir, &graveyard)
            .await
            .map_err(io_err)?;
        self.buckets.write().expect("bucket map lock").remove(name);
        let root = self.root.join("buckets");
        // Removed before the reply, so a deleted bucket leaves nothing behind in `tmp/`.
        tokio::task::spawn_blocking(move || {
            let _ = sync_dir(&root);
            let _ = std::fs::remove_dir_all(&graveyard);
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?;
        Ok(())
    }

    fn bucket(&self, name: &str) -> Option<BucketInfo> {
        self.buckets
            .read()
            .expect("bucket map lock")
            .get(name)
            .map(|b| b.info.clone())
    }

    fn buckets(&self) -> Vec<BucketInfo> {
        self.buckets
            .read()
            .expect("bucket map lock")
            .values()
            .map(|b| b.info.clone())
            .collect()
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        new: NewObject,
    ) -> S3Result<ObjectMeta> {
        let b = self.get_bucket(bucket)?;
        let w = self.write_temp(body, MAX_PUT_BYTES).await?;
        if let Some(len) = new.length
            && len != w.size
        {
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            ));
        }
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: w.size,
            etag: hex::encode(w.md5),
            last_modified_ms: now_ms(),
            headers: new.headers,
            checksums: new.checksums,
            parts: None,
            part_sizes: Vec::new(),
        };
        self.commit_object(&b, w, meta).await
    }

    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        cond: &Conditions,
    ) -> S3Result<ObjectMeta> {
        let b = self.get_bucket(bucket)?;
        let found = b
            .objects
            .read()
            .expect("object index lock")
            .get(key)
            .cloned();
        let m = found
            .map(|m| (*m).clone())
            .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))?;
        cond.check(&m)?;
        Ok(m)
    }

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
        cond: &Conditions,
    ) -> S3Result<ObjectRead> {
        let b = self.get_bucket(bucket)?;
        let indexed = b
            .objects
            .read()
            .expect("object index lock")
            .get(key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))?;
        let (path, _) = Self::object_path(&b, key);
        let not_found = || s3_error!(NoSuchKey, "The specified key does not exist.");
        if indexed.size <= SMALL_READ {
            let read = if indexed.size <= INLINE_READ {
                std::fs::read(&path)
            } else {
                tokio::fs::read(&path).await
            };
            let data = match read {
                Ok(d) => bytes::Bytes::from(d),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
                Err(e) => return Err(io_err(e)),
            };
            // The file, not the index, is the truth (it may have been replaced meanwhile).
            let (meta, body_len) = parse_trailer_bytes::<ObjectMeta>(&data).map_err(io_err)?;
            cond.check(&meta)?;
            let r = resolve(range, meta.size)?;
            let body = data.slice(r.start as usize..(r.end as usize).min(body_len));
            return Ok(ObjectRead {
                meta,
                range: r,
                body: Box::pin(futures::stream::once(async move { Ok(body) })),
            });
        }
        let cond = cond.clone();
        let (meta, file, r) = tokio::task::spawn_blocking(move || -> S3Result<_> {
            let mut file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
                Err(e) => return Err(io_err(e)),
            };
            let (meta, _) = read_trailer::<ObjectMeta>(&mut file).map_err(io_err)?;
            cond.check(&meta)?;
            let r = resolve(range, meta.size)?;
            file.seek(SeekFrom::Start(r.start)).map_err(io_err)?;
            Ok((meta, file, r))
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))??;
        Ok(ObjectRead {
            meta,
            range: r,
            body: file_stream(file, r.start, r.end),
        })
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        let b = self.get_bucket(bucket)?;
        let (path, dir) = Self::object_path(&b, key);
        {
            let _order = b.commit.lock().await;
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(io_err(e)),
            }
            b.objects.write().expect("object index lock").remove(key);
        }
        sync_dir_async(dir).await
    }

    async fn list(&self, bucket: &str, q: &ListQuery<'_>) -> S3Result<Listing> {
        let b = self.get_bucket(bucket)?;
        let objects = b.objects.read().expect("object index lock");
        Ok(list_index(&objects, q))
    }

    async fn create_upload(
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

    async fn upload_part(
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

    async fn complete_upload(
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

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
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

    async fn list_parts(
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

    async fn list_uploads(&self, bucket: &str, prefix: &str) -> S3Result<Vec<UploadInfo>> {
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

/// A directory taken out of the tree (in `tmp/`), removed when dropped.
struct ClaimedDir(PathBuf);

impl Drop for ClaimedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn resolve(range: Option<RangeSpec>, size: u64) -> S3Result<ByteRange> {
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

/// One page of a sorted key index: S3's listing rules (prefix, delimiter grouping into
/// common prefixes, start strictly after a key, at most `max_keys` entries counting each
/// common prefix once).
pub fn list_index(objects: &BTreeMap<String, Arc<ObjectMeta>>, q: &ListQuery<'_>) -> Listing {
    use std::ops::Bound;
    let mut out = Listing::default();
    if q.max_keys == 0 {
        return out;
    }
    let start = match q.after {
        Some(a) if a >= q.prefix => Bound::Excluded(a.to_owned()),
        _ => Bound::Included(q.prefix.to_owned()),
    };
    let mut cursor = start;
    'outer: loop {
        let mut advanced = None;
        for (key, meta) in objects.range::<String, _>((cursor.clone(), Bound::Unbounded)) {
            if !key.starts_with(q.prefix) {
                break 'outer;
            }
            let grouped = q.delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                key[q.prefix.len()..]
                    .find(d)
                    .map(|i| &key[..q.prefix.len() + i + d.len()])
            });
            if out.objects.len() + out.common_prefixes.len() == q.max_keys {
                out.truncated = true;
                break 'outer;
            }
            match grouped {
                Some(cp) => {
                    if q.after.is_some_and(|a| a >= cp && a.starts_with(cp)) {
                        // Resuming within a group already returned: skip past it.
                    } else {
                        out.common_prefixes.push(cp.to_owned());
                        out.last = Some(cp.to_owned());
                    }
                    // Jump past every key in this group.
                    let mut next = cp.to_owned();
                    next.push(char::MAX);
                    advanced = Some(Bound::Excluded(next));
                    break;
                }
                None => {
                    out.objects.push((**meta).clone());
                    out.last = Some(key.clone());
                }
            }
        }
        match advanced {
            Some(b) => cursor = b,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(keys: &[&str]) -> BTreeMap<String, Arc<ObjectMeta>> {
        keys.iter()
            .map(|k| {
                (
                    (*k).to_owned(),
                    Arc::new(ObjectMeta {
                        key: (*k).to_owned(),
                        size: 1,
                        etag: "e".into(),
                        last_modified_ms: 0,
                        headers: ObjectHeaders::default(),
                        checksums: BTreeMap::new(),
                        parts: None,
                        part_sizes: Vec::new(),
                    }),
                )
            })
            .collect()
    }

    fn names(l: &Listing) -> (Vec<String>, Vec<String>) {
        (
            l.objects.iter().map(|o| o.key.clone()).collect(),
            l.common_prefixes.clone(),
        )
    }

    #[test]
    fn listing_groups_pages_and_resumes() {
        let idx = index(&["a/1", "a/2", "b", "c/x/1", "c/y", "d"]);
        let q = |prefix, delimiter, after, max_keys| ListQuery {
            prefix,
            delimiter,
            after,
            max_keys,
        };
        let l = list_index(&idx, &q("", Some("/"), None, 1000));
        assert_eq!(
            names(&l),
            (vec!["b".into(), "d".into()], vec!["a/".into(), "c/".into()])
        );
        assert!(!l.truncated);
        // Pages of two, each resuming after the last entry returned.
        let p1 = list_index(&idx, &q("", Some("/"), None, 2));
        assert_eq!(names(&p1), (vec!["b".into()], vec!["a/".into()]));
        assert!(p1.truncated);
        let p2 = list_index(&idx, &q("", Some("/"), p1.last.as_deref(), 2));
        assert_eq!(names(&p2), (vec!["d".into()], vec!["c/".into()]));
        assert!(!p2.truncated);
        let l = list_index(&idx, &q("c/", Some("/"), None, 1000));
        assert_eq!(names(&l), (vec!["c/y".into()], vec!["c/x/".into()]));
        let l = list_index(&idx, &q("", None, Some("b"), 1000));
        assert_eq!(l.objects.len(), 3);
        let l = list_index(&idx, &q("a", None, None, 1));
        assert_eq!(names(&l).0, vec!["a/1".to_owned()]);
        assert!(l.truncated);
        assert!(list_index(&idx, &q("", None, None, 0)).objects.is_empty());
    }

    #[tokio::test]
    async fn objects_survive_reopen_and_keys_never_name_paths() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsBackend::open(dir.path()).await.unwrap();
        fs.create_bucket("b1", "111111111111").await.unwrap();
        let hostile = [
            "../../etc/passwd",
            "/abs",
            "a//b",
            "%2e%2e/x",
            "x\u{0}y",
            "..",
        ];
        for k in hostile {
            let body: ByteStream = Box::pin(futures::stream::once(async move {
                Ok(bytes::Bytes::from(k.as_bytes().to_vec()))
            }));
            let new = NewObject {
                headers: ObjectHeaders::default(),
                checksums: BTreeMap::new(),
                length: None,
            };
            fs.put_object("b1", k, body, new).await.unwrap();
        }
        // Nothing was written outside the bucket's object directory.
        for e in walk(dir.path()) {
            let rel = e
                .strip_prefix(dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(
                rel.starts_with("buckets/b1/o/") || rel == "buckets/b1/bucket.json",
                "{rel}"
            );
        }
        drop(fs);
        let fs = FsBackend::open(dir.path()).await.unwrap();
        for k in hostile {
            let mut r = fs
                .get_object("b1", k, None, &Conditions::default())
                .await
                .unwrap();
            let mut got = Vec::new();
            while let Some(c) = r.body.next().await {
                got.extend_from_slice(&c.unwrap());
            }
            assert_eq!(got, k.as_bytes());
        }
        assert!(matches!(
            fs.delete_bucket("b1").await.unwrap_err().code(),
            S3ErrorCode::BucketNotEmpty
        ));
    }

    fn walk(p: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }
}
