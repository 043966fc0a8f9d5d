//! The grant index against a linear-scan oracle of the documented matching rules (S3 User
//! Guide, access-grants-credentials; `aws-wire.md` §7.5): for random grant sets (built by
//! random inserts and removals) and random requests, the index picks exactly the grant the
//! oracle picks, and the scope it returns always covers the target.

use proptest::prelude::*;
use tessera_authz::grants::{
    CallerIdentities, GrantTree, GranteeKind, NewGrant, format_grant_id, scope_key,
};
use tessera_core::GrantPermission;

#[derive(Debug, Clone)]
struct G {
    id: String,
    scope: String,
    kind: GranteeKind,
    who: String,
    perm: GrantPermission,
    app: Option<String>,
    created_at: i64,
}

/// The documented rule: a scope ending in `*` covers a target whose text (without its own
/// trailing `*`) starts with the scope before the `*`; otherwise only the identical target.
fn covers(scope: &str, target: &str) -> bool {
    match scope.strip_suffix('*') {
        Some(p) => target.strip_suffix('*').unwrap_or(target).starts_with(p),
        None => scope == target,
    }
}

fn oracle<'g>(
    grants: &'g [G],
    target: &str,
    perm: GrantPermission,
    who: &CallerIdentities<'_>,
) -> Option<&'g G> {
    grants
        .iter()
        .filter(|g| covers(&g.scope, target))
        .filter(|g| g.perm.covers(perm))
        .filter(|g| match g.kind {
            GranteeKind::Iam => who.iam.contains(&g.who.as_str()),
            GranteeKind::DirectoryUser => who.user == Some(g.who.as_str()),
            GranteeKind::DirectoryGroup => who.groups.contains(&g.who.as_str()),
        })
        .filter(|g| g.app.is_none() || g.app.as_deref() == who.application_arn)
        .min_by(|a, b| {
            // Longest scope first; an object scope before a prefix of the same text; then
            // directory before IAM, oldest, lowest id.
            let key = |g: &G| {
                let stem = g.scope.trim_end_matches('*').len();
                (
                    std::cmp::Reverse((stem, !g.scope.ends_with('*'))),
                    g.kind,
                    g.created_at,
                    g.id.clone(),
                )
            };
            key(a).cmp(&key(b))
        })
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just('a'), Just('b'), Just('/'), Just('é')],
        0..6,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn scope() -> impl Strategy<Value = String> {
    (text(), any::<bool>())
        .prop_map(|(t, star)| format!("s3://b{t}{}", if star { "*" } else { "" }))
}

fn perm() -> impl Strategy<Value = GrantPermission> {
    prop_oneof![
        Just(GrantPermission::Read),
        Just(GrantPermission::Write),
        Just(GrantPermission::ReadWrite)
    ]
}

fn grant() -> impl Strategy<Value = G> {
    (
        scope(),
        prop_oneof![
            Just(GranteeKind::Iam),
            Just(GranteeKind::DirectoryUser),
            Just(GranteeKind::DirectoryGroup)
        ],
        prop_oneof![Just("x"), Just("y"), Just("z")],
        perm(),
        prop_oneof![Just(None), Just(Some("app1")), Just(Some("app2"))],
        0i64..3,
    )
        .prop_map(|(scope, kind, who, perm, app, created_at)| G {
            id: String::new(),
            scope,
            kind,
            who: who.to_owned(),
            perm,
            app: app.map(str::to_owned),
            created_at,
        })
}

fn new_grant(g: &G) -> NewGrant<'_> {
    NewGrant {
        id: &g.id,
        grantee_kind: g.kind,
        grantee: &g.who,
        permission: g.perm,
        application_arn: g.app.as_deref(),
        location_id: "default",
        created_at: g.created_at,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("TESSERA_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn index_matches_the_oracle(
        mut grants in proptest::collection::vec(grant(), 0..24),
        removals in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        requests in proptest::collection::vec(
            (scope(), perm(), proptest::collection::vec(prop_oneof![Just("x"), Just("y"), Just("z")], 0..3),
             prop_oneof![Just(None), Just(Some("app1")), Just(Some("app2"))]),
            1..12),
    ) {
        for (i, g) in grants.iter_mut().enumerate() {
            g.id = format_grant_id((0, i as u64));
        }
        let mut tree = GrantTree::default();
        let mut snapshots = Vec::new();
        for g in &grants {
            let (k, p) = scope_key(&g.scope).unwrap();
            prop_assert!(tree.insert(k, p, new_grant(g)));
            snapshots.push(tree.clone());
        }
        // Remove some, checking that older snapshots are untouched.
        let frozen = tree.clone();
        let mut live = grants.clone();
        for r in removals {
            if live.is_empty() { break; }
            let g = live.remove(r.index(live.len()));
            let (k, p) = scope_key(&g.scope).unwrap();
            prop_assert!(tree.remove(k, p, &g.id));
        }
        prop_assert_eq!(tree.len(), live.len());
        prop_assert_eq!(frozen.len(), grants.len());
        for (target, perm, ids, app) in &requests {
            let (tk, _) = (target.strip_prefix("s3://").unwrap(), ());
            // IAM identity "x" or "y"; directory user and groups from the request.
            let who = CallerIdentities {
                iam: ids.iter().take(1).copied().collect(),
                user: ids.get(1).copied(),
                groups: ids.iter().skip(2).copied().collect(),
                application_arn: *app,
            };
            for (set, t) in [(&live, &tree), (&grants, &frozen)] {
                let want = oracle(set, target, *perm, &who);
                let got = t.best(tk, *perm, &who);
                prop_assert_eq!(got.as_ref().map(|m| m.grant_id()), want.map(|g| g.id.clone()));
                if let (Some(m), Some(w)) = (got, want) {
                    prop_assert_eq!(m.grant_scope(), w.scope.clone());
                    prop_assert!(covers(&m.grant_scope(), target), "{} does not cover {}", m.grant_scope(), target);
                }
            }
        }
        // Every intermediate snapshot still answers for the grants it had.
        for (n, snap) in snapshots.iter().enumerate() {
            prop_assert_eq!(snap.len(), n + 1);
        }
    }
}
