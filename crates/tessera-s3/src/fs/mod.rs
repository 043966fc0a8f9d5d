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

mod files;
mod listing;
#[cfg(test)]
mod tests;
mod uploads;
use files::*;
pub use listing::list_index;

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
}

/// Buckets and objects here; the multipart operations are `FsBackend`'s own methods of the
/// same names in `uploads.rs`, which these call (an inherent method is named first).
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
        FsBackend::create_upload(self, bucket, key, headers, checksum_algorithm).await
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
        FsBackend::upload_part(self, bucket, key, upload_id, part, body, new).await
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> S3Result<ObjectMeta> {
        FsBackend::complete_upload(self, bucket, key, upload_id, parts).await
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
        FsBackend::abort_upload(self, bucket, key, upload_id).await
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<(UploadInfo, Vec<PartInfo>)> {
        FsBackend::list_parts(self, bucket, key, upload_id).await
    }

    async fn list_uploads(&self, bucket: &str, prefix: &str) -> S3Result<Vec<UploadInfo>> {
        FsBackend::list_uploads(self, bucket, prefix).await
    }
}
