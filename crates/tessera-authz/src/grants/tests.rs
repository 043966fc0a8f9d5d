//! Unit tests of grant ids and the grant tree: matching, removal, snapshots, nearest grants.

use super::*;

/// A UUID-shaped id from a short name.
fn uid(name: &str) -> String {
    let n: u64 = name
        .bytes()
        .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    format_grant_id((0, n))
}

fn grant<'a>(id: &'a str, kind: GranteeKind, who: &'a str, perm: GrantPermission) -> NewGrant<'a> {
    NewGrant {
        id,
        grantee_kind: kind,
        grantee: who,
        permission: perm,
        application_arn: None,
        location_id: "default",
        created_at: 0,
    }
}

fn tree(scopes: &[(&str, &str)]) -> GrantTree {
    let mut t = GrantTree::default();
    for (id, scope) in scopes {
        let (k, p) = scope_key(scope).unwrap();
        let id = uid(id);
        t.insert(
            k,
            p,
            grant(&id, GranteeKind::Iam, "role", GrantPermission::Read),
        );
    }
    t
}

fn caller() -> CallerIdentities<'static> {
    CallerIdentities {
        iam: vec!["role"],
        ..CallerIdentities::default()
    }
}

fn pick(t: &GrantTree, target: &str) -> Option<String> {
    t.best(target, GrantPermission::Read, &caller())
        .map(|m| m.grant_scope())
}

#[test]
fn grant_ids_round_trip() {
    let id = "3f2b6c1d-8e4a-4d7b-9f0c-1a2b3c4d5e6f";
    assert_eq!(format_grant_id(parse_grant_id(id).unwrap()), id);
    assert!(parse_grant_id("not-a-uuid").is_none());
    assert!(parse_grant_id("3f2b6c1d-8e4a-4d7b-9f0c-1a2b3c4d5e6g").is_none());
}

#[test]
fn closest_scope_wins() {
    let t = tree(&[("a", "s3://b1/bob/*"), ("b", "s3://b1/bob/reports/*")]);
    assert_eq!(pick(&t, "b1/bob/*").as_deref(), Some("s3://b1/bob/*"));
    assert_eq!(
        pick(&t, "b1/bob/reports/file.txt").as_deref(),
        Some("s3://b1/bob/reports/*")
    );
    assert_eq!(pick(&t, "b1/bob/").as_deref(), Some("s3://b1/bob/*"));
    assert_eq!(pick(&t, "b1/bo"), None);
    assert_eq!(pick(&t, "b1/*"), None);
    assert_eq!(pick(&t, "b2/bob/x"), None);
}

#[test]
fn character_prefixes_and_objects() {
    let t = tree(&[("a", "s3://b/prefixA*"), ("o", "s3://b/bob/")]);
    assert_eq!(pick(&t, "b/prefixAB").as_deref(), Some("s3://b/prefixA*"));
    assert_eq!(pick(&t, "b/prefixA1/x").as_deref(), Some("s3://b/prefixA*"));
    // An object grant covers only itself (not a prefix target of the same text).
    assert_eq!(pick(&t, "b/bob/").as_deref(), Some("s3://b/bob/"));
    assert_eq!(pick(&t, "b/bob/*"), None);
    assert_eq!(pick(&t, "b/bob/x"), None);
}

#[test]
fn removal_merges_and_keeps_others() {
    let mut t = tree(&[
        ("a", "s3://b/abc*"),
        ("b", "s3://b/abd*"),
        ("c", "s3://b/ab*"),
    ]);
    assert_eq!(t.len(), 3);
    assert!(t.remove("b/ab", true, &uid("c")));
    assert!(!t.remove("b/ab", true, &uid("c")));
    assert_eq!(pick(&t, "b/abd/x").as_deref(), Some("s3://b/abd*"));
    assert!(t.remove("b/abc", true, &uid("a")));
    assert_eq!(pick(&t, "b/abc/x"), None);
    assert_eq!(pick(&t, "b/abd/x").as_deref(), Some("s3://b/abd*"));
    assert_eq!(t.len(), 1);
}

#[test]
fn snapshots_are_not_changed_by_later_writes() {
    let t1 = tree(&[("a", "s3://b/x/*")]);
    let mut t2 = t1.clone();
    let id = uid("n");
    t2.insert(
        "b/x/y/",
        true,
        grant(&id, GranteeKind::Iam, "role", GrantPermission::Read),
    );
    assert_eq!(pick(&t1, "b/x/y/z").as_deref(), Some("s3://b/x/*"));
    assert_eq!(pick(&t2, "b/x/y/z").as_deref(), Some("s3://b/x/y/*"));
}

#[test]
fn crowded_nodes_are_searched_per_identity() {
    let mut t = GrantTree::default();
    for i in 0..1000u64 {
        let id = format_grant_id((1, i));
        let who = format!("group-{i:04}");
        t.insert(
            "b/red/",
            true,
            grant(
                &id,
                GranteeKind::DirectoryGroup,
                &who,
                GrantPermission::Read,
            ),
        );
    }
    let who = CallerIdentities {
        groups: vec!["group-0500", "nobody"],
        ..CallerIdentities::default()
    };
    let m = t.best("b/red/x", GrantPermission::Read, &who).unwrap();
    assert_eq!(m.grant_id(), format_grant_id((1, 500)));
    assert_eq!(&*m.grantee, "group-0500");
    let nobody = CallerIdentities {
        groups: vec!["nobody"],
        ..CallerIdentities::default()
    };
    assert!(t.best("b/red/x", GrantPermission::Read, &nobody).is_none());
}

#[test]
fn permissions_and_applications() {
    let mut t = GrantTree::default();
    let (w, rw) = (uid("w"), uid("rw"));
    t.insert(
        "b/w/",
        true,
        grant(&w, GranteeKind::Iam, "role", GrantPermission::Write),
    );
    let mut app = grant(&rw, GranteeKind::Iam, "role", GrantPermission::ReadWrite);
    app.application_arn = Some("arn:app");
    t.insert("b/a/", true, app);
    let mut who = caller();
    assert!(t.best("b/w/x", GrantPermission::Read, &who).is_none());
    assert!(t.best("b/w/x", GrantPermission::Write, &who).is_some());
    assert!(t.best("b/a/x", GrantPermission::Read, &who).is_none());
    who.application_arn = Some("arn:other");
    assert!(t.best("b/a/x", GrantPermission::Read, &who).is_none());
    who.application_arn = Some("arn:app");
    assert!(t.best("b/a/x", GrantPermission::Read, &who).is_some());
    assert!(t.best("b/a/x", GrantPermission::Write, &who).is_some());
}

#[test]
fn nearest_grants_explain_a_refusal() {
    let mut t = GrantTree::default();
    let (red, blue, other, obj) = (uid("red"), uid("blue"), uid("other"), uid("obj"));
    for (id, scope, who, perm) in [
        (
            &red,
            "s3://bucket/projects/red/*",
            "red-group",
            GrantPermission::Read,
        ),
        (
            &blue,
            "s3://bucket/projects/blue/*",
            "blue-group",
            GrantPermission::Read,
        ),
        (
            &other,
            "s3://elsewhere/*",
            "red-group",
            GrantPermission::ReadWrite,
        ),
        (
            &obj,
            "s3://bucket/projects/a.csv",
            "red-group",
            GrantPermission::Read,
        ),
    ] {
        let (k, p) = scope_key(scope).unwrap();
        t.insert(k, p, grant(id, GranteeKind::DirectoryGroup, who, perm));
    }
    let mateo = CallerIdentities {
        groups: vec!["red-group"],
        ..CallerIdentities::default()
    };
    // Mateo asks for blue data: the blue grant covers it but is another group's.
    let near = t.nearest(
        "bucket/projects/blue/berries.csv",
        GrantPermission::Read,
        &mateo,
        3,
    );
    assert_eq!(near[0].grant_id(), blue);
    assert_eq!(near[0].miss, Miss::NotTheCallers);
    assert_eq!(near[0].scope, "s3://bucket/projects/blue/*");
    // Then what shares the most of the target.
    assert_eq!(near[1].shared, "bucket/projects/".len());
    assert!(near.iter().all(|n| n.grant_id() != other), "{near:?}");
    assert_eq!(near.len(), 3);

    // Green data: nothing covers it; the red grant (his own) and the blue share the most.
    let near = t.nearest("bucket/projects/green/x", GrantPermission::Read, &mateo, 2);
    assert_eq!(near.len(), 2);
    assert!(near.iter().all(|n| n.miss == Miss::Scope), "{near:?}");
    assert!(near.iter().all(|n| n.shared == "bucket/projects/".len()));
    // Writing red data: his grant covers the target but only for reads.
    let near = t.nearest("bucket/projects/red/x", GrantPermission::Write, &mateo, 1);
    assert_eq!(near[0].grant_id(), red);
    assert_eq!(near[0].miss, Miss::Permission);
    // A target the tree has nothing near: whatever there is, sharing nothing.
    let near = t.nearest("zzz/x", GrantPermission::Read, &mateo, 10);
    assert_eq!(near.len(), 4);
    assert!(near.iter().all(|n| n.shared == 0));
    // An empty tree explains with nothing.
    assert!(
        GrantTree::default()
            .nearest("b/x", GrantPermission::Read, &mateo, 3)
            .is_empty()
    );
}
