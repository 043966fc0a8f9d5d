//! Start-up time of the grant index from a real store: `cargo run --release -p tessera-authz
//! --example grant_index_load -- [GRANTS] [POSTGRES_URL]` (default 1,000,000 grants over 1,000
//! locations and 10,000 groups, in a fresh SQLite file; with a URL, in that PostgreSQL database,
//! which must be empty). Prints the time to read every table and build the view.

use std::time::Instant;
use tessera_store::{AgGrantRecord, AgInstanceRecord, AgLocationRecord};

const ACCT: &str = "111111111111";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let url = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("grants.db").display()));
    let store = tessera_store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
        .create_ag_instance(&AgInstanceRecord {
            account_id: ACCT.into(),
            identity_center_arn: None,
            application_arn: None,
            resource_policy: None,
            policy_organization: None,
            policy_created_at: None,
            tags: vec![],
            created_at: 0,
        })
        .await
        .unwrap();
    for l in 0..1000 {
        store
            .create_ag_location(
                &AgLocationRecord {
                    account_id: ACCT.into(),
                    location_id: format!("loc-{l}"),
                    location_scope: format!("s3://bucket-{l:04}/"),
                    iam_role_arn: format!("arn:aws:iam::{ACCT}:role/loc"),
                    tags: vec![],
                    created_at: 0,
                },
                1000,
            )
            .await
            .unwrap();
    }
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100_000) {
        let batch: Vec<AgGrantRecord> = chunk
            .iter()
            .map(|&i| {
                let l = i % 1000;
                AgGrantRecord {
                    account_id: ACCT.into(),
                    grant_id: format!("{i:08}-0000-4000-8000-000000000000"),
                    location_id: format!("loc-{l}"),
                    sub_prefix: Some(format!("team-{}/project-{}/*", (i / 1000) % 10, i / 10_000)),
                    grant_scope: format!(
                        "s3://bucket-{l:04}/team-{}/project-{}/*",
                        (i / 1000) % 10,
                        i / 10_000
                    ),
                    grantee_type: "DIRECTORY_GROUP".into(),
                    grantee_id: format!("group-{:05}", i % 10_000),
                    permission: "READ".into(),
                    application_arn: None,
                    prefix_type: None,
                    tags: vec![],
                    created_at: 0,
                }
            })
            .collect();
        store
            .import_ag_grants(ACCT, &batch, i64::MAX)
            .await
            .unwrap();
    }
    println!(
        "{n} grants imported in {:.1?} ({})",
        t.elapsed(),
        store.dialect()
    );
    let t = Instant::now();
    let tables = store.access_grants_tables().await.unwrap();
    let read = t.elapsed();
    drop(tables);
    let t = Instant::now();
    let view = tessera_authz::grants::load_view(store.clone(), store.clone())
        .await
        .unwrap();
    let loaded = t.elapsed();
    println!(
        "start-up load of the grant index: {loaded:.2?} ({read:.2?} of it reading the tables); {} grants indexed",
        view.get()
            .instance(ACCT)
            .map(|i| i.grants.len())
            .unwrap_or(0)
    );
    // Another replica writes one grant: this view catches up from the change log.
    let one = AgGrantRecord {
        account_id: ACCT.into(),
        grant_id: "ffffffff-0000-4000-8000-000000000000".into(),
        location_id: "loc-1".into(),
        sub_prefix: Some("new/*".into()),
        grant_scope: "s3://bucket-0001/new/*".into(),
        grantee_type: "DIRECTORY_GROUP".into(),
        grantee_id: "group-00001".into(),
        permission: "READ".into(),
        application_arn: None,
        prefix_type: None,
        tags: vec![],
        created_at: 0,
    };
    store.create_ag_grant(&one, i64::MAX).await.unwrap();
    store
        .bump_generation(tessera_authz::grants::GRANTS_COUNTER)
        .await
        .unwrap();
    let t = Instant::now();
    assert!(view.refresh().await.unwrap());
    println!(
        "incremental refresh after one grant written elsewhere: {:.2?}; {} grants indexed",
        t.elapsed(),
        view.get()
            .instance(ACCT)
            .map(|i| i.grants.len())
            .unwrap_or(0)
    );
}
