//! The provider's hot path: a request served from the cache. `find` over one caller's entries,
//! and a whole `data_access` hit (caller key, lock, lookup, clone).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_s3ag_credentials::{
    AccessGrants, Ask, CachedGrant, GrantCache, Permission, Privilege, S3Target, VendedCredentials,
};

fn grant(i: usize) -> CachedGrant {
    CachedGrant {
        account_id: "111111111111".into(),
        permission: Permission::Read,
        privilege: Privilege::Default,
        duration_seconds: None,
        matched_target: S3Target::prefix("example-bucket", &format!("projects/p{i}/")),
        grantee: None,
        credentials: VendedCredentials {
            access_key_id: format!("ASIA{i:016}"),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: i64::MAX / 2,
        },
        obtained_at: 0,
    }
}

fn bench(c: &mut Criterion) {
    for n in [10usize, 1000] {
        let mut cache = GrantCache::default();
        for i in 0..n {
            cache.insert(grant(i), 0);
        }
        let ask = Ask::new(
            "111111111111",
            S3Target::object(
                "example-bucket",
                &format!("projects/p{}/2026-12/roma.csv", n / 2),
            ),
            Permission::Read,
        );
        c.bench_function(&format!("GrantCache::find, {n} entries"), |b| {
            b.iter(|| black_box(cache.find(black_box(&ask), 1, 300)).is_some())
        });
    }

    // A provider whose cache already holds the grant: no request leaves the process.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let grants = AccessGrants::builder()
        .s3control(tessera_s3ag_credentials::s3control_client(&config))
        .account_id("111111111111")
        .build()
        .unwrap();
    let caller =
        aws_credential_types::Credentials::new("ASIACALLER", "s", Some("t".into()), None, "bench");
    grants.prime(&caller, grant(7));
    let ask = grants.ask(
        S3Target::object("example-bucket", "projects/p7/2026-12/roma.csv"),
        Permission::Read,
    );
    c.bench_function("AccessGrants::data_access, cache hit", |b| {
        b.iter(|| {
            rt.block_on(grants.data_access(black_box(&caller), black_box(&ask)))
                .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
