//! The audit trail: chained in the store and sealed by signed digests, so that `tessera
//! audit verify` names every edit, deletion and swap; signing keys rotate; and after a
//! `kill -9` under load every answered request has its record (SQLite and PostgreSQL).

use crate::support::{Cli, ROOT, python};
use std::path::Path;
use std::process::Command;
use tessera_testkit::{DevServer, tessera_command};

/// Copy a (stopped) server's data directory.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Run `script` with Python's sqlite3 on a stopped server's database (`c` is the connection,
/// committed after the script); returns what the script printed.
fn sqlite_script(data_dir: &Path, script: &str) -> String {
    let out = Command::new(python())
        .arg("-c")
        .arg(format!(
            "import sqlite3\nc = sqlite3.connect({:?})\n{script}\nc.commit()",
            data_dir.join("tessera.db").display().to_string()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sqlite script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tessera args --data-dir dir` with `envs`: (exit success, stdout).
fn tessera_on(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(tessera_testkit::tessera_bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `tessera audit verify` on `dir`: (exit success, stdout).
fn audit_verify(dir: &Path) -> (bool, String) {
    tessera_on(dir, &["audit", "verify"], &[])
}

/// Tamper tests: the audit trail is chained in the store and sealed by a signed digest at
/// each shutdown; `tessera audit verify` passes on the untouched trail and names each edit,
/// deletion, swap and removed digest (exit non-zero).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_detects_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Three runs, so three shutdown digests.
    for _ in 0..3 {
        let mut server = DevServer::start(&data);
        let root = server.account(ROOT).clone();
        let cfg = server
            .sdk_config(&root.access_key_id, &root.secret_access_key)
            .await;
        let sts = aws_sdk_sts::Client::new(&cfg);
        for _ in 0..4 {
            sts.get_caller_identity().send().await.unwrap();
        }
        assert!(server.stop());
    }
    let (ok, out) = audit_verify(&data);
    assert!(ok, "{out}");
    assert!(out.contains("12 records, 3 digests checked"), "{out}");
    // Ranged checks: a window holding everything, and one after the last record.
    for (range, want) in [
        (
            ["2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"],
            "12 records",
        ),
        (
            ["2100-01-01T00:00:00Z", "2100-01-02T00:00:00Z"],
            "0 records",
        ),
    ] {
        let (ok, text) = tessera_on(
            &data,
            &["audit", "verify", "--from", range[0], "--to", range[1]],
            &[],
        );
        assert!(ok, "{range:?}: {text}");
        assert!(text.contains(want), "{range:?}: {text}");
    }

    let tamper = |name: &str, script: &str| -> String {
        let copy = dir.path().join(name);
        copy_dir(&data, &copy);
        sqlite_script(&copy, script);
        let (ok, out) = audit_verify(&copy);
        assert!(!ok, "{name}: verify passed on a tampered trail:\n{out}");
        out
    };
    // One byte of one record.
    let out = tamper(
        "edited",
        "c.execute(\"UPDATE audit_records SET body = replace(body, 'GetCallerIdentity', 'GetCallerIdentitz') WHERE seq = 6\")",
    );
    assert!(
        out.contains("FAIL: record 6 was modified: its hash does not match its contents"),
        "{out}"
    );
    // A deleted record.
    let out = tamper(
        "deleted",
        "c.execute('DELETE FROM audit_records WHERE seq = 7')",
    );
    assert!(
        out.contains("FAIL: records 7..=7 are missing (gap after record 6)"),
        "{out}"
    );
    // Two records swapped (every column but the sequence number).
    let out = tamper(
        "swapped",
        "cols = 'event_time, event_source, event_name, principal_arn, on_behalf_of, request_id, body, prev_hash, hash'\n\
         a = c.execute(f'SELECT {cols} FROM audit_records WHERE seq = 3').fetchone()\n\
         b = c.execute(f'SELECT {cols} FROM audit_records WHERE seq = 4').fetchone()\n\
         sets = ', '.join(f'{k.strip()} = ?' for k in cols.split(','))\n\
         c.execute(f'UPDATE audit_records SET {sets} WHERE seq = 3', b)\n\
         c.execute(f'UPDATE audit_records SET {sets} WHERE seq = 4', a)",
    );
    assert!(out.contains("FAIL: record 3 "), "{out}");
    assert!(out.contains("FAIL: record 4 "), "{out}");
    // A removed digest.
    let out = tamper(
        "digest",
        "c.execute('DELETE FROM audit_digests WHERE digest_seq = 2')",
    );
    assert!(
        out.contains("FAIL: digests after digest 1 are missing (next is 3)"),
        "{out}"
    );
    // Records deleted at the end of the log: the last digest sealed them.
    let out = tamper(
        "truncated",
        "c.execute('DELETE FROM audit_records WHERE seq > 10')",
    );
    assert!(
        out.contains("FAIL: digest 3 seals records up to 12, but the log ends at 10"),
        "{out}"
    );
    // The columns queries filter on, each edited alone (the chained body untouched): an
    // edited event name would hide a read from `audit query --event GetObject`.
    for (column, value) in [
        ("event_name", "'ListBuckets'"),
        ("event_time", "'2001-01-01T00:00:00Z'"),
        ("event_source", "'iam.amazonaws.com'"),
        (
            "principal_arn",
            "'arn:aws:iam::111111111111:user/someone-else'",
        ),
        ("on_behalf_of", "'a-user-id'"),
        ("request_id", "'another-request'"),
    ] {
        let out = tamper(
            &format!("column-{column}"),
            &format!("c.execute(\"UPDATE audit_records SET {column} = {value} WHERE seq = 5\")"),
        );
        assert!(
            out.contains("FAIL: record 5: its ")
                && out.contains("column does not match the record"),
            "{column}: {out}"
        );
    }
}

/// A rotated audit signing key: the digests before and after verify, each with the key that
/// signed it.
#[test]
fn audit_signing_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let call = |server: &DevServer| {
        Cli::root(server).out(&["sts", "get-caller-identity"]);
    };
    let mut server = DevServer::start(&data);
    call(&server);
    assert!(server.stop());
    let out = tessera_command(&["audit", "rotate-key", "--data-dir", data.to_str().unwrap()]);
    let fingerprint = out
        .trim()
        .strip_prefix("new audit signing key ")
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    let mut server = DevServer::start(&data);
    call(&server);
    assert!(server.stop());
    // Both digests verify, each with the key that signed it.
    let (ok, out) = audit_verify(&data);
    assert!(ok, "{out}");
    assert!(out.contains("2 digests checked"), "{out}");
    let signers = sqlite_script(
        &data,
        "import json\nfor (b,) in c.execute('SELECT body FROM audit_digests ORDER BY digest_seq'): print(json.loads(b)['keyFingerprint'])",
    );
    let signers: Vec<&str> = signers.lines().collect();
    assert_eq!(signers.len(), 2, "{signers:?}");
    assert_ne!(signers[0], signers[1]);
    assert_eq!(signers[1], fingerprint);
}

/// A fresh PostgreSQL schema on the test command's server (`None`, to skip, only when
/// `TESSERA_SKIP_POSTGRES=1` says so).
fn postgres_schema(prefix: &str) -> Option<String> {
    let base = tessera_test_support::postgres_url()?;
    Some(tessera_testkit::fresh_postgres_schema(&base, prefix))
}

/// Crash test for the audit trail: `kill -9` while requests are in flight; after restart the
/// chain verifies and every request that got a success response has its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_survives_kill_9_with_every_acknowledged_record() {
    audit_crash(None).await;
}

/// The same on PostgreSQL (a fresh schema): the trail, its digests and `tessera audit verify`
/// against the scale-out store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_on_postgres_survives_kill_9() {
    if let Some(url) = postgres_schema("e2e_audit") {
        audit_crash(Some(url)).await;
    }
}

/// A crash between the audit log and the store: the store refuses the trail's rows (a
/// trigger), so answered requests' records are durable in the server's local log only; the
/// server is killed with `kill -9`, the store takes rows again, and after a restart every
/// answered request's record is in the trail exactly once and `tessera audit verify` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_only_in_the_local_log_reach_the_trail_once_after_kill_9() {
    log_crash(None).await;
}

/// The same on PostgreSQL (a fresh schema).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_only_in_the_local_log_reach_the_postgres_trail_once_after_kill_9() {
    if let Some(url) = postgres_schema("e2e_log") {
        log_crash(Some(url)).await;
    }
}

/// Make the store refuse (`hold`) or take again the trail's rows: a trigger on
/// `audit_records` in the data directory's SQLite database, or in the PostgreSQL schema
/// `database` names.
fn hold_trail(data: &Path, database: Option<&str>, hold: bool) {
    match (database, hold) {
        (None, true) => {
            sqlite_script(
                data,
                "c.execute(\"CREATE TRIGGER held BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'held for a test'); END\")",
            );
        }
        (None, false) => {
            sqlite_script(data, "c.execute('DROP TRIGGER held')");
        }
        (Some(url), hold) => {
            let sql = if hold {
                "CREATE FUNCTION held() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'held for a test'; END $$; \
                 CREATE TRIGGER held BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION held()"
            } else {
                "DROP TRIGGER held ON audit_records"
            };
            let out = Command::new("psql")
                .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .output()
                .expect("psql");
            assert!(
                out.status.success(),
                "psql failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

async fn log_crash(database: Option<String>) {
    use aws_sdk_sts::operation::RequestId;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let envs: Vec<(&str, &str)> = database
        .as_deref()
        .map(|u| vec![("TESSERA_DATABASE_URL", u)])
        .unwrap_or_default();
    let mut server = DevServer::start_env(&data, &[], &envs);
    let root = server.account(ROOT).clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let sts = aws_sdk_sts::Client::new(&cfg);
    let before = sts.get_caller_identity().send().await.unwrap();
    let before = before.request_id().unwrap().to_owned();
    let count = |rows: &str, id: &str| {
        rows.lines()
            .filter(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["requestID"] == id)
            .count()
    };
    let trail = || {
        let (ok, rows) = tessera_on(
            &data,
            &["audit", "query", "--json", "--limit", "100000"],
            &envs,
        );
        assert!(ok);
        rows
    };
    // The trail is built just behind the log: wait for the first record to reach it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&trail(), &before) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the trail never took the first record"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    hold_trail(&data, database.as_deref(), true);
    let mut acked = Vec::new();
    for _ in 0..40 {
        let out = sts.get_caller_identity().send().await.unwrap();
        acked.push(out.request_id().unwrap().to_owned());
    }
    // Give the indexer time to try (and fail) to hand these over.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let rows = trail();
    assert!(
        acked.iter().all(|id| count(&rows, id) == 0),
        "the store refused the rows, yet some are in the trail"
    );
    server.kill9();
    hold_trail(&data, database.as_deref(), false);
    // The trail is sound; what it lacks waits in the local log, which verify reads too.
    let (ok, out) = tessera_on(&data, &["audit", "verify"], &envs);
    assert!(ok, "{out}");
    assert!(out.contains("40 waiting to be indexed"), "{out}");
    let mut again = DevServer::start_env(&data, &[], &envs);
    assert!(again.stop());
    let (ok, out) = tessera_on(&data, &["audit", "verify"], &envs);
    assert!(ok, "{out}");
    assert!(out.contains("audit trail verified"), "{out}");
    assert!(out.contains(" 0 waiting to be indexed"), "{out}");
    let (ok, rows) = tessera_on(
        &data,
        &["audit", "query", "--json", "--limit", "100000"],
        &envs,
    );
    assert!(ok);
    for id in acked.iter().chain([&before]) {
        assert_eq!(
            count(&rows, id),
            1,
            "request {id} is in the trail once:\n{rows}"
        );
    }
}

/// `kill -9` under load; after a restart `tessera audit verify` passes and every request
/// that was answered has its record. `database`: a PostgreSQL URL, else the data
/// directory's SQLite.
async fn audit_crash(database: Option<String>) {
    use aws_sdk_sts::operation::RequestId;
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let envs: Vec<(&str, &str)> = database
        .as_deref()
        .map(|u| vec![("TESSERA_DATABASE_URL", u)])
        .unwrap_or_default();
    let mut server = DevServer::start_env(&data, &[], &envs);
    let root = server.account(ROOT).clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let sts = aws_sdk_sts::Client::new(&cfg);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (sts, acked) = (sts.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            while let Ok(out) = sts.get_caller_identity().send().await {
                let id = out.request_id().expect("a request id").to_owned();
                acked.lock().unwrap().push(id);
            }
        }));
    }
    // Kill once a few hundred requests have been answered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 {
        assert!(
            std::time::Instant::now() < deadline,
            "the load did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.kill9();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    // Restart once (the store recovers), stop cleanly (a digest seals the chain), verify.
    let mut again = DevServer::start_env(&data, &[], &envs);
    assert!(again.stop());
    let cli = |args: &[&str]| tessera_on(&data, args, &envs);
    let (ok, out) = cli(&["audit", "verify"]);
    assert!(ok, "{out}");
    assert!(out.contains("audit trail verified"), "{out}");
    let (ok, rows) = cli(&["audit", "query", "--json", "--limit", "100000"]);
    assert!(ok);
    let recorded: std::collections::HashSet<String> = rows
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["requestID"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|id| !recorded.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged requests have no audit record: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    // The export caught up at the clean stop: every recorded request is in the hourly files.
    let mut exported = std::collections::HashSet::new();
    for f in std::fs::read_dir(data.join("audit/records")).unwrap() {
        for l in std::fs::read_to_string(f.unwrap().path()).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(
                exported.insert(v["requestID"].as_str().unwrap().to_owned()),
                "exported twice: {l}"
            );
        }
    }
    assert_eq!(exported, recorded, "the export differs from the trail");
}
