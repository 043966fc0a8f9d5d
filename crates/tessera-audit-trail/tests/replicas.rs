//! Two servers (replicas) sharing one store, each with its own local audit log, append at the
//! same time: the store keeps one merged chain with every acknowledged record exactly once,
//! `tessera audit verify` finds nothing wrong with it, and each log reports all its records in
//! the trail.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tessera_audit::AuditRecord;
use tessera_audit::segment::SegmentLog;
use tessera_audit_trail::{self as audit_trail, StoreSink};

const CLIENTS: u64 = 6;
const PER_CLIENT: u64 = 40;

fn record(replica: &str, i: u64) -> AuditRecord {
    AuditRecord {
        event_version: "1.11",
        user_identity: serde_json::json!({"type": "Root", "principalId": "111111111111",
            "arn": "arn:aws:iam::111111111111:root", "accountId": "111111111111"}),
        event_time: "2026-12-07T12:00:00Z".into(),
        event_source: "s3.amazonaws.com".into(),
        event_name: "GetObject".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "replicas-test".into(),
        error_code: None,
        error_message: None,
        request_parameters: serde_json::json!({"bucketName": "b", "key": format!("{replica}/{i}")}),
        response_elements: serde_json::Value::Null,
        additional_event_data: serde_json::Value::Null,
        request_id: format!("{replica}-{i}"),
        event_id: uuid::Uuid::new_v4().to_string(),
        read_only: true,
        resources: Vec::new(),
        event_type: "AwsApiCall",
        management_event: false,
        recipient_account_id: "111111111111".into(),
        event_category: "Data",
    }
}

#[test]
fn two_replicas_logs_merge_into_one_verifiable_chain() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Each replica opens the database on its own, as two processes would.
    let stores = [
        rt.block_on(tessera_test_support::sqlite(dir.path(), "tessera.db")),
        rt.block_on(tessera_test_support::sqlite(dir.path(), "tessera.db")),
    ];
    let logs: Vec<Arc<SegmentLog>> = ["a", "b"]
        .iter()
        .zip(&stores)
        .map(|(name, store)| {
            let index = Arc::new(StoreSink::new(store.clone(), rt.handle().clone()));
            let (log, _) = SegmentLog::open(&dir.path().join(name), index).unwrap();
            Arc::new(log)
        })
        .collect();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (name, log) in ["a", "b"].into_iter().zip(&logs) {
            for c in 0..CLIENTS {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..PER_CLIENT {
                        let lsn = log.append(&record(name, c * PER_CLIENT + i));
                        assert!(log.durable(lsn).await, "acknowledged as durable");
                    }
                }));
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        for log in &logs {
            assert!(log.flush(Duration::from_secs(30)).await, "indexed");
        }
    });
    let total = 2 * CLIENTS * PER_CLIENT;
    let store = stores[0].as_ref();
    let rows = rt
        .block_on(store.audit_range(1, total as i64 + 10))
        .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "one chain, no gaps"
    );
    let ids: HashSet<&str> = rows.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids.len() as u64, total, "every record exactly once");
    for name in ["a", "b"] {
        for i in 0..CLIENTS * PER_CLIENT {
            assert!(
                ids.contains(format!("{name}-{i}").as_str()),
                "{name}-{i} is in the trail"
            );
        }
    }
    let report = rt.block_on(audit_trail::verify(store, None, None)).unwrap();
    assert_eq!(report.records, total);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    // Each log's records are all in the trail (the indexed segments may be gone already).
    for name in ["a", "b"] {
        let log = rt
            .block_on(audit_trail::verify_log(store, &dir.path().join(name)))
            .unwrap();
        assert!(log.problems.is_empty(), "{name}: {:?}", log.problems);
        assert_eq!(log.waiting, 0, "{name}: nothing waits to be indexed");
        assert_eq!(log.indexed, log.records, "{name}");
    }
    for log in logs {
        Arc::into_inner(log).expect("the tasks are done").close();
    }
}
