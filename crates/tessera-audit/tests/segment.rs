//! The segment log: records are durable in the log before `durable` returns, reach the index
//! in order and exactly once (across a crash that left them only in the log, and a torn
//! write at the end), and the frames reject damage.

use proptest::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_audit::segment::{self, AuditIndex, Entry, SegmentLog};
use tessera_audit::{AuditError, AuditRecord};

/// An index in memory: its entries and cursor per origin; it refuses while `down`.
#[derive(Debug, Default)]
struct MemoryIndex {
    entries: Mutex<Vec<Entry>>,
    cursor: Mutex<std::collections::HashMap<String, u64>>,
    down: AtomicBool,
    syncs: std::sync::atomic::AtomicU64,
}

impl AuditIndex for MemoryIndex {
    fn indexed(&self, origin: &str) -> Result<u64, AuditError> {
        Ok(*self.cursor.lock().unwrap().get(origin).unwrap_or(&0))
    }

    fn index(&self, origin: &str, entries: &[Entry]) -> Result<(), AuditError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(AuditError::Io(std::io::Error::other("the index is down")));
        }
        let mut cursor = self.cursor.lock().unwrap();
        let at = cursor.entry(origin.to_owned()).or_insert(0);
        assert_eq!(entries[0].lsn, *at + 1, "entries follow the cursor");
        for w in entries.windows(2) {
            assert_eq!(w[1].lsn, w[0].lsn + 1, "entries are consecutive");
        }
        *at = entries.last().unwrap().lsn;
        self.entries.lock().unwrap().extend_from_slice(entries);
        Ok(())
    }

    fn sync(&self, _origin: &str) -> Result<(), AuditError> {
        if self.down.load(Ordering::Relaxed) {
            return Err(AuditError::Io(std::io::Error::other("the index is down")));
        }
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl MemoryIndex {
    fn request_ids(&self) -> Vec<String> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.columns.request_id.clone())
            .collect()
    }
}

fn record(i: usize) -> AuditRecord {
    AuditRecord {
        event_version: "1.11",
        user_identity: serde_json::json!({
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111111111111:assumed-role/R/s",
            "onBehalfOf": {"userId": "u-1"},
        }),
        event_time: "2026-12-07T00:00:00Z".into(),
        event_source: "s3.amazonaws.com".into(),
        event_name: "GetObject".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "test".into(),
        error_code: None,
        error_message: None,
        request_parameters: serde_json::json!({"key": format!("k{i}")}),
        response_elements: serde_json::Value::Null,
        additional_event_data: serde_json::Value::Null,
        request_id: format!("req-{i}"),
        event_id: format!("ev-{i}"),
        read_only: true,
        resources: Vec::new(),
        event_type: "AwsApiCall",
        management_event: false,
        recipient_account_id: "111111111111".into(),
        event_category: "Data",
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn concurrent_records_are_durable_then_indexed_in_order_with_their_columns() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(MemoryIndex::default());
    let (log, recovery) = SegmentLog::open(dir.path(), index.clone()).unwrap();
    assert_eq!(recovery, segment::Recovery::default());
    let log = Arc::new(log);
    runtime().block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    let lsn = log.append(&record(t * 1000 + i));
                    assert!(log.durable(lsn).await);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(log.flush(Duration::from_secs(10)).await);
    });
    let entries = index.entries.lock().unwrap().clone();
    assert_eq!(entries.len(), 400);
    let first = &entries[0];
    let parsed: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(parsed["requestID"], first.columns.request_id);
    assert_eq!(first.columns.on_behalf_of.as_deref(), Some("u-1"));
    assert_eq!(
        first.columns.principal_arn,
        "arn:aws:sts::111111111111:assumed-role/R/s"
    );
    assert_eq!(
        segment::Columns::of_body(&first.body).as_ref(),
        Some(&first.columns)
    );
    let ids: std::collections::HashSet<String> = index.request_ids().into_iter().collect();
    assert_eq!(ids.len(), 400, "every record once");
}

#[test]
fn records_only_in_the_log_reach_the_index_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(MemoryIndex::default());
    // Ten records indexed, then the index goes away: twenty more are durable in the log
    // only (as when the process dies between the log and the store).
    let (log, _) = SegmentLog::open(dir.path(), index.clone()).unwrap();
    let rt = runtime();
    rt.block_on(async {
        for i in 0..10 {
            assert!(log.durable(log.append(&record(i))).await);
        }
        assert!(log.flush(Duration::from_secs(10)).await);
        index.down.store(true, Ordering::Relaxed);
        for i in 10..30 {
            assert!(log.durable(log.append(&record(i))).await);
        }
        assert!(!log.flush(Duration::from_millis(200)).await);
    });
    log.close();
    assert_eq!(index.request_ids().len(), 10);
    index.down.store(false, Ordering::Relaxed);
    let (log, recovery) = SegmentLog::open(dir.path(), index.clone()).unwrap();
    assert_eq!(recovery.caught_up, 20);
    let ids = index.request_ids();
    let expected: Vec<String> = (0..30).map(|i| format!("req-{i}")).collect();
    assert_eq!(ids, expected, "each record exactly once, in order");
    // The log goes on after the last LSN it had.
    rt.block_on(async {
        assert!(log.durable(log.append(&record(30))).await);
        assert!(log.flush(Duration::from_secs(10)).await);
    });
    assert_eq!(index.entries.lock().unwrap().last().unwrap().lsn, 31);
    log.close();
    // A third start finds nothing to do: the index has it all.
    let (log, recovery) = SegmentLog::open(dir.path(), index.clone()).unwrap();
    assert_eq!(recovery.caught_up, 0);
    assert_eq!(index.request_ids().len(), 31);
    log.close();
}

/// A closed log holding `n` durable records that its index (down) never took.
fn unindexed_log(n: usize) -> (tempfile::TempDir, Arc<MemoryIndex>) {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(MemoryIndex::default());
    index.down.store(true, Ordering::Relaxed);
    let (log, _) = SegmentLog::open(dir.path(), index.clone()).unwrap();
    runtime().block_on(async {
        for i in 0..n {
            assert!(log.durable(log.append(&record(i))).await);
        }
    });
    log.close();
    (dir, index)
}

#[test]
fn a_torn_write_at_the_end_is_cut_and_the_records_before_it_kept() {
    let (dir, index) = unindexed_log(5);
    let (first, path, _) = segment::scan_log(dir.path()).unwrap().pop().unwrap();
    // Half a frame, as a crash in the middle of a write leaves it.
    let mut half = Vec::new();
    half.extend_from_slice(&300u32.to_le_bytes());
    half.extend_from_slice(&[7u8; 40]);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&half);
    std::fs::write(&path, &bytes).unwrap();
    let scan = segment::scan_segment(&path, first).unwrap();
    assert_eq!(scan.records.len(), 5);
    assert!(scan.stopped.is_some() && scan.trailing > 0);
    index.down.store(false, Ordering::Relaxed);
    let (log, recovery) = SegmentLog::open(dir.path(), index.clone()).unwrap();
    // The bytes of the torn frame that are not zeros.
    assert_eq!(recovery.torn_bytes, 42);
    assert_eq!(recovery.caught_up, 5);
    log.close();
}

#[test]
fn damage_inside_a_segment_stops_the_scan_there() {
    let (dir, _index) = unindexed_log(3);
    let (first, path, scan) = segment::scan_log(dir.path()).unwrap().pop().unwrap();
    assert_eq!(scan.records.len(), 3);
    let mut bytes = std::fs::read(&path).unwrap();
    // A flipped bit in the second record's body.
    let second = 16 + scan.records[0].1.len() + 16 + 5;
    bytes[second] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let scan = segment::scan_segment(&path, first).unwrap();
    assert_eq!(scan.records.len(), 1);
    assert!(scan.stopped.unwrap().contains("checksum"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the bodies, a segment reads back exactly the frames written; cut anywhere,
    /// it reads back a prefix of them and reports the rest as trailing bytes.
    #[test]
    fn frames_round_trip_and_cuts_give_a_prefix(
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..20),
        cut in any::<proptest::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            segment::frame_into(100 + i as u64, b, &mut bytes);
        }
        let path = dir.path().join("x.seg");
        std::fs::write(&path, &bytes).unwrap();
        let scan = segment::scan_segment(&path, 100).unwrap();
        let read: Vec<Vec<u8>> = scan.records.iter().map(|(_, b)| b.clone()).collect();
        prop_assert_eq!(&read, &bodies);
        prop_assert!(scan.stopped.is_none());
        let at = cut.index(bytes.len());
        std::fs::write(&path, &bytes[..at]).unwrap();
        let scan = segment::scan_segment(&path, 100).unwrap();
        prop_assert!(scan.records.len() <= bodies.len());
        for (i, (lsn, b)) in scan.records.iter().enumerate() {
            prop_assert_eq!(*lsn, 100 + i as u64);
            prop_assert_eq!(b, &bodies[i]);
        }
        prop_assert!(scan.end <= at as u64);
    }
}

fn small(segment_bytes: u64) -> segment::LogOptions {
    segment::LogOptions {
        segment_bytes,
        ..Default::default()
    }
}

/// Small segments: the log moves to a new one when a segment is full (zero-filled ahead by
/// the preparer), and deletes the old ones only once the index has them durably.
#[test]
fn full_segments_are_deleted_once_indexed_durably() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(MemoryIndex::default());
    let size = 16 * 1024;
    let (log, _) = SegmentLog::open_with(dir.path(), index.clone(), small(size)).unwrap();
    let seg_count = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".seg")
            })
            .count()
    };
    let rt = runtime();
    rt.block_on(async {
        // About 700 bytes a record: ~20 a segment.
        for i in 0..200 {
            assert!(log.durable(log.append(&record(i))).await);
        }
        assert!(log.flush(Duration::from_secs(10)).await);
    });
    assert_eq!(index.request_ids().len(), 200);
    // Pruning runs after each handover; the last one may still hold one full segment.
    assert!(seg_count() <= 2, "{} segments left", seg_count());
    assert!(
        index.syncs.load(Ordering::Relaxed) > 0,
        "synced before deleting"
    );
    // The spare in use is zero-filled to the segment size.
    let spare = dir.path().join("spare");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !spare.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::metadata(&spare).unwrap().len(), size);
    // While the index cannot sync, full segments stay.
    index.down.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for i in 200..300 {
            assert!(log.durable(log.append(&record(i))).await);
        }
    });
    assert!(seg_count() >= 4, "{} segments", seg_count());
    log.close();
    index.down.store(false, Ordering::Relaxed);
    let (log, recovery) = SegmentLog::open_with(dir.path(), index.clone(), small(size)).unwrap();
    assert_eq!(recovery.caught_up, 100);
    assert_eq!(
        recovery.torn_bytes, 0,
        "zeros after the last record are not a torn write"
    );
    assert_eq!(index.request_ids().len(), 300);
    assert_eq!(seg_count(), 1);
    log.close();
}

/// A queue of one batch: the indexer reads back from the log what the flusher could not
/// queue, and the index still gets every record, once and in order.
#[test]
fn what_the_queue_cannot_hold_is_read_back_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(MemoryIndex::default());
    let options = segment::LogOptions {
        segment_bytes: 64 * 1024,
        queued_batches: 1,
    };
    let (log, _) = SegmentLog::open_with(dir.path(), index.clone(), options).unwrap();
    let log = Arc::new(log);
    runtime().block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..100 {
                        assert!(log.durable(log.append(&record(t * 1000 + i))).await);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert!(log.flush(Duration::from_secs(10)).await);
    });
    // MemoryIndex checks that each hand-over follows the cursor without a gap.
    let lsns: Vec<u64> = index
        .entries
        .lock()
        .unwrap()
        .iter()
        .map(|e| e.lsn)
        .collect();
    assert_eq!(lsns, (1..=800).collect::<Vec<u64>>());
    let ids: std::collections::HashSet<String> = index.request_ids().into_iter().collect();
    assert_eq!(ids.len(), 800);
}
