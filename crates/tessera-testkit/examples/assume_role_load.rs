//! AssumeRole requests per second over HTTP, against a real `tessera dev` on loopback.
//!
//! `cargo run --release -p tessera-testkit --example assume_role_load -- [SECONDS] [CONCURRENCY]`
//! (defaults 10 s, 16). Needs the release `tessera` binary (`cargo build --release --bin tessera`,
//! or `TESSERA_BIN`). Each request is signed by aws-sdk-sts; the loop is bounded in time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tessera_testkit::DevServer;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .min(120);
    let conc: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(16)
        .clamp(1, 256);
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account("111111111111").clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_role()
        .role_name("LoadRole")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    // Roles are assumed by an IAM user (the account root may not assume roles).
    iam.create_user().user_name("load").send().await.unwrap();
    iam.put_user_policy()
        .user_name("load")
        .policy_name("assume")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let key = iam
        .create_access_key()
        .user_name("load")
        .send()
        .await
        .unwrap();
    let key = key.access_key().unwrap();
    let user_cfg = server
        .sdk_config(key.access_key_id(), key.secret_access_key())
        .await;
    let sts = aws_sdk_sts::Client::new(&user_cfg);
    // One call up front, so a misconfiguration fails loudly instead of counting failures.
    sts.assume_role()
        .role_arn("arn:aws:iam::111111111111:role/LoadRole")
        .role_session_name("warmup")
        .send()
        .await
        .expect("AssumeRole works before the load starts");
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..conc {
        let (sts, done, failed) = (sts.clone(), done.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = sts
                    .assume_role()
                    .role_arn("arn:aws:iam::111111111111:role/LoadRole")
                    .role_session_name(format!("load-{i}"))
                    .send()
                    .await;
                lat.push(t.elapsed());
                match r {
                    Ok(_) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first failure: {e:?}");
                        }
                    }
                }
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let ok = done.load(Ordering::Relaxed);
    println!(
        "AssumeRole over HTTP: {ok} ok, {} failed in {elapsed:.1} s with {conc} concurrent clients: {:.0} req/s; latency p50 {:?}, p99 {:?}",
        failed.load(Ordering::Relaxed),
        ok as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
}
