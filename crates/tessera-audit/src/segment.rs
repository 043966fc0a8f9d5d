//! The audit trail's durability point: a local, append-only log of checksummed records.
//!
//! A request's record is serialised on the request's own task and appended to an in-memory
//! batch. One flusher thread writes whatever has gathered to the current segment file and
//! makes it durable with one `fdatasync` (group fsync); `sync` requests wait until the
//! batch holding their record is durable, so the response never comes before its record.
//! Behind that point an indexer thread hands the durable records, in order, to an
//! [`AuditIndex`]: the store's hash chain and its indexed rows. The index keeps a cursor per
//! log (its *origin*) in the same transaction as the rows, so after a crash the indexer
//! resumes where the store says it stopped and every record reaches the store exactly once.
//!
//! On disk: `DIR/ORIGIN` names the log (random, made once), `DIR/<first lsn>.seg` are the
//! segments. A frame is `len: u32 LE`, `crc32: u32 LE` (of the next 8 bytes and the body),
//! `lsn: u64 LE`, then `len` bytes of JSON. Within a segment the log sequence numbers
//! (LSNs) follow one another; a new segment starts at 64 MiB, after a write error and at
//! each start. Segments are zero-filled ahead of use by a third thread (`DIR/spare`), so
//! that a batch's `fdatasync` writes its data and nothing of the file system's metadata; the
//! first run of zeros ends a segment's records. Segments whose every record is indexed, and
//! made durable there ([`AuditIndex::sync`]), are deleted.

use crate::{AuditError, AuditRecord};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;
use tokio::sync::watch;

/// A segment is closed once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 32 << 20;
const HEADER: usize = 16;
/// A frame longer than this is not a frame (a record is a few KiB).
const MAX_BODY: usize = 16 << 20;
/// The most records the indexer hands to the index at once.
const INDEX_BATCH: usize = 4096;
/// How long the indexer gathers records before handing them over: fewer, larger
/// transactions (the records are durable in the log meanwhile).
const INDEX_GATHER: Duration = Duration::from_millis(20);
/// How long the indexer waits for a queued batch before it looks for records that settled
/// without being queued (the queue was full) and reads them back from the log.
const INDEX_IDLE: Duration = Duration::from_millis(100);
/// The zero-filled file the next segment is made from.
const SPARE: &str = "spare";
/// A log that has written this much to a segment that was not zero-filled is busy: it gets
/// a spare (and moves to it once ready). An idle server never writes one.
const BUSY_BYTES: u64 = 1 << 20;
/// When records arrived while the last batch was being made durable, the flusher lets the
/// next batch gather this long: one `fdatasync` for more records.
const GATHER: Duration = Duration::from_micros(200);

/// The query columns of a record: what the store indexes it by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    pub principal_arn: String,
    /// The directory user the call was for: the session's `onBehalfOf`, or the user a
    /// CreateTokenWithIAM exchange issued a token to.
    pub on_behalf_of: Option<String>,
    pub request_id: String,
}

fn on_behalf_of(
    user_identity: &serde_json::Value,
    additional: &serde_json::Value,
) -> Option<String> {
    user_identity["onBehalfOf"]["userId"]
        .as_str()
        .or_else(|| additional["identitystore:UserId"].as_str())
        .map(str::to_owned)
}

impl Columns {
    /// The columns of `record`.
    pub fn of(record: &AuditRecord) -> Columns {
        let id = &record.user_identity;
        Columns {
            event_time: record.event_time.clone(),
            event_source: record.event_source.clone(),
            event_name: record.event_name.clone(),
            principal_arn: id["arn"].as_str().unwrap_or("").to_owned(),
            on_behalf_of: on_behalf_of(id, &record.additional_event_data),
            request_id: record.request_id.clone(),
        }
    }

    /// The columns of a serialised record, as [`Columns::of`] derives them from the record
    /// (`None` when `body` is not a JSON object).
    pub fn of_body(body: &[u8]) -> Option<Columns> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
        let id = &v["userIdentity"];
        v.is_object().then(|| Columns {
            event_time: text("eventTime"),
            event_source: text("eventSource"),
            event_name: text("eventName"),
            principal_arn: id["arn"].as_str().unwrap_or("").to_owned(),
            on_behalf_of: on_behalf_of(id, &v["additionalEventData"]),
            request_id: text("requestID"),
        })
    }
}

/// One durable record: its place in the log, its JSON and its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub lsn: u64,
    pub body: Vec<u8>,
    pub columns: Columns,
}

/// Where durable records go next (the store's chain and rows), fed in LSN order by the
/// log's indexer thread.
pub trait AuditIndex: Send + Sync + std::fmt::Debug {
    /// The last LSN of `origin`'s log already in the index (0 when none is).
    fn indexed(&self, origin: &str) -> Result<u64, AuditError>;
    /// Add `entries` (consecutive, after [`AuditIndex::indexed`]) and move `origin`'s cursor
    /// to the last of them, atomically: all or nothing.
    fn index(&self, origin: &str, entries: &[Entry]) -> Result<(), AuditError>;
    /// Make everything indexed so far durable ([`AuditIndex::index`] need not wait for the
    /// disk: the log keeps its segments until this returns).
    fn sync(&self, origin: &str) -> Result<(), AuditError>;
}

fn io(e: impl std::fmt::Display) -> AuditError {
    AuditError::Io(std::io::Error::other(e.to_string()))
}

fn segment_name(first_lsn: u64) -> String {
    format!("{first_lsn:020}.seg")
}

/// The segments in `dir`, by first LSN.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, AuditError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".seg"))
        else {
            continue;
        };
        if let Ok(first) = stem.parse::<u64>() {
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

/// Append the frame of the record `lsn` with `body` to `out`.
pub fn frame_into(lsn: u64, body: &[u8], out: &mut Vec<u8>) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&lsn.to_le_bytes());
    crc.update(body);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(body);
}

/// What reading one segment found.
#[derive(Debug, Default)]
pub struct SegmentScan {
    /// The valid frames from the start, in order: `(lsn, body)`.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Where the valid frames end.
    pub end: u64,
    /// Bytes after `end` that are not zeros: a torn write (after a crash), or damage.
    pub trailing: u64,
    /// Why reading stopped before the end of the file, when it did.
    pub stopped: Option<String>,
}

/// Read the frames of one segment file whose first record is `first_lsn`.
pub fn scan_segment(path: &Path, first_lsn: u64) -> Result<SegmentScan, AuditError> {
    let bytes = std::fs::read(path)?;
    let mut scan = SegmentScan::default();
    let mut at = 0usize;
    let mut expect = first_lsn;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            scan.stopped = Some(format!("a partial frame header at byte {at}"));
            break;
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let lsn = u64::from_le_bytes(rest[8..16].try_into().expect("8 bytes"));
        if len == 0 && crc == 0 && lsn == 0 {
            scan.stopped = Some(format!("zeros from byte {at}"));
            break;
        }
        if len > MAX_BODY || rest.len() < HEADER + len {
            scan.stopped = Some(format!("a partial frame at byte {at}"));
            break;
        }
        let body = &rest[HEADER..HEADER + len];
        let mut h = crc32fast::Hasher::new();
        h.update(&lsn.to_le_bytes());
        h.update(body);
        if h.finalize() != crc {
            scan.stopped = Some(format!("a checksum mismatch at byte {at} (lsn {lsn})"));
            break;
        }
        if lsn != expect {
            scan.stopped = Some(format!("lsn {lsn} at byte {at} where {expect} was due"));
            break;
        }
        scan.records.push((lsn, body.to_vec()));
        expect += 1;
        at += HEADER + len;
    }
    scan.end = at as u64;
    scan.trailing = bytes[at..].iter().filter(|b| **b != 0).count() as u64;
    Ok(scan)
}

/// Every segment of the log in `dir`, as [`scan_segment`] reads them: `(first lsn, path,
/// scan)`.
pub fn scan_log(dir: &Path) -> Result<Vec<(u64, PathBuf, SegmentScan)>, AuditError> {
    segments(dir)?
        .into_iter()
        .map(|(first, path)| {
            let scan = scan_segment(&path, first)?;
            Ok((first, path, scan))
        })
        .collect()
}

/// The log's name (its origin in the index): read from `DIR/ORIGIN`, made on first use.
pub fn origin(dir: &Path) -> Result<String, AuditError> {
    let path = dir.join("ORIGIN");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let mut id = [0u8; 12];
    aws_lc_rs::rand::fill(&mut id).map_err(|_| io("no randomness for the log's origin"))?;
    let name = format!("log-{}", hex::encode(id));
    let tmp = dir.join("ORIGIN.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(name.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    Ok(name)
}

fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// The records of `dir`'s log from `from` (inclusive) to `to` (exclusive), read back from
/// the segments.
fn read_range(dir: &Path, from: u64, to: u64) -> Result<Vec<Entry>, AuditError> {
    let all = segments(dir)?;
    let mut out = Vec::new();
    for (i, (first, path)) in all.iter().enumerate() {
        let next_first = all.get(i + 1).map_or(u64::MAX, |(f, _)| *f);
        if next_first <= from || *first >= to {
            continue;
        }
        for (lsn, body) in scan_segment(path, *first)?.records {
            if lsn >= from && lsn < to {
                let columns = Columns::of_body(&body).unwrap_or_default();
                out.push(Entry { lsn, body, columns });
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Default)]
struct Spare {
    /// `DIR/spare` is zero-filled and synced.
    ready: bool,
    /// The flusher will want one.
    wanted: bool,
}

struct State {
    pending: Vec<Entry>,
    next_lsn: u64,
}

struct Shared {
    dir: PathBuf,
    origin: String,
    state: Mutex<State>,
    wake: Condvar,
    /// Every LSN up to this one has an outcome: durable, or lost (in `lost`).
    settled: watch::Sender<u64>,
    /// LSN ranges (inclusive) whose write failed; the newest last, a bounded few.
    lost: Mutex<VecDeque<(u64, u64)>>,
    /// Every LSN up to this one is in the index.
    indexed: watch::Sender<u64>,
    /// The first LSNs of the segments on disk, oldest first (the last is being written).
    segments: Mutex<Vec<u64>>,
    failures: AtomicU64,
    closing: AtomicBool,
    segment_bytes: u64,
    /// The spare segment: wanted by the flusher, made ready by the preparer.
    spare: Mutex<Spare>,
    spare_wake: Condvar,
}

/// The segment log and its two threads (see the module documentation).
pub struct SegmentLog {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SegmentLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentLog")
            .field("dir", &self.shared.dir)
            .field("origin", &self.shared.origin)
            .finish_non_exhaustive()
    }
}

/// The sizes of a [`SegmentLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// A segment is closed once it holds this many bytes.
    pub segment_bytes: u64,
    /// Durable batches queued in memory for the indexer; beyond them it reads the log back.
    pub queued_batches: usize,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            segment_bytes: SEGMENT_BYTES,
            // About 20 ms of batches under load, many times over.
            queued_batches: 4096,
        }
    }
}

/// What [`SegmentLog::open`] found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records found in the segments that the index did not have yet, now indexed.
    pub caught_up: u64,
    /// Bytes (not zeros) of a torn write after the newest segment's last record.
    pub torn_bytes: u64,
}

impl SegmentLog {
    /// Open (or make) the log in `dir`: cut a torn write from the newest segment, hand the
    /// index every durable record it lacks, start a new segment and the flusher and
    /// indexer threads. Blocking: call it where blocking is allowed.
    pub fn open(
        dir: &Path,
        index: Arc<dyn AuditIndex>,
    ) -> Result<(SegmentLog, Recovery), AuditError> {
        SegmentLog::open_with(dir, index, LogOptions::default())
    }

    /// [`SegmentLog::open`] with other sizes (small ones, for tests).
    pub fn open_with(
        dir: &Path,
        index: Arc<dyn AuditIndex>,
        options: LogOptions,
    ) -> Result<(SegmentLog, Recovery), AuditError> {
        let LogOptions {
            segment_bytes,
            queued_batches,
        } = options;
        std::fs::create_dir_all(dir)?;
        let origin = origin(dir)?;
        let mut recovery = Recovery::default();
        let existing = segments(dir)?;
        let mut last_lsn = 0;
        for (i, (first, path)) in existing.iter().enumerate() {
            let scan = scan_segment(path, *first)?;
            let newest = i + 1 == existing.len();
            if let Some((lsn, _)) = scan.records.last() {
                last_lsn = last_lsn.max(*lsn);
            } else {
                last_lsn = last_lsn.max(first.saturating_sub(1));
            }
            if let Some(why) = scan.stopped.filter(|_| scan.trailing > 0) {
                if newest {
                    // A write that never became durable (no request was answered on it); the
                    // segment is deleted below, once its records are indexed.
                    recovery.torn_bytes = scan.trailing;
                } else {
                    tracing::error!(segment = %path.display(), "audit segment damaged: {why}");
                }
            }
        }
        let indexed = index.indexed(&origin)?;
        let last_lsn = last_lsn.max(indexed);
        if indexed < last_lsn {
            let missing = read_range(dir, indexed + 1, last_lsn + 1)?;
            for chunk in missing.chunks(INDEX_BATCH) {
                index.index(&origin, chunk)?;
                recovery.caught_up += chunk.len() as u64;
            }
        }
        let next_lsn = last_lsn + 1;
        // Appends go to a new segment; the old ones are all indexed now, durably.
        if !existing.is_empty() {
            index.sync(&origin)?;
        }
        for (_, path) in &existing {
            std::fs::remove_file(path)?;
        }
        let from_spare = std::fs::metadata(dir.join(SPARE)).is_ok_and(|m| m.len() == segment_bytes);
        let segment = SegmentWriter::create(dir, next_lsn, from_spare)?;
        let (settled, _) = watch::channel(last_lsn);
        let (indexed_tx, _) = watch::channel(last_lsn);
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            origin,
            state: Mutex::new(State {
                pending: Vec::new(),
                next_lsn,
            }),
            wake: Condvar::new(),
            settled,
            lost: Mutex::new(VecDeque::new()),
            indexed: indexed_tx,
            segments: Mutex::new(vec![next_lsn]),
            failures: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            segment_bytes,
            spare: Mutex::new(Spare::default()),
            spare_wake: Condvar::new(),
        });
        let (to_index, batches) = mpsc::sync_channel::<Vec<Entry>>(queued_batches.max(1));
        let flushing = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tessera-audit-log".into())
                .spawn(move || flusher(&shared, segment, to_index))?
        };
        let indexing = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tessera-audit-index".into())
                .spawn(move || indexer(&shared, index.as_ref(), next_lsn, batches))?
        };
        let preparing = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("tessera-audit-prep".into())
                .spawn(move || preparer(&shared))?
        };
        let log = SegmentLog {
            shared,
            threads: vec![flushing, indexing, preparing],
        };
        Ok((log, recovery))
    }

    /// The log's origin (its name in the index).
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// Serialise `record` and add it to the next batch; returns its LSN.
    pub fn append(&self, record: &AuditRecord) -> u64 {
        let body = serde_json::to_vec(record).expect("audit records serialise");
        let columns = Columns::of(record);
        let mut s = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let lsn = s.next_lsn;
        s.next_lsn += 1;
        s.pending.push(Entry { lsn, body, columns });
        if s.pending.len() == 1 {
            self.shared.wake.notify_one();
        }
        lsn
    }

    /// Wait until the record at `lsn` is durable: `false` when its write failed.
    pub async fn durable(&self, lsn: u64) -> bool {
        let mut rx = self.shared.settled.subscribe();
        if rx.wait_for(|s| *s >= lsn).await.is_err() {
            return false;
        }
        let lost = self.shared.lost.lock().unwrap_or_else(|p| p.into_inner());
        !lost.iter().any(|(a, b)| (*a..=*b).contains(&lsn))
    }

    /// Wait until every record appended so far is in the index, for at most `limit`;
    /// `false` when the index has not caught up by then (the records stay in the log and
    /// are indexed later, or at the next start).
    pub async fn flush(&self, limit: Duration) -> bool {
        let last = self
            .shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .next_lsn
            - 1;
        let mut rx = self.shared.indexed.subscribe();
        matches!(
            tokio::time::timeout(limit, rx.wait_for(|i| *i >= last)).await,
            Ok(Ok(_))
        )
    }

    /// Records whose write failed so far.
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }

    /// The last LSN in the index.
    pub fn indexed(&self) -> u64 {
        *self.shared.indexed.borrow()
    }
}

impl SegmentLog {
    /// Stop: write what is pending, let the indexer finish (or give up when the index is
    /// away: the records wait in the log for the next start), and wait for both threads.
    pub fn close(mut self) {
        self.signal_close();
        for t in std::mem::take(&mut self.threads) {
            let _ = t.join();
        }
    }

    fn signal_close(&self) {
        self.shared.closing.store(true, Ordering::Relaxed);
        // Notified under the lock: the flusher sees `closing` before it waits again.
        let s = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        self.shared.wake.notify_all();
        drop(s);
        let _spare = self.shared.spare.lock().unwrap_or_else(|p| p.into_inner());
        self.shared.spare_wake.notify_all();
    }
}

impl Drop for SegmentLog {
    fn drop(&mut self) {
        self.signal_close();
    }
}

/// Make the segment whose first record is `first_lsn`: the spare renamed when it is ready,
/// else a new empty file (its appends cost a metadata update each). Returns its path.
fn create_segment(dir: &Path, first_lsn: u64, from_spare: bool) -> Result<PathBuf, AuditError> {
    let path = dir.join(segment_name(first_lsn));
    if from_spare {
        std::fs::rename(dir.join(SPARE), &path)?;
    } else {
        OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)?;
    }
    sync_dir(dir)?;
    Ok(path)
}

/// The preparer thread: once the flusher wants a spare, make one (zero-filled, synced).
fn preparer(shared: &Shared) {
    let zeros = vec![0u8; 1 << 20];
    loop {
        {
            let mut spare = shared.spare.lock().unwrap_or_else(|p| p.into_inner());
            while (spare.ready || !spare.wanted) && !shared.closing.load(Ordering::Relaxed) {
                spare = shared
                    .spare_wake
                    .wait(spare)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
        if shared.closing.load(Ordering::Relaxed) {
            return;
        }
        let tmp = shared.dir.join("spare.tmp");
        let made = (|| -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            let mut left = shared.segment_bytes;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                f.write_all(&zeros[..n])?;
                left -= n as u64;
                if shared.closing.load(Ordering::Relaxed) {
                    return Err(std::io::Error::other("closing"));
                }
            }
            f.sync_all()?;
            std::fs::rename(&tmp, shared.dir.join(SPARE))?;
            File::open(&shared.dir)?.sync_all()
        })();
        match made {
            Ok(()) => shared.spare.lock().unwrap_or_else(|p| p.into_inner()).ready = true,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                if shared.closing.load(Ordering::Relaxed) {
                    return;
                }
                tracing::warn!(error = %e, "a spare audit segment could not be made; segments grow as they are written");
                std::thread::sleep(Duration::from_secs(5));
            }
        }
    }
}

/// Ask the preparer for a spare segment.
fn want_spare(shared: &Shared) {
    let mut spare = shared.spare.lock().unwrap_or_else(|p| p.into_inner());
    if !spare.wanted {
        spare.wanted = true;
        shared.spare_wake.notify_all();
    }
}

/// Whether the spare is ready.
fn spare_ready(shared: &Shared) -> bool {
    shared.spare.lock().unwrap_or_else(|p| p.into_inner()).ready
}

/// Take the spare when it is ready (and ask for the next).
fn take_spare(shared: &Shared) -> bool {
    let mut spare = shared.spare.lock().unwrap_or_else(|p| p.into_inner());
    let took = spare.ready;
    spare.ready = false;
    spare.wanted = true;
    shared.spare_wake.notify_all();
    took
}

/// The unit of the flusher's writes: whole blocks at block-aligned offsets.
const BLOCK: usize = 4096;

/// The segment being written. Where the file system allows it, the file is opened for
/// direct, synchronous writes (`O_DIRECT | O_DSYNC`): a batch is durable when its write
/// returns, without the page cache, a separate `fdatasync`, or its flush of the whole disk
/// cache; this costs about half the CPU and two thirds of the time of a buffered write and
/// `fdatasync` here. Direct writes are whole blocks, so each batch rewrites the partial block
/// it continues (its earlier bytes unchanged: a torn write of it keeps them, sector by
/// sector) and pads its last block with zeros, which end a segment's records as before.
struct SegmentWriter {
    file: File,
    direct: bool,
    /// Bytes of frames in the segment.
    len: u64,
    /// The frames in the last, partial block.
    tail: Vec<u8>,
    /// Backing for the block-aligned write buffer.
    raw: Vec<u8>,
    zero_filled: bool,
}

impl SegmentWriter {
    /// A new segment whose first record is `first_lsn` (see [`create_segment`]).
    fn create(dir: &Path, first_lsn: u64, from_spare: bool) -> Result<SegmentWriter, AuditError> {
        let path = create_segment(dir, first_lsn, from_spare)?;
        let (file, direct) = {
            use std::os::unix::fs::OpenOptionsExt;
            match OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
                .open(&path)
            {
                Ok(f) => (f, true),
                // A file system without direct I/O (tmpfs): buffered writes and fdatasync.
                Err(_) => (OpenOptions::new().write(true).open(&path)?, false),
            }
        };
        Ok(SegmentWriter {
            file,
            direct,
            len: 0,
            tail: Vec::new(),
            raw: Vec::new(),
            zero_filled: from_spare,
        })
    }

    /// Write `frames` after what the segment holds and make them durable.
    fn append(&mut self, frames: &[u8]) -> std::io::Result<()> {
        let start = self.len - self.tail.len() as u64;
        let used = self.tail.len() + frames.len();
        let size = used.div_ceil(BLOCK) * BLOCK;
        if self.raw.len() < size + BLOCK {
            self.raw = vec![0; (size + BLOCK).next_power_of_two()];
        }
        let at = self.raw.as_ptr().align_offset(BLOCK);
        if at >= BLOCK {
            return Err(std::io::Error::other("no block-aligned write buffer"));
        }
        let buf = &mut self.raw[at..at + size];
        buf[..self.tail.len()].copy_from_slice(&self.tail);
        buf[self.tail.len()..used].copy_from_slice(frames);
        buf[used..].fill(0);
        self.file.write_all_at(buf, start)?;
        if !self.direct {
            self.file.sync_data()?;
        }
        self.len += frames.len() as u64;
        let partial = used % BLOCK;
        self.tail.clear();
        self.tail.extend_from_slice(&buf[used - partial..used]);
        Ok(())
    }

    /// Cut what part of a failed write may have reached the file.
    fn cut(&self) {
        let _ = self.file.set_len(self.len);
    }
}

/// The flusher thread: write each gathered batch, make it durable, settle its waiters,
/// pass it on to the indexer.
fn flusher(shared: &Shared, mut segment: SegmentWriter, to_index: mpsc::SyncSender<Vec<Entry>>) {
    // After a failed write the segment's state is unknown: the next batch starts another.
    let mut broken = false;
    let mut buf = Vec::new();
    loop {
        let batch = {
            let mut s = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            // Records that arrived while the last batch was written: others are coming.
            let busy = !s.pending.is_empty();
            let closing = || shared.closing.load(Ordering::Relaxed);
            while s.pending.is_empty() && !closing() {
                s = shared.wake.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            if s.pending.is_empty() {
                return;
            }
            if busy && !closing() {
                drop(s);
                std::thread::sleep(GATHER);
                s = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            }
            std::mem::take(&mut s.pending)
        };
        let (from, to) = (batch[0].lsn, batch[batch.len() - 1].lsn);
        buf.clear();
        for e in &batch {
            frame_into(e.lsn, &e.body, &mut buf);
        }
        let written = (|| -> Result<(), AuditError> {
            let len = segment.len;
            let full = len > 0 && len + buf.len() as u64 > shared.segment_bytes;
            // A busy log leaves a segment that grows by appends for a zero-filled one.
            let upgrade = !segment.zero_filled && len >= BUSY_BYTES && spare_ready(shared);
            if broken || full || upgrade {
                segment = SegmentWriter::create(&shared.dir, from, take_spare(shared))?;
                shared
                    .segments
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(from);
                broken = false;
            }
            segment.append(&buf)?;
            if !segment.zero_filled && segment.len >= BUSY_BYTES {
                want_spare(shared);
            }
            Ok(())
        })();
        match written {
            Ok(()) => {
                shared.settled.send_replace(to);
                // A full queue: the indexer reads these back from the segment instead.
                let _ = to_index.try_send(batch);
            }
            Err(e) => {
                tracing::error!(error = %e, records = batch.len(), "audit records could not be made durable");
                shared
                    .failures
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                segment.cut();
                broken = true;
                let mut lost = shared.lost.lock().unwrap_or_else(|p| p.into_inner());
                lost.push_back((from, to));
                if lost.len() > 256 {
                    lost.pop_front();
                }
                drop(lost);
                shared.settled.send_replace(to);
            }
        }
    }
}

/// The indexer thread: hand durable records to the index in LSN order (reading back from
/// the segments what the flusher could not queue), retry while the index is away, delete
/// segments once all their records are in.
fn indexer(
    shared: &Shared,
    index: &dyn AuditIndex,
    mut next: u64,
    batches: mpsc::Receiver<Vec<Entry>>,
) {
    let mut backoff = Duration::from_millis(50);
    let mut stopping = false;
    while !stopping {
        // The batches the flusher queued; when none come, what settled without being
        // queued (a full queue) is read back from the log.
        let (mut entries, last) = match batches.recv_timeout(INDEX_IDLE) {
            Ok(first) => {
                let mut entries = first;
                let until = std::time::Instant::now() + INDEX_GATHER;
                while entries.len() < INDEX_BATCH {
                    let wait = until.saturating_duration_since(std::time::Instant::now());
                    match batches.recv_timeout(wait) {
                        Ok(more) => entries.extend(more),
                        Err(_) => break,
                    }
                }
                let last = entries.last().map_or(0, |e| e.lsn);
                (entries, last)
            }
            Err(e) => {
                stopping = e == mpsc::RecvTimeoutError::Disconnected;
                (Vec::new(), *shared.settled.borrow())
            }
        };
        if last < next {
            continue;
        }
        // Failed writes are recorded before their batch settles, so before anything here.
        let lost_ranges: Vec<(u64, u64)> = shared
            .lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        let lost = |lsn: u64| lost_ranges.iter().any(|(a, b)| (*a..=*b).contains(&lsn));
        entries.retain(|e| e.lsn >= next);
        // What the flusher could not queue (a full queue) is read back from the log: the
        // index gets every record from `next` to `last`, but those whose write failed.
        if !gapless(&entries, next, last, &lost) {
            match read_range(&shared.dir, next, last + 1) {
                Ok(all) => entries = all,
                Err(e) => {
                    // Not handed over: read again when the next batch comes (or at a start).
                    tracing::error!(error = %e, "reading audit records back from the log failed");
                    continue;
                }
            }
            if !gapless(&entries, next, last, &lost) {
                tracing::error!(
                    from = next,
                    to = last,
                    "audit records are missing from the log; the index gets those that are there"
                );
            }
        }
        entries.retain(|e| !lost(e.lsn));
        if entries.is_empty() {
            next = last + 1;
            shared.indexed.send_replace(last);
            continue;
        }
        loop {
            match index.index(&shared.origin, &entries) {
                Ok(()) => {
                    backoff = Duration::from_millis(50);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, records = entries.len(), "indexing audit records failed; they wait in the log");
                    if shared.closing.load(Ordering::Relaxed) {
                        // They are indexed at the next start.
                        return;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        next = last + 1;
        // Pruned first: what `flush` waits for includes deleting the indexed segments.
        prune(shared, index, next);
        shared.indexed.send_replace(last);
    }
}

/// Whether `entries` hold every LSN from `next` to `last`, in order, but those `lost`.
fn gapless(entries: &[Entry], next: u64, last: u64, lost: &dyn Fn(u64) -> bool) -> bool {
    let mut want = next;
    for e in entries {
        while want < e.lsn && lost(want) {
            want += 1;
        }
        if e.lsn != want {
            return false;
        }
        want += 1;
    }
    while want <= last && lost(want) {
        want += 1;
    }
    want == last + 1
}

/// Delete the segments (not the one being written) whose every record is indexed.
fn prune(shared: &Shared, index: &dyn AuditIndex, next: u64) {
    let mut segs = shared.segments.lock().unwrap_or_else(|p| p.into_inner());
    if segs.len() > 1
        && segs[1] <= next
        && let Err(e) = index.sync(&shared.origin)
    {
        tracing::warn!(error = %e, "the audit index could not be made durable; its segments stay");
        return;
    }
    while segs.len() > 1 && segs[1] <= next {
        let path = shared.dir.join(segment_name(segs[0]));
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(error = %e, segment = %path.display(), "an indexed audit segment could not be deleted");
        }
        segs.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Batches of any size, written as whole blocks that rewrite the partial block they
        /// continue, read back as the same frames in order, with nothing but zeros after them.
        #[test]
        fn block_writes_read_back_as_the_frames_written(
            batches in prop::collection::vec(prop::collection::vec(1usize..6000, 1..5), 1..12),
            from_spare in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            if from_spare {
                std::fs::write(dir.path().join(SPARE), vec![0u8; 256 * 1024]).unwrap();
            }
            let mut w = SegmentWriter::create(dir.path(), 1, from_spare).unwrap();
            let mut lsn = 0u64;
            let mut want = Vec::new();
            for batch in &batches {
                let mut frames = Vec::new();
                for &size in batch {
                    lsn += 1;
                    let body = vec![b'a' + (lsn % 26) as u8; size];
                    frame_into(lsn, &body, &mut frames);
                    want.push((lsn, body));
                }
                w.append(&frames).unwrap();
            }
            let scan = scan_segment(&dir.path().join(segment_name(1)), 1).unwrap();
            prop_assert_eq!(scan.end, w.len);
            prop_assert_eq!(scan.trailing, 0);
            prop_assert_eq!(scan.records, want);
        }
    }
}
