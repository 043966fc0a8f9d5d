//! IAM write latency against the size of the principal view.
//!
//! Seeds a scratch SQLite store with N roles and N users (each with a trust policy or an
//! inline policy), then measures `CreateRole` through the IAM service (store write, counter
//! bump, read-back of the one role and its fold into the view) at 100 and at 10,000 of each,
//! and the time of a full view load at the larger size.
//!
//! `cargo run --release -p tessera-iam --example iam_scale [-- N]` (N defaults to 10000).

use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_authz::{Authorizer, PrincipalView};
use tessera_core::{AccountId, Caller, Deployment, Principal, RequestMeta};
use tessera_crypto::MasterKey;
use tessera_iam::{IamAction, IamService, Req};
use tessera_store::{RoleRecord, Store, UserRecord};
use tessera_wire::query::QueryParams;

const ACCT: &str = "111111111111";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;
const INLINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"data"}}}]}"#;

async fn seed(store: &Arc<dyn Store>, from: usize, to: usize) {
    for i in from..to {
        let name = format!("seed-role-{i:05}");
        store
            .create_role(&RoleRecord {
                account_id: ACCT.into(),
                name: name.clone(),
                role_id: tessera_core::ids::role_id(),
                path: "/".into(),
                description: None,
                trust_policy: TRUST.into(),
                trust_principal_ids: Some(Vec::new()),
                max_session_duration: 3600,
                permissions_boundary: None,
                tags: vec![("team".into(), "data".into())],
                created_at: 0,
            })
            .await
            .unwrap();
        store
            .put_role_policy(ACCT, &name, "read", INLINE)
            .await
            .unwrap();
        let user = format!("seed-user-{i:05}");
        store
            .create_user(&UserRecord {
                account_id: ACCT.into(),
                name: user.clone(),
                user_id: tessera_core::ids::user_id(),
                path: "/".into(),
                permissions_boundary: None,
                tags: Vec::new(),
                created_at: 0,
            })
            .await
            .unwrap();
        store
            .put_user_policy(ACCT, &user, "read", INLINE)
            .await
            .unwrap();
    }
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99) / 100]
}

async fn create_roles(iam: &IamService, tag: &str, n: usize) -> Vec<Duration> {
    let caller = Caller {
        account: AccountId::parse(ACCT).unwrap(),
        principal: Principal::Root,
        access_key_id: "AKIAROOTROOTROOT0000".into(),
        session: None,
    };
    let mut out = Vec::new();
    for i in 0..n {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("RoleName", &format!("bench-{tag}-{i}"))
            .append_pair("AssumeRolePolicyDocument", TRUST)
            .finish();
        let params = QueryParams::parse(&[body.as_bytes()]).unwrap();
        let meta = RequestMeta {
            request_id: "bench".into(),
            source_ip: "127.0.0.1".parse().unwrap(),
            user_agent: String::new(),
            now: chrono::Utc::now(),
            secure_transport: false,
            decisions: Default::default(),
        };
        let t = Instant::now();
        iam.run(
            IamAction::CreateRole,
            Req {
                caller: &caller,
                meta: &meta,
                params: &params,
            },
        )
        .await
        .unwrap();
        out.push(t.elapsed());
    }
    out
}

struct Replica {
    _dir: tempfile::TempDir,
    view: Arc<PrincipalView>,
    iam: IamService,
}

async fn replica(size: usize) -> Replica {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store = tessera_store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    store.create_account(ACCT, 0).await.unwrap();
    let t = Instant::now();
    seed(&store, 0, size).await;
    eprintln!("seeded {size} roles and {size} users in {:?}", t.elapsed());
    let view = Arc::new(
        PrincipalView::load(store.clone(), store.clone())
            .await
            .unwrap(),
    );
    let iam = IamService::new(
        store.clone(),
        Deployment::default(),
        MasterKey::generate(),
        Authorizer::new(view.clone(), Deployment::default()),
    );
    Replica {
        _dir: dir,
        view,
        iam,
    }
}

#[tokio::main]
async fn main() {
    let big: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("N is a number"))
        .unwrap_or(10_000);
    let calls = 300;
    let small = replica(100).await;
    let large = replica(big).await;
    // Alternate the two stores call by call, so that whatever else the machine does weighs on
    // both series alike.
    let (mut at_small, mut at_large) = (Vec::new(), Vec::new());
    for i in 0..calls {
        at_small.extend(create_roles(&small.iam, &format!("s{i}"), 1).await);
        at_large.extend(create_roles(&large.iam, &format!("l{i}"), 1).await);
    }
    for (label, r, v) in [
        ("100", &small, at_small),
        (&*big.to_string(), &large, at_large),
    ] {
        let s = r.view.snapshot();
        println!(
            "CreateRole with {label} roles and {label} users seeded (view: {} roles, {} users): p50 {:?}, p99 {:?} ({calls} calls)",
            s.role_count(),
            s.user_count(),
            p50(v.clone()),
            p99(v)
        );
    }
    let mut loads = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        large.view.reload().await.unwrap();
        loads.push(t.elapsed());
    }
    println!(
        "full view load of {} roles + {} users (one query per table, every policy parsed): p50 {:?} of 5",
        large.view.snapshot().role_count(),
        large.view.snapshot().user_count(),
        p50(loads)
    );
}
