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

mod backend;
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
