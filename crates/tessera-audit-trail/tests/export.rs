//! The audit export follows the store: hourly JSON Lines files and digest files, resumed
//! after a crash without duplicates or losses.

use tessera_audit_trail::Exporter;
use tessera_store::{AuditDigestRow, AuditRow};

fn row(seq: i64, time: &str) -> AuditRow {
    AuditRow {
        seq,
        event_time: time.into(),
        event_source: "s3.amazonaws.com".into(),
        event_name: "GetObject".into(),
        principal_arn: "arn:aws:iam::111111111111:root".into(),
        on_behalf_of: None,
        request_id: format!("req-{seq}"),
        body: format!(r#"{{"eventTime":"{time}","requestID":"req-{seq}"}}"#),
        prev_hash: "00".repeat(32),
        hash: format!("{seq:064x}"),
    }
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn export_splits_by_hour_resumes_after_a_crash_and_copies_digests() {
    let dir = tempfile::tempdir().unwrap();
    let store = tessera_test_support::sqlite(dir.path(), "tessera.db").await;
    let out = dir.path().join("export");
    let exporter = Exporter::new(out.clone());
    store
        .append_audit(&[
            row(1, "2026-12-02T13:59:59Z"),
            row(2, "2026-12-02T14:00:00Z"),
            row(3, "2026-12-02T14:30:00Z"),
        ])
        .await
        .unwrap();
    assert_eq!(exporter.run_once(store.as_ref()).await.unwrap(), 3);
    let thirteen = exporter.records_dir().join("2026-12-02T13.jsonl");
    let fourteen = exporter.records_dir().join("2026-12-02T14.jsonl");
    assert_eq!(lines(&thirteen).len(), 1);
    assert_eq!(lines(&fourteen).len(), 2);
    // Only the owner may read the trail: the export's directories and files (the data
    // directory and database are the server's: `tessera-server/tests/setup.rs`).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o700);
        assert_eq!(mode(&exporter.records_dir()), 0o700);
        assert_eq!(mode(&exporter.digests_dir()), 0o700);
        assert_eq!(mode(&thirteen), 0o600);
        assert_eq!(mode(&out.join("position")), 0o600);
    }
    // Nothing new: nothing written again.
    assert_eq!(exporter.run_once(store.as_ref()).await.unwrap(), 0);

    // A crash mid-round: the position names the length to return to, and the file has
    // part of a round's lines beyond it.
    let position = out.join("position");
    let mut p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&position).unwrap()).unwrap();
    let len = std::fs::metadata(&fourteen).unwrap().len();
    p["pending"] = serde_json::json!({"2026-12-02T14.jsonl": len});
    std::fs::write(&position, p.to_string()).unwrap();
    let mut partial = std::fs::read(&fourteen).unwrap();
    partial.extend_from_slice(br#"{"eventTime":"2026-12-02T14:45:00Z","requestID":"req-4"#);
    std::fs::write(&fourteen, partial).unwrap();

    store
        .append_audit(&[
            row(4, "2026-12-02T14:45:00Z"),
            row(5, "2026-12-02T15:00:01Z"),
        ])
        .await
        .unwrap();
    store
        .put_audit_digest(&AuditDigestRow {
            digest_seq: 1,
            end_seq: 5,
            body: r#"{"digest":1}"#.into(),
        })
        .await
        .unwrap();
    assert_eq!(exporter.run_once(store.as_ref()).await.unwrap(), 2);
    let fourteen_lines = lines(&fourteen);
    assert_eq!(fourteen_lines.len(), 3, "{fourteen_lines:?}");
    for (line, seq) in fourteen_lines.iter().zip([2, 3, 4]) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["requestID"], format!("req-{seq}"));
    }
    assert_eq!(
        lines(&exporter.records_dir().join("2026-12-02T15.jsonl")).len(),
        1
    );
    assert_eq!(
        std::fs::read_to_string(exporter.digests_dir().join("000000000001.json")).unwrap(),
        r#"{"digest":1}"#
    );
}
