//! The S3 data plane side by side with its peers, in one run, with one load generator:
//!
//! - GET (`wrk` on presigned URLs, one URL per target, 4 KiB and 64 MiB objects) from Tessera
//!   on the local backend, Debian's `nginx` serving the same files from disk, the Garage node
//!   directly, and Tessera on the Garage upstream backend;
//! - PUT (aws-sdk-rust, concurrent `PutObject` of the same sizes) to Tessera local, Garage
//!   directly and Tessera upstream.
//!
//! `cargo run --release -p tessera-testkit --example s3_bench -- [SECONDS] [CONNECTIONS]`
//! (defaults 10 s per measurement, 16 connections for small objects, 4 for 64 MiB). Needs the
//! release `tessera` (`cargo build --release --bin tessera`; `TESSERA_BIN` points at it),
//! `wrk` and `nginx` (`apt-get install wrk nginx`), and Garage (`TESSERA_TEST_GARAGE`, as the
//! test script installs it). Prints one table with the ratios the data-plane issue asks for.
//! All of it shares the machine's cores: the figures are ratios, not absolutes.
//!
//! `… --example s3_bench -- audit [SECONDS] [CONNECTIONS]` measures what the audit trail
//! costs instead: 4 KiB GETs from Tessera (local backend) with `--audit-mode off` and `sync`,
//! on SQLite and, when `TESSERA_TEST_POSTGRES_URL` is set, on PostgreSQL (a fresh schema,
//! made with `psql`), with nginx serving the same 4 KiB as the ceiling, and prints sync / off
//! and sync / nginx for each.
//!
//! `… --example s3_bench -- tls [SECONDS] [CONNECTIONS]` measures what HTTPS costs: 4 KiB
//! GETs from one data directory served by `tessera dev` over plain HTTP and with
//! `--tls-cert` (a certificate made at start), alternated over two rounds, and prints
//! https / http. wrk keeps its connections open, so this is the cost of encrypting the
//! traffic, not of handshakes.

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tessera_testkit::{DevServer, GarageNode};

const SMALL: usize = 4 * 1024;
const LARGE: usize = 64 * 1024 * 1024;

struct Target {
    name: &'static str,
    client: Option<aws_sdk_s3::Client>,
    bucket: String,
    /// Presigned GET URLs of the small and the large object.
    urls: (String, String),
}

fn client(endpoint: &str, region: &str, key: &str, secret: &str) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new(key, secret, None, None, "bench");
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_sdk_s3::config::Region::new(region.to_owned()))
            .credentials_provider(creds)
            .force_path_style(true)
            .build(),
    )
}

async fn prepare(
    name: &'static str,
    client: aws_sdk_s3::Client,
    bucket: &str,
    create: bool,
    small: &Bytes,
    large: &Bytes,
) -> Target {
    if create {
        client.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let mut urls = Vec::new();
    for (key, body) in [("small.bin", small), ("large.bin", large)] {
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let p = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(PresigningConfig::expires_in(Duration::from_secs(3600)).unwrap())
            .await
            .unwrap();
        urls.push(p.uri().to_owned());
    }
    Target {
        name,
        client: Some(client),
        bucket: bucket.to_owned(),
        urls: (urls[0].clone(), urls[1].clone()),
    }
}

/// `nginx` serving `root` on a free loopback port, as Debian configures it for static files
/// (sendfile, worker per core), with logging off.
fn nginx(work: &Path, root: &Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = work.join("nginx.conf");
    let w = work.display();
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nuser root;\nworker_processes auto;\npid {w}/nginx.pid;\nerror_log {w}/nginx-error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n\
             \x20 client_body_temp_path {w}/cb;\n  proxy_temp_path {w}/px;\n  fastcgi_temp_path {w}/fc;\n\
             \x20 uwsgi_temp_path {w}/uw;\n  scgi_temp_path {w}/sc;\n\
             \x20 server {{ listen 127.0.0.1:{port}; root {root}; }}\n}}\n",
            root = root.display()
        ),
    )
    .unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(work)
        .stdin(Stdio::null())
        .spawn()
        .expect("nginx (apt-get install nginx)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// Stop nginx with TERM: the master stops its workers too (KILL would leave them serving).
fn stop_nginx(mut ngx: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &ngx.id().to_string()])
        .status();
    let _ = ngx.wait();
}

/// Requests per second `wrk` reaches on `url` (every response must be a 2xx).
fn wrk(url: &str, secs: u64, conns: usize) -> f64 {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--timeout",
            "30s",
            url,
        ])
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("Non-2xx"),
        "{url} answered with errors:\n{text}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"))
}

/// PutObject calls per second over `conns` concurrent tasks for `secs`.
async fn puts(t: &Target, body: &Bytes, secs: u64, conns: usize) -> f64 {
    let client = t.client.clone().expect("an S3 target");
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (client, done, body, bucket) =
            (client.clone(), done.clone(), body.clone(), t.bucket.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                client
                    .put_object()
                    .bucket(&bucket)
                    .key(format!("put/{i}/{}", n % 64))
                    .body(ByteStream::from(body.clone()))
                    .send()
                    .await
                    .unwrap();
                n += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// 4 KiB GETs with the audit trail off and in sync mode, on each store.
async fn audit_main(secs: u64, conns: usize) {
    let dir = tempfile::tempdir().unwrap();
    let small: Bytes = (0..SMALL).map(|i| (i * 7 % 251) as u8).collect();
    let mut stores = vec![("sqlite", None)];
    if let Ok(base) = std::env::var("TESSERA_TEST_POSTGRES_URL") {
        stores.push((
            "postgres",
            Some(tessera_testkit::fresh_postgres_schema(&base, "audit_bench")),
        ));
    }
    println!("GET 4 KiB with wrk, {secs} s each over {conns} connections");
    // The ceiling: nginx serving the same 4 KiB from disk.
    let www = dir.path().join("www");
    let ngx_work = dir.path().join("nginx");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&ngx_work).unwrap();
    std::fs::write(www.join("small.bin"), &small).unwrap();
    let (ngx, ngx_url) = nginx(&ngx_work, &www);
    let ceiling = wrk(&format!("{ngx_url}/small.bin"), secs, conns);
    stop_nginx(ngx);
    println!("  nginx                   {ceiling:>9.0} req/s");
    for (store, url) in &stores {
        let mut rates = Vec::new();
        // One data directory per store: the dev master key lives there, and the store's keys
        // are sealed under it.
        let data = dir.path().join(*store);
        for mode in ["off", "sync"] {
            let mut envs = vec![("RUST_LOG", "warn")];
            if let Some(u) = url {
                envs.push(("TESSERA_DATABASE_URL", u.as_str()));
            }
            let server = DevServer::start_env(&data, &["--audit-mode", mode], &envs);
            let k = server.manifest.accounts[0].clone();
            let c = client(
                &server.manifest.endpoint,
                &server.manifest.region,
                &k.access_key_id,
                &k.secret_access_key,
            );
            let bucket = format!("bench-{store}-{mode}");
            c.create_bucket().bucket(&bucket).send().await.unwrap();
            c.put_object()
                .bucket(&bucket)
                .key("small.bin")
                .body(ByteStream::from(small.clone()))
                .send()
                .await
                .unwrap();
            let url = c
                .get_object()
                .bucket(&bucket)
                .key("small.bin")
                .presigned(PresigningConfig::expires_in(Duration::from_secs(3600)).unwrap())
                .await
                .unwrap()
                .uri()
                .to_owned();
            let r = wrk(&url, secs, conns);
            println!("  {store:<9} audit {mode:<5} {r:>9.0} req/s");
            rates.push(r);
        }
        println!(
            "  {store:<9} sync / off  {:.2}   (aim >= 0.8); sync / nginx {:.2} (aim >= 0.45)",
            rates[1] / rates[0],
            rates[1] / ceiling
        );
    }
}

/// A certificate for 127.0.0.1 from a CA made here: (cert file, key file).
fn certificate(dir: &Path) -> (String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c.display().to_string(), k.display().to_string())
}

async fn tls_main(secs: u64, conns: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let data = dir.path().join("data");
    let quiet = [("RUST_LOG", "warn")];
    let small: Bytes = (0..SMALL).map(|i| (i * 7 % 251) as u8).collect();
    let presigned = |s: &DevServer| {
        let k = s.manifest.accounts[0].clone();
        client(
            &s.manifest.endpoint,
            &s.manifest.region,
            &k.access_key_id,
            &k.secret_access_key,
        )
    };
    {
        // The object, written once over plain HTTP; both servers serve this data directory.
        let s = DevServer::start_env(&data, &[], &quiet);
        let c = presigned(&s);
        c.create_bucket().bucket("bench").send().await.unwrap();
        c.put_object()
            .bucket("bench")
            .key("small.bin")
            .body(ByteStream::from(small.clone()))
            .send()
            .await
            .unwrap();
    }
    println!("GET 4 KiB with wrk, {secs} s each over {conns} keep-alive connections");
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=2 {
        for (i, tls) in [false, true].into_iter().enumerate() {
            let args: Vec<&str> = if tls {
                vec!["--tls-cert", &cert, "--tls-key", &key]
            } else {
                Vec::new()
            };
            let s = DevServer::start_env(&data, &args, &quiet);
            // Presigning signs locally: the client never connects.
            let url = presigned(&s)
                .get_object()
                .bucket("bench")
                .key("small.bin")
                .presigned(PresigningConfig::expires_in(Duration::from_secs(3600)).unwrap())
                .await
                .unwrap()
                .uri()
                .to_owned();
            let r = wrk(&url, secs, conns);
            let name = if tls { "https" } else { "http" };
            println!("  {name:<5} round {round} {r:>9.0} req/s");
            rates[i].push(r);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "  https / http {:.2} (means of the rounds: {:.0} and {:.0} req/s)",
        mean(&rates[1]) / mean(&rates[0]),
        mean(&rates[1]),
        mean(&rates[0])
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("tls") {
        let arg = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
        return tls_main(arg(2, 10).clamp(1, 120), arg(3, 16).clamp(1, 256) as usize).await;
    }
    if args.get(1).map(String::as_str) == Some("audit") {
        let arg = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
        return audit_main(arg(2, 10).clamp(1, 120), arg(3, 16).clamp(1, 256) as usize).await;
    }
    let arg = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let secs = arg(1, 10).clamp(1, 120);
    let conns = arg(2, 16).clamp(1, 256) as usize;
    let large_conns = conns.div_ceil(4);

    let dir = tempfile::tempdir().unwrap();
    let small: Bytes = (0..SMALL).map(|i| (i * 7 % 251) as u8).collect();
    let large: Bytes = (0..LARGE).map(|i| (i * 13 % 253) as u8).collect();

    let garage = GarageNode::start(&dir.path().join("g"));
    // Request log lines off (nginx runs with access_log off); the audit trail stays on.
    let quiet = [("RUST_LOG", "warn")];
    let local = DevServer::start_env(&dir.path().join("local"), &[], &quiet);
    let upstream = DevServer::start_upstream_env(&dir.path().join("up"), &garage, &quiet);
    let root_of = |s: &DevServer| s.manifest.accounts[0].clone();
    let (lk, uk) = (root_of(&local), root_of(&upstream));
    let region = local.manifest.region.clone();

    let t_local = prepare(
        "tessera (local)",
        client(
            &local.manifest.endpoint,
            &region,
            &lk.access_key_id,
            &lk.secret_access_key,
        ),
        "bench",
        true,
        &small,
        &large,
    )
    .await;
    let t_garage = prepare(
        "garage (direct)",
        client(
            &garage.endpoint,
            GarageNode::REGION,
            &garage.access_key_id,
            &garage.secret_access_key,
        ),
        &garage.bucket,
        false,
        &small,
        &large,
    )
    .await;
    let t_up = prepare(
        "tessera (upstream)",
        client(
            &upstream.manifest.endpoint,
            &region,
            &uk.access_key_id,
            &uk.secret_access_key,
        ),
        "bench-up",
        true,
        &small,
        &large,
    )
    .await;
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("small.bin"), &small).unwrap();
    std::fs::write(www.join("large.bin"), &large).unwrap();
    let ngx_work = dir.path().join("nginx");
    std::fs::create_dir_all(&ngx_work).unwrap();
    let (ngx, ngx_url) = nginx(&ngx_work, &www);
    let t_nginx = Target {
        name: "nginx",
        client: None,
        bucket: String::new(),
        urls: (
            format!("{ngx_url}/small.bin"),
            format!("{ngx_url}/large.bin"),
        ),
    };

    println!(
        "GET with wrk, {secs} s each: 4 KiB over {conns} connections, 64 MiB over {large_conns}"
    );
    let mut get = Vec::new();
    for t in [&t_nginx, &t_local, &t_garage, &t_up] {
        let s = wrk(&t.urls.0, secs, conns);
        let l = wrk(&t.urls.1, secs, large_conns);
        println!(
            "  {:<20} 4 KiB: {:>9.0} req/s   64 MiB: {:>7.1} req/s = {:>7.0} MiB/s",
            t.name,
            s,
            l,
            l * 64.0
        );
        get.push((s, l));
    }
    stop_nginx(ngx);

    println!(
        "PUT with aws-sdk-rust, {secs} s each: 4 KiB over {conns} tasks, 64 MiB over {large_conns}"
    );
    let mut put = Vec::new();
    for t in [&t_local, &t_garage, &t_up] {
        let s = puts(t, &small, secs, conns).await;
        let l = puts(t, &large, secs, large_conns).await;
        println!(
            "  {:<20} 4 KiB: {:>9.0} req/s   64 MiB: {:>7.1} req/s = {:>7.0} MiB/s",
            t.name,
            s,
            l,
            l * 64.0
        );
        put.push((s, l));
    }

    let (n, lo, g, up) = (get[0], get[1], get[2], get[3]);
    println!("Ratios (GET 4 KiB req/s, GET 64 MiB throughput):");
    println!(
        "  tessera local / nginx      {:.2}  {:.2}   (aim >= 0.5, >= 0.8)",
        lo.0 / n.0,
        lo.1 / n.1
    );
    println!(
        "  tessera local / garage     {:.2}  {:.2}   (aim >= 1.0)",
        lo.0 / g.0,
        lo.1 / g.1
    );
    println!(
        "  tessera upstream / garage  {:.2}  {:.2}   (aim >= 0.7)",
        up.0 / g.0,
        up.1 / g.1
    );
    let (plo, pg, pup) = (put[0], put[1], put[2]);
    println!("Ratios (PUT 4 KiB req/s, PUT 64 MiB throughput):");
    println!(
        "  tessera local / garage     {:.2}  {:.2}   (aim >= 1.0)",
        plo.0 / pg.0,
        plo.1 / pg.1
    );
    println!(
        "  tessera upstream / garage  {:.2}  {:.2}   (aim >= 0.7)",
        pup.0 / pg.0,
        pup.1 / pg.1
    );
}
