//! Audit records and the port they leave through.
//!
//! Every request yields exactly one [`AuditRecord`], shaped like a CloudTrail event, handed to
//! an [`AuditSink`]. Records never hold secrets: services put `HIDDEN_DUE_TO_SECURITY_REASONS`
//! where a secret or token would be, and credentials never appear in `responseElements`.
//!
//! The request path never writes a record itself: it hands the record to an [`AuditQueue`], a
//! bounded channel drained by one writer thread that writes to the sink in batches. A full
//! queue makes requests wait for room (never drops a record), so every request still yields
//! exactly one record; [`AuditQueue::flush`] waits until everything submitted is written.
//!
//! The sinks here are deliberately simple ([`JsonLinesSink`] appends one JSON object per line
//! and flushes after each batch; [`MemorySink`] keeps records for tests). [`chain`] is the
//! tamper evidence (hash chain, signed digests, verification); the durable store-backed sink
//! and `tessera audit verify` build on it.

pub mod chain;
pub mod segment;
pub mod shape;

use serde::Serialize;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// What secrets are replaced with in audit records.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// One CloudTrail-shaped event.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    pub event_version: &'static str,
    pub user_identity: Value,
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    pub user_agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub request_parameters: Value,
    pub response_elements: Value,
    #[serde(skip_serializing_if = "Value::is_null", default)]
    pub additional_event_data: Value,
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub read_only: bool,
    pub resources: Vec<Resource>,
    pub event_type: &'static str,
    pub management_event: bool,
    pub recipient_account_id: String,
    pub event_category: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Resource {
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "ARN")]
    pub arn: String,
}

/// What a service tells the server about a request it handled, for the audit record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventDetails {
    /// Overrides the `userIdentity` the server derives from the authenticated caller (for
    /// unsigned calls such as `AssumeRoleWithWebIdentity`, whose identity is the token's).
    pub user_identity: Option<Value>,
    pub request_parameters: Value,
    pub response_elements: Value,
    pub resources: Vec<Resource>,
    pub read_only: bool,
    /// `additionalEventData` (null when there is none).
    pub additional_event_data: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit sink io: {0}")]
    Io(#[from] std::io::Error),
}

/// Where audit records are written (by the [`AuditQueue`]'s writer thread).
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Write a batch of records, in order. Durable sinks make the batch durable before
    /// returning.
    fn write(&self, records: &[AuditRecord]) -> Result<(), AuditError>;

    /// Write one record.
    fn record(&self, record: &AuditRecord) -> Result<(), AuditError> {
        self.write(std::slice::from_ref(record))
    }
}

/// When a request's record must be written, and what happens when it cannot be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPolicy {
    #[serde(default)]
    pub mode: AuditMode,
    #[serde(default)]
    pub on_failure: AuditFailure,
}

/// `sync` (the default): a response is sent only once its record is durably in the trail;
/// the records of concurrent requests share one commit (group commit), so throughput holds.
/// `async`: records are queued and written in batches just after their responses; a crash
/// loses at most the records still queued. `off`: nothing is recorded (benchmarks only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditMode {
    #[default]
    Sync,
    Async,
    /// No records at all: only for measuring what the trail costs. Never in production.
    Off,
}

/// `fail-closed` (the default): in `sync` mode, a request whose record cannot be written is
/// answered `InternalFailure` instead of its result. `fail-open`: it keeps its result, and the
/// failure is logged and counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditFailure {
    #[default]
    FailClosed,
    FailOpen,
}

#[derive(Debug)]
enum Msg {
    /// A record, and who waits to hear whether it was written.
    Record(Box<AuditRecord>, Option<tokio::sync::oneshot::Sender<bool>>),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Where requests hand their records: a sink behind a queue, or the local segment log.
#[derive(Debug, Clone)]
pub struct AuditQueue {
    front: Front,
}

#[derive(Debug, Clone)]
enum Front {
    /// A bounded channel drained by one writer thread that writes to a sink in batches.
    Channel {
        tx: tokio::sync::mpsc::Sender<Msg>,
        failures: std::sync::Arc<std::sync::atomic::AtomicU64>,
    },
    /// The segment log: durable on local disk first, indexed behind ([`segment`]).
    Log(std::sync::Arc<segment::SegmentLog>),
}

/// How many records a queue holds before submitters wait.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;

/// How long [`AuditQueue::flush`] waits for the segment log's index to catch up.
const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(15);

impl AuditQueue {
    /// The front of the segment log `log`.
    pub fn log(log: segment::SegmentLog) -> AuditQueue {
        AuditQueue {
            front: Front::Log(std::sync::Arc::new(log)),
        }
    }

    /// Start the writer thread for `sink`.
    pub fn start(sink: std::sync::Arc<dyn AuditSink>, capacity: usize) -> AuditQueue {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(capacity.max(1));
        let failures = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let failed = failures.clone();
        std::thread::Builder::new()
            .name("tessera-audit".into())
            .spawn(move || {
                let mut batch: Vec<AuditRecord> = Vec::new();
                let mut acks: Vec<tokio::sync::oneshot::Sender<bool>> = Vec::new();
                let mut waiting: Vec<tokio::sync::oneshot::Sender<()>> = Vec::new();
                while let Some(first) = rx.blocking_recv() {
                    let mut next = Some(first);
                    // Take everything already queued: one write (and flush) per batch.
                    while let Some(m) = next {
                        match m {
                            Msg::Record(r, ack) => {
                                batch.push(*r);
                                acks.extend(ack);
                            }
                            Msg::Flush(done) => waiting.push(done),
                        }
                        next = if batch.len() >= 1024 {
                            None
                        } else {
                            rx.try_recv().ok()
                        };
                    }
                    if !batch.is_empty() {
                        let written = match sink.write(&batch) {
                            Ok(()) => true,
                            Err(e) => {
                                failed.fetch_add(
                                    batch.len() as u64,
                                    std::sync::atomic::Ordering::Relaxed,
                                );
                                tracing::error!(error = %e, records = batch.len(), "audit records could not be written");
                                false
                            }
                        };
                        for ack in acks.drain(..) {
                            let _ = ack.send(written);
                        }
                        batch.clear();
                    }
                    for done in waiting.drain(..) {
                        let _ = done.send(());
                    }
                }
            })
            .expect("the audit writer thread starts");
        AuditQueue {
            front: Front::Channel { tx, failures },
        }
    }

    /// Hand over a record and wait until it is durable: `false` when it could not be made
    /// so (the sink or the log failed, or the writer has stopped).
    pub async fn submit_durable(&self, record: AuditRecord) -> bool {
        match &self.front {
            Front::Log(log) => {
                let lsn = log.append(&record);
                drop(record);
                log.durable(lsn).await
            }
            Front::Channel { tx, failures } => {
                let (ack, written) = tokio::sync::oneshot::channel();
                if tx
                    .send(Msg::Record(Box::new(record), Some(ack)))
                    .await
                    .is_err()
                {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::error!("audit writer has stopped; record lost");
                    return false;
                }
                written.await.unwrap_or(false)
            }
        }
    }

    /// Hand over a record without waiting for it to be durable (a full channel still makes
    /// the caller wait for room).
    pub async fn submit(&self, record: AuditRecord) {
        match &self.front {
            Front::Log(log) => {
                log.append(&record);
            }
            Front::Channel { tx, failures } => {
                if tx.send(Msg::Record(Box::new(record), None)).await.is_err() {
                    failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::error!("audit writer has stopped; record lost");
                }
            }
        }
    }

    /// Wait until every record submitted before this call is written: for the segment log,
    /// until it is in the index too (for at most 15 seconds; what is left is indexed later).
    pub async fn flush(&self) {
        match &self.front {
            Front::Log(log) => {
                if !log.flush(FLUSH_LIMIT).await {
                    tracing::warn!(
                        "the audit index has not caught up with the log; the records wait in the log"
                    );
                }
            }
            Front::Channel { tx, .. } => {
                let (done, wait) = tokio::sync::oneshot::channel();
                if tx.send(Msg::Flush(done)).await.is_ok() {
                    let _ = wait.await;
                }
            }
        }
    }

    /// Records that could not be written so far.
    pub fn failures(&self) -> u64 {
        match &self.front {
            Front::Log(log) => log.failures(),
            Front::Channel { failures, .. } => failures.load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}

/// Appends one JSON object per line to a file and flushes after each record.
#[derive(Debug)]
pub struct JsonLinesSink {
    file: Mutex<File>,
}

impl JsonLinesSink {
    pub fn open(path: &Path) -> Result<JsonLinesSink, AuditError> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(JsonLinesSink {
            file: Mutex::new(file),
        })
    }
}

impl AuditSink for JsonLinesSink {
    fn write(&self, records: &[AuditRecord]) -> Result<(), AuditError> {
        let mut lines = Vec::new();
        for r in records {
            serde_json::to_writer(&mut lines, r).expect("audit records serialise");
            lines.push(b'\n');
        }
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(&lines)?;
        f.flush()?;
        Ok(())
    }
}

/// Keeps records in memory (tests, and `tessera dev` introspection).
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<AuditRecord>>,
}

impl MemorySink {
    pub fn records(&self) -> Vec<AuditRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl AuditSink for MemorySink {
    fn write(&self, records: &[AuditRecord]) -> Result<(), AuditError> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(records);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditRecord {
        AuditRecord {
            event_version: "1.11",
            user_identity: serde_json::json!({"type": "Root", "accountId": "111111111111"}),
            event_time: "2026-01-01T00:00:00Z".into(),
            event_source: "iam.amazonaws.com".into(),
            event_name: "CreateRole".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: "test".into(),
            error_code: None,
            error_message: None,
            request_parameters: serde_json::json!({"roleName": "R"}),
            response_elements: Value::Null,
            additional_event_data: Value::Null,
            request_id: "r".into(),
            event_id: "e".into(),
            read_only: false,
            resources: vec![Resource {
                account_id: Some("111111111111".into()),
                kind: "AWS::IAM::Role".into(),
                arn: "arn:aws:iam::111111111111:role/R".into(),
            }],
            event_type: "AwsApiCall",
            management_event: true,
            recipient_account_id: "111111111111".into(),
            event_category: "Management",
        }
    }

    #[test]
    fn cloudtrail_field_names() {
        let v = serde_json::to_value(sample()).unwrap();
        for k in [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "requestParameters",
            "responseElements",
            "requestID",
            "eventID",
            "readOnly",
            "resources",
            "eventType",
            "managementEvent",
            "recipientAccountId",
            "eventCategory",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert!(v.get("errorCode").is_none());
        assert_eq!(v["resources"][0]["ARN"], "arn:aws:iam::111111111111:role/R");
    }

    #[tokio::test]
    async fn the_queue_writes_every_record_in_order() {
        let sink = std::sync::Arc::new(MemorySink::default());
        // A tiny queue: submitters wait for room rather than dropping records.
        let q = AuditQueue::start(sink.clone(), 2);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let q = q.clone();
            tasks.push(tokio::spawn(async move {
                let mut r = sample();
                r.request_id = format!("r{i}");
                q.submit(r).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        q.flush().await;
        let ids: std::collections::BTreeSet<String> =
            sink.records().into_iter().map(|r| r.request_id).collect();
        assert_eq!(ids.len(), 200, "every record written exactly once");
        assert_eq!(sink.records().len(), 200);
        assert_eq!(q.failures(), 0);
        let mut r = sample();
        r.request_id = "last".into();
        q.submit(r).await;
        q.flush().await;
        assert_eq!(sink.records().last().unwrap().request_id, "last");
    }

    #[test]
    fn json_lines_appends() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.jsonl");
        let s = JsonLinesSink::open(&p).unwrap();
        s.record(&sample()).unwrap();
        s.record(&sample()).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 2);
        for l in text.lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["eventName"], "CreateRole");
        }
    }
}
