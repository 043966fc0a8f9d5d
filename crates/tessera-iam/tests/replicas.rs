//! Two replicas over one store: a write through one replica's IAM service bumps the store's
//! `iam` change counter, and the other replica's directory reloads because (and only because)
//! that counter moved.

use std::sync::Arc;
use tessera_authz::{Authorizer, PrincipalView};
use tessera_core::{Caller, Deployment};
use tessera_crypto::MasterKey;
use tessera_iam::{IamAction, IamService, Req};
use tessera_store::{RoleRecord, Store};
use tessera_wire::query::QueryParams;

const ACCT: &str = "111111111111";

use tessera_test_support::meta;

fn root() -> Caller {
    tessera_test_support::root(ACCT)
}

/// A replica: its own connection to the shared store, its own principal view and IAM service.
async fn replica(url: &str) -> (Arc<dyn Store>, Arc<PrincipalView>, IamService) {
    let store = tessera_test_support::migrated(url).await;
    let directory = Arc::new(
        PrincipalView::load(store.clone(), store.clone())
            .await
            .unwrap(),
    );
    let authz = Authorizer::new(directory.clone(), Deployment::default());
    let iam = IamService::new(
        store.clone(),
        Deployment::default(),
        MasterKey::generate(),
        authz,
    );
    (store, directory, iam)
}

#[tokio::test]
async fn a_write_on_one_replica_reaches_the_other_through_the_change_counter() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let (store_a, dir_a, iam_a) = replica(&url).await;
    store_a.create_account(ACCT, 0).await.unwrap();
    let (store_b, dir_b, _iam_b) = replica(&url).await;

    // Nothing changed: no reload.
    assert!(!dir_b.refresh().await.unwrap());
    assert!(dir_b.role(ACCT, "Shared").is_none());

    // A writes through its IAM service: A sees it at once (read-your-writes) ...
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("RoleName", "Shared")
        .append_pair("AssumeRolePolicyDocument", trust)
        .finish();
    let p = QueryParams::parse(&[body.as_bytes()]).unwrap();
    let before = store_b.generation("iam").await.unwrap();
    iam_a
        .run(
            IamAction::CreateRole,
            Req {
                caller: &root(),
                meta: &meta(),
                params: &p,
            },
        )
        .await
        .unwrap();
    assert!(dir_a.role(ACCT, "Shared").is_some());
    assert!(store_b.generation("iam").await.unwrap() > before);
    // ... and B on its next refresh, which reloads because the counter moved.
    assert!(dir_b.role(ACCT, "Shared").is_none());
    assert!(dir_b.refresh().await.unwrap());
    let seen = dir_b.role(ACCT, "Shared").expect("B sees A's role");
    assert!(seen.trust.is_some());
    assert!(
        !dir_b.refresh().await.unwrap(),
        "no second reload without a change"
    );

    // A write that does not bump the counter is not picked up by refresh (only by the
    // periodic full reload): the counter is what drives replicas.
    store_a
        .create_role(&RoleRecord {
            account_id: ACCT.into(),
            name: "Quiet".into(),
            role_id: "AROAQUIETQUIETQUIET0".into(),
            path: "/".into(),
            description: None,
            trust_policy: trust.into(),
            trust_principal_ids: Some(Vec::new()),
            max_session_duration: 3600,
            permissions_boundary: None,
            tags: Vec::new(),
            created_at: 0,
        })
        .await
        .unwrap();
    assert!(!dir_b.refresh().await.unwrap());
    assert!(dir_b.role(ACCT, "Quiet").is_none());
    dir_b.reload().await.unwrap();
    assert!(dir_b.role(ACCT, "Quiet").is_some());

    // A delete on A removes the role from B's view after B's refresh.
    let p = QueryParams::parse(&[b"RoleName=Shared"]).unwrap();
    iam_a
        .run(
            IamAction::DeleteRole,
            Req {
                caller: &root(),
                meta: &meta(),
                params: &p,
            },
        )
        .await
        .unwrap();
    assert!(dir_b.refresh().await.unwrap());
    assert!(dir_b.role(ACCT, "Shared").is_none());
}
