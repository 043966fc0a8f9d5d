//! What the load generators (`examples/`) share: their command-line numbers, a timed run of
//! concurrent clients, and its report (rate and latency percentiles).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `i`th command-line argument as a number, or `default`.
pub fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The seconds to run (argument 1, at most 120) and the number of clients (argument 2, 1 to
/// 256), with their defaults.
pub fn secs_and_clients(secs: u64, clients: u64) -> (u64, usize) {
    (
        arg(1, secs).clamp(1, 120),
        arg(2, clients).clamp(1, 256) as usize,
    )
}

/// What a timed run measured.
#[derive(Debug, Clone)]
pub struct Run {
    pub ok: u64,
    pub failed: u64,
    pub elapsed: Duration,
    pub clients: usize,
    /// Every call's latency, failed ones included, sorted.
    pub latencies: Vec<Duration>,
}

impl Run {
    /// The latency at `p` (0 to 1) of the sorted latencies.
    pub fn percentile(&self, p: f64) -> Duration {
        let l = &self.latencies;
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }

    /// Successful calls per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// One line: what was measured, its rate and its p50 and p99.
    pub fn report(&self, what: &str) {
        println!(
            "{what}: {} ok, {} failed in {:.1} s with {} concurrent clients: {:.0} req/s; latency p50 {:?}, p99 {:?}",
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.clients,
            self.rate(),
            self.percentile(0.5),
            self.percentile(0.99)
        );
    }
}

/// Call `f(client, n)` from `clients` concurrent loops until `secs` pass (`n` counts one
/// client's calls). The first failure is printed.
pub async fn run<F, Fut>(secs: u64, clients: usize, f: F) -> Run
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let f = Arc::new(f);
    let first_failure = Arc::new(std::sync::Once::new());
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let (f, first_failure) = (f.clone(), first_failure.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut ok, mut failed) = (Vec::new(), 0u64, 0u64);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = f(i, n).await;
                n += 1;
                lat.push(t.elapsed());
                match r {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        failed += 1;
                        first_failure.call_once(|| eprintln!("first failure: {e}"));
                    }
                }
            }
            (lat, ok, failed)
        }));
    }
    let mut out = Run {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        clients,
        latencies: Vec::new(),
    };
    for t in tasks {
        let (lat, ok, failed) = t.await.expect("a client task");
        out.latencies.extend(lat);
        out.ok += ok;
        out.failed += failed;
    }
    out.elapsed = started.elapsed();
    out.latencies.sort();
    out
}
