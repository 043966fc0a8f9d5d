//! Grant index matches per second: 100,000 grants over 1,000 locations (one bucket each),
//! held by 10,000 directory groups and some IAM roles; a directory caller in 5 groups asks for
//! objects several levels deep.
//!
//! `cargo bench -p tessera-authz --bench grant_index`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_authz::grants::{AccessGrants, CallerIdentities};
use tessera_core::GrantPermission;
use tessera_store::{AgGrantRecord, AgInstanceRecord, AgLocationRecord};

pub fn fixture(grants: usize, locations: usize, groups: usize) -> AccessGrants {
    let account = "111111111111";
    let inst = AgInstanceRecord {
        account_id: account.into(),
        identity_center_arn: Some("arn:aws:sso:::instance/ssoins-1".into()),
        application_arn: None,
        resource_policy: None,
        policy_organization: None,
        policy_created_at: None,
        tags: vec![],
        created_at: 0,
    };
    let locs = (0..locations)
        .map(|l| AgLocationRecord {
            account_id: account.into(),
            location_id: format!("loc-{l}"),
            location_scope: format!("s3://bucket-{l:04}/"),
            iam_role_arn: "arn:aws:iam::111111111111:role/loc".into(),
            tags: vec![],
            created_at: 0,
        })
        .collect();
    let gs = (0..grants)
        .map(|i| {
            let l = i % locations;
            let (kind, who) = if i % 10 == 0 {
                (
                    "IAM".to_owned(),
                    format!("arn:aws:iam::111111111111:role/r{}", i % 100),
                )
            } else {
                (
                    "DIRECTORY_GROUP".to_owned(),
                    format!("group-{:05}", i % groups),
                )
            };
            AgGrantRecord {
                account_id: account.into(),
                grant_id: format!("{i:08}-0000-4000-8000-000000000000"),
                location_id: format!("loc-{l}"),
                sub_prefix: None,
                grant_scope: format!(
                    "s3://bucket-{l:04}/team-{}/project-{}/*",
                    (i / locations) % 10,
                    i / (locations * 10)
                ),
                grantee_type: kind,
                grantee_id: who,
                permission: "READ".into(),
                application_arn: None,
                prefix_type: None,
                tags: vec![],
                created_at: 0,
            }
        })
        .collect();
    AccessGrants::build(vec![inst], locs, gs)
}

fn bench(c: &mut Criterion) {
    let snap = fixture(100_000, 1000, 10_000);
    let inst = snap.instance("111111111111").unwrap();
    let groups = [
        "group-00001",
        "group-00011",
        "group-00021",
        "group-05001",
        "group-09999",
    ];
    let who = CallerIdentities {
        iam: vec!["arn:aws:iam::111111111111:role/IdentityBearerRole"],
        user: Some("a1b2c3d4e5-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"),
        groups: groups.to_vec(),
        application_arn: None,
    };
    let targets: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "bucket-{:04}/team-{}/project-{}/reports/2026/q{}/data.csv",
                i % 1000,
                i % 10,
                i % 10,
                i % 4
            )
        })
        .collect();
    let mut i = 0;
    c.bench_function("grant index: best match (100k grants, 5 groups)", |b| {
        b.iter(|| {
            i = (i + 1) % targets.len();
            black_box(inst.grants.best(&targets[i], GrantPermission::Read, &who))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
