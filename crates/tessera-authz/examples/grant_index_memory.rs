//! Memory and build time of the grant index: `cargo run --release -p tessera-authz --example
//! grant_index_memory -- [GRANTS]` (default 1,000,000 over 1,000 locations and 10,000 groups).
//! Prints the resident set before and after building, and the build time. The records are
//! dropped before the index is measured, as at start-up after the store load.

use std::time::Instant;
use tessera_authz::grants::{GrantTree, GranteeKind, NewGrant};
use tessera_core::GrantPermission;

#[path = "../benches/grant_index.rs"]
#[allow(dead_code)]
mod fixture;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // The index alone: grants inserted one by one from short-lived strings, so nothing but
    // the index stays allocated.
    let before = rss_kib();
    let t = Instant::now();
    let mut tree = GrantTree::default();
    for i in 0..n {
        let l = i % 1000;
        let id = format!("{i:08}-0000-4000-8000-000000000000");
        let who = if i % 10 == 0 {
            format!("arn:aws:iam::111111111111:role/r{}", i % 100)
        } else {
            format!("group-{:05}", i % 10_000)
        };
        let key = format!(
            "bucket-{l:04}/team-{}/project-{}/",
            (i / 1000) % 10,
            i / 10_000
        );
        let loc = format!("loc-{l}");
        tree.insert(
            &key,
            true,
            NewGrant {
                id: &id,
                grantee_kind: if i % 10 == 0 {
                    GranteeKind::Iam
                } else {
                    GranteeKind::DirectoryGroup
                },
                grantee: &who,
                permission: GrantPermission::Read,
                application_arn: None,
                location_id: &loc,
                created_at: 0,
            },
        );
    }
    let built = t.elapsed();
    let after = rss_kib();
    println!(
        "{n} grants: index built in {built:.2?}; resident set {} MiB before, {} MiB after ({} MiB for the index, {} bytes per grant); {} grants indexed",
        before / 1024,
        after / 1024,
        (after - before) / 1024,
        (after - before) * 1024 / n as u64,
        tree.len()
    );
    drop(tree);
    // The start-up path: every table's records, then the snapshot built from them.
    let t = Instant::now();
    let snap = fixture::fixture(n, 1000, 10_000);
    println!(
        "the same from {n} store records (AccessGrants::build, as the view's load does after its query): {:.2?}; {} grants",
        t.elapsed(),
        snap.instance("111111111111")
            .map(|i| i.grants.len())
            .unwrap_or(0)
    );
}
