//! The grant index as a replicated view over a real store: a grant written through one
//! replica is matched there at once (read-your-writes) and by another replica after its next
//! refresh (the refresher runs each second); a deletion likewise.

use std::sync::Arc;
use tessera_authz::grants::{CallerIdentities, GrantChange, GrantView, load_view};
use tessera_core::GrantPermission;
use tessera_store::{AgGrantRecord, AgInstanceRecord, AgLocationRecord, Store};

const ACCT: &str = "111111111111";

async fn replica(url: &str) -> (Arc<dyn Store>, GrantView) {
    let store = tessera_test_support::migrated(url).await;
    let view = load_view(store.clone(), store.clone()).await.unwrap();
    (store, view)
}

fn matched(view: &GrantView, target: &str) -> Option<String> {
    let snap = view.get();
    let who = CallerIdentities {
        groups: vec!["red"],
        ..CallerIdentities::default()
    };
    snap.instance(ACCT)?
        .grants
        .best(target, GrantPermission::Read, &who)
        .map(|m| m.grant_scope())
}

#[tokio::test]
async fn a_grant_written_on_one_replica_is_enforced_by_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let (store, a) = replica(&url).await;
    let (_store_b, b) = replica(&url).await;
    let inst = AgInstanceRecord {
        account_id: ACCT.into(),
        identity_center_arn: None,
        application_arn: None,
        resource_policy: None,
        policy_organization: None,
        policy_created_at: None,
        tags: vec![],
        created_at: 0,
    };
    store.create_ag_instance(&inst).await.unwrap();
    a.write(GrantChange::Instance(inst)).await.unwrap();
    let loc = AgLocationRecord {
        account_id: ACCT.into(),
        location_id: "default".into(),
        location_scope: "s3://".into(),
        iam_role_arn: format!("arn:aws:iam::{ACCT}:role/loc"),
        tags: vec![],
        created_at: 0,
    };
    store.create_ag_location(&loc, 10).await.unwrap();
    a.write(GrantChange::Location(loc)).await.unwrap();
    let grant = AgGrantRecord {
        account_id: ACCT.into(),
        grant_id: "3f2b6c1d-8e4a-4d7b-9f0c-1a2b3c4d5e6f".into(),
        location_id: "default".into(),
        sub_prefix: Some("example-bucket/projects/red/*".into()),
        grant_scope: "s3://example-bucket/projects/red/*".into(),
        grantee_type: "DIRECTORY_GROUP".into(),
        grantee_id: "red".into(),
        permission: "READ".into(),
        application_arn: None,
        prefix_type: None,
        tags: vec![],
        created_at: 1,
    };
    store.create_ag_grant(&grant, 10).await.unwrap();
    a.write(GrantChange::Grant(grant.clone())).await.unwrap();
    let target = "example-bucket/projects/red/tomatoes/roma.csv";
    assert_eq!(
        matched(&a, target).as_deref(),
        Some("s3://example-bucket/projects/red/*")
    );
    // The other replica has not refreshed yet; its refresh sees the counter move.
    assert_eq!(matched(&b, target), None);
    assert!(b.refresh().await.unwrap());
    assert_eq!(
        matched(&b, target).as_deref(),
        Some("s3://example-bucket/projects/red/*")
    );
    assert!(!b.refresh().await.unwrap(), "nothing changed since");

    // From here on the other replica catches up from the change log (it knows the instance's
    // version): a deletion, then a narrower grant and a broader one.
    store.delete_ag_grant(ACCT, &grant.grant_id).await.unwrap();
    a.write(GrantChange::GrantDeleted(grant.clone()))
        .await
        .unwrap();
    assert_eq!(matched(&a, target), None);
    assert!(b.refresh().await.unwrap());
    assert_eq!(matched(&b, target), None);
    let mut narrow = grant.clone();
    narrow.grant_id = "4f2b6c1d-8e4a-4d7b-9f0c-1a2b3c4d5e6f".into();
    narrow.grant_scope = "s3://example-bucket/projects/red/tomatoes/*".into();
    let mut broad = grant.clone();
    broad.grant_id = "5f2b6c1d-8e4a-4d7b-9f0c-1a2b3c4d5e6f".into();
    broad.grant_scope = "s3://example-bucket/*".into();
    for g in [&narrow, &broad] {
        store.create_ag_grant(g, 10).await.unwrap();
        a.write(GrantChange::Grant(g.clone())).await.unwrap();
    }
    store.delete_ag_grant(ACCT, &broad.grant_id).await.unwrap();
    a.write(GrantChange::GrantDeleted(broad.clone()))
        .await
        .unwrap();
    assert!(b.refresh().await.unwrap());
    assert_eq!(
        matched(&b, target).as_deref(),
        Some("s3://example-bucket/projects/red/tomatoes/*")
    );
    assert_eq!(matched(&b, "example-bucket/other/x"), None);
    // What it caught up to is what a fresh load sees.
    let (_store_c, c) = replica(&url).await;
    for t in [
        target,
        "example-bucket/other/x",
        "example-bucket/projects/red/x",
    ] {
        assert_eq!(matched(&b, t), matched(&c, t), "{t}");
    }
    assert_eq!(
        b.get().instance(ACCT).unwrap().version,
        c.get().instance(ACCT).unwrap().version
    );
}
