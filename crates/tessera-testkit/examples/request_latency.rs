//! The latency of one request through the whole pipeline, for comparing two builds of the
//! server: GetCallerIdentity (aws-sdk-sts, awsQuery) and a 4 KiB GetObject (aws-sdk-s3, the
//! body read to its end), each from a few sequential clients against a real `tessera dev` on
//! loopback, the local object backend.
//!
//! `cargo run --release -p tessera-testkit --example request_latency -- [SECONDS] [CLIENTS]`
//! (defaults 10 s per operation, 4 clients). The binary is `TESSERA_BIN` (else the release
//! build next to the example). `scripts/compare-latency OLD NEW` runs it against two binaries,
//! alternating, and prints the ratios. Prints one line per operation:
//! `latency <op> p50_us <n> p99_us <n> ok <n> failed <n>`.

use aws_sdk_s3::primitives::ByteStream;
use std::time::{Duration, Instant};
use tessera_testkit::{DevServer, load};

/// Run `call` from `clients` concurrent loops for `secs` seconds; print its percentiles.
async fn measure<F, Fut>(name: &str, secs: u64, clients: usize, call: F)
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    // A warm-up, so that caches (keys, sessions, connections) are as in steady state.
    let warm = Instant::now() + Duration::from_secs(1);
    while Instant::now() < warm {
        assert!(call().await, "{name} fails before the measurement starts");
    }
    let run = load::run(secs, clients, move |_, _| {
        let call = call.clone();
        async move {
            if call().await {
                Ok(())
            } else {
                Err("the call failed".into())
            }
        }
    })
    .await;
    println!(
        "latency {name} p50_us {} p99_us {} ok {} failed {}",
        run.percentile(0.5).as_micros(),
        run.percentile(0.99).as_micros(),
        run.ok,
        run.failed
    );
}

#[tokio::main]
async fn main() {
    let (secs, clients) = load::secs_and_clients(10, 4);
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account("111111111111").clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;

    let sts = aws_sdk_sts::Client::new(&cfg);
    measure("GetCallerIdentity", secs, clients, move || {
        let sts = sts.clone();
        async move { sts.get_caller_identity().send().await.is_ok() }
    })
    .await;

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("latency").send().await.unwrap();
    s3.put_object()
        .bucket("latency")
        .key("4k.bin")
        .body(ByteStream::from(vec![7u8; 4096]))
        .send()
        .await
        .unwrap();
    measure("GetObject4KiB", secs, clients, move || {
        let s3 = s3.clone();
        async move {
            match s3.get_object().bucket("latency").key("4k.bin").send().await {
                Ok(o) => o
                    .body
                    .collect()
                    .await
                    .is_ok_and(|b| b.into_bytes().len() == 4096),
                Err(_) => false,
            }
        }
    })
    .await;
}
