//! The audit policy: in `sync` mode a response waits for its record; when the trail cannot be
//! written, `fail-closed` answers InternalFailure and `fail-open` keeps the result.

mod common;

use common::*;
use std::sync::Arc;
use std::time::SystemTime;
use tessera_audit::{AuditFailure, AuditMode, AuditPolicy};

async fn caller_identity(f: &Fixture) -> Reply {
    send_from(
        f,
        signed(
            f,
            "sts",
            form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]),
            SystemTime::now(),
            &[],
        ),
        "203.0.113.9:5000".parse().unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_mode_records_before_it_answers() {
    let sink = Arc::new(tessera_audit::MemorySink::default());
    let f = fixture_with_audit(sink.clone(), AuditPolicy::default()).await;
    let r = caller_identity(&f).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // No flush: the record was written before the response was.
    let records = sink.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event_name, "GetCallerIdentity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_trail_fails_requests_closed() {
    let f = fixture_with_audit(Arc::new(BrokenSink), AuditPolicy::default()).await;
    let r = caller_identity(&f).await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.code(), "InternalFailure", "{}", r.body);
    assert!(
        !r.body.contains("<Arn>"),
        "no result leaves unrecorded: {}",
        r.body
    );
    assert_eq!(f.app.audit.failures(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_keeps_the_result() {
    let policy = AuditPolicy {
        mode: AuditMode::Sync,
        on_failure: AuditFailure::FailOpen,
    };
    let f = fixture_with_audit(Arc::new(BrokenSink), policy).await;
    let r = caller_identity(&f).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(f.app.audit.failures(), 1);
    // Async mode never waits, so it never fails the request either.
    let policy = AuditPolicy {
        mode: AuditMode::Async,
        on_failure: AuditFailure::FailClosed,
    };
    let f = fixture_with_audit(Arc::new(BrokenSink), policy).await;
    assert_eq!(caller_identity(&f).await.status, 200);
}
