//! Shared by this crate's seam tests: a scratch SQLite store with two accounts, the services,
//! and callers.

#![allow(dead_code)]

use serde_json::Value;
use std::sync::Arc;
use tessera_authz::{Authorizer, PrincipalView};
use tessera_core::{AccountId, Caller, Deployment, Principal};
use tessera_identity_center::{
    IdentityCenterError, IdentityStoreOp, IdentityStoreService, SsoAdminOp, SsoAdminService,
};
use tessera_service::Body;
use tessera_store::{Store, UserRecord};

pub const ACCT: &str = "111111111111";

pub struct Fx {
    _dir: tempfile::TempDir,
    pub store: Arc<dyn Store>,
    pub view: Arc<PrincipalView>,
    pub svc: SsoAdminService,
    pub ids: IdentityStoreService,
}

pub async fn fx() -> Fx {
    let dir = tessera_test_support::scratch_dir();
    let store = tessera_test_support::sqlite(dir.path(), "t.db").await;
    store.create_account(ACCT, 0).await.unwrap();
    store.create_account("222222222222", 0).await.unwrap();
    let view = Arc::new(
        PrincipalView::load(store.clone(), store.clone())
            .await
            .unwrap(),
    );
    let authz = Authorizer::new(view.clone(), Deployment::default());
    let config = Arc::new(
        tessera_identity_center::view::load_view(store.clone(), store.clone())
            .await
            .unwrap(),
    );
    let svc = SsoAdminService::new(store.clone(), config, authz.clone(), Deployment::default())
        .with_http_loopback_issuers(true);
    let directory = Arc::new(
        tessera_authz::directory::load_view(store.clone(), store.clone())
            .await
            .unwrap(),
    );
    let ids = IdentityStoreService::new(store.clone(), directory, authz, Deployment::default());
    Fx {
        _dir: dir,
        store,
        view,
        svc,
        ids,
    }
}

pub use tessera_test_support::{meta, root};

pub async fn call(
    f: &Fx,
    caller: &Caller,
    op: SsoAdminOp,
    doc: Value,
) -> Result<Value, IdentityCenterError> {
    let r = f.svc.run(op, caller, &meta(), &doc).await?;
    match r.body {
        Body::Json(v) => Ok(v),
        other => panic!("sso-admin answered {other:?}"),
    }
}

pub fn code(e: &IdentityCenterError) -> String {
    e.to_aws().code
}

/// An IAM user of account 111111111111 with this inline policy (or none).
pub async fn user(f: &Fx, name: &str, policy: Option<&str>) -> Caller {
    let id = format!("AIDA{}", name.to_uppercase());
    f.store
        .create_user(&UserRecord {
            account_id: ACCT.into(),
            name: name.into(),
            user_id: id.clone(),
            path: "/".into(),
            permissions_boundary: None,
            tags: Vec::new(),
            created_at: 0,
        })
        .await
        .unwrap();
    if let Some(p) = policy {
        f.store.put_user_policy(ACCT, name, "p", p).await.unwrap();
    }
    f.view.user_changed(ACCT, name).await.unwrap();
    Caller {
        account: AccountId::parse(ACCT).unwrap(),
        principal: Principal::User {
            name: name.into(),
            user_id: id,
            path: "/".into(),
        },
        access_key_id: "AKIAUSERUSERUSER0000".into(),
        session: None,
    }
}

/// An identitystore call.
pub async fn ids_call(
    f: &Fx,
    caller: &Caller,
    op: IdentityStoreOp,
    doc: Value,
) -> Result<Value, IdentityCenterError> {
    let r = f.ids.run(op, caller, &meta(), &doc).await?;
    match r.body {
        Body::Json(v) => Ok(v),
        other => panic!("identitystore answered {other:?}"),
    }
}

/// The identity store of a fresh instance of account 111111111111.
pub async fn identity_store(f: &Fx) -> String {
    let i = call(
        f,
        &root(ACCT),
        SsoAdminOp::CreateInstance,
        serde_json::json!({}),
    )
    .await
    .unwrap();
    let d = call(
        f,
        &root(ACCT),
        SsoAdminOp::DescribeInstance,
        serde_json::json!({"InstanceArn": i["InstanceArn"]}),
    )
    .await
    .unwrap();
    d["IdentityStoreId"].as_str().unwrap().to_owned()
}
