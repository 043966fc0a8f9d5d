//! Prometheus metrics, rendered in the text exposition format on the admin listener.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request counters and latency histograms by service, action and status code.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
    audit_failures: std::sync::atomic::AtomicU64,
    refused_connections: std::sync::atomic::AtomicU64,
}

fn label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn observe(&self, service: &str, action: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut m = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = m
            .entry((service.to_owned(), action.to_owned(), status))
            .or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// A connection closed at once because its client already held its share.
    pub fn connection_refused(&self) {
        self.refused_connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The audit queue's count of records it could not write (read when rendering).
    pub fn set_audit_failures(&self, total: u64) {
        self.audit_failures
            .store(total, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let m = self
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = String::new();
        out.push_str("# HELP tessera_requests_total API requests handled, by service, action and HTTP status.\n");
        out.push_str("# TYPE tessera_requests_total counter\n");
        for ((svc, act, st), s) in &m {
            let _ = writeln!(
                out,
                "tessera_requests_total{{service=\"{}\",action=\"{}\",status=\"{st}\"}} {}",
                label(svc),
                label(act),
                s.count
            );
        }
        out.push_str("# HELP tessera_request_duration_seconds Time to handle an API request.\n");
        out.push_str("# TYPE tessera_request_duration_seconds histogram\n");
        let mut by_op: BTreeMap<(String, String), Series> = BTreeMap::new();
        for ((svc, act, _), s) in m {
            let e = by_op.entry((svc, act)).or_default();
            e.count += s.count;
            e.sum += s.sum;
            for i in 0..BUCKETS.len() {
                e.buckets[i] += s.buckets[i];
            }
        }
        for ((svc, act), s) in by_op {
            let l = format!("service=\"{}\",action=\"{}\"", label(&svc), label(&act));
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "tessera_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "tessera_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "tessera_request_duration_seconds_sum{{{l}}} {}", s.sum);
            let _ = writeln!(
                out,
                "tessera_request_duration_seconds_count{{{l}}} {}",
                s.count
            );
        }
        out.push_str(
            "# HELP tessera_audit_failures_total Audit records that could not be written.\n",
        );
        out.push_str("# TYPE tessera_audit_failures_total counter\n");
        let _ = writeln!(
            out,
            "tessera_audit_failures_total {}",
            self.audit_failures
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        out.push_str("# HELP tessera_connections_refused_total Connections closed at once because their client address held its share of connections.\n");
        out.push_str("# TYPE tessera_connections_refused_total counter\n");
        let _ = writeln!(
            out,
            "tessera_connections_refused_total {}",
            self.refused_connections
                .load(std::sync::atomic::Ordering::Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe("iam", "CreateRole", 200, Duration::from_millis(3));
        m.observe("iam", "CreateRole", 409, Duration::from_millis(1));
        let text = m.render();
        assert!(text.contains(
            "tessera_requests_total{service=\"iam\",action=\"CreateRole\",status=\"200\"} 1"
        ));
        assert!(text.contains(
            "tessera_request_duration_seconds_count{service=\"iam\",action=\"CreateRole\"} 2"
        ));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"0.005\"} 2"));
    }
}
