//! One store test suite, run against SQLite and PostgreSQL.
//!
//! PostgreSQL comes from `TESSERA_TEST_POSTGRES_URL` (the test script starts a server and sets
//! it). Without it the PostgreSQL tests fail loudly, unless `TESSERA_SKIP_POSTGRES=1` says to
//! skip them on purpose.

use std::sync::Arc;
use tessera_store::*;

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = tessera_test_support::sqlite(dir.path(), "t.db").await;
    (s, dir)
}

/// A fresh PostgreSQL schema per test, so tests can run in parallel.
async fn postgres() -> Option<Arc<dyn Store>> {
    let base = tessera_test_support::postgres_url()?;
    let schema = format!("t_{}", std::process::id()) + &format!("_{}", rand_suffix());
    let admin = sqlx_admin(&base, &format!("CREATE SCHEMA {schema}")).await;
    assert!(admin, "could not create schema on {base}");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some(tessera_test_support::migrated(&url).await)
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "{}_{n}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

async fn sqlx_admin(url: &str, stmt: &str) -> bool {
    // The suite itself may not speak SQL outside the store's API except to make a scratch schema.
    tessera_store::testing::execute_raw(url, stmt).await.is_ok()
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $name() { let (s, _d) = super::sqlite().await; super::$name(s).await; })*
        }
        mod on_postgres {
            $(#[tokio::test] async fn $name() { if let Some(s) = super::postgres().await { super::$name(s).await; } })*
        }
    };
}

// One suite per port, each on both dialects: `IamStore` (accounts and keys, roles, managed
// policies, users, OIDC providers, the one-read table load), `IdentityCenterStore`
// (instances, issuers and applications with their settings, SCIM tokens, the directory),
// `TokenStore` (signing keys, jtis, refresh tokens, revocations), `SessionKeyStore` and `ChangeCounters` (session keys and generations), `AccessGrantsStore`
// (instances, locations and grants with their quotas and 'not empty' rules), `AuditStore`
// (the chained records, digests and signing keys), `StoreAdmin` (operator tokens).
both!(
    accounts_and_keys,
    roles_and_inline_policies,
    managed_policies,
    users_and_user_policies,
    oidc_providers,
    iam_tables_in_one_read,
    identity_center_instances,
    sso_objects_and_settings,
    tokens_jtis_refresh_and_revocations,
    scim_tokens_and_directory,
    session_keys_and_generations,
    access_grants,
    audit_trail,
    operator_tokens
);

const ACCT: &str = "111111111111";

fn role(name: &str) -> RoleRecord {
    RoleRecord {
        account_id: ACCT.into(),
        name: name.into(),
        role_id: format!("AROA{}", name.to_uppercase()),
        path: "/".into(),
        description: Some("d".into()),
        trust_policy: "{}".into(),
        trust_principal_ids: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: vec![("team".into(), "data".into())],
        created_at: 1_700_000_000,
    }
}

async fn accounts_and_keys(s: Arc<dyn Store>) {
    s.create_account(ACCT, 1).await.unwrap();
    assert!(matches!(
        s.create_account(ACCT, 1).await,
        Err(StoreError::Conflict)
    ));
    assert!(s.account_exists(ACCT).await.unwrap());
    assert!(!s.account_exists("222222222222").await.unwrap());
    assert_eq!(s.list_accounts().await.unwrap(), vec![ACCT.to_string()]);
    // Organizations: none at first, set, cleared; an unknown account has none and cannot join.
    assert_eq!(s.account_organization(ACCT).await.unwrap(), None);
    s.set_account_organization(ACCT, Some("o-abcdefghij"))
        .await
        .unwrap();
    assert_eq!(
        s.account_organization(ACCT).await.unwrap().as_deref(),
        Some("o-abcdefghij")
    );
    assert_eq!(s.account_organization("222222222222").await.unwrap(), None);
    assert!(matches!(
        s.set_account_organization("222222222222", Some("o-abcdefghij"))
            .await,
        Err(StoreError::Constraint(_))
    ));
    s.set_account_organization(ACCT, None).await.unwrap();
    assert_eq!(s.account_organization(ACCT).await.unwrap(), None);

    let k = AccessKeyRecord {
        access_key_id: "AKIAAAAAAAAAAAAAAAAA".into(),
        account_id: ACCT.into(),
        user_name_key: None,
        secret_sealed: vec![1, 2, 3, 0, 255],
        status: "Active".into(),
        created_at: 5,
    };
    s.put_access_key(&k).await.unwrap();
    assert!(matches!(
        s.put_access_key(&k).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.get_access_key(&k.access_key_id).await.unwrap(),
        Some(k.clone())
    );
    assert_eq!(
        s.list_access_keys(ACCT, None).await.unwrap(),
        vec![k.clone()]
    );
    assert!(
        s.list_access_keys(ACCT, Some("bob"))
            .await
            .unwrap()
            .is_empty()
    );
    // A key for an unknown account violates the foreign key.
    let orphan = AccessKeyRecord {
        access_key_id: "AKIABBBBBBBBBBBBBBBB".into(),
        account_id: "999999999999".into(),
        ..k.clone()
    };
    assert!(s.put_access_key(&orphan).await.is_err());
    assert!(s.delete_access_key(ACCT, &k.access_key_id).await.unwrap());
    assert!(!s.delete_access_key(ACCT, &k.access_key_id).await.unwrap());
    assert_eq!(s.get_access_key(&k.access_key_id).await.unwrap(), None);
}

async fn roles_and_inline_policies(s: Arc<dyn Store>) {
    s.create_account(ACCT, 1).await.unwrap();
    let r = role("ApplicationRole");
    s.create_role(&r).await.unwrap();
    // Role names are unique case-insensitively.
    assert!(matches!(
        s.create_role(&role("applicationrole")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.get_role(ACCT, "APPLICATIONROLE").await.unwrap(),
        Some(r.clone())
    );
    s.create_role(&role("Another")).await.unwrap();
    let names: Vec<_> = s
        .list_roles(ACCT)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["Another", "ApplicationRole"]);

    let mut changed = r.clone();
    changed.description = None;
    changed.max_session_duration = 7200;
    changed.trust_policy = "{\"Version\":\"2012-10-17\"}".into();
    changed.trust_principal_ids = Some(vec![(
        "arn:aws:iam::111111111111:user/bob".into(),
        "AIDABOB".into(),
    )]);
    assert!(s.update_role(&changed).await.unwrap());
    assert_eq!(
        s.get_role(ACCT, "ApplicationRole").await.unwrap(),
        Some(changed)
    );
    assert!(!s.update_role(&role("Missing")).await.unwrap());

    s.put_role_policy(ACCT, "ApplicationRole", "p1", "doc1")
        .await
        .unwrap();
    s.put_role_policy(ACCT, "ApplicationRole", "p1", "doc1b")
        .await
        .unwrap();
    s.put_role_policy(ACCT, "ApplicationRole", "a0", "doc0")
        .await
        .unwrap();
    assert_eq!(
        s.get_role_policy(ACCT, "applicationrole", "p1")
            .await
            .unwrap()
            .as_deref(),
        Some("doc1b")
    );
    assert_eq!(
        s.get_role_policy(ACCT, "ApplicationRole", "P1")
            .await
            .unwrap(),
        None,
        "policy names are case-sensitive"
    );
    assert_eq!(
        s.list_role_policies(ACCT, "ApplicationRole").await.unwrap(),
        vec![("a0".into(), "doc0".into()), ("p1".into(), "doc1b".into())]
    );
    // No inline policy on a role that does not exist.
    assert!(s.put_role_policy(ACCT, "Missing", "p", "d").await.is_err());
    assert!(
        s.delete_role_policy(ACCT, "ApplicationRole", "a0")
            .await
            .unwrap()
    );
    assert!(
        !s.delete_role_policy(ACCT, "ApplicationRole", "a0")
            .await
            .unwrap()
    );

    assert!(s.delete_role(ACCT, "ApplicationRole").await.unwrap());
    assert!(
        s.list_role_policies(ACCT, "ApplicationRole")
            .await
            .unwrap()
            .is_empty(),
        "cascade"
    );
    assert!(!s.delete_role(ACCT, "ApplicationRole").await.unwrap());
}

async fn managed_policies(s: Arc<dyn Store>) {
    s.create_account(ACCT, 1).await.unwrap();
    s.create_role(&role("R")).await.unwrap();
    let p = ManagedPolicyRecord {
        arn: format!("arn:aws:iam::{ACCT}:policy/team/P"),
        account_id: ACCT.into(),
        name: "P".into(),
        policy_id: "ANPAXXXXXXXXXXXXXXXX".into(),
        path: "/team/".into(),
        description: None,
        document: "{\"Statement\":[]}".into(),
        created_at: 9,
    };
    s.create_managed_policy(&p).await.unwrap();
    assert!(matches!(
        s.create_managed_policy(&p).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.get_managed_policy(&p.arn).await.unwrap(), Some(p.clone()));
    assert_eq!(
        s.list_managed_policies(ACCT).await.unwrap(),
        vec![p.clone()]
    );
    s.attach_role_policy(ACCT, "R", &p.arn).await.unwrap();
    s.attach_role_policy(ACCT, "r", &p.arn).await.unwrap(); // idempotent
    assert_eq!(s.count_policy_attachments(&p.arn).await.unwrap(), 1);
    assert_eq!(
        s.list_attached_role_policies(ACCT, "R").await.unwrap(),
        vec![p.clone()]
    );
    assert!(
        s.attach_role_policy(ACCT, "R", "arn:aws:iam::111111111111:policy/none")
            .await
            .is_err()
    );
    assert!(s.detach_role_policy(ACCT, "R", &p.arn).await.unwrap());
    assert!(!s.detach_role_policy(ACCT, "R", &p.arn).await.unwrap());
    assert_eq!(s.count_policy_attachments(&p.arn).await.unwrap(), 0);
    assert!(s.delete_managed_policy(&p.arn).await.unwrap());
    assert_eq!(s.get_managed_policy(&p.arn).await.unwrap(), None);
}

async fn users_and_user_policies(s: Arc<dyn Store>) {
    s.create_account(ACCT, 1).await.unwrap();
    let u = UserRecord {
        account_id: ACCT.into(),
        name: "Bob".into(),
        user_id: "AIDABOB".into(),
        path: "/".into(),
        permissions_boundary: None,
        tags: vec![],
        created_at: 3,
    };
    s.create_user(&u).await.unwrap();
    assert!(matches!(
        s.create_user(&UserRecord {
            user_id: "AIDAB2".into(),
            name: "bob".into(),
            ..u.clone()
        })
        .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.get_user(ACCT, "bob").await.unwrap(), Some(u.clone()));
    assert_eq!(s.list_users(ACCT).await.unwrap(), vec![u.clone()]);
    s.put_user_policy(ACCT, "Bob", "inline", "{}")
        .await
        .unwrap();
    assert_eq!(
        s.get_user_policy(ACCT, "bob", "inline")
            .await
            .unwrap()
            .as_deref(),
        Some("{}")
    );
    assert_eq!(s.list_user_policies(ACCT, "Bob").await.unwrap().len(), 1);
    let k = AccessKeyRecord {
        access_key_id: "AKIAUSERUSERUSERUSER".into(),
        account_id: ACCT.into(),
        user_name_key: Some("bob".into()),
        secret_sealed: vec![9],
        status: "Active".into(),
        created_at: 4,
    };
    s.put_access_key(&k).await.unwrap();
    assert_eq!(
        s.list_access_keys(ACCT, Some("BOB")).await.unwrap(),
        vec![k]
    );
    assert!(s.list_access_keys(ACCT, None).await.unwrap().is_empty());
    assert!(s.delete_user_policy(ACCT, "Bob", "inline").await.unwrap());
    assert!(s.delete_user(ACCT, "Bob").await.unwrap());
    assert_eq!(s.get_user(ACCT, "Bob").await.unwrap(), None);
}

async fn oidc_providers(s: Arc<dyn Store>) {
    s.create_account(ACCT, 1).await.unwrap();
    let p = OidcProviderRecord {
        arn: format!("arn:aws:iam::{ACCT}:oidc-provider/idp.example.com/tenant"),
        account_id: ACCT.into(),
        url: "idp.example.com/tenant".into(),
        client_ids: vec!["app-1".into(), "app-2".into()],
        thumbprints: vec!["9e99a48a9960b14926bb7f3b02e22da2b0ab7280".into()],
        tags: vec![("k".into(), "v".into())],
        created_at: 7,
    };
    s.create_oidc_provider(&p).await.unwrap();
    assert!(matches!(
        s.create_oidc_provider(&p).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.get_oidc_provider(&p.arn).await.unwrap(), Some(p.clone()));
    assert_eq!(s.list_oidc_providers(ACCT).await.unwrap(), vec![p.clone()]);
    assert!(
        s.list_oidc_providers("222222222222")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.delete_oidc_provider(&p.arn).await.unwrap());
    assert!(!s.delete_oidc_provider(&p.arn).await.unwrap());
}

async fn session_keys_and_generations(s: Arc<dyn Store>) {
    assert!(s.list_session_keys().await.unwrap().is_empty());
    let k1 = SessionKeyRecord {
        id: 1,
        secret_sealed: vec![1, 2, 3],
        created_at: 10,
    };
    let k2 = SessionKeyRecord {
        id: 2,
        secret_sealed: vec![4, 5],
        created_at: 20,
    };
    s.add_session_key(&k2).await.unwrap();
    s.add_session_key(&k1).await.unwrap();
    assert!(matches!(
        s.add_session_key(&k1).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.list_session_keys().await.unwrap(),
        vec![k1.clone(), k2.clone()]
    );
    assert!(s.delete_session_key(1).await.unwrap());
    assert!(!s.delete_session_key(1).await.unwrap());
    assert_eq!(s.list_session_keys().await.unwrap(), vec![k2]);

    assert_eq!(s.generation("iam").await.unwrap(), 0);
    assert_eq!(s.bump_generation("iam").await.unwrap(), 1);
    assert_eq!(s.bump_generation("iam").await.unwrap(), 2);
    assert_eq!(s.generation("iam").await.unwrap(), 2);
    assert_eq!(s.generation("other").await.unwrap(), 0);
    assert_eq!(s.bump_generation("other").await.unwrap(), 1);
}

async fn iam_tables_in_one_read(s: Arc<dyn Store>) {
    s.create_account(ACCT, 1).await.unwrap();
    s.create_account("222222222222", 1).await.unwrap();
    s.create_role(&role("Reader")).await.unwrap();
    s.create_role(&RoleRecord {
        account_id: "222222222222".into(),
        role_id: "AROAOTHER".into(),
        ..role("Reader")
    })
    .await
    .unwrap();
    s.put_role_policy(ACCT, "Reader", "b", "{\"n\":2}")
        .await
        .unwrap();
    s.put_role_policy(ACCT, "reader", "a", "{\"n\":1}")
        .await
        .unwrap();
    let mp = ManagedPolicyRecord {
        arn: format!("arn:aws:iam::{ACCT}:policy/P"),
        account_id: ACCT.into(),
        name: "P".into(),
        policy_id: "ANPAP".into(),
        path: "/".into(),
        description: None,
        document: "{}".into(),
        created_at: 2,
    };
    s.create_managed_policy(&mp).await.unwrap();
    s.attach_role_policy(ACCT, "Reader", &mp.arn).await.unwrap();
    s.create_user(&UserRecord {
        account_id: ACCT.into(),
        name: "Ann".into(),
        user_id: "AIDAANN".into(),
        path: "/".into(),
        permissions_boundary: None,
        tags: vec![],
        created_at: 3,
    })
    .await
    .unwrap();
    s.put_user_policy(ACCT, "Ann", "u", "{}").await.unwrap();

    let t = s.iam_tables().await.unwrap();
    assert_eq!(t.managed_policies, vec![mp.clone()]);
    assert_eq!(t.roles.len(), 2, "roles of every account");
    assert_eq!(t.roles[0].account_id, ACCT);
    let names: Vec<(&str, &str)> = t
        .role_policies
        .iter()
        .map(|p| (p.owner_key.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(names, vec![("reader", "a"), ("reader", "b")]);
    assert_eq!(
        t.role_attachments,
        vec![AttachmentRow {
            account_id: ACCT.into(),
            role_key: "reader".into(),
            policy_arn: mp.arn.clone(),
        }]
    );
    assert_eq!(t.users.len(), 1);
    assert_eq!(
        t.user_policies,
        vec![InlinePolicyRow {
            account_id: ACCT.into(),
            owner_key: "ann".into(),
            name: "u".into(),
            document: "{}".into(),
        }]
    );
}

async fn identity_center_instances(s: Arc<dyn Store>) {
    s.create_account(ACCT, 1).await.unwrap();
    let i = InstanceRecord {
        instance_arn: "arn:aws:sso:::instance/ssoins-0123456789abcdef".into(),
        identity_store_id: "d-0123456789".into(),
        owner_account_id: ACCT.into(),
        name: Some("acme".into()),
        status: "ACTIVE".into(),
        client_token: Some("token-1".into()),
        tags: vec![("team".into(), "identity".into())],
        created_at: 1_700_000_000,
    };
    s.create_instance(&i).await.unwrap();
    assert_eq!(
        s.get_instance(&i.instance_arn).await.unwrap(),
        Some(i.clone())
    );
    assert_eq!(s.list_instances(ACCT).await.unwrap(), vec![i.clone()]);
    assert!(s.list_instances("222222222222").await.unwrap().is_empty());
    // One instance per account.
    let second = InstanceRecord {
        instance_arn: "arn:aws:sso:::instance/ssoins-fedcba9876543210".into(),
        identity_store_id: "d-9876543210".into(),
        name: None,
        ..i.clone()
    };
    assert!(matches!(
        s.create_instance(&second).await,
        Err(StoreError::Conflict)
    ));
    // An instance needs an existing account.
    assert!(
        s.create_instance(&InstanceRecord {
            owner_account_id: "333333333333".into(),
            ..second
        })
        .await
        .is_err()
    );
    assert_eq!(
        s.get_instance("arn:aws:sso:::instance/ssoins-none")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.instance_by_identity_store("d-0123456789").await.unwrap(),
        Some(i.clone())
    );

    // Users of its identity store: names unique without regard to case, lookups by name and
    // by primary email.
    let st = "d-0123456789";
    let u = IdentityUserRecord {
        identity_store_id: st.into(),
        user_id: "0123456789-11111111-2222-3333-4444-555555555555".into(),
        user_name: "Mateo".into(),
        email_key: Some("mateo@example.com".into()),
        attributes: r#"{"DisplayName":"Mateo Jackson"}"#.into(),
        created_at: 5,
        created_by: "arn:aws:iam::111111111111:root".into(),
        updated_at: 5,
        updated_by: "arn:aws:iam::111111111111:root".into(),
    };
    s.create_identity_user(&u).await.unwrap();
    assert!(matches!(
        s.create_identity_user(&IdentityUserRecord {
            user_id: "0123456789-99999999-2222-3333-4444-555555555555".into(),
            user_name: "MATEO".into(),
            ..u.clone()
        })
        .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.get_identity_user(st, &u.user_id).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        s.identity_user_by_name(st, "mateo").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        s.identity_users_by_email(st, "MATEO@example.com")
            .await
            .unwrap(),
        vec![u.clone()]
    );
    assert_eq!(s.list_identity_users(st).await.unwrap(), vec![u.clone()]);
    assert!(
        s.get_identity_user("d-9876543210", &u.user_id)
            .await
            .unwrap()
            .is_none()
    );

    // Groups and memberships; a membership goes with its user or group.
    let g = IdentityGroupRecord {
        identity_store_id: st.into(),
        group_id: "0123456789-aaaaaaaa-2222-3333-4444-555555555555".into(),
        display_name: "Engineering".into(),
        description: Some("builders".into()),
        external_ids: Some(r#"[{"Issuer":"scim","Id":"g-1"}]"#.into()),
        created_at: 6,
        created_by: "x".into(),
        updated_at: 6,
        updated_by: "x".into(),
    };
    s.create_identity_group(&g).await.unwrap();
    assert!(matches!(
        s.create_identity_group(&IdentityGroupRecord {
            group_id: "0123456789-bbbbbbbb-2222-3333-4444-555555555555".into(),
            display_name: "ENGINEERING".into(),
            ..g.clone()
        })
        .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.identity_group_by_name(st, "engineering").await.unwrap(),
        Some(g.clone())
    );
    assert_eq!(s.list_identity_groups(st).await.unwrap(), vec![g.clone()]);
    let m = MembershipRecord {
        identity_store_id: st.into(),
        membership_id: "0123456789-cccccccc-2222-3333-4444-555555555555".into(),
        group_id: g.group_id.clone(),
        user_id: u.user_id.clone(),
        created_at: 7,
        created_by: "x".into(),
    };
    s.create_membership(&m).await.unwrap();
    assert!(matches!(
        s.create_membership(&MembershipRecord {
            membership_id: "0123456789-dddddddd-2222-3333-4444-555555555555".into(),
            ..m.clone()
        })
        .await,
        Err(StoreError::Conflict)
    ));
    assert!(
        s.create_membership(&MembershipRecord {
            membership_id: "0123456789-eeeeeeee-2222-3333-4444-555555555555".into(),
            user_id: "0123456789-ffffffff-2222-3333-4444-555555555555".into(),
            ..m.clone()
        })
        .await
        .is_err(),
        "a membership needs its user"
    );
    assert_eq!(
        s.membership_of(st, &g.group_id, &u.user_id).await.unwrap(),
        Some(m.clone())
    );
    assert_eq!(
        s.group_memberships(st, &g.group_id).await.unwrap(),
        vec![m.clone()]
    );
    assert_eq!(
        s.user_memberships(st, &u.user_id).await.unwrap(),
        vec![m.clone()]
    );
    assert_eq!(
        s.get_membership(st, &m.membership_id).await.unwrap(),
        Some(m.clone())
    );

    // Updates: a rename keeps uniqueness without regard to case.
    let renamed = IdentityUserRecord {
        user_name: "mateo.j".into(),
        email_key: None,
        updated_at: 9,
        ..u.clone()
    };
    assert!(s.update_identity_user(&renamed).await.unwrap());
    assert_eq!(
        s.identity_user_by_name(st, "MATEO.J").await.unwrap(),
        Some(renamed.clone())
    );
    assert!(
        s.identity_users_by_email(st, "mateo@example.com")
            .await
            .unwrap()
            .is_empty()
    );
    let other = IdentityUserRecord {
        user_id: "0123456789-77777777-2222-3333-4444-555555555555".into(),
        user_name: "zoe".into(),
        email_key: None,
        ..u.clone()
    };
    s.create_identity_user(&other).await.unwrap();
    assert!(matches!(
        s.update_identity_user(&IdentityUserRecord {
            user_name: "Mateo.J".into(),
            ..other.clone()
        })
        .await,
        Err(StoreError::Conflict)
    ));
    assert!(
        !s.update_identity_user(&IdentityUserRecord {
            user_id: "0123456789-00000000-2222-3333-4444-555555555555".into(),
            ..other.clone()
        })
        .await
        .unwrap()
    );
    let regrouped = IdentityGroupRecord {
        display_name: "Platform".into(),
        description: None,
        ..g.clone()
    };
    assert!(s.update_identity_group(&regrouped).await.unwrap());
    assert_eq!(
        s.identity_group_by_name(st, "platform").await.unwrap(),
        Some(regrouped)
    );

    assert!(s.delete_identity_user(st, &u.user_id).await.unwrap());
    assert!(!s.delete_identity_user(st, &u.user_id).await.unwrap());
    assert!(
        s.get_membership(st, &m.membership_id)
            .await
            .unwrap()
            .is_none(),
        "the membership went with the user"
    );
    assert!(s.delete_identity_group(st, &g.group_id).await.unwrap());
    assert!(!s.delete_membership(st, &m.membership_id).await.unwrap());
}

async fn instance_for(s: &Arc<dyn Store>) -> InstanceRecord {
    s.create_account(ACCT, 1).await.unwrap();
    let i = InstanceRecord {
        instance_arn: "arn:aws:sso:::instance/ssoins-0123456789abcdef".into(),
        identity_store_id: "d-0123456789".into(),
        owner_account_id: ACCT.into(),
        name: None,
        status: "ACTIVE".into(),
        client_token: None,
        tags: Vec::new(),
        created_at: 1,
    };
    s.create_instance(&i).await.unwrap();
    i
}

async fn sso_objects_and_settings(s: Arc<dyn Store>) {
    let i = instance_for(&s).await;
    let tti = SsoObjectRecord {
        arn: "arn:aws:sso::111111111111:trustedTokenIssuer/ssoins-0123456789abcdef/tti-1".into(),
        instance_arn: i.instance_arn.clone(),
        kind: "tti".into(),
        name_key: Some("entra".into()),
        client_token: Some("c".into()),
        document: r#"{"Name":"Entra"}"#.into(),
        created_at: 2,
    };
    s.create_sso_object(&tti).await.unwrap();
    // Names are unique per instance and kind.
    let twin = SsoObjectRecord {
        arn: format!("{}-2", tti.arn),
        ..tti.clone()
    };
    assert!(matches!(
        s.create_sso_object(&twin).await,
        Err(StoreError::Conflict)
    ));
    let app = SsoObjectRecord {
        arn: "arn:aws:sso::111111111111:application/ssoins-0123456789abcdef/apl-1".into(),
        kind: "app".into(),
        name_key: None,
        ..tti.clone()
    };
    s.create_sso_object(&app).await.unwrap();
    // Applications may share names (no name key).
    s.create_sso_object(&SsoObjectRecord {
        arn: format!("{}-2", app.arn),
        ..app.clone()
    })
    .await
    .unwrap();
    assert_eq!(s.get_sso_object(&tti.arn).await.unwrap(), Some(tti.clone()));
    assert_eq!(
        s.list_sso_objects(&i.instance_arn, "app")
            .await
            .unwrap()
            .len(),
        2
    );
    let renamed = SsoObjectRecord {
        document: r#"{"Name":"E2"}"#.into(),
        name_key: Some("e2".into()),
        ..tti.clone()
    };
    assert!(s.update_sso_object(&renamed).await.unwrap());
    assert_eq!(s.get_sso_object(&tti.arn).await.unwrap(), Some(renamed));

    let grant = AppSettingRecord {
        application_arn: app.arn.clone(),
        kind: "grant".into(),
        key: "refresh_token".into(),
        document: "{}".into(),
    };
    s.put_app_setting(&grant).await.unwrap();
    // A put replaces.
    let grant2 = AppSettingRecord {
        document: r#"{"RefreshToken":{}}"#.into(),
        ..grant.clone()
    };
    s.put_app_setting(&grant2).await.unwrap();
    assert_eq!(
        s.get_app_setting(&app.arn, "grant", "refresh_token")
            .await
            .unwrap(),
        Some(grant2.clone())
    );
    assert_eq!(
        s.list_app_settings(&app.arn, "grant").await.unwrap(),
        vec![grant2.clone()]
    );
    let t = s.sso_config_tables().await.unwrap();
    assert_eq!(
        (t.instances.len(), t.objects.len(), t.settings.len()),
        (1, 3, 1)
    );
    assert!(
        s.delete_app_setting(&app.arn, "grant", "refresh_token")
            .await
            .unwrap()
    );
    assert!(
        !s.delete_app_setting(&app.arn, "grant", "refresh_token")
            .await
            .unwrap()
    );
    // A setting goes with its application.
    s.put_app_setting(&grant).await.unwrap();
    assert!(s.delete_sso_object(&app.arn).await.unwrap());
    assert!(
        s.list_app_settings(&app.arn, "grant")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn tokens_jtis_refresh_and_revocations(s: Arc<dyn Store>) {
    let k = SigningKeyRecord {
        kid: "k1".into(),
        key_sealed: vec![1, 2, 3],
        created_at: 5,
    };
    s.add_signing_key(&k).await.unwrap();
    assert!(matches!(
        s.add_signing_key(&k).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.list_signing_keys().await.unwrap(), vec![k]);

    assert!(s.record_jti("tti-1", "j1", 100).await.unwrap());
    assert!(!s.record_jti("tti-1", "j1", 100).await.unwrap(), "a replay");
    assert!(
        s.record_jti("tti-2", "j1", 100).await.unwrap(),
        "per issuer"
    );
    assert!(s.record_jti("tti-1", "j2", 200).await.unwrap());
    let batch = s
        .record_jtis(&[
            ("tti-3".into(), "a".into(), 100),
            ("tti-3".into(), "a".into(), 100),
            ("tti-1".into(), "j1".into(), 100),
            ("tti-3".into(), "b".into(), 100),
        ])
        .await
        .unwrap();
    assert_eq!(
        batch,
        vec![true, false, false, true],
        "replays within and across batches"
    );
    // Pruning goes by the store's clock: ids that expired long ago go, one that expires
    // in a minute stays even with no margin at all.
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 60;
    assert!(s.record_jti("tti-9", "live", soon).await.unwrap());
    assert_eq!(s.prune_jtis(3600).await.unwrap(), 5);
    assert_eq!(s.prune_jtis(0).await.unwrap(), 0);
    assert!(
        !s.record_jti("tti-9", "live", soon).await.unwrap(),
        "an unexpired id was pruned"
    );
    assert!(
        s.record_jti("tti-1", "j1", 300).await.unwrap(),
        "pruned after expiry"
    );

    let t = RefreshTokenRecord {
        token_hash: "h1".into(),
        family_id: "f1".into(),
        user_id: "u1".into(),
        document: "{}".into(),
        issued_at: 1,
        expires_at: 1000,
        used: false,
    };
    s.add_refresh_token(&t).await.unwrap();
    assert_eq!(
        s.get_refresh_token("h1").await.unwrap(),
        RefreshUse::Fresh(t.clone())
    );
    // Rotation: the token is used and its successor stored, in one transaction.
    let next = RefreshTokenRecord {
        token_hash: "h2".into(),
        ..t.clone()
    };
    assert_eq!(
        s.rotate_refresh_token("h1", &next).await.unwrap(),
        RefreshUse::Fresh(RefreshTokenRecord {
            used: true,
            ..t.clone()
        })
    );
    assert_eq!(
        s.get_refresh_token("h2").await.unwrap(),
        RefreshUse::Fresh(next.clone())
    );
    // Presented again: a replay, and no successor is stored.
    let third = RefreshTokenRecord {
        token_hash: "h3".into(),
        ..t.clone()
    };
    assert_eq!(
        s.rotate_refresh_token("h1", &third).await.unwrap(),
        RefreshUse::Reused {
            family_id: "f1".into()
        }
    );
    assert_eq!(
        s.get_refresh_token("h3").await.unwrap(),
        RefreshUse::Unknown
    );
    assert_eq!(
        s.get_refresh_token("nope").await.unwrap(),
        RefreshUse::Unknown
    );
    assert_eq!(s.revoke_refresh_family("f1", 5).await.unwrap(), 2);
    assert_eq!(
        s.get_refresh_token("h2").await.unwrap(),
        RefreshUse::Unknown
    );
    // A revoked family stays revoked: a token added to it later (a rotation that raced the
    // revocation) is not live.
    s.add_refresh_token(&RefreshTokenRecord {
        token_hash: "h4".into(),
        ..t.clone()
    })
    .await
    .unwrap();
    assert_eq!(
        s.get_refresh_token("h4").await.unwrap(),
        RefreshUse::Unknown
    );
    assert_eq!(
        s.rotate_refresh_token("h4", &third).await.unwrap(),
        RefreshUse::Unknown
    );

    let u2 = RefreshTokenRecord {
        token_hash: "h5".into(),
        family_id: "f2".into(),
        user_id: "u2".into(),
        ..t.clone()
    };
    s.add_refresh_token(&u2).await.unwrap();
    s.revoke_user("u2", 50).await.unwrap();
    s.revoke_user("u2", 60).await.unwrap();
    assert_eq!(
        s.list_revocations().await.unwrap(),
        vec![("u2".to_owned(), 60)]
    );
    assert_eq!(
        s.get_refresh_token("h5").await.unwrap(),
        RefreshUse::Unknown,
        "the user's refresh tokens went"
    );
    s.add_refresh_token(&RefreshTokenRecord {
        token_hash: "h6".into(),
        ..u2.clone()
    })
    .await
    .unwrap();
    assert_eq!(
        s.get_refresh_token("h6").await.unwrap(),
        RefreshUse::Unknown,
        "and their families stay revoked"
    );
}

async fn scim_tokens_and_directory(s: Arc<dyn Store>) {
    let i = instance_for(&s).await;
    let st = i.identity_store_id.as_str();
    let tok = ScimTokenRecord {
        token_id: "t1".into(),
        identity_store_id: st.into(),
        token_hash: "hash".into(),
        created_at: 1,
        expires_at: 2,
    };
    s.add_scim_token(&tok).await.unwrap();
    assert!(matches!(
        s.add_scim_token(&ScimTokenRecord {
            identity_store_id: "d-9999999999".into(),
            token_id: "t2".into(),
            token_hash: "h2".into(),
            ..tok.clone()
        })
        .await,
        Err(StoreError::Constraint(_))
    ));
    assert_eq!(
        s.scim_token_by_hash("hash").await.unwrap(),
        Some(tok.clone())
    );
    assert!(s.delete_scim_token("t1").await.unwrap());
    assert_eq!(s.scim_token_by_hash("hash").await.unwrap(), None);

    let u = IdentityUserRecord {
        identity_store_id: st.into(),
        user_id: "0123456789-aaaaaaaa-1111-2222-3333-444444444444".into(),
        user_name: "Mateo".into(),
        email_key: Some("m@x".into()),
        attributes: "{}".into(),
        created_at: 1,
        created_by: "x".into(),
        updated_at: 1,
        updated_by: "x".into(),
    };
    s.create_identity_user(&u).await.unwrap();
    let g = IdentityGroupRecord {
        identity_store_id: st.into(),
        group_id: "0123456789-bbbbbbbb-1111-2222-3333-444444444444".into(),
        display_name: "Red".into(),
        description: None,
        external_ids: None,
        created_at: 1,
        created_by: "x".into(),
        updated_at: 1,
        updated_by: "x".into(),
    };
    s.create_identity_group(&g).await.unwrap();
    s.create_membership(&MembershipRecord {
        identity_store_id: st.into(),
        membership_id: "m1".into(),
        group_id: g.group_id.clone(),
        user_id: u.user_id.clone(),
        created_at: 1,
        created_by: "x".into(),
    })
    .await
    .unwrap();
    // A group and its memberships are written together, or not at all.
    let g2 = IdentityGroupRecord {
        group_id: "0123456789-cccccccc-1111-2222-3333-444444444444".into(),
        display_name: "Blue".into(),
        ..g.clone()
    };
    let member = |id: &str, user: &str, group: &str| MembershipRecord {
        identity_store_id: st.into(),
        membership_id: id.into(),
        group_id: group.into(),
        user_id: user.into(),
        created_at: 1,
        created_by: "x".into(),
    };
    let ghost = member(
        "m9",
        "0000000000-00000000-0000-0000-0000-000000000000",
        &g2.group_id,
    );
    assert!(matches!(
        s.write_group(&g2, GroupWrite::Create, &[ghost], &[]).await,
        Err(StoreError::Constraint(_))
    ));
    assert!(
        s.get_identity_group(st, &g2.group_id)
            .await
            .unwrap()
            .is_none(),
        "nothing half-written"
    );
    let dup = IdentityGroupRecord {
        display_name: "RED".into(),
        ..g2.clone()
    };
    assert!(matches!(
        s.write_group(&dup, GroupWrite::Create, &[], &[]).await,
        Err(StoreError::Conflict)
    ));
    assert!(
        s.write_group(
            &g2,
            GroupWrite::Create,
            &[member("m2", &u.user_id, &g2.group_id)],
            &[]
        )
        .await
        .unwrap()
    );
    // Adding an existing membership keeps it; removing works by membership id.
    assert!(
        s.write_group(
            &g2,
            GroupWrite::Keep,
            &[member("m3", &u.user_id, &g2.group_id)],
            &[]
        )
        .await
        .unwrap()
    );
    assert_eq!(
        s.group_memberships(st, &g2.group_id).await.unwrap().len(),
        1
    );
    assert!(
        s.write_group(&g2, GroupWrite::Update, &[], &["m2".into()])
            .await
            .unwrap()
    );
    assert!(
        s.group_memberships(st, &g2.group_id)
            .await
            .unwrap()
            .is_empty()
    );
    let missing = IdentityGroupRecord {
        group_id: "0123456789-dddddddd-1111-2222-3333-444444444444".into(),
        ..g2.clone()
    };
    assert!(
        !s.write_group(&missing, GroupWrite::Keep, &[], &[])
            .await
            .unwrap()
    );
    let d = s.directory_tables().await.unwrap();
    assert_eq!((d.users, d.memberships.len()), (vec![u], 1));
}

async fn access_grants(s: Arc<dyn Store>) {
    let inst = AgInstanceRecord {
        account_id: ACCT.into(),
        identity_center_arn: None,
        application_arn: None,
        resource_policy: None,
        policy_organization: None,
        policy_created_at: None,
        tags: vec![("k".into(), "v".into())],
        created_at: 1,
    };
    let loc = |id: &str, scope: &str| AgLocationRecord {
        account_id: ACCT.into(),
        location_id: id.into(),
        location_scope: scope.into(),
        iam_role_arn: "arn:aws:iam::111111111111:role/r".into(),
        tags: vec![],
        created_at: 2,
    };
    // No instance: nothing can be added under it.
    assert!(matches!(
        s.create_ag_location(&loc("default", "s3://"), 10).await,
        Err(StoreError::Constraint(_))
    ));
    s.create_ag_instance(&inst).await.unwrap();
    assert!(matches!(
        s.create_ag_instance(&inst).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.get_ag_instance(ACCT).await.unwrap().unwrap(), inst);
    let mut assoc = inst.clone();
    assoc.identity_center_arn = Some("arn:aws:sso:::instance/ssoins-1".into());
    assert!(s.update_ag_instance(&assoc).await.unwrap());
    assert_eq!(s.get_ag_instance(ACCT).await.unwrap().unwrap(), assoc);
    let v0 = s.access_grants_tables().await.unwrap().versions[0].1;

    s.create_ag_location(&loc("default", "s3://"), 2)
        .await
        .unwrap();
    // The same scope twice, and a location beyond the quota.
    assert!(matches!(
        s.create_ag_location(&loc("l2", "s3://"), 2).await,
        Err(StoreError::Conflict)
    ));
    s.create_ag_location(&loc("l2", "s3://b/"), 2)
        .await
        .unwrap();
    assert!(matches!(
        s.create_ag_location(&loc("l3", "s3://c/"), 2).await,
        Err(StoreError::LimitExceeded)
    ));
    assert_eq!(s.list_ag_locations(ACCT).await.unwrap().len(), 2);
    let grant = |id: &str, scope: &str, grantee: &str| AgGrantRecord {
        account_id: ACCT.into(),
        grant_id: id.into(),
        location_id: "l2".into(),
        sub_prefix: Some(scope.trim_start_matches("s3://b/").into()),
        grant_scope: scope.into(),
        grantee_type: "DIRECTORY_GROUP".into(),
        grantee_id: grantee.into(),
        permission: "READ".into(),
        application_arn: None,
        prefix_type: None,
        tags: vec![],
        created_at: 3,
    };
    s.create_ag_grant(&grant("g1", "s3://b/red/*", "grp"), 2)
        .await
        .unwrap();
    assert!(matches!(
        s.create_ag_grant(&grant("g2", "s3://b/red/*", "grp"), 2)
            .await,
        Err(StoreError::Conflict)
    ));
    // The change log: a replica at v0 gets the two locations and the grant, in order; one
    // that knows nothing gets everything; one that is current gets nothing.
    match &s.access_grants_delta(&[(ACCT.into(), v0)]).await.unwrap()[0].1 {
        AgInstanceDelta::Changes {
            log,
            grants,
            locations,
            version,
            ..
        } => {
            let ops: Vec<&str> = log.iter().map(|e| e.op.as_str()).collect();
            assert_eq!(ops, ["config", "config", "put"]);
            assert_eq!(log[2].grant_scope, "s3://b/red/*");
            assert_eq!(grants.len(), 1);
            assert_eq!(locations.len(), 2);
            assert_eq!(*version, v0 + 3);
            match &s
                .access_grants_delta(&[(ACCT.into(), *version)])
                .await
                .unwrap()[0]
                .1
            {
                AgInstanceDelta::Same => {}
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &s.access_grants_delta(&[]).await.unwrap()[0].1,
        AgInstanceDelta::Full { grants, .. } if grants.len() == 1
    ));
    assert!(matches!(
        &s.access_grants_delta(&[("999999999999".into(), 1)]).await.unwrap()[..],
        [(_, AgInstanceDelta::Full { .. }), (a, AgInstanceDelta::Deleted)] if a == "999999999999"
    ));
    // A failed insert does not use up the quota.
    s.create_ag_grant(&grant("g2", "s3://b/blue/*", "grp"), 2)
        .await
        .unwrap();
    assert!(matches!(
        s.create_ag_grant(&grant("g3", "s3://b/green/*", "grp"), 2)
            .await,
        Err(StoreError::LimitExceeded)
    ));
    let mut orphan = grant("g4", "s3://b/x*", "grp");
    orphan.location_id = "nope".into();
    assert!(s.create_ag_grant(&orphan, 10).await.is_err());
    assert_eq!(
        s.get_ag_grant(ACCT, "g1").await.unwrap().unwrap(),
        grant("g1", "s3://b/red/*", "grp")
    );
    assert!(
        s.set_ag_tags(ACCT, AgResource::Grant, "g1", &[("a".into(), "b".into())])
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_ag_grant(ACCT, "g1")
            .await
            .unwrap()
            .unwrap()
            .tags
            .len(),
        1
    );
    assert!(
        !s.set_ag_tags(ACCT, AgResource::Grant, "zz", &[])
            .await
            .unwrap()
    );
    // A location with grants, and an instance with locations, cannot be deleted.
    assert!(matches!(
        s.delete_ag_location(ACCT, "l2").await,
        Err(StoreError::Constraint(_))
    ));
    assert!(matches!(
        s.delete_ag_instance(ACCT).await,
        Err(StoreError::Constraint(_))
    ));
    // A bulk import is all or nothing: over the quota, or with a duplicate, nothing lands.
    let batch = [
        grant("b1", "s3://b/i1*", "grp"),
        grant("b2", "s3://b/i2*", "grp"),
    ];
    assert!(matches!(
        s.import_ag_grants(ACCT, &batch, 3).await,
        Err(StoreError::LimitExceeded)
    ));
    let dup = [
        grant("b1", "s3://b/i1*", "grp"),
        grant("b2", "s3://b/red/*", "grp"),
    ];
    assert!(matches!(
        s.import_ag_grants(ACCT, &dup, 10).await,
        Err(StoreError::Conflict)
    ));
    assert!(s.get_ag_grant(ACCT, "b1").await.unwrap().is_none());
    let t = s.access_grants_tables().await.unwrap();
    assert_eq!(
        (t.instances.len(), t.locations.len(), t.grants.len()),
        (1, 2, 2)
    );
    assert!(s.delete_ag_grant(ACCT, "g1").await.unwrap());
    assert!(!s.delete_ag_grant(ACCT, "g1").await.unwrap());
    s.create_ag_grant(&grant("g3", "s3://b/green/*", "grp"), 2)
        .await
        .unwrap();
    assert!(s.delete_ag_grant(ACCT, "g2").await.unwrap());
    assert!(s.delete_ag_grant(ACCT, "g3").await.unwrap());
    assert!(s.delete_ag_location(ACCT, "l2").await.unwrap());
    assert!(s.delete_ag_location(ACCT, "default").await.unwrap());
    assert!(s.delete_ag_instance(ACCT).await.unwrap());
    assert!(s.get_ag_instance(ACCT).await.unwrap().is_none());
}

fn audit_row(seq: i64, time: &str, name: &str, user: Option<&str>) -> AuditRow {
    AuditRow {
        seq,
        event_time: time.into(),
        event_source: "s3.amazonaws.com".into(),
        event_name: name.into(),
        principal_arn: "arn:aws:sts::111111111111:assumed-role/app/s".into(),
        on_behalf_of: user.map(str::to_owned),
        request_id: format!("req-{seq}"),
        body: format!(r#"{{"eventName":"{name}","seq":{seq}}}"#),
        prev_hash: format!("{:064x}", seq - 1),
        hash: format!("{seq:064x}"),
    }
}

async fn audit_trail(s: Arc<dyn Store>) {
    assert_eq!(s.audit_head().await.unwrap(), None);
    let rows = vec![
        audit_row(
            1,
            "2026-12-02T10:00:00Z",
            "CreateTokenWithIAM",
            Some("u-mateo"),
        ),
        audit_row(2, "2026-12-02T10:00:01Z", "GetDataAccess", Some("u-mateo")),
        audit_row(3, "2026-12-02T10:00:02Z", "GetObject", Some("u-mateo")),
    ];
    s.append_audit(&rows).await.unwrap();
    // A batch that reuses a sequence number is refused whole: the chain cannot fork.
    let clash = vec![
        audit_row(4, "2026-12-02T10:00:03Z", "GetObject", Some("u-zoe")),
        audit_row(3, "2026-12-02T10:00:03Z", "GetObject", Some("u-zoe")),
    ];
    assert!(matches!(
        s.append_audit(&clash).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.audit_head().await.unwrap(),
        Some((3, format!("{:064x}", 3)))
    );
    s.append_audit(&[audit_row(
        4,
        "2026-12-02T11:00:00Z",
        "GetObject",
        Some("u-zoe"),
    )])
    .await
    .unwrap();
    assert_eq!(s.audit_range(2, 2).await.unwrap(), rows[1..3].to_vec());
    assert_eq!(s.audit_range(5, 10).await.unwrap(), vec![]);
    assert_eq!(
        s.audit_seq_at("2026-12-02T10:00:01Z").await.unwrap(),
        Some(2)
    );
    assert_eq!(s.audit_seq_at("2026-12-03T00:00:00Z").await.unwrap(), None);

    let seqs = |rows: Vec<AuditRow>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    let all = AuditFilter::default();
    assert_eq!(
        seqs(s.audit_query(&all, 10).await.unwrap()),
        vec![4, 3, 2, 1]
    );
    assert_eq!(seqs(s.audit_query(&all, 2).await.unwrap()), vec![4, 3]);
    let mateo_reads = AuditFilter {
        on_behalf_of: Some("u-mateo".into()),
        event_name: Some("GetObject".into()),
        ..Default::default()
    };
    assert_eq!(
        seqs(s.audit_query(&mateo_reads, 10).await.unwrap()),
        vec![3]
    );
    let window = AuditFilter {
        since: Some("2026-12-02T10:00:01Z".into()),
        until: Some("2026-12-02T11:00:00Z".into()),
        ..Default::default()
    };
    assert_eq!(seqs(s.audit_query(&window, 10).await.unwrap()), vec![3, 2]);
    let by_request = AuditFilter {
        request_id: Some("req-2".into()),
        principal_arn: Some("arn:aws:sts::111111111111:assumed-role/app/s".into()),
        ..Default::default()
    };
    assert_eq!(seqs(s.audit_query(&by_request, 10).await.unwrap()), vec![2]);

    // A large batch (several multi-row statements) lands whole and in order.
    let many: Vec<AuditRow> = (5..=254)
        .map(|i| audit_row(i, "2026-12-02T12:00:00Z", "PutObject", None))
        .collect();
    s.append_audit(&many).await.unwrap();
    assert_eq!(
        s.audit_head().await.unwrap(),
        Some((254, format!("{:064x}", 254)))
    );
    assert_eq!(s.audit_range(5, 1000).await.unwrap(), many);

    // Rows from a local audit log move its cursor in the same transaction; a refused batch
    // leaves the cursor where it was.
    assert_eq!(s.audit_cursor("log-a").await.unwrap(), 0);
    assert!(
        s.append_audit_from(
            &[audit_row(255, "2026-12-02T12:00:01Z", "GetObject", None)],
            "log-a",
            17,
        )
        .await
        .unwrap()
    );
    assert_eq!(s.audit_cursor("log-a").await.unwrap(), 17);
    // The same batch handed over again (its first commit's answer was lost): not appended
    // twice, whatever sequence numbers it was chained on.
    assert!(
        !s.append_audit_from(
            &[audit_row(256, "2026-12-02T12:00:01Z", "GetObject", None)],
            "log-a",
            17,
        )
        .await
        .unwrap()
    );
    assert_eq!(s.audit_head().await.unwrap().unwrap().0, 255);
    assert_eq!(s.audit_cursor("log-a").await.unwrap(), 17);
    assert!(matches!(
        s.append_audit_from(
            &[audit_row(255, "2026-12-02T12:00:02Z", "GetObject", None)],
            "log-a",
            18,
        )
        .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.audit_cursor("log-a").await.unwrap(), 17);
    assert_eq!(s.audit_cursor("log-b").await.unwrap(), 0);
    assert!(
        s.append_audit_from(
            &[audit_row(256, "2026-12-02T12:00:03Z", "GetObject", None)],
            "log-a",
            18,
        )
        .await
        .unwrap()
    );
    assert_eq!(s.audit_cursor("log-a").await.unwrap(), 18);

    let d1 = AuditDigestRow {
        digest_seq: 1,
        end_seq: 3,
        body: "{}".into(),
    };
    s.put_audit_digest(&d1).await.unwrap();
    assert!(matches!(
        s.put_audit_digest(&d1).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.audit_digests().await.unwrap(), vec![d1]);

    let k = AuditKeyRecord {
        fingerprint: "ab".into(),
        public_key: vec![1; 32],
        private_sealed: vec![2; 60],
        created_at: 5,
    };
    s.put_audit_key(&k).await.unwrap();
    assert!(matches!(
        s.put_audit_key(&k).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.audit_keys().await.unwrap(), vec![k]);
}

/// The SQLite database and its WAL files are readable by their owner only, whether new or
/// opened again after another program left it world-readable.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (s, dir) = sqlite().await;
    s.create_account(ACCT, 1).await.unwrap();
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    for f in ["t.db", "t.db-wal", "t.db-shm"] {
        assert_eq!(mode(f), 0o600, "{f}");
    }
    drop(s);
    std::fs::set_permissions(
        dir.path().join("t.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let _again = connect(&url).await.unwrap();
    assert_eq!(mode("t.db"), 0o600);
}

async fn operator_tokens(s: Arc<dyn Store>) {
    let t = OperatorTokenRecord {
        token_id: "t1".into(),
        token_hash: "ab".repeat(32),
        description: "prometheus and the on-call".into(),
        created_at: 10,
        expires_at: 20,
    };
    s.add_operator_token(&t).await.unwrap();
    assert!(matches!(
        s.add_operator_token(&t).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.operator_token_by_hash(&t.token_hash).await.unwrap(),
        Some(t.clone())
    );
    assert_eq!(s.operator_token_by_hash("cd").await.unwrap(), None);
    assert_eq!(s.list_operator_tokens().await.unwrap(), vec![t.clone()]);
    assert!(s.delete_operator_token("t1").await.unwrap());
    assert!(!s.delete_operator_token("t1").await.unwrap());
    assert_eq!(s.operator_token_by_hash(&t.token_hash).await.unwrap(), None);
}
