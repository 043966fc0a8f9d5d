//! The audit trail's store path, measured without HTTP in front of it:
//!
//! 1. the durability point a `sync` request waits for, the local segment log (serialise,
//!    append, one synchronous write per gathered batch), from 16 concurrent clients, with the
//!    store's chain built behind it (`StoreSink` as its index), and how long the chain takes
//!    to catch up once they are done;
//! 2. side by side, appends straight through the store sink (`StoreSink`: serialise, chain,
//!    one transaction per batch), the path requests used to wait for, in batches of 8 (what
//!    16 concurrent clients gave that group commit) and of 1,000;
//! 3. fills the trail to N records (default 1,000,000), seals it with a signed digest, and
//!    times `tessera audit verify`'s check of the whole trail.
//!
//! `cargo run --release -p tessera-audit-trail --example audit_bench -- [N]` (SQLite in a
//! temporary directory, or the store `TESSERA_DATABASE_URL` names: give a PostgreSQL one a
//! fresh schema with `?options=-c%20search_path%3D…`).

use std::sync::Arc;
use std::time::Instant;
use tessera_audit::segment::{AuditIndex, SegmentLog};
use tessera_audit::{AuditRecord, AuditSink, Resource};
use tessera_audit_trail::{self as audit_trail, StoreSink};

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        event_version: "1.11",
        user_identity: serde_json::json!({"type": "AssumedRole",
            "principalId": "AROAEXAMPLE:access-grants-0b4e7a0e", "arn": "arn:aws:sts::111111111111:assumed-role/s3-access-grants-role/access-grants-0b4e7a0e",
            "accountId": "111111111111", "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                "arn": "arn:aws:iam::111111111111:role/s3-access-grants-role", "accountId": "111111111111",
                "userName": "s3-access-grants-role"}, "attributes": {"creationDate": "2026-12-02T14:00:00Z", "mfaAuthenticated": "false"}},
            "onBehalfOf": {"userId": "94482488-3041-7026-18f3-be45837cd0e4", "identityStoreArn": "arn:aws:identitystore::111111111111:identitystore/d-1234567890"}}),
        event_time: format!(
            "2026-12-02T{:02}:{:02}:{:02}Z",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60
        ),
        event_source: "s3.amazonaws.com".into(),
        event_name: "GetObject".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "aws-cli/2.22.0 md/Botocore#1.35.0".into(),
        error_code: None,
        error_message: None,
        request_parameters: serde_json::json!({"bucketName": "example-bucket", "key": format!("projects/red/{i}.csv")}),
        response_elements: serde_json::Value::Null,
        additional_event_data: serde_json::json!({"SignatureVersion": "SigV4", "bytesTransferredOut": 4096,
            "accessGrants": {"grantId": "3f2b6c1d-8e4a-4d7b-9f0c-1a2b3c4d5e6f", "grantScope": "s3://example-bucket/projects/red/*"}}),
        request_id: uuid::Uuid::now_v7().to_string(),
        event_id: format!("{:032x}", i ^ 0x5555),
        read_only: true,
        resources: vec![Resource {
            account_id: None,
            kind: "AWS::S3::Object".into(),
            arn: format!("arn:aws:s3:::example-bucket/projects/red/{i}.csv"),
        }],
        event_type: "AwsApiCall",
        management_event: false,
        recipient_account_id: "111111111111".into(),
        event_category: "Data",
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let url = std::env::var("TESSERA_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("tessera.db").display()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(tessera_test_support::migrated(&url));
    // 1. The segment log, 16 clients each waiting for its record to be durable.
    const CLIENTS: u64 = 16;
    const PER_CLIENT: u64 = 1000;
    let index = Arc::new(StoreSink::new(store.clone(), rt.handle().clone()));
    let (log, _) = SegmentLog::open(&dir.path().join("log"), index).unwrap();
    let log = Arc::new(log);
    let started = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..PER_CLIENT {
                        let lsn = log.append(&record(c * PER_CLIENT + i));
                        assert!(log.durable(lsn).await, "a record was not made durable");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let durable = started.elapsed();
    assert!(rt.block_on(log.flush(std::time::Duration::from_secs(120))));
    let caught_up = started.elapsed() - durable;
    let head = rt.block_on(store.audit_head()).unwrap().map_or(0, |h| h.0);
    assert_eq!(
        head as u64,
        CLIENTS * PER_CLIENT,
        "every durable record is in the store"
    );
    let total = (CLIENTS * PER_CLIENT) as f64;
    println!(
        "segment log, {CLIENTS} clients: {:>8.0} records/s durable, {:>5.0} µs per record per client; the store's chain caught up {:.0} ms after the last",
        total / durable.as_secs_f64(),
        durable.as_micros() as f64 / PER_CLIENT as f64,
        caught_up.as_secs_f64() * 1000.0
    );
    drop(log);

    // 2. Straight through the store sink.
    let sink = Arc::new(StoreSink::new(store.clone(), rt.handle().clone()));
    let next = std::cell::Cell::new(CLIENTS * PER_CLIENT);
    let batch = |size: u64, count: u64| {
        let started = Instant::now();
        for _ in 0..count {
            let from = next.get();
            let records: Vec<AuditRecord> = (from..from + size).map(record).collect();
            next.set(from + size);
            sink.write(&records).unwrap();
        }
        started.elapsed()
    };
    let small = batch(8, 2000);
    println!(
        "append, batches of 8:     {:>7.0} µs per batch, {:>8.0} records/s ({} store)",
        small.as_micros() as f64 / 2000.0,
        16_000.0 / small.as_secs_f64(),
        store.dialect()
    );
    let big = batch(1000, 20);
    println!(
        "append, batches of 1,000: {:>7.0} µs per batch, {:>8.0} records/s",
        big.as_micros() as f64 / 20.0,
        20_000.0 / big.as_secs_f64()
    );
    // What the segment log's indexer does behind a busy server: records already serialised
    // (their bodies as the log holds them) chained and appended with the log's cursor, in
    // batches of 256.
    const INDEXED: u64 = 100_000;
    let entries: Vec<tessera_audit::segment::Entry> = (0..INDEXED)
        .map(|i| {
            let r = record(next.get() + i);
            tessera_audit::segment::Entry {
                lsn: i + 1,
                body: serde_json::to_vec(&r).unwrap(),
                columns: tessera_audit::segment::Columns::of(&r),
            }
        })
        .collect();
    let started = Instant::now();
    for chunk in entries.chunks(256) {
        AuditIndex::index(sink.as_ref(), "bench", chunk).unwrap();
    }
    let took = started.elapsed();
    next.set(next.get() + INDEXED);
    println!(
        "index from a log, batches of 256: {:>5.1} µs per record, {:>8.0} records/s",
        took.as_micros() as f64 / INDEXED as f64,
        INDEXED as f64 / took.as_secs_f64()
    );
    let fill = n.saturating_sub(next.get()).div_ceil(1000);
    let took = batch(1000, fill);
    println!(
        "filled to {} records in {:.1} s",
        next.get(),
        took.as_secs_f64()
    );
    let master = tessera_crypto::MasterKey::generate();
    rt.block_on(async {
        let key = audit_trail::signing_key(store.as_ref(), &master)
            .await
            .unwrap();
        audit_trail::seal(store.as_ref(), &key).await.unwrap();
        let started = Instant::now();
        let report = audit_trail::verify(store.as_ref(), None, None)
            .await
            .unwrap();
        let took = started.elapsed();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        println!(
            "verify: {} records, {} digests in {:.2} s ({:.0} records/s)",
            report.records,
            report.digests,
            took.as_secs_f64(),
            report.records as f64 / took.as_secs_f64()
        );
    });
}
