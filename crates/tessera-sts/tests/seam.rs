//! Service-seam tests: every STS action called straight through [`StsService::run`] on a fresh
//! temporary SQLite store, without HTTP, with the kernel's authoriser, principal view and
//! session key ring.
//!
//! - One table row per [`StsAction`] (checked against [`StsAction::NAMES`] and
//!   [`Operation::implemented`] / [`Operation::signed`]); every action not implemented is
//!   `InvalidAction`, signed or not.
//! - `AssumeRole`: required parameters, input rules, duration bounds, who may assume (root
//!   never; the trust policy and, unless it names the caller, the caller's identity policy),
//!   and the sealed session it issues.
//! - `GetCallerIdentity` for the root, a user and a role session, even under an explicit deny.
//! - `AssumeRoleWithWebIdentity`, unsigned, with tokens refused before any key fetch (the
//!   verifier's fetcher is an in-memory map, and the tests check it was never called).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_authz::{Authorizer, KeyRingView, PrincipalView};
use tessera_core::{AccountId, Caller, Deployment, Principal, SessionClaims, ids};
use tessera_crypto::MasterKey;
use tessera_oidc::{MemoryFetch, OidcVerifier, VerifierConfig};
use tessera_service::Operation;
use tessera_store::{OidcProviderRecord, RoleRecord, Store, UserRecord};
use tessera_sts::{Outcome, StsAction, StsError, StsService};
use tessera_test_support::{query, scratch_dir, tls_meta as meta, xml_value};

use StsAction::*;

const ACCT: &str = "111111111111";
const ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
const DENY_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
const APP_ROLE: &str = "arn:aws:iam::111111111111:role/AppRole";
const LONG_ROLE: &str = "arn:aws:iam::111111111111:role/LongRole";
const BOB_ONLY: &str = "arn:aws:iam::111111111111:role/BobOnly";
const WEB_ROLE: &str = "arn:aws:iam::111111111111:role/WebRole";

fn account() -> AccountId {
    AccountId::parse(ACCT).unwrap()
}

fn root() -> Caller {
    tessera_test_support::root(ACCT)
}

fn code(e: &StsError) -> String {
    e.to_aws().code
}

fn trust(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
}

fn trust_aws(principal: &str) -> String {
    trust(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}"#
    ))
}

/// A compact JWS with this payload and a made-up signature: it parses, so STS reads its
/// issuer, but no key could verify it.
fn jwt(payload: &serde_json::Value) -> String {
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k1"});
    let b = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        b(&header),
        b(payload),
        URL_SAFE_NO_PAD.encode(b"not a signature")
    )
}

fn token_from(issuer: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    jwt(&serde_json::json!({
        "iss": issuer, "sub": "user-1", "aud": "client-1", "iat": now, "exp": now + 600,
    }))
}

/// A fresh account on a fresh SQLite file, written through the store (STS never writes IAM):
/// - users `alice` (may `sts:AssumeRole` anywhere), `bob` (no policies), `carol` (allowed
///   `sts:AssumeRole` but denied everything);
/// - roles `AppRole` (trust: the account; max 1 h; its sessions may `sts:AssumeRole`),
///   `LongRole` (trust: the account; max 2 h), `BobOnly` (trust: user bob by ARN, bound to his
///   unique id) and `WebRole` (trust: the OIDC provider `idp.example.com`);
/// - OIDC providers `idp.example.com` (client id `client-1`) and `noaud.example.com` (no
///   client ids).
struct Fx {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    view: Arc<PrincipalView>,
    ring: Arc<KeyRingView>,
    fetch: Arc<MemoryFetch>,
    sts: StsService,
}

impl Fx {
    async fn new() -> Fx {
        let dir = scratch_dir();
        let url = format!("sqlite://{}", dir.path().join("sts.db").display());
        let store = tessera_store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.create_account(ACCT, 0).await.unwrap();
        let view = Arc::new(
            PrincipalView::load(store.clone(), store.clone())
                .await
                .unwrap(),
        );
        let ring = Arc::new(
            tessera_authz::keyring::load_view(store.clone(), store.clone(), MasterKey::generate())
                .await
                .unwrap(),
        );
        let fetch = Arc::new(MemoryFetch::new());
        let oidc = Arc::new(OidcVerifier::new(fetch.clone(), VerifierConfig::default()));
        let sts = StsService::new(
            Deployment::default(),
            Authorizer::new(view.clone(), Deployment::default()),
            ring.clone(),
            store.clone(),
            oidc,
            false,
        );
        let fx = Fx {
            _dir: dir,
            store,
            view,
            ring,
            fetch,
            sts,
        };
        fx.user("alice", Some(ASSUME)).await;
        let bob = fx.user("bob", None).await;
        fx.user("carol", Some(ASSUME)).await;
        fx.store
            .put_user_policy(ACCT, "carol", "deny", DENY_ALL)
            .await
            .unwrap();
        let account_trust = trust_aws(ACCT);
        fx.role("AppRole", &account_trust, 3600, Vec::new()).await;
        fx.store
            .put_role_policy(ACCT, "AppRole", "assume", ASSUME)
            .await
            .unwrap();
        fx.role("LongRole", &account_trust, 7200, Vec::new()).await;
        let bob_arn = "arn:aws:iam::111111111111:user/bob";
        fx.role(
            "BobOnly",
            &trust_aws(bob_arn),
            3600,
            vec![(bob_arn.into(), bob)],
        )
        .await;
        let web_trust = trust(
            r#"{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111111111111:oidc-provider/idp.example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}"#,
        );
        fx.role("WebRole", &web_trust, 3600, Vec::new()).await;
        fx.oidc_provider("idp.example.com", &["client-1"]).await;
        fx.oidc_provider("noaud.example.com", &[]).await;
        fx.view.reload().await.unwrap();
        fx
    }

    /// Create user `name` (with inline policy `grant` if given); returns its unique id.
    async fn user(&self, name: &str, policy: Option<&str>) -> String {
        let user_id = ids::user_id();
        self.store
            .create_user(&UserRecord {
                account_id: ACCT.into(),
                name: name.into(),
                user_id: user_id.clone(),
                path: "/".into(),
                permissions_boundary: None,
                tags: Vec::new(),
                created_at: 0,
            })
            .await
            .unwrap();
        if let Some(doc) = policy {
            self.store
                .put_user_policy(ACCT, name, "grant", doc)
                .await
                .unwrap();
        }
        user_id
    }

    async fn role(&self, name: &str, trust: &str, max: i64, ids: Vec<(String, String)>) {
        self.store
            .create_role(&RoleRecord {
                account_id: ACCT.into(),
                name: name.into(),
                role_id: ids::role_id(),
                path: "/".into(),
                description: None,
                trust_policy: trust.into(),
                trust_principal_ids: Some(ids),
                max_session_duration: max,
                permissions_boundary: None,
                tags: Vec::new(),
                created_at: 0,
            })
            .await
            .unwrap();
    }

    async fn oidc_provider(&self, host: &str, client_ids: &[&str]) {
        self.store
            .create_oidc_provider(&OidcProviderRecord {
                arn: format!("arn:aws:iam::{ACCT}:oidc-provider/{host}"),
                account_id: ACCT.into(),
                url: host.into(),
                client_ids: client_ids.iter().map(|c| (*c).to_owned()).collect(),
                thumbprints: Vec::new(),
                tags: Vec::new(),
                created_at: 0,
            })
            .await
            .unwrap();
    }

    /// The caller signing as IAM user `name`.
    fn signer(&self, name: &str) -> Caller {
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

    async fn run(
        &self,
        op: StsAction,
        caller: Option<&Caller>,
        kv: &[(&str, &str)],
    ) -> Result<Outcome, StsError> {
        self.sts.run(op, caller, &meta(), &query(kv)).await
    }

    /// Assume `role_arn` as `caller` and open the session token with the key ring, as the
    /// server does when the session signs a request.
    async fn session(&self, caller: &Caller, role_arn: &str, extra: &[(&str, &str)]) -> Session {
        let mut kv = vec![("RoleArn", role_arn), ("RoleSessionName", "seam-session")];
        kv.extend_from_slice(extra);
        let out = self
            .run(AssumeRole, Some(caller), &kv)
            .await
            .unwrap_or_else(|e| panic!("AssumeRole {role_arn}: {e:?}"));
        let xml = out.result_xml;
        let akid = xml_value(&xml, "AccessKeyId").expect("AccessKeyId");
        let secret = xml_value(&xml, "SecretAccessKey").expect("SecretAccessKey");
        let token = xml_value(&xml, "SessionToken").expect("SessionToken");
        let (claims, derived) = self
            .ring
            .get()
            .verify(&token, &akid, chrono::Utc::now().timestamp())
            .expect("the key ring opens the session token");
        assert_eq!(derived, secret, "the secret is derived from the token");
        let caller = Caller {
            account: account(),
            principal: Principal::AssumedRole {
                role_name: claims.role_name.clone(),
                role_id: claims.role_id.clone(),
                role_path: claims.role_path.clone(),
                session_name: claims.session_name.clone(),
            },
            access_key_id: akid.clone(),
            session: Some(Arc::new(claims.clone())),
        };
        Session {
            xml,
            akid,
            claims,
            caller,
        }
    }
}

struct Session {
    xml: String,
    akid: String,
    claims: SessionClaims,
    caller: Caller,
}

/// What each STS action is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Implemented, authenticated by a signature.
    Signed,
    /// Implemented, authenticated by a token in the request.
    Unsigned,
    /// Defined by AWS, not implemented here: `InvalidAction`.
    Missing,
}

const ACTIONS: &[(StsAction, Kind)] = &[
    (AssumeRole, Kind::Signed),
    (AssumeRoleWithSAML, Kind::Missing),
    (AssumeRoleWithWebIdentity, Kind::Unsigned),
    (AssumeRoot, Kind::Missing),
    (DecodeAuthorizationMessage, Kind::Missing),
    (GetAccessKeyInfo, Kind::Missing),
    (GetCallerIdentity, Kind::Signed),
    (GetDelegatedAccessToken, Kind::Missing),
    (GetFederationToken, Kind::Missing),
    (GetSessionToken, Kind::Missing),
];

#[test]
fn the_table_has_one_row_for_every_sts_action() {
    let mut seen = BTreeSet::new();
    for (op, kind) in ACTIONS {
        assert!(seen.insert(op.name()), "{op} twice");
        assert_eq!(op.implemented(), *kind != Kind::Missing, "{op}");
        if *kind != Kind::Missing {
            assert_eq!(op.signed(), *kind == Kind::Signed, "{op}");
        }
    }
    let all: BTreeSet<&str> = StsAction::NAMES.iter().copied().collect();
    assert_eq!(seen, all, "every StsAction needs a row in ACTIONS");
    // AssumeRoleWithSAML authenticates with an assertion, not a signature.
    assert!(!AssumeRoleWithSAML.signed());
}

#[tokio::test]
async fn every_action_not_implemented_is_invalid_action() {
    let fx = Fx::new().await;
    let alice = fx.signer("alice");
    let mut n = 0;
    for (op, _) in ACTIONS.iter().filter(|(_, k)| *k == Kind::Missing) {
        for caller in [None, Some(&root()), Some(&alice)] {
            let e = fx
                .run(*op, caller, &[("DurationSeconds", "900")])
                .await
                .expect_err(&format!("{op} is not implemented"));
            assert_eq!(code(&e), "InvalidAction", "{op}: {e:?}");
            assert_eq!(e.to_aws().status, 400);
            assert!(e.to_string().contains(op.name()), "{e}");
        }
        n += 1;
    }
    assert_eq!(n, 7);
    assert_eq!(fx.fetch.total_calls(), 0);
}

#[tokio::test]
async fn signed_actions_refuse_an_unsigned_call() {
    let fx = Fx::new().await;
    for op in [AssumeRole, GetCallerIdentity] {
        let kv = [("RoleArn", APP_ROLE), ("RoleSessionName", "s1")];
        let e = fx.run(op, None, &kv).await.unwrap_err();
        assert_eq!(code(&e), "AccessDenied", "{op}: {e:?}");
        assert!(e.to_string().contains("must be signed"), "{e}");
    }
}

/// Request parameters.
type Pairs = Vec<(&'static str, String)>;

/// (case, caller, parameters, AWS code, part of the message)
type Rule = (
    &'static str,
    &'static str,
    Pairs,
    &'static str,
    &'static str,
);

/// (case, parameters, AWS code, part of the message)
type WebCase = (&'static str, Pairs, &'static str, &'static str);

fn assume_rules() -> Vec<Rule> {
    let kv = |extra: &[(&'static str, &str)]| {
        let mut v: Vec<(&'static str, String)> = vec![
            ("RoleArn", APP_ROLE.to_owned()),
            ("RoleSessionName", "s1".to_owned()),
        ];
        for (k, x) in extra {
            v.retain(|(ek, _)| ek != k);
            v.push((*k, (*x).to_owned()));
        }
        v.retain(|(_, x)| x != "<drop>");
        v
    };
    let long_name = "s".repeat(65);
    vec![
        (
            "no RoleArn",
            "alice",
            kv(&[("RoleArn", "<drop>")]),
            "MissingParameter",
            "RoleArn",
        ),
        (
            "no RoleSessionName",
            "alice",
            kv(&[("RoleSessionName", "<drop>")]),
            "MissingParameter",
            "RoleSessionName",
        ),
        (
            "RoleArn shorter than 20",
            "alice",
            kv(&[("RoleArn", "arn:aws:iam::1:r/R")]),
            "ValidationError",
            "roleArn",
        ),
        (
            "RoleArn naming a user",
            "alice",
            kv(&[("RoleArn", "arn:aws:iam::111111111111:user/alice")]),
            "ValidationError",
            "not a valid role ARN",
        ),
        (
            "RoleArn of another partition",
            "alice",
            kv(&[("RoleArn", "arn:aws-cn:iam::111111111111:role/AppRole")]),
            "ValidationError",
            "not a valid role ARN",
        ),
        (
            "RoleArn with a bad account",
            "alice",
            kv(&[("RoleArn", "arn:aws:iam::1111:role/AppRole")]),
            "ValidationError",
            "not a valid role ARN",
        ),
        (
            "session name of one character",
            "alice",
            kv(&[("RoleSessionName", "s")]),
            "ValidationError",
            "roleSessionName",
        ),
        (
            "session name of 65 characters",
            "alice",
            kv(&[("RoleSessionName", &long_name)]),
            "ValidationError",
            "roleSessionName",
        ),
        (
            "session name with a space",
            "alice",
            kv(&[("RoleSessionName", "my session")]),
            "ValidationError",
            "roleSessionName",
        ),
        (
            "session name with a slash",
            "alice",
            kv(&[("RoleSessionName", "a/b")]),
            "ValidationError",
            "[\\w+=,.@-]*",
        ),
        (
            "DurationSeconds 899",
            "alice",
            kv(&[("DurationSeconds", "899")]),
            "ValidationError",
            "durationSeconds",
        ),
        (
            "DurationSeconds 43201",
            "alice",
            kv(&[("DurationSeconds", "43201")]),
            "ValidationError",
            "durationSeconds",
        ),
        (
            "DurationSeconds not a number",
            "alice",
            kv(&[("DurationSeconds", "an hour")]),
            "ValidationError",
            "durationSeconds",
        ),
        (
            "DurationSeconds above the role's maximum",
            "alice",
            kv(&[("DurationSeconds", "3601")]),
            "ValidationError",
            "exceeds the MaxSessionDuration",
        ),
        (
            "DurationSeconds above a 2 h role's maximum",
            "alice",
            kv(&[("RoleArn", LONG_ROLE), ("DurationSeconds", "7201")]),
            "ValidationError",
            "exceeds the MaxSessionDuration",
        ),
        (
            "ExternalId of one character",
            "alice",
            kv(&[("ExternalId", "x")]),
            "ValidationError",
            "externalId",
        ),
        (
            "SourceIdentity with the aws: prefix",
            "alice",
            kv(&[("SourceIdentity", "aws:me")]),
            "ValidationError",
            "aws:",
        ),
        (
            "TokenCode not six digits",
            "alice",
            kv(&[
                ("SerialNumber", "arn:aws:iam::111111111111:mfa/alice"),
                ("TokenCode", "12"),
            ]),
            "ValidationError",
            "tokenCode",
        ),
        (
            "session policy that is not JSON",
            "alice",
            kv(&[("Policy", "{")]),
            "MalformedPolicyDocument",
            "",
        ),
        // Who may assume.
        (
            "the account root",
            "root",
            kv(&[]),
            "AccessDenied",
            "Roles may not be assumed by root accounts",
        ),
        (
            "a user without an identity policy, trust naming the account",
            "bob",
            kv(&[]),
            "AccessDenied",
            "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/AppRole",
        ),
        (
            "a user the trust policy does not name",
            "alice",
            kv(&[("RoleArn", BOB_ONLY)]),
            "AccessDenied",
            "sts:AssumeRole",
        ),
        (
            "a user with an explicit deny",
            "carol",
            kv(&[]),
            "AccessDenied",
            "sts:AssumeRole",
        ),
        (
            "a role that does not exist",
            "alice",
            kv(&[("RoleArn", "arn:aws:iam::111111111111:role/Ghost")]),
            "AccessDenied",
            "sts:AssumeRole",
        ),
        (
            "a role under another path",
            "alice",
            kv(&[("RoleArn", "arn:aws:iam::111111111111:role/team/AppRole")]),
            "AccessDenied",
            "sts:AssumeRole",
        ),
        (
            "a role the web identity trust is for",
            "alice",
            kv(&[("RoleArn", WEB_ROLE)]),
            "AccessDenied",
            "sts:AssumeRole",
        ),
        (
            "session tags without sts:TagSession",
            "alice",
            kv(&[("Tags.member.1.Key", "team"), ("Tags.member.1.Value", "a")]),
            "AccessDenied",
            "sts:TagSession",
        ),
    ]
}

#[tokio::test]
async fn assume_role_rules_give_their_aws_codes() {
    let rules = assume_rules();
    for (name, who, kv, want, part) in &rules {
        let fx = Fx::new().await;
        let caller = if *who == "root" {
            root()
        } else {
            fx.signer(who)
        };
        let kv: Vec<(&str, &str)> = kv.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let e = fx
            .run(AssumeRole, Some(&caller), &kv)
            .await
            .expect_err(&format!("{name}: expected {want}"));
        assert_eq!(&code(&e), want, "{name}: {e:?}");
        assert!(
            e.to_string().contains(part),
            "{name}: message {:?} lacks {part:?}",
            e.to_string()
        );
    }
    assert_eq!(rules.len(), 27);
}

#[tokio::test]
async fn assume_role_accepts_the_bounds() {
    let fx = Fx::new().await;
    let alice = fx.signer("alice");
    for (role, extra) in [
        (APP_ROLE, vec![("DurationSeconds", "900")]),
        (APP_ROLE, vec![("DurationSeconds", "3600")]),
        (LONG_ROLE, vec![("DurationSeconds", "7200")]),
        (APP_ROLE, vec![("RoleSessionName", "ok_s+=,.@-1")]),
        (APP_ROLE, vec![("RoleSessionName", "ss")]),
        (APP_ROLE, vec![("ExternalId", "urn:ext/id-1")]),
    ] {
        let mut kv = vec![("RoleArn", role), ("RoleSessionName", "s1")];
        for (k, v) in &extra {
            kv.retain(|(ek, _)| ek != k);
            kv.push((*k, *v));
        }
        fx.run(AssumeRole, Some(&alice), &kv)
            .await
            .unwrap_or_else(|e| panic!("{role} {extra:?}: {e:?}"));
    }
    // The trust policy naming bob lets him in without any identity policy (same account).
    let bob = fx.signer("bob");
    fx.session(&bob, BOB_ONLY, &[]).await;
}

#[tokio::test]
async fn assume_role_issues_a_session_the_key_ring_opens() {
    let fx = Fx::new().await;
    let alice = fx.signer("alice");
    let before = chrono::Utc::now().timestamp();
    let s = fx
        .session(&alice, APP_ROLE, &[("DurationSeconds", "900")])
        .await;
    assert!(s.akid.starts_with("ASIA"), "{}", s.akid);
    assert_eq!(s.akid.len(), 20);
    let role = fx.view.role(ACCT, "AppRole").unwrap();
    assert_eq!(s.claims.access_key_id, s.akid);
    assert_eq!(s.claims.account, ACCT);
    assert_eq!(s.claims.role_name, "AppRole");
    assert_eq!(s.claims.role_id, role.record.role_id);
    assert_eq!(s.claims.session_name, "seam-session");
    assert_eq!(s.claims.expires_at - s.claims.issued_at, 900);
    assert!(s.claims.issued_at >= before);
    assert_eq!(s.claims.chain_depth, 0);
    assert_eq!(
        xml_value(&s.xml, "Arn").as_deref(),
        Some("arn:aws:sts::111111111111:assumed-role/AppRole/seam-session")
    );
    assert_eq!(
        xml_value(&s.xml, "AssumedRoleId"),
        Some(format!("{}:seam-session", role.record.role_id))
    );
    assert_eq!(
        xml_value(&s.xml, "Expiration"),
        Some(tessera_core::iso8601(s.claims.expires_at))
    );
    // Only the ring opens it: a tampered token or another key id is refused.
    let token = xml_value(&s.xml, "SessionToken").unwrap();
    let ring = fx.ring.get();
    assert!(ring.verify(&token, "ASIAAAAAAAAAAAAAAAAA", before).is_err());
    let mut bytes = token.into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(ring.open(&tampered).is_err());

    // Without DurationSeconds the session lasts an hour.
    let s = fx.session(&alice, APP_ROLE, &[]).await;
    assert_eq!(s.claims.expires_at - s.claims.issued_at, 3600);
}

#[tokio::test]
async fn chained_sessions_last_at_most_an_hour() {
    let fx = Fx::new().await;
    let alice = fx.signer("alice");
    let first = fx.session(&alice, APP_ROLE, &[]).await;
    let e = fx
        .run(
            AssumeRole,
            Some(&first.caller),
            &[
                ("RoleArn", LONG_ROLE),
                ("RoleSessionName", "s2"),
                ("DurationSeconds", "7200"),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationError", "{e:?}");
    assert!(e.to_string().contains("role chaining"), "{e}");
    let second = fx
        .session(&first.caller, LONG_ROLE, &[("DurationSeconds", "3600")])
        .await;
    assert_eq!(second.claims.chain_depth, 1);
    assert_eq!(second.claims.role_name, "LongRole");
    // A session of a role whose policies do not allow sts:AssumeRole cannot chain.
    let e = fx
        .run(
            AssumeRole,
            Some(&second.caller),
            &[("RoleArn", APP_ROLE), ("RoleSessionName", "s3")],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "{e:?}");
    assert!(
        e.to_string().contains("assumed-role/LongRole/seam-session"),
        "{e}"
    );
}

#[tokio::test]
async fn the_principal_view_decides_at_once() {
    let fx = Fx::new().await;
    let bob = fx.signer("bob");
    let kv = [("RoleArn", APP_ROLE), ("RoleSessionName", "s1")];
    assert_eq!(
        code(&fx.run(AssumeRole, Some(&bob), &kv).await.unwrap_err()),
        "AccessDenied"
    );
    // A policy written to the store counts once the view knows it (IAM folds its writes in).
    fx.store
        .put_user_policy(ACCT, "bob", "assume", ASSUME)
        .await
        .unwrap();
    fx.view.user_changed(ACCT, "bob").await.unwrap();
    fx.run(AssumeRole, Some(&bob), &kv).await.unwrap();
    // A deleted role can no longer be assumed, and its sessions may not chain.
    let session = fx.session(&bob, APP_ROLE, &[]).await;
    fx.store
        .delete_role_policy(ACCT, "AppRole", "assume")
        .await
        .unwrap();
    fx.store.delete_role(ACCT, "AppRole").await.unwrap();
    fx.view.role_changed(ACCT, "AppRole").await.unwrap();
    let e = fx.run(AssumeRole, Some(&bob), &kv).await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "{e:?}");
    let e = fx
        .run(
            AssumeRole,
            Some(&session.caller),
            &[("RoleArn", LONG_ROLE), ("RoleSessionName", "s2")],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "{e:?}");
}

#[tokio::test]
async fn get_caller_identity_answers_every_kind_of_caller_even_under_a_deny() {
    let fx = Fx::new().await;
    let alice = fx.signer("alice");
    let carol = fx.signer("carol");
    let session = fx.session(&alice, APP_ROLE, &[]).await;
    // A role whose only policy denies everything: its sessions still learn who they are.
    fx.store
        .put_role_policy(ACCT, "LongRole", "deny", DENY_ALL)
        .await
        .unwrap();
    fx.view.role_changed(ACCT, "LongRole").await.unwrap();
    let denied_session = fx.session(&alice, LONG_ROLE, &[]).await;
    let app_id = fx
        .view
        .role(ACCT, "AppRole")
        .unwrap()
        .record
        .role_id
        .clone();
    let long_id = fx
        .view
        .role(ACCT, "LongRole")
        .unwrap()
        .record
        .role_id
        .clone();
    let alice_id = fx.view.user(ACCT, "alice").unwrap().record.user_id.clone();
    let carol_id = fx.view.user(ACCT, "carol").unwrap().record.user_id.clone();
    for (caller, arn, user_id) in [
        (
            &root(),
            "arn:aws:iam::111111111111:root".to_owned(),
            ACCT.to_owned(),
        ),
        (
            &alice,
            "arn:aws:iam::111111111111:user/alice".to_owned(),
            alice_id,
        ),
        (
            &carol,
            "arn:aws:iam::111111111111:user/carol".to_owned(),
            carol_id,
        ),
        (
            &session.caller,
            "arn:aws:sts::111111111111:assumed-role/AppRole/seam-session".to_owned(),
            format!("{app_id}:seam-session"),
        ),
        (
            &denied_session.caller,
            "arn:aws:sts::111111111111:assumed-role/LongRole/seam-session".to_owned(),
            format!("{long_id}:seam-session"),
        ),
    ] {
        let out = fx
            .run(GetCallerIdentity, Some(caller), &[])
            .await
            .unwrap_or_else(|e| panic!("{arn}: {e:?}"));
        assert_eq!(xml_value(&out.result_xml, "Arn"), Some(arn.clone()));
        assert_eq!(xml_value(&out.result_xml, "UserId"), Some(user_id), "{arn}");
        assert_eq!(xml_value(&out.result_xml, "Account").as_deref(), Some(ACCT));
        assert!(out.details.read_only);
    }
    // carol's deny is real: she may not assume a role.
    let e = fx
        .run(
            AssumeRole,
            Some(&carol),
            &[("RoleArn", APP_ROLE), ("RoleSessionName", "s1")],
        )
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "{e:?}");
}

#[tokio::test]
async fn web_identity_tokens_refused_before_any_key_fetch() {
    let fx = Fx::new().await;
    let now = chrono::Utc::now().timestamp();
    let no_iss = jwt(&serde_json::json!({"sub": "user-1", "aud": "client-1", "exp": now + 600}));
    let unknown = token_from("https://unknown.example.com");
    let http = token_from("http://idp.example.com");
    let no_audience = token_from("https://noaud.example.com");
    let other_case = token_from("https://IDP.example.com");
    let with_query = token_from("https://idp.example.com?x=1");
    let good_issuer = token_from("https://idp.example.com");
    let base = |token: &str| {
        vec![
            ("RoleArn", WEB_ROLE.to_owned()),
            ("RoleSessionName", "web".to_owned()),
            ("WebIdentityToken", token.to_owned()),
        ]
    };
    let without = |key: &str| {
        let mut kv = base(&good_issuer);
        kv.retain(|(k, _)| *k != key);
        kv
    };
    let with = |key: &'static str, value: &str| {
        let mut kv = base(&good_issuer);
        kv.retain(|(k, _)| *k != key);
        kv.push((key, value.to_owned()));
        kv
    };
    let other_account = {
        let mut kv = base(&good_issuer);
        kv[0].1 = "arn:aws:iam::222222222222:role/WebRole".into();
        kv
    };
    let cases: Vec<WebCase> = vec![
        (
            "no WebIdentityToken",
            without("WebIdentityToken"),
            "MissingParameter",
            "WebIdentityToken",
        ),
        (
            "no RoleArn",
            without("RoleArn"),
            "MissingParameter",
            "RoleArn",
        ),
        (
            "no RoleSessionName",
            without("RoleSessionName"),
            "MissingParameter",
            "RoleSessionName",
        ),
        (
            "token shorter than 4",
            base("abc"),
            "ValidationError",
            "webIdentityToken",
        ),
        (
            "session name of one character",
            with("RoleSessionName", "w"),
            "ValidationError",
            "roleSessionName",
        ),
        (
            "RoleArn naming a user",
            with("RoleArn", "arn:aws:iam::111111111111:user/alice"),
            "ValidationError",
            "not a valid role ARN",
        ),
        (
            "garbage token",
            base("this-is-not-a-jwt"),
            "InvalidIdentityToken",
            "",
        ),
        (
            "three parts that are not base64url JSON",
            base("aaaa.bbbb.cccc"),
            "InvalidIdentityToken",
            "",
        ),
        (
            "token without an issuer",
            base(&no_iss),
            "InvalidIdentityToken",
            "iss",
        ),
        (
            "issuer with no IAM provider",
            base(&unknown),
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://unknown.example.com",
        ),
        (
            "provider in another account",
            other_account,
            "InvalidIdentityToken",
            "No OpenIDConnect provider found",
        ),
        (
            "issuer spelt in another case",
            base(&other_case),
            "InvalidIdentityToken",
            "No OpenIDConnect provider found",
        ),
        ("http issuer", base(&http), "InvalidIdentityToken", ""),
        (
            "issuer with a query",
            base(&with_query),
            "InvalidIdentityToken",
            "",
        ),
        (
            "provider without client ids",
            base(&no_audience),
            "InvalidIdentityToken",
            "audience",
        ),
    ];
    let n = cases.len();
    for (name, kv, want, part) in cases {
        let kv: Vec<(&str, &str)> = kv.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for caller in [None, Some(&root())] {
            let e = fx
                .run(AssumeRoleWithWebIdentity, caller, &kv)
                .await
                .expect_err(name);
            assert_eq!(code(&e), want, "{name}: {e:?}");
            assert!(
                e.to_string().contains(part),
                "{name}: message {:?} lacks {part:?}",
                e.to_string()
            );
            // The caller is not authenticated: the message never echoes the token.
            assert!(!e.to_string().contains(&good_issuer[..40]), "{name}: {e}");
        }
    }
    assert_eq!(n, 15);
    assert_eq!(fx.fetch.total_calls(), 0, "no key fetch was attempted");
}

/// `ProvidedContexts` with Identity Center assertions: the seed's IdentityBearerRole trust
/// (with its `sts:RequestContext/identitycenter:InstanceArn` condition) admits a context of its
/// instance and refuses one of another instance; expired, foreign (another deployment's key)
/// and changed assertions are refused; a trust policy without `sts:SetContext` refuses; a
/// revoked user's context is refused; the session carries the context.
#[tokio::test]
async fn provided_contexts_are_bound_to_instance_expiry_and_set_context() {
    use tessera_core::session::IdentityContext;
    use tessera_crypto::token::ContextSealer;
    let fx = Fx::new().await;
    let master = MasterKey::generate();
    let revocations = Arc::new(
        tessera_authz::revocations::load_view(fx.store.clone(), fx.store.clone())
            .await
            .unwrap(),
    );
    // The context's user, in its identity store.
    let user_id = "b1b2c3d4e5-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    fx.store
        .create_instance(&tessera_store::InstanceRecord {
            instance_arn: "arn:aws:sso:::instance/ssoins-aaaaaaaaaaaaaaaa".into(),
            identity_store_id: "d-1234567890".into(),
            owner_account_id: ACCT.into(),
            name: None,
            status: "ACTIVE".into(),
            client_token: None,
            tags: Vec::new(),
            created_at: 0,
        })
        .await
        .unwrap();
    fx.store
        .create_identity_user(&tessera_store::IdentityUserRecord {
            identity_store_id: "d-1234567890".into(),
            user_id: user_id.into(),
            user_name: "mateo".into(),
            email_key: None,
            attributes: "{}".into(),
            created_at: 0,
            created_by: String::new(),
            updated_at: 0,
            updated_by: String::new(),
        })
        .await
        .unwrap();
    let directory = Arc::new(
        tessera_authz::directory::load_view(fx.store.clone(), fx.store.clone())
            .await
            .unwrap(),
    );
    let sts = StsService::new(
        Deployment::default(),
        Authorizer::new(fx.view.clone(), Deployment::default()),
        fx.ring.clone(),
        fx.store.clone(),
        Arc::new(OidcVerifier::new(
            fx.fetch.clone(),
            VerifierConfig::default(),
        )),
        false,
    )
    .with_identity_contexts(
        ContextSealer::new(&master),
        revocations.clone(),
        directory.clone(),
    );
    let inst_a = "arn:aws:sso:::instance/ssoins-aaaaaaaaaaaaaaaa";
    let inst_b = "arn:aws:sso:::instance/ssoins-bbbbbbbbbbbbbbbb";
    let seed_trust = trust(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"{ACCT}"}},"Action":["sts:AssumeRole","sts:SetContext"],"Condition":{{"StringEquals":{{"sts:RequestContext/identitycenter:InstanceArn":"{inst_a}"}}}}}}"#
    ));
    fx.role("Bearer", &seed_trust, 3600, Vec::new()).await;
    fx.role("NoSetContext", &trust_aws(ACCT), 3600, Vec::new())
        .await;
    fx.user(
        "dora",
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:SetContext"],"Resource":"*"}]}"#),
    )
    .await;
    fx.view.reload().await.unwrap();
    let dora = fx.signer("dora");
    let now = chrono::Utc::now().timestamp();
    let context = |instance: &str, expires_at: i64| IdentityContext {
        user_id: user_id.into(),
        identity_store_arn: format!("arn:aws:identitystore::{ACCT}:identitystore/d-1234567890"),
        instance_arn: instance.into(),
        application_arn: format!(
            "arn:aws:sso::{ACCT}:application/ssoins-aaaaaaaaaaaaaaaa/apl-aaaaaaaaaaaaaaaa"
        ),
        credential_id: "cred".into(),
        token_issued_at: now - 10,
        expires_at,
    };
    let sealer = ContextSealer::new(&master);
    let (sts, dora) = (&sts, &dora);
    let assume = |role: &'static str, assertion: String| async move {
        let arn = format!("arn:aws:iam::{ACCT}:role/{role}");
        sts.run(
            AssumeRole,
            Some(dora),
            &meta(),
            &query(&[
                ("RoleArn", arn.as_str()),
                ("RoleSessionName", "s1"),
                (
                    "ProvidedContexts.member.1.ProviderArn",
                    "arn:aws:iam::aws:contextProvider/IdentityCenter",
                ),
                (
                    "ProvidedContexts.member.1.ContextAssertion",
                    assertion.as_str(),
                ),
            ]),
        )
        .await
    };
    let good = sealer.seal(&context(inst_a, now + 600));
    let out = assume("Bearer", good.clone()).await.expect("admitted");
    let token = xml_value(&out.result_xml, "SessionToken").unwrap();
    let akid = xml_value(&out.result_xml, "AccessKeyId").unwrap();
    let (claims, _) = fx.ring.get().verify(&token, &akid, now).unwrap();
    let ic = claims
        .identity_context
        .expect("the session carries the context");
    assert_eq!(ic.instance_arn, inst_a);
    assert_eq!(
        out.details.request_parameters["providedContexts"][0]["contextAssertion"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    // Without a context the seed's condition cannot hold.
    let plain = sts
        .run(
            AssumeRole,
            Some(dora),
            &meta(),
            &query(&[
                ("RoleArn", &format!("arn:aws:iam::{ACCT}:role/Bearer")),
                ("RoleSessionName", "s1"),
            ]),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&plain), "AccessDenied");
    let cases = [
        (
            "another instance",
            "Bearer",
            sealer.seal(&context(inst_b, now + 600)),
            "AccessDenied",
        ),
        (
            "expired",
            "Bearer",
            sealer.seal(&context(inst_a, now - 1)),
            "ExpiredTokenException",
        ),
        (
            "another deployment's key",
            "Bearer",
            ContextSealer::new(&MasterKey::generate()).seal(&context(inst_a, now + 600)),
            "ValidationError",
        ),
        (
            "one byte changed",
            "Bearer",
            {
                let mut b = good.clone().into_bytes();
                b[10] = if b[10] == b'A' { b'B' } else { b'A' };
                String::from_utf8(b).unwrap()
            },
            "ValidationError",
        ),
        (
            "no sts:SetContext in the trust policy",
            "NoSetContext",
            good.clone(),
            "AccessDenied",
        ),
    ];
    for (what, role, assertion, want) in cases {
        let e = assume(role, assertion).await.unwrap_err();
        assert_eq!(code(&e), want, "{what}: {e:?}");
    }
    // A user deleted from the identity store (as by SCIM) can no longer start sessions.
    directory
        .write(tessera_authz::directory::DirectoryChange::UserDeleted(
            user_id.into(),
        ))
        .await
        .unwrap();
    let e = assume("Bearer", good.clone()).await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "{e:?}");
    directory.reload().await.unwrap();
    assume("Bearer", good.clone())
        .await
        .expect("the user is back after a reload");
    // Revoking the user voids the context.
    tessera_authz::revocations::revoke(&revocations, fx.store.as_ref(), &ic.user_id, now)
        .await
        .unwrap();
    let e = assume("Bearer", good).await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}
