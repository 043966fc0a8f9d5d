//! Service-seam tests: every IAM action called straight through [`IamService::run`] on a fresh
//! temporary SQLite store, without HTTP, with the kernel's authoriser and principal view.
//!
//! - One table row per [`IamAction`] (checked against [`IamAction::NAMES`]): valid
//!   parameters and the parameters that are required.
//! - Authorisation: a user without policies is denied every action, naming `iam:<Action>`; a
//!   user whose policy allows exactly that action gets through (and is still denied the
//!   others); an explicit deny beats an allow.
//! - Validation: dropping a required parameter is `MissingParameter`; a table of IAM's input
//!   rules with their AWS error codes.
//! - Read-your-writes: the principal view (and so the authoriser) sees a write at once.

use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_authz::{Access, Authorizer, PrincipalView};
use tessera_core::{AccountId, Caller, Deployment, Principal};
use tessera_crypto::MasterKey;
use tessera_iam::{IamAction, IamError, IamService, Outcome, Req};
use tessera_policy::ContextKeys;
use tessera_service::Operation;
use tessera_store::Store;
use tessera_test_support::{query, scratch_dir, tls_meta as meta, xml_value};

use IamAction::*;

const ACCT: &str = "111111111111";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
/// A customer managed policy attached to nothing.
const MANAGED: &str = "arn:aws:iam::111111111111:policy/Managed";
/// A customer managed policy attached to `AppRole`.
const ATTACHED: &str = "arn:aws:iam::111111111111:policy/Attached";
const OIDC: &str = "arn:aws:iam::111111111111:oidc-provider/idp.example.com";
/// Stands for the id of alice's access key (known once the fixture exists).
const ALICE_KEY: &str = "$ALICE_KEY";

type Pairs = Vec<(String, String)>;

fn pairs(kv: &[(&str, &str)]) -> Pairs {
    kv.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn account() -> AccountId {
    AccountId::parse(ACCT).unwrap()
}

fn root() -> Caller {
    tessera_test_support::root(ACCT)
}

fn code(e: &IamError) -> String {
    e.to_aws().code
}

fn allow_doc(action: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
    )
}

/// A fresh account on a fresh SQLite file, populated as root with:
/// - role `AppRole` (trust: the account) with inline policy `RoleInline` and the managed
///   policy `Attached` attached; role `EmptyRole` without policies;
/// - user `alice` with inline policy `UserInline` and one access key; user `bob` with nothing;
/// - managed policies `Managed` (unattached) and `Attached`;
/// - the OIDC provider `https://idp.example.com` (client id `client-1`).
struct Fx {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    view: Arc<PrincipalView>,
    iam: IamService,
    alice_key: String,
}

impl Fx {
    async fn new() -> Fx {
        let dir = scratch_dir();
        let url = format!("sqlite://{}", dir.path().join("iam.db").display());
        let store = tessera_store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.create_account(ACCT, 0).await.unwrap();
        let view = Arc::new(
            PrincipalView::load(store.clone(), store.clone())
                .await
                .unwrap(),
        );
        let authz = Authorizer::new(view.clone(), Deployment::default());
        let iam = IamService::new(
            store.clone(),
            Deployment::default(),
            MasterKey::generate(),
            authz,
        );
        let mut fx = Fx {
            _dir: dir,
            store,
            view,
            iam,
            alice_key: String::new(),
        };
        let setup: &[(IamAction, &[(&str, &str)])] = &[
            (
                CreateRole,
                &[("RoleName", "AppRole"), ("AssumeRolePolicyDocument", TRUST)],
            ),
            (
                CreateRole,
                &[
                    ("RoleName", "EmptyRole"),
                    ("AssumeRolePolicyDocument", TRUST),
                ],
            ),
            (
                PutRolePolicy,
                &[
                    ("RoleName", "AppRole"),
                    ("PolicyName", "RoleInline"),
                    ("PolicyDocument", DOC),
                ],
            ),
            (
                CreatePolicy,
                &[("PolicyName", "Managed"), ("PolicyDocument", DOC)],
            ),
            (
                CreatePolicy,
                &[("PolicyName", "Attached"), ("PolicyDocument", DOC)],
            ),
            (
                AttachRolePolicy,
                &[("RoleName", "AppRole"), ("PolicyArn", ATTACHED)],
            ),
            (CreateUser, &[("UserName", "alice")]),
            (CreateUser, &[("UserName", "bob")]),
            (
                PutUserPolicy,
                &[
                    ("UserName", "alice"),
                    ("PolicyName", "UserInline"),
                    ("PolicyDocument", DOC),
                ],
            ),
            (
                CreateOpenIDConnectProvider,
                &[
                    ("Url", "https://idp.example.com"),
                    ("ClientIDList.member.1", "client-1"),
                ],
            ),
        ];
        for (action, kv) in setup {
            fx.root_ok(*action, kv).await;
        }
        let key = fx.root_ok(CreateAccessKey, &[("UserName", "alice")]).await;
        fx.alice_key = xml_value(&key.result_xml, "AccessKeyId").expect("an access key id");
        fx
    }

    /// `kv` with the fixture's placeholders filled in.
    fn fill<'a>(&'a self, kv: &'a [(String, String)]) -> Vec<(&'a str, &'a str)> {
        kv.iter()
            .map(|(k, v)| {
                let v = if v == ALICE_KEY {
                    self.alice_key.as_str()
                } else {
                    v.as_str()
                };
                (k.as_str(), v)
            })
            .collect()
    }

    async fn call(
        &self,
        caller: &Caller,
        action: IamAction,
        kv: &[(&str, &str)],
    ) -> Result<Outcome, IamError> {
        let params = query(kv);
        self.iam
            .run(
                action,
                Req {
                    caller,
                    meta: &meta(),
                    params: &params,
                },
            )
            .await
    }

    async fn call_pairs(
        &self,
        caller: &Caller,
        action: IamAction,
        kv: &[(String, String)],
    ) -> Result<Outcome, IamError> {
        self.call(caller, action, &self.fill(kv)).await
    }

    async fn root_ok(&self, action: IamAction, kv: &[(&str, &str)]) -> Outcome {
        match self.call(&root(), action, kv).await {
            Ok(o) => o,
            Err(e) => panic!("{action} {kv:?} as root: {e:?}"),
        }
    }

    /// The caller signing as IAM user `name`, as the principal view knows it.
    fn user(&self, name: &str) -> Caller {
        let u = self.view.user(ACCT, name).expect("the user is in the view");
        Caller {
            account: account(),
            principal: Principal::User {
                name: u.record.name.clone(),
                user_id: u.record.user_id.clone(),
                path: u.record.path.clone(),
            },
            access_key_id: "AKIAUSERUSERUSER0000".into(),
            session: None,
        }
    }

    /// Create user `name` as root, with inline policy `grant` = `policy` if given.
    async fn new_user(&self, name: &str, policy: Option<&str>) -> Caller {
        self.root_ok(CreateUser, &[("UserName", name)]).await;
        if let Some(doc) = policy {
            self.root_ok(
                PutUserPolicy,
                &[
                    ("UserName", name),
                    ("PolicyName", "grant"),
                    ("PolicyDocument", doc),
                ],
            )
            .await;
        }
        self.user(name)
    }

    /// The caller in a session of role `name` (as STS would issue it).
    fn role_session(&self, name: &str) -> Caller {
        let r = self.view.role(ACCT, name).expect("the role is in the view");
        Caller {
            account: account(),
            principal: Principal::AssumedRole {
                role_name: r.record.name.clone(),
                role_id: r.record.role_id.clone(),
                role_path: r.record.path.clone(),
                session_name: "seam".into(),
            },
            access_key_id: "ASIASESSIONSESSION00".into(),
            session: None,
        }
    }

    /// Everything IAM stores for the account, to show a refused call changed nothing.
    async fn state(&self) -> String {
        let t = self.store.iam_tables().await.unwrap();
        let oidc = self.store.list_oidc_providers(ACCT).await.unwrap();
        let mut keys = self.store.list_access_keys(ACCT, None).await.unwrap();
        for u in &t.users {
            keys.extend(
                self.store
                    .list_access_keys(ACCT, Some(&u.name))
                    .await
                    .unwrap(),
            );
        }
        format!("{t:?}\n{oidc:?}\n{keys:?}")
    }
}

/// One IAM action: parameters that make it succeed on the fixture, and which of them IAM
/// requires.
struct Case {
    action: IamAction,
    params: &'static [(&'static str, &'static str)],
    required: &'static [&'static str],
}

impl Case {
    fn params(&self) -> Pairs {
        pairs(self.params)
    }

    fn iam_action(&self) -> String {
        format!("iam:{}", self.action)
    }
}

const CASES: &[Case] = &[
    Case {
        action: CreateRole,
        params: &[("RoleName", "NewRole"), ("AssumeRolePolicyDocument", TRUST)],
        required: &["RoleName", "AssumeRolePolicyDocument"],
    },
    Case {
        action: GetRole,
        params: &[("RoleName", "AppRole")],
        required: &["RoleName"],
    },
    Case {
        action: ListRoles,
        params: &[],
        required: &[],
    },
    Case {
        action: UpdateRole,
        params: &[("RoleName", "AppRole"), ("Description", "updated")],
        required: &["RoleName"],
    },
    Case {
        action: UpdateAssumeRolePolicy,
        params: &[("RoleName", "AppRole"), ("PolicyDocument", TRUST)],
        required: &["RoleName", "PolicyDocument"],
    },
    Case {
        action: DeleteRole,
        params: &[("RoleName", "EmptyRole")],
        required: &["RoleName"],
    },
    Case {
        action: PutRolePolicy,
        params: &[
            ("RoleName", "AppRole"),
            ("PolicyName", "Second"),
            ("PolicyDocument", DOC),
        ],
        required: &["RoleName", "PolicyName", "PolicyDocument"],
    },
    Case {
        action: GetRolePolicy,
        params: &[("RoleName", "AppRole"), ("PolicyName", "RoleInline")],
        required: &["RoleName", "PolicyName"],
    },
    Case {
        action: DeleteRolePolicy,
        params: &[("RoleName", "AppRole"), ("PolicyName", "RoleInline")],
        required: &["RoleName", "PolicyName"],
    },
    Case {
        action: ListRolePolicies,
        params: &[("RoleName", "AppRole")],
        required: &["RoleName"],
    },
    Case {
        action: CreatePolicy,
        params: &[("PolicyName", "NewPolicy"), ("PolicyDocument", DOC)],
        required: &["PolicyName", "PolicyDocument"],
    },
    Case {
        action: GetPolicy,
        params: &[("PolicyArn", MANAGED)],
        required: &["PolicyArn"],
    },
    Case {
        action: DeletePolicy,
        params: &[("PolicyArn", MANAGED)],
        required: &["PolicyArn"],
    },
    Case {
        action: ListPolicies,
        params: &[],
        required: &[],
    },
    Case {
        action: AttachRolePolicy,
        params: &[("RoleName", "AppRole"), ("PolicyArn", MANAGED)],
        required: &["RoleName", "PolicyArn"],
    },
    Case {
        action: DetachRolePolicy,
        params: &[("RoleName", "AppRole"), ("PolicyArn", ATTACHED)],
        required: &["RoleName", "PolicyArn"],
    },
    Case {
        action: ListAttachedRolePolicies,
        params: &[("RoleName", "AppRole")],
        required: &["RoleName"],
    },
    Case {
        action: CreateUser,
        params: &[("UserName", "carol")],
        required: &["UserName"],
    },
    Case {
        // Without UserName, GetUser describes the caller.
        action: GetUser,
        params: &[("UserName", "alice")],
        required: &[],
    },
    Case {
        action: ListUsers,
        params: &[],
        required: &[],
    },
    Case {
        action: DeleteUser,
        params: &[("UserName", "bob")],
        required: &["UserName"],
    },
    Case {
        // Without UserName, the key is the caller's own.
        action: CreateAccessKey,
        params: &[("UserName", "alice")],
        required: &[],
    },
    Case {
        action: DeleteAccessKey,
        params: &[("UserName", "alice"), ("AccessKeyId", ALICE_KEY)],
        required: &["AccessKeyId"],
    },
    Case {
        action: ListAccessKeys,
        params: &[("UserName", "alice")],
        required: &[],
    },
    Case {
        action: PutUserPolicy,
        params: &[
            ("UserName", "alice"),
            ("PolicyName", "Second"),
            ("PolicyDocument", DOC),
        ],
        required: &["UserName", "PolicyName", "PolicyDocument"],
    },
    Case {
        action: GetUserPolicy,
        params: &[("UserName", "alice"), ("PolicyName", "UserInline")],
        required: &["UserName", "PolicyName"],
    },
    Case {
        action: DeleteUserPolicy,
        params: &[("UserName", "alice"), ("PolicyName", "UserInline")],
        required: &["UserName", "PolicyName"],
    },
    Case {
        action: ListUserPolicies,
        params: &[("UserName", "alice")],
        required: &["UserName"],
    },
    Case {
        action: CreateOpenIDConnectProvider,
        params: &[
            ("Url", "https://new.example.com"),
            ("ClientIDList.member.1", "client-1"),
        ],
        required: &["Url"],
    },
    Case {
        action: GetOpenIDConnectProvider,
        params: &[("OpenIDConnectProviderArn", OIDC)],
        required: &["OpenIDConnectProviderArn"],
    },
    Case {
        action: ListOpenIDConnectProviders,
        params: &[],
        required: &[],
    },
    Case {
        action: DeleteOpenIDConnectProvider,
        params: &[("OpenIDConnectProviderArn", OIDC)],
        required: &["OpenIDConnectProviderArn"],
    },
];

#[test]
fn the_table_has_one_row_for_every_iam_action() {
    let mut seen = BTreeSet::new();
    for c in CASES {
        assert!(seen.insert(c.action.name()), "{} twice", c.action);
        for r in c.required {
            assert!(
                c.params.iter().any(|(k, _)| k == r),
                "{}: required {r} is not among the valid parameters",
                c.action
            );
        }
    }
    let all: BTreeSet<&str> = IamAction::NAMES.iter().copied().collect();
    assert_eq!(seen, all, "every IamAction needs a row in CASES");
    assert_eq!(CASES.len(), 32);
}

#[tokio::test]
async fn root_may_run_every_action_with_the_table_parameters() {
    for c in CASES {
        let fx = Fx::new().await;
        if let Err(e) = fx.call_pairs(&root(), c.action, &c.params()).await {
            panic!("{}: {e:?}", c.action);
        }
    }
}

#[tokio::test]
async fn dropping_a_required_parameter_is_missing_parameter() {
    let mut n = 0;
    for c in CASES {
        for missing in c.required {
            let fx = Fx::new().await;
            let before = fx.state().await;
            let kv: Pairs = c
                .params()
                .into_iter()
                .filter(|(k, _)| k.as_str() != *missing)
                .collect();
            let e = fx
                .call_pairs(&root(), c.action, &kv)
                .await
                .expect_err(&format!("{} without {missing}", c.action));
            assert_eq!(
                code(&e),
                "MissingParameter",
                "{} without {missing}: {e:?}",
                c.action
            );
            assert_eq!(e.to_aws().status, 400);
            assert!(e.to_string().contains(missing), "{}: {e}", c.action);
            assert_eq!(fx.state().await, before, "{} changed the store", c.action);
            n += 1;
        }
    }
    assert_eq!(n, 38, "required parameters checked");
}

#[tokio::test]
async fn a_user_without_policies_is_denied_every_action_and_changes_nothing() {
    for c in CASES {
        let fx = Fx::new().await;
        let nobody = fx.new_user("nobody", None).await;
        let before = fx.state().await;
        let e = fx
            .call_pairs(&nobody, c.action, &c.params())
            .await
            .expect_err(&format!("{} by a user without policies", c.action));
        assert_eq!(code(&e), "AccessDenied", "{}: {e:?}", c.action);
        assert_eq!(e.to_aws().status, 403);
        let m = e.to_string();
        assert!(
            m.contains(&format!("perform: {} on resource", c.iam_action())),
            "{}: {m}",
            c.action
        );
        assert!(
            m.contains("arn:aws:iam::111111111111:user/nobody"),
            "{}: {m}",
            c.action
        );
        assert!(m.contains("no identity-based policy allows"), "{m}");
        assert_eq!(fx.state().await, before, "{} changed the store", c.action);
    }
}

#[tokio::test]
async fn a_policy_allowing_exactly_the_action_lets_only_that_action_through() {
    for (i, c) in CASES.iter().enumerate() {
        let fx = Fx::new().await;
        let actor = fx
            .new_user("actor", Some(&allow_doc(&c.iam_action())))
            .await;
        // Another action stays denied: the grant is for exactly this one.
        let other = &CASES[(i + 1) % CASES.len()];
        let e = fx
            .call_pairs(&actor, other.action, &other.params())
            .await
            .expect_err(&format!(
                "{} allowed by a grant of {}",
                other.action, c.action
            ));
        assert_eq!(code(&e), "AccessDenied", "{}: {e:?}", other.action);
        assert!(e.to_string().contains(&other.iam_action()), "{e}");
        // The action itself succeeds.
        if let Err(e) = fx.call_pairs(&actor, c.action, &c.params()).await {
            panic!(
                "{} with a policy allowing {}: {e:?}",
                c.action,
                c.iam_action()
            );
        }
    }
}

#[tokio::test]
async fn an_allow_on_a_wildcard_action_is_enough() {
    let fx = Fx::new().await;
    let reader = fx.new_user("reader", Some(&allow_doc("iam:Get*"))).await;
    fx.call(&reader, GetRole, &[("RoleName", "AppRole")])
        .await
        .unwrap();
    fx.call(&reader, GetUser, &[("UserName", "alice")])
        .await
        .unwrap();
    let e = fx
        .call(&reader, ListRoles, &[])
        .await
        .expect_err("iam:Get* does not allow iam:ListRoles");
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test]
async fn an_explicit_deny_beats_an_allow() {
    for action in [
        CreateRole,
        GetRole,
        DeleteRole,
        PutRolePolicy,
        AttachRolePolicy,
        CreatePolicy,
        DeleteUser,
        PutUserPolicy,
        CreateAccessKey,
        ListAccessKeys,
        CreateOpenIDConnectProvider,
        ListOpenIDConnectProviders,
    ] {
        let c = CASES.iter().find(|c| c.action == action).unwrap();
        let fx = Fx::new().await;
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":"iam:*","Resource":"*"}},
                {{"Effect":"Deny","Action":"{}","Resource":"*"}}]}}"#,
            c.iam_action()
        );
        let user = fx.new_user("denied", Some(&doc)).await;
        let before = fx.state().await;
        let e = fx
            .call_pairs(&user, action, &c.params())
            .await
            .expect_err(&format!("{action} despite the deny"));
        assert_eq!(code(&e), "AccessDenied", "{action}: {e:?}");
        let m = e.to_string();
        assert!(
            m.contains(&c.iam_action()) && m.contains("explicit deny"),
            "{m}"
        );
        assert_eq!(fx.state().await, before, "{action} changed the store");
        // The allow still covers everything else.
        fx.call(&user, ListUsers, &[]).await.unwrap();
    }
}

#[tokio::test]
async fn a_deny_on_one_resource_leaves_the_others_allowed() {
    let fx = Fx::new().await;
    let doc = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["iam:GetRole","iam:DeleteRole"],"Resource":"*"},
        {"Effect":"Deny","Action":"iam:*","Resource":"arn:aws:iam::111111111111:role/AppRole"}]}"#;
    let user = fx.new_user("scoped", Some(doc)).await;
    let e = fx
        .call(&user, GetRole, &[("RoleName", "AppRole")])
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert!(e.to_string().contains("explicit deny"), "{e}");
    // The ARN authorised is built from the stored name, so another spelling is denied too.
    let e = fx
        .call(&user, GetRole, &[("RoleName", "approle")])
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "{e:?}");
    fx.call(&user, GetRole, &[("RoleName", "EmptyRole")])
        .await
        .unwrap();
    fx.call(&user, DeleteRole, &[("RoleName", "EmptyRole")])
        .await
        .unwrap();
    // Nothing else is allowed.
    let e = fx
        .call(&user, ListRoles, &[])
        .await
        .expect_err("not allowed");
    assert_eq!(code(&e), "AccessDenied");
}

#[tokio::test]
async fn authorisation_comes_before_the_existence_check() {
    let fx = Fx::new().await;
    let nobody = fx.new_user("nobody", None).await;
    for (action, kv) in [
        (GetRole, vec![("RoleName", "Ghost")]),
        (DeleteRole, vec![("RoleName", "Ghost")]),
        (GetUser, vec![("UserName", "ghost")]),
        (
            GetPolicy,
            vec![("PolicyArn", "arn:aws:iam::111111111111:policy/Ghost")],
        ),
        (
            GetOpenIDConnectProvider,
            vec![(
                "OpenIDConnectProviderArn",
                "arn:aws:iam::111111111111:oidc-provider/ghost.example.com",
            )],
        ),
    ] {
        let e = fx.call(&nobody, action, &kv).await.unwrap_err();
        assert_eq!(code(&e), "AccessDenied", "{action}: {e:?}");
        let e = fx.call(&root(), action, &kv).await.unwrap_err();
        assert_eq!(code(&e), "NoSuchEntity", "{action}: {e:?}");
    }
}

/// One validation rule: after `setup` (as root), `action` with `params` (as root) gives
/// `expect`: `None` for success, or the AWS code and a part of the message.
struct Rule {
    name: &'static str,
    setup: Vec<(IamAction, Pairs)>,
    action: IamAction,
    params: Pairs,
    expect: Option<(&'static str, String)>,
}

fn rule(name: &'static str, action: IamAction, kv: &[(&str, &str)]) -> Rule {
    Rule {
        name,
        setup: Vec::new(),
        action,
        params: pairs(kv),
        expect: None,
    }
}

impl Rule {
    fn after(mut self, action: IamAction, kv: &[(&str, &str)]) -> Rule {
        self.setup.push((action, pairs(kv)));
        self
    }

    fn fails(mut self, code: &'static str, message_part: &str) -> Rule {
        self.expect = Some((code, message_part.to_owned()));
        self
    }

    fn succeeds(self) -> Rule {
        assert!(self.expect.is_none());
        self
    }
}

fn trust_for(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

fn role_with(name: &str, extra: &[(&str, &str)]) -> Pairs {
    let mut kv = pairs(&[("RoleName", name), ("AssumeRolePolicyDocument", TRUST)]);
    kv.extend(pairs(extra));
    kv
}

fn create_role(name: &'static str, extra: &[(&str, &str)]) -> Rule {
    let mut r = rule(name, CreateRole, &[]);
    r.params = role_with("Checked", extra);
    r
}

fn oidc(name: &'static str, extra: &[(&str, &str)]) -> Rule {
    rule(name, CreateOpenIDConnectProvider, extra)
}

fn rules() -> Vec<Rule> {
    let name64 = "r".repeat(64);
    let name65 = "r".repeat(65);
    let long_path = format!("/{}/", "p".repeat(511));
    let ghost_policy = "arn:aws:iam::111111111111:policy/Ghost";
    let ghost_oidc = "arn:aws:iam::111111111111:oidc-provider/ghost.example.com";
    let thumb = "0123456789abcdef0123456789abcdef01234567";
    let mut many_thumbs = pairs(&[("Url", "https://t.example.com")]);
    for i in 1..=6 {
        many_thumbs.push((format!("ThumbprintList.member.{i}"), thumb.to_owned()));
    }
    let mut many_clients = pairs(&[("Url", "https://c.example.com")]);
    for i in 1..=101 {
        many_clients.push((format!("ClientIDList.member.{i}"), format!("client-{i}")));
    }
    let mut r = vec![
        // Role, user and policy names.
        rule("role name with a space", CreateRole, &[("RoleName", "bad name"), ("AssumeRolePolicyDocument", TRUST)])
            .fails("ValidationError", "roleName"),
        rule("role name of 65 characters", CreateRole, &[("RoleName", &name65), ("AssumeRolePolicyDocument", TRUST)])
            .fails("ValidationError", "length less than or equal to 64"),
        rule("empty role name", CreateRole, &[("RoleName", ""), ("AssumeRolePolicyDocument", TRUST)])
            .fails("ValidationError", "greater than or equal to 1"),
        rule("role name of 64 characters", CreateRole, &[("RoleName", &name64), ("AssumeRolePolicyDocument", TRUST)])
            .succeeds(),
        rule("role name with every allowed punctuation", CreateRole, &[("RoleName", "a+=,.@_-b"), ("AssumeRolePolicyDocument", TRUST)])
            .succeeds(),
        rule("role name with a slash", GetRole, &[("RoleName", "team/AppRole")])
            .fails("ValidationError", "[\\w+=,.@-]+"),
        rule("role names are looked up ignoring case", GetRole, &[("RoleName", "approle")]).succeeds(),
        rule("user name with a space", CreateUser, &[("UserName", "bad name")])
            .fails("ValidationError", "userName"),
        rule("user name of 65 characters", CreateUser, &[("UserName", &name65)])
            .fails("ValidationError", "userName"),
        rule("user name with a colon", GetUser, &[("UserName", "a:b")])
            .fails("ValidationError", "userName"),
        rule("inline policy name with a space", PutRolePolicy, &[("RoleName", "AppRole"), ("PolicyName", "bad name"), ("PolicyDocument", DOC)])
            .fails("ValidationError", "policyName"),
        rule("managed policy name of 129 characters", CreatePolicy, &[("PolicyName", &"p".repeat(129)), ("PolicyDocument", DOC)])
            .fails("ValidationError", "length less than or equal to 128"),
        rule("managed policy name of 128 characters", CreatePolicy, &[("PolicyName", &"p".repeat(128)), ("PolicyDocument", DOC)])
            .succeeds(),
        // Paths.
        create_role("path without slashes", &[("Path", "team")]).fails("ValidationError", "path"),
        create_role("path without a trailing slash", &[("Path", "/team")]).fails("ValidationError", "path"),
        create_role("path with an empty segment", &[("Path", "/a//b/")]).fails("ValidationError", "path"),
        create_role("path with a space", &[("Path", "/sp ace/")]).fails("ValidationError", "path"),
        create_role("path of 513 characters", &[("Path", &long_path)]).fails("ValidationError", "path"),
        create_role("nested path", &[("Path", "/team/a/")]).succeeds(),
        rule("user path without a leading slash", CreateUser, &[("UserName", "carol"), ("Path", "team/")])
            .fails("ValidationError", "path"),
        rule("policy path without a trailing slash", CreatePolicy, &[("PolicyName", "P"), ("PolicyDocument", DOC), ("Path", "/team")])
            .fails("ValidationError", "path"),
        // MaxSessionDuration: 3600..=43200 seconds.
        create_role("MaxSessionDuration 3599", &[("MaxSessionDuration", "3599")])
            .fails("ValidationError", "maxSessionDuration"),
        create_role("MaxSessionDuration 43201", &[("MaxSessionDuration", "43201")])
            .fails("ValidationError", "maxSessionDuration"),
        create_role("MaxSessionDuration not a number", &[("MaxSessionDuration", "an hour")])
            .fails("ValidationError", "maxSessionDuration"),
        create_role("MaxSessionDuration 3600", &[("MaxSessionDuration", "3600")]).succeeds(),
        create_role("MaxSessionDuration 43200", &[("MaxSessionDuration", "43200")]).succeeds(),
        rule("UpdateRole MaxSessionDuration 60", UpdateRole, &[("RoleName", "AppRole"), ("MaxSessionDuration", "60")])
            .fails("ValidationError", "maxSessionDuration"),
        rule("UpdateRole MaxSessionDuration 43200", UpdateRole, &[("RoleName", "AppRole"), ("MaxSessionDuration", "43200")])
            .succeeds(),
        create_role("description of 1001 characters", &[("Description", &"d".repeat(1001))])
            .fails("ValidationError", "description"),
        // Malformed policy documents.
        rule("trust policy that is not JSON", CreateRole, &[("RoleName", "R"), ("AssumeRolePolicyDocument", "{")])
            .fails("MalformedPolicyDocument", ""),
        rule("trust policy without a principal", CreateRole, &[("RoleName", "R"), ("AssumeRolePolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#)])
            .fails("MalformedPolicyDocument", "Principal"),
        // IAM's answer to an identity policy pasted as a trust policy.
        rule("UpdateAssumeRolePolicy with an identity policy", UpdateAssumeRolePolicy, &[("RoleName", "AppRole"), ("PolicyDocument", DOC)])
            .fails("MalformedPolicyDocument", "Has prohibited field Resource"),
        rule("role policy with an invalid effect", PutRolePolicy, &[("RoleName", "AppRole"), ("PolicyName", "P"), ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}"#)])
            .fails("MalformedPolicyDocument", "effect"),
        rule("user policy naming a principal", PutUserPolicy, &[("UserName", "alice"), ("PolicyName", "P"), ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#)])
            .fails("MalformedPolicyDocument", "should not specify a principal"),
        rule("user policy without an action", PutUserPolicy, &[("UserName", "alice"), ("PolicyName", "P"), ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}"#)])
            .fails("MalformedPolicyDocument", "actions"),
        rule("managed policy without a resource", CreatePolicy, &[("PolicyName", "P"), ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#)])
            .fails("MalformedPolicyDocument", "resources"),
        rule("managed policy with an unknown version", CreatePolicy, &[("PolicyName", "P"), ("PolicyDocument", r#"{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)])
            .fails("MalformedPolicyDocument", ""),
        rule("managed policy without statements", CreatePolicy, &[("PolicyName", "P"), ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[]}"#)])
            .fails("MalformedPolicyDocument", ""),
        // A trust policy naming a user or role that does not exist.
        rule("trust policy naming an unknown user", CreateRole, &[("RoleName", "R"), ("AssumeRolePolicyDocument", &trust_for("arn:aws:iam::111111111111:user/ghost"))])
            .fails("MalformedPolicyDocument", "Invalid principal in policy"),
        rule("trust policy naming an unknown role", UpdateAssumeRolePolicy, &[("RoleName", "AppRole"), ("PolicyDocument", &trust_for("arn:aws:iam::111111111111:role/Ghost"))])
            .fails("MalformedPolicyDocument", "Invalid principal in policy"),
        rule("trust policy naming a user under another path", CreateRole, &[("RoleName", "R"), ("AssumeRolePolicyDocument", &trust_for("arn:aws:iam::111111111111:user/team/alice"))])
            .fails("MalformedPolicyDocument", "Invalid principal in policy"),
        rule("trust policy naming an existing user", CreateRole, &[("RoleName", "R"), ("AssumeRolePolicyDocument", &trust_for("arn:aws:iam::111111111111:user/alice"))])
            .succeeds(),
        // Duplicates.
        create_role("duplicate role", &[]).after(CreateRole, &[("RoleName", "Checked"), ("AssumeRolePolicyDocument", TRUST)])
            .fails("EntityAlreadyExists", "Role with name Checked already exists"),
        rule("duplicate role differing in case", CreateRole, &[("RoleName", "APPROLE"), ("AssumeRolePolicyDocument", TRUST)])
            .fails("EntityAlreadyExists", "already exists"),
        rule("duplicate user", CreateUser, &[("UserName", "alice")])
            .fails("EntityAlreadyExists", "User with name alice already exists"),
        rule("duplicate user differing in case", CreateUser, &[("UserName", "Alice")])
            .fails("EntityAlreadyExists", "already exists"),
        rule("duplicate managed policy", CreatePolicy, &[("PolicyName", "Managed"), ("PolicyDocument", DOC)])
            .fails("EntityAlreadyExists", "A policy called Managed already exists"),
        rule("duplicate managed policy under another path", CreatePolicy, &[("PolicyName", "Managed"), ("PolicyDocument", DOC), ("Path", "/other/")])
            .fails("EntityAlreadyExists", "already exists"),
        oidc("duplicate OIDC provider", &[("Url", "https://idp.example.com"), ("ClientIDList.member.1", "x")])
            .fails("EntityAlreadyExists", "already exists"),
        // Missing entities.
        rule("GetRole of a missing role", GetRole, &[("RoleName", "Ghost")])
            .fails("NoSuchEntity", "The role with name Ghost cannot be found"),
        rule("UpdateRole of a missing role", UpdateRole, &[("RoleName", "Ghost"), ("Description", "x")])
            .fails("NoSuchEntity", "Ghost"),
        rule("UpdateAssumeRolePolicy of a missing role", UpdateAssumeRolePolicy, &[("RoleName", "Ghost"), ("PolicyDocument", TRUST)])
            .fails("NoSuchEntity", "Ghost"),
        rule("DeleteRole of a missing role", DeleteRole, &[("RoleName", "Ghost")])
            .fails("NoSuchEntity", "Ghost"),
        rule("PutRolePolicy on a missing role", PutRolePolicy, &[("RoleName", "Ghost"), ("PolicyName", "P"), ("PolicyDocument", DOC)])
            .fails("NoSuchEntity", "Ghost"),
        rule("GetRolePolicy of a missing policy", GetRolePolicy, &[("RoleName", "AppRole"), ("PolicyName", "Nope")])
            .fails("NoSuchEntity", "The role policy with name Nope cannot be found"),
        rule("DeleteRolePolicy of a missing policy", DeleteRolePolicy, &[("RoleName", "AppRole"), ("PolicyName", "Nope")])
            .fails("NoSuchEntity", "Nope"),
        rule("ListRolePolicies of a missing role", ListRolePolicies, &[("RoleName", "Ghost")])
            .fails("NoSuchEntity", "Ghost"),
        rule("ListAttachedRolePolicies of a missing role", ListAttachedRolePolicies, &[("RoleName", "Ghost")])
            .fails("NoSuchEntity", "Ghost"),
        rule("GetUser of a missing user", GetUser, &[("UserName", "ghost")])
            .fails("NoSuchEntity", "The user with name ghost cannot be found"),
        rule("DeleteUser of a missing user", DeleteUser, &[("UserName", "ghost")])
            .fails("NoSuchEntity", "ghost"),
        rule("PutUserPolicy on a missing user", PutUserPolicy, &[("UserName", "ghost"), ("PolicyName", "P"), ("PolicyDocument", DOC)])
            .fails("NoSuchEntity", "ghost"),
        rule("GetUserPolicy of a missing policy", GetUserPolicy, &[("UserName", "alice"), ("PolicyName", "Nope")])
            .fails("NoSuchEntity", "The user policy with name Nope cannot be found"),
        rule("DeleteUserPolicy of a missing policy", DeleteUserPolicy, &[("UserName", "alice"), ("PolicyName", "Nope")])
            .fails("NoSuchEntity", "Nope"),
        rule("ListUserPolicies of a missing user", ListUserPolicies, &[("UserName", "ghost")])
            .fails("NoSuchEntity", "ghost"),
        rule("CreateAccessKey for a missing user", CreateAccessKey, &[("UserName", "ghost")])
            .fails("NoSuchEntity", "ghost"),
        rule("ListAccessKeys of a missing user", ListAccessKeys, &[("UserName", "ghost")])
            .fails("NoSuchEntity", "ghost"),
        rule("DeleteAccessKey of a missing key", DeleteAccessKey, &[("UserName", "alice"), ("AccessKeyId", "AKIAAAAAAAAAAAAAAAAA")])
            .fails("NoSuchEntity", "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found"),
        rule("DeleteAccessKey of another user's key", DeleteAccessKey, &[("UserName", "bob"), ("AccessKeyId", ALICE_KEY)])
            .fails("NoSuchEntity", "cannot be found"),
        rule("DeleteAccessKey of a user's key as the root's", DeleteAccessKey, &[("AccessKeyId", ALICE_KEY)])
            .fails("NoSuchEntity", "cannot be found"),
        rule("GetPolicy of a missing policy", GetPolicy, &[("PolicyArn", ghost_policy)])
            .fails("NoSuchEntity", "Ghost"),
        rule("DeletePolicy of a missing policy", DeletePolicy, &[("PolicyArn", ghost_policy)])
            .fails("NoSuchEntity", "Ghost"),
        rule("GetPolicy of another account's policy", GetPolicy, &[("PolicyArn", "arn:aws:iam::222222222222:policy/Managed")])
            .fails("NoSuchEntity", "222222222222"),
        rule("AttachRolePolicy of a missing policy", AttachRolePolicy, &[("RoleName", "AppRole"), ("PolicyArn", ghost_policy)])
            .fails("NoSuchEntity", "Ghost"),
        rule("AttachRolePolicy to a missing role", AttachRolePolicy, &[("RoleName", "Ghost"), ("PolicyArn", MANAGED)])
            .fails("NoSuchEntity", "The role with name Ghost cannot be found"),
        rule("DetachRolePolicy of a policy that is not attached", DetachRolePolicy, &[("RoleName", "AppRole"), ("PolicyArn", MANAGED)])
            .fails("NoSuchEntity", "Managed"),
        rule("GetOpenIDConnectProvider of a missing provider", GetOpenIDConnectProvider, &[("OpenIDConnectProviderArn", ghost_oidc)])
            .fails("NoSuchEntity", "ghost.example.com"),
        rule("DeleteOpenIDConnectProvider of a missing provider", DeleteOpenIDConnectProvider, &[("OpenIDConnectProviderArn", ghost_oidc)])
            .fails("NoSuchEntity", "ghost.example.com"),
        create_role("permissions boundary that does not exist", &[("PermissionsBoundary", ghost_policy)])
            .fails("NoSuchEntity", "does not exist or is not attachable"),
        rule("user permissions boundary that does not exist", CreateUser, &[("UserName", "carol"), ("PermissionsBoundary", ghost_policy)])
            .fails("NoSuchEntity", "does not exist or is not attachable"),
        // Delete conflicts.
        rule("DeleteRole with inline and attached policies", DeleteRole, &[("RoleName", "AppRole")])
            .fails("DeleteConflict", "must delete policies first"),
        rule("DeleteRole with only an attached policy", DeleteRole, &[("RoleName", "EmptyRole")])
            .after(AttachRolePolicy, &[("RoleName", "EmptyRole"), ("PolicyArn", MANAGED)])
            .fails("DeleteConflict", "policies"),
        rule("DeleteRole with only an inline policy", DeleteRole, &[("RoleName", "EmptyRole")])
            .after(PutRolePolicy, &[("RoleName", "EmptyRole"), ("PolicyName", "P"), ("PolicyDocument", DOC)])
            .fails("DeleteConflict", "policies"),
        rule("DeleteRole once its policies are gone", DeleteRole, &[("RoleName", "AppRole")])
            .after(DeleteRolePolicy, &[("RoleName", "AppRole"), ("PolicyName", "RoleInline")])
            .after(DetachRolePolicy, &[("RoleName", "AppRole"), ("PolicyArn", ATTACHED)])
            .succeeds(),
        rule("DeletePolicy of an attached policy", DeletePolicy, &[("PolicyArn", ATTACHED)])
            .fails("DeleteConflict", "attached"),
        rule("DeletePolicy of a role's permissions boundary", DeletePolicy, &[("PolicyArn", MANAGED)])
            .after(CreateRole, &[("RoleName", "Bounded"), ("AssumeRolePolicyDocument", TRUST), ("PermissionsBoundary", MANAGED)])
            .fails("DeleteConflict", "permissions boundary"),
        rule("DeletePolicy once detached", DeletePolicy, &[("PolicyArn", ATTACHED)])
            .after(DetachRolePolicy, &[("RoleName", "AppRole"), ("PolicyArn", ATTACHED)])
            .succeeds(),
        rule("DeleteUser with an inline policy", DeleteUser, &[("UserName", "alice")])
            .fails("DeleteConflict", "must delete policies first"),
        rule("DeleteUser with an access key", DeleteUser, &[("UserName", "bob")])
            .after(CreateAccessKey, &[("UserName", "bob")])
            .fails("DeleteConflict", "must delete access keys first"),
        // Access key quota: two per user.
        rule("second access key", CreateAccessKey, &[("UserName", "alice")]).succeeds(),
        rule("third access key", CreateAccessKey, &[("UserName", "alice")])
            .after(CreateAccessKey, &[("UserName", "alice")])
            .fails("LimitExceeded", "AccessKeysPerUser: 2"),
        rule("access key id too short", DeleteAccessKey, &[("UserName", "alice"), ("AccessKeyId", "AKIA")])
            .fails("ValidationError", "accessKeyId"),
        rule("access key id with a dash", DeleteAccessKey, &[("UserName", "alice"), ("AccessKeyId", "AKIA-AAAAAAAAAAAAAAA")])
            .fails("ValidationError", "accessKeyId"),
        // OIDC provider URLs and lists.
        oidc("OIDC URL over http", &[("Url", "http://new.example.com")]).fails("ValidationError", "https://"),
        oidc("OIDC URL over http to loopback (not in dev mode)", &[("Url", "http://127.0.0.1:9000")])
            .fails("ValidationError", "https://"),
        oidc("OIDC URL without a scheme", &[("Url", "new.example.com")]).fails("ValidationError", "https://"),
        oidc("OIDC URL without a host", &[("Url", "https://")]).fails("ValidationError", "host"),
        oidc("OIDC URL with a query", &[("Url", "https://new.example.com/x?y=1")]).fails("ValidationError", "not valid"),
        oidc("OIDC URL with a fragment", &[("Url", "https://new.example.com/#top")]).fails("ValidationError", "not valid"),
        oidc("OIDC URL of 256 characters", &[("Url", &format!("https://new.example.com/{}", "a".repeat(232)))])
            .fails("ValidationError", "url"),
        oidc("empty OIDC URL", &[("Url", "")]).fails("ValidationError", "url"),
        oidc("OIDC URL with a path", &[("Url", "https://new.example.com/tenant/1")]).succeeds(),
        oidc("thumbprint of the wrong length", &[("Url", "https://new.example.com"), ("ThumbprintList.member.1", "abc")])
            .fails("ValidationError", "thumbprintList"),
        oidc("thumbprint that is not hex", &[("Url", "https://new.example.com"), ("ThumbprintList.member.1", &"g".repeat(40))])
            .fails("ValidationError", "thumbprintList"),
        oidc("five thumbprints", &[]).succeeds(),
        oidc("empty client id", &[("Url", "https://new.example.com"), ("ClientIDList.member.1", "")])
            .fails("ValidationError", "clientIDList"),
        oidc("client id of 256 characters", &[("Url", "https://new.example.com"), ("ClientIDList.member.1", &"c".repeat(256))])
            .fails("ValidationError", "clientIDList"),
        rule("OIDC provider ARN that is not an ARN", GetOpenIDConnectProvider, &[("OpenIDConnectProviderArn", "not-an-arn")])
            .fails("ValidationError", "openIDConnectProviderArn"),
        // Tags.
        create_role("duplicate tag keys", &[("Tags.member.1.Key", "team"), ("Tags.member.1.Value", "a"), ("Tags.member.2.Key", "TEAM"), ("Tags.member.2.Value", "b")])
            .fails("InvalidInput", "Duplicate tag key"),
        // Listing.
        rule("ListPolicies with an unknown scope", ListPolicies, &[("Scope", "Everything")])
            .fails("ValidationError", "scope"),
        rule("ListPolicies of the local scope", ListPolicies, &[("Scope", "Local")]).succeeds(),
    ];
    // Five thumbprints are allowed, six are over the quota; 100 client ids are, 101 are not.
    let five = r.iter_mut().find(|r| r.name == "five thumbprints").unwrap();
    five.params = many_thumbs[..6].to_vec();
    let mut six = oidc("six thumbprints", &[])
        .fails("LimitExceeded", "ThumbprintsPerOpenIdConnectProvider: 5");
    six.params = many_thumbs.clone();
    r.push(six);
    let mut hundred = oidc("100 client ids", &[]).succeeds();
    hundred.params = many_clients[..101].to_vec();
    r.push(hundred);
    let mut hundred_one = oidc("101 client ids", &[])
        .fails("LimitExceeded", "ClientIdsPerOpenIdConnectProvider: 100");
    hundred_one.params = many_clients;
    r.push(hundred_one);
    // MaxItems (1..=1000) and Marker on every List action that pages.
    for (action, base) in [
        (ListRoles, Vec::<(&str, &str)>::new()),
        (ListUsers, vec![]),
        (ListPolicies, vec![]),
        (ListRolePolicies, vec![("RoleName", "AppRole")]),
        (ListAttachedRolePolicies, vec![("RoleName", "AppRole")]),
        (ListUserPolicies, vec![("UserName", "alice")]),
        (ListAccessKeys, vec![("UserName", "alice")]),
    ] {
        for (max, ok) in [
            ("0", false),
            ("1001", false),
            ("-1", false),
            ("ten", false),
            ("1", true),
            ("1000", true),
        ] {
            let mut kv = base.clone();
            kv.push(("MaxItems", max));
            let x = rule("MaxItems", action, &kv);
            r.push(if ok {
                x.succeeds()
            } else {
                x.fails("ValidationError", "maxItems")
            });
        }
        let mut kv = base.clone();
        kv.push(("Marker", "not-a-marker"));
        r.push(rule("unknown Marker", action, &kv).fails("ValidationError", "Marker"));
    }
    r
}

#[tokio::test]
async fn validation_rules_give_their_aws_codes() {
    let rules = rules();
    assert_eq!(rules.len(), 162);
    for r in &rules {
        let fx = Fx::new().await;
        for (action, kv) in &r.setup {
            if let Err(e) = fx.call_pairs(&root(), *action, kv).await {
                panic!("{}: setup {action}: {e:?}", r.name);
            }
        }
        let before = fx.state().await;
        let got = fx.call_pairs(&root(), r.action, &r.params).await;
        match (&r.expect, got) {
            (None, Ok(_)) => {}
            (None, Err(e)) => panic!("{} ({}): expected success, got {e:?}", r.name, r.action),
            (Some((want, _)), Ok(_)) => {
                panic!("{} ({}): expected {want}, got success", r.name, r.action)
            }
            (Some((want, part)), Err(e)) => {
                assert_eq!(&code(&e), want, "{} ({}): {e:?}", r.name, r.action);
                assert!(
                    e.to_string().contains(part.as_str()),
                    "{} ({}): message {:?} lacks {part:?}",
                    r.name,
                    r.action,
                    e.to_string()
                );
                assert_eq!(
                    fx.state().await,
                    before,
                    "{}: a refused call changed the store",
                    r.name
                );
            }
        }
    }
}

#[tokio::test]
async fn paging_walks_every_item_once() {
    let fx = Fx::new().await;
    for name in ["Charlie", "delta", "Echo"] {
        fx.root_ok(
            CreateRole,
            &[("RoleName", name), ("AssumeRolePolicyDocument", TRUST)],
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut kv = vec![("MaxItems", "2")];
        if let Some(m) = &marker {
            kv.push(("Marker", m.as_str()));
        }
        let out = fx.root_ok(ListRoles, &kv).await;
        let xml = out.result_xml;
        let mut rest = xml.as_str();
        let mut page = 0;
        while let Some(i) = rest.find("<RoleName>") {
            let tail = &rest[i + "<RoleName>".len()..];
            let end = tail.find("</RoleName>").unwrap();
            seen.push(tail[..end].to_owned());
            rest = &tail[end..];
            page += 1;
        }
        assert!(page <= 2, "{xml}");
        match xml_value(&xml, "IsTruncated").as_deref() {
            Some("true") => marker = Some(xml_value(&xml, "Marker").expect("a Marker")),
            Some("false") => {
                assert!(xml_value(&xml, "Marker").is_none(), "{xml}");
                break;
            }
            other => panic!("IsTruncated {other:?} in {xml}"),
        }
    }
    // Sorted ignoring case, each role once.
    assert_eq!(seen, ["AppRole", "Charlie", "delta", "Echo", "EmptyRole"]);
}

#[tokio::test]
async fn the_third_access_key_exceeds_the_quota_for_users_and_the_root() {
    let fx = Fx::new().await;
    // alice has one key from the fixture.
    let second = fx.root_ok(CreateAccessKey, &[("UserName", "alice")]).await;
    let e = fx
        .call(&root(), CreateAccessKey, &[("UserName", "alice")])
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceeded", "{e:?}");
    assert_eq!(e.to_aws().status, 409);
    // Deleting one makes room again.
    let id = xml_value(&second.result_xml, "AccessKeyId").unwrap();
    fx.root_ok(
        DeleteAccessKey,
        &[("UserName", "alice"), ("AccessKeyId", &id)],
    )
    .await;
    fx.root_ok(CreateAccessKey, &[("UserName", "alice")]).await;
    // The root's own keys (no UserName) count separately from its users' keys.
    fx.root_ok(CreateAccessKey, &[]).await;
    fx.root_ok(CreateAccessKey, &[]).await;
    let e = fx.call(&root(), CreateAccessKey, &[]).await.unwrap_err();
    assert_eq!(code(&e), "LimitExceeded", "{e:?}");
    // A user allowed to manage keys creates its own without naming itself.
    let carol = fx
        .new_user("carol", Some(&allow_doc("iam:*AccessKey*")))
        .await;
    let out = fx.call(&carol, CreateAccessKey, &[]).await.unwrap();
    assert_eq!(
        xml_value(&out.result_xml, "UserName").as_deref(),
        Some("carol")
    );
    assert!(
        xml_value(&out.result_xml, "AccessKeyId")
            .unwrap()
            .starts_with("AKIA")
    );
    fx.call(&carol, CreateAccessKey, &[]).await.unwrap();
    let e = fx.call(&carol, CreateAccessKey, &[]).await.unwrap_err();
    assert_eq!(code(&e), "LimitExceeded", "{e:?}");
}

#[tokio::test]
async fn role_sessions_must_name_the_user() {
    let fx = Fx::new().await;
    fx.root_ok(
        PutRolePolicy,
        &[
            ("RoleName", "EmptyRole"),
            ("PolicyName", "admin"),
            ("PolicyDocument", &allow_doc("iam:*")),
        ],
    )
    .await;
    let session = fx.role_session("EmptyRole");
    for action in [GetUser, CreateAccessKey, ListAccessKeys] {
        let e = fx.call(&session, action, &[]).await.unwrap_err();
        assert_eq!(code(&e), "ValidationError", "{action}: {e:?}");
        assert!(e.to_string().contains("Must specify userName"), "{e}");
        fx.call(&session, action, &[("UserName", "bob")])
            .await
            .unwrap_or_else(|e| panic!("{action} naming bob: {e:?}"));
    }
    // The root without UserName describes itself.
    let out = fx.root_ok(GetUser, &[]).await;
    assert_eq!(
        xml_value(&out.result_xml, "Arn").as_deref(),
        Some("arn:aws:iam::111111111111:root")
    );
}

fn access<'a>(action: &'a str, resource: &'a str) -> Access<'a> {
    Access {
        action,
        resource,
        resource_account: ACCT,
        resource_policy: None,
        extra: ContextKeys::new(),
    }
}

#[tokio::test]
async fn writes_are_seen_by_the_principal_view_and_the_authoriser_at_once() {
    let fx = Fx::new().await;
    let authz = fx.iam.authorizer();
    let m = meta();
    let any_role = "arn:aws:iam::111111111111:role/AppRole";

    // CreateRole: in the view straight away, with its trust policy parsed.
    assert!(fx.view.role(ACCT, "Fresh").is_none());
    fx.root_ok(
        CreateRole,
        &[("RoleName", "Fresh"), ("AssumeRolePolicyDocument", TRUST)],
    )
    .await;
    let fresh = fx
        .view
        .role(ACCT, "Fresh")
        .expect("CreateRole is read back");
    assert!(fresh.trust.is_some());
    assert!(fresh.identity.is_empty());

    // PutRolePolicy: the role's sessions are allowed at once; DeleteRolePolicy takes it away.
    let session = fx.role_session("Fresh");
    assert!(
        authz
            .check(&session, &m, access("iam:ListRoles", any_role))
            .is_err()
    );
    fx.root_ok(
        PutRolePolicy,
        &[
            ("RoleName", "Fresh"),
            ("PolicyName", "list"),
            ("PolicyDocument", &allow_doc("iam:ListRoles")),
        ],
    )
    .await;
    assert_eq!(fx.view.role(ACCT, "Fresh").unwrap().identity.len(), 1);
    authz
        .check(&session, &m, access("iam:ListRoles", any_role))
        .expect("PutRolePolicy is read back");
    fx.call(&session, ListRoles, &[]).await.unwrap();
    fx.root_ok(
        DeleteRolePolicy,
        &[("RoleName", "Fresh"), ("PolicyName", "list")],
    )
    .await;
    assert!(
        authz
            .check(&session, &m, access("iam:ListRoles", any_role))
            .is_err()
    );

    // CreatePolicy + AttachRolePolicy: a managed policy grants at once; detaching revokes.
    fx.root_ok(
        CreatePolicy,
        &[
            ("PolicyName", "Lister"),
            ("PolicyDocument", &allow_doc("iam:ListUsers")),
        ],
    )
    .await;
    let lister = "arn:aws:iam::111111111111:policy/Lister";
    assert!(
        fx.view.managed_policy(lister).is_some(),
        "CreatePolicy is read back"
    );
    fx.root_ok(
        AttachRolePolicy,
        &[("RoleName", "Fresh"), ("PolicyArn", lister)],
    )
    .await;
    authz
        .check(&session, &m, access("iam:ListUsers", any_role))
        .expect("AttachRolePolicy is read back");
    fx.root_ok(
        DetachRolePolicy,
        &[("RoleName", "Fresh"), ("PolicyArn", lister)],
    )
    .await;
    assert!(
        authz
            .check(&session, &m, access("iam:ListUsers", any_role))
            .is_err()
    );
    fx.root_ok(DeletePolicy, &[("PolicyArn", lister)]).await;
    assert!(
        fx.view.managed_policy(lister).is_none(),
        "DeletePolicy is read back"
    );

    // UpdateRole / UpdateAssumeRolePolicy change the role in the view.
    fx.root_ok(
        UpdateRole,
        &[("RoleName", "Fresh"), ("MaxSessionDuration", "7200")],
    )
    .await;
    assert_eq!(
        fx.view
            .role(ACCT, "Fresh")
            .unwrap()
            .record
            .max_session_duration,
        7200
    );
    let alice_trust = trust_for("arn:aws:iam::111111111111:user/alice");
    fx.root_ok(
        UpdateAssumeRolePolicy,
        &[("RoleName", "Fresh"), ("PolicyDocument", &alice_trust)],
    )
    .await;
    assert_eq!(
        fx.view.role(ACCT, "Fresh").unwrap().record.trust_policy,
        alice_trust
    );

    // DeleteRole: gone from the view, and its sessions may do nothing.
    fx.root_ok(DeleteRole, &[("RoleName", "Fresh")]).await;
    assert!(
        fx.view.role(ACCT, "Fresh").is_none(),
        "DeleteRole is read back"
    );
    let e = authz
        .check(&session, &m, access("iam:ListRoles", any_role))
        .unwrap_err();
    assert!(e.message.contains("no longer exists"), "{}", e.message);

    // CreateUser / PutUserPolicy / DeleteUserPolicy / DeleteUser on a user.
    let dave = fx.new_user("dave", None).await;
    assert!(
        authz
            .check(&dave, &m, access("iam:GetRole", any_role))
            .is_err()
    );
    fx.root_ok(
        PutUserPolicy,
        &[
            ("UserName", "dave"),
            ("PolicyName", "get"),
            ("PolicyDocument", &allow_doc("iam:GetRole")),
        ],
    )
    .await;
    authz
        .check(&dave, &m, access("iam:GetRole", any_role))
        .expect("PutUserPolicy is read back");
    fx.call(&dave, GetRole, &[("RoleName", "AppRole")])
        .await
        .unwrap();
    fx.root_ok(
        DeleteUserPolicy,
        &[("UserName", "dave"), ("PolicyName", "get")],
    )
    .await;
    assert!(
        authz
            .check(&dave, &m, access("iam:GetRole", any_role))
            .is_err()
    );
    assert!(fx.view.user(ACCT, "dave").is_some());
    fx.root_ok(DeleteUser, &[("UserName", "dave")]).await;
    assert!(
        fx.view.user(ACCT, "dave").is_none(),
        "DeleteUser is read back"
    );
}

#[tokio::test]
async fn a_denied_write_is_not_folded_into_the_view() {
    let fx = Fx::new().await;
    let nobody = fx.new_user("nobody", None).await;
    let e = fx
        .call(
            &nobody,
            PutUserPolicy,
            &[
                ("UserName", "nobody"),
                ("PolicyName", "escalate"),
                ("PolicyDocument", &allow_doc("*")),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert!(fx.view.user(ACCT, "nobody").unwrap().identity.is_empty());
    let e = fx.call(&nobody, ListUsers, &[]).await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

// --- Rules these tests found Tessera breaking, now fixed. ---

/// AWS authorises ListRolePolicies as `iam:ListRolePolicies` and ListUserPolicies as
/// `iam:ListUserPolicies` (Service Authorization Reference, IAM actions).
#[tokio::test]
async fn list_policies_actions_are_authorised_under_their_aws_names() {
    for action in [ListRolePolicies, ListUserPolicies] {
        let c = CASES.iter().find(|c| c.action == action).unwrap();
        let fx = Fx::new().await;
        let nobody = fx.new_user("nobody", None).await;
        let e = fx
            .call_pairs(&nobody, c.action, &c.params())
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("perform: {} on", c.iam_action())),
            "{action}: {e}"
        );
        let actor = fx
            .new_user("actor", Some(&allow_doc(&c.iam_action())))
            .await;
        fx.call_pairs(&actor, c.action, &c.params())
            .await
            .unwrap_or_else(|e| panic!("{action} allowed as {}: {e:?}", c.iam_action()));
    }
}

/// AWS: "IAM user, group, role, and policy names must be unique within the account. Names
/// are not distinguished by case." (CreatePolicy, PolicyName).
#[tokio::test]
async fn managed_policy_names_are_unique_ignoring_case() {
    let fx = Fx::new().await;
    let e = fx
        .call(
            &root(),
            CreatePolicy,
            &[("PolicyName", "managed"), ("PolicyDocument", DOC)],
        )
        .await
        .expect_err("a policy called Managed already exists");
    assert_eq!(code(&e), "EntityAlreadyExists", "{e:?}");
}

/// AWS (ListRoles, ListUsers, ListPolicies, ListAttachedRolePolicies): `PathPrefix` has the
/// pattern `\u002F[\u0021-\u007F]*`; a value outside it is a `ValidationError`.
#[tokio::test]
async fn path_prefix_must_match_the_documented_pattern() {
    let fx = Fx::new().await;
    for action in [ListRoles, ListUsers, ListPolicies] {
        let e = fx
            .call(&root(), action, &[("PathPrefix", "team")])
            .await
            .expect_err("PathPrefix without a leading slash");
        assert_eq!(code(&e), "ValidationError", "{action}: {e:?}");
    }
}

/// AWS refuses `Resource` in a role trust policy: `MalformedPolicyDocument: Has prohibited
/// field Resource`.
#[tokio::test]
async fn trust_policies_may_not_name_a_resource() {
    let fx = Fx::new().await;
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Resource":"*"}]}"#;
    let e = fx
        .call(
            &root(),
            CreateRole,
            &[("RoleName", "R"), ("AssumeRolePolicyDocument", doc)],
        )
        .await
        .expect_err("Resource in a trust policy");
    assert_eq!(code(&e), "MalformedPolicyDocument", "{e:?}");
    assert!(e.to_string().contains("Resource"), "{e}");
}
