//! identitystore's groups and memberships at the service seam: create, find, list, the
//! primitives `DIRECTORY_GROUP` grants need (ListGroupMembershipsForMember, IsMemberInGroups),
//! uniqueness, memberships going with their user or group, validation and authorisation.

mod common;

use common::*;
use serde_json::{Value, json};
use tessera_identity_center::IdentityStoreOp;

async fn ok(f: &Fx, op: IdentityStoreOp, doc: Value) -> Value {
    ids_call(f, &root(ACCT), op, doc)
        .await
        .unwrap_or_else(|e| panic!("{op}: {e:?}"))
}

async fn err(f: &Fx, op: IdentityStoreOp, doc: Value) -> String {
    code(
        &ids_call(f, &root(ACCT), op, doc)
            .await
            .expect_err(&format!("{op} should fail")),
    )
}

async fn new_user(f: &Fx, store: &str, name: &str) -> String {
    ok(
        f,
        IdentityStoreOp::CreateUser,
        json!({"IdentityStoreId": store, "UserName": name,
        "DisplayName": name, "Name": {"GivenName": name, "FamilyName": "Doe"}}),
    )
    .await["UserId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn groups_and_memberships() {
    use IdentityStoreOp::*;
    let f = fx().await;
    let s = identity_store(&f).await;
    let mateo = new_user(&f, &s, "mateo").await;
    let eve = new_user(&f, &s, "eve").await;
    let eng = ok(
        &f,
        CreateGroup,
        json!({"IdentityStoreId": s, "DisplayName": "Engineering", "Description": "builders"}),
    )
    .await["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    let fin = ok(
        &f,
        CreateGroup,
        json!({"IdentityStoreId": s, "DisplayName": "Finance"}),
    )
    .await["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        err(
            &f,
            CreateGroup,
            json!({"IdentityStoreId": s, "DisplayName": "engineering"})
        )
        .await,
        "ConflictException"
    );
    let d = ok(
        &f,
        DescribeGroup,
        json!({"IdentityStoreId": s, "GroupId": eng}),
    )
    .await;
    assert_eq!(
        (d["DisplayName"].as_str(), d["Description"].as_str()),
        (Some("Engineering"), Some("builders"))
    );
    let found = ok(&f, GetGroupId, json!({"IdentityStoreId": s,
        "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "FINANCE"}}}))
        .await;
    assert_eq!(found["GroupId"], fin.as_str());
    let page = ok(
        &f,
        ListGroups,
        json!({"IdentityStoreId": s, "MaxResults": 1}),
    )
    .await;
    assert_eq!(page["Groups"].as_array().unwrap().len(), 1);
    let rest = ok(
        &f,
        ListGroups,
        json!({"IdentityStoreId": s, "NextToken": page["NextToken"]}),
    )
    .await;
    assert_eq!(rest["Groups"].as_array().unwrap().len(), 1);
    assert_ne!(page["Groups"][0]["GroupId"], rest["Groups"][0]["GroupId"]);

    let m = ok(
        &f,
        CreateGroupMembership,
        json!({"IdentityStoreId": s, "GroupId": eng, "MemberId": {"UserId": mateo}}),
    )
    .await["MembershipId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        err(
            &f,
            CreateGroupMembership,
            json!({"IdentityStoreId": s, "GroupId": eng, "MemberId": {"UserId": mateo}})
        )
        .await,
        "ConflictException"
    );
    ok(
        &f,
        CreateGroupMembership,
        json!({"IdentityStoreId": s, "GroupId": fin, "MemberId": {"UserId": mateo}}),
    )
    .await;
    ok(
        &f,
        CreateGroupMembership,
        json!({"IdentityStoreId": s, "GroupId": eng, "MemberId": {"UserId": eve}}),
    )
    .await;
    let dm = ok(
        &f,
        DescribeGroupMembership,
        json!({"IdentityStoreId": s, "MembershipId": m}),
    )
    .await;
    assert_eq!(dm["GroupId"], eng.as_str());
    assert_eq!(dm["MemberId"]["UserId"], mateo.as_str());
    let id = ok(
        &f,
        GetGroupMembershipId,
        json!({"IdentityStoreId": s, "GroupId": eng, "MemberId": {"UserId": mateo}}),
    )
    .await;
    assert_eq!(id["MembershipId"], m.as_str());
    let of_eng = ok(
        &f,
        ListGroupMemberships,
        json!({"IdentityStoreId": s, "GroupId": eng}),
    )
    .await;
    assert_eq!(of_eng["GroupMemberships"].as_array().unwrap().len(), 2);
    let of_mateo = ok(
        &f,
        ListGroupMembershipsForMember,
        json!({"IdentityStoreId": s, "MemberId": {"UserId": mateo}}),
    )
    .await;
    let mut groups: Vec<&str> = of_mateo["GroupMemberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["GroupId"].as_str().unwrap())
        .collect();
    groups.sort();
    let mut want = vec![eng.as_str(), fin.as_str()];
    want.sort();
    assert_eq!(groups, want);
    let r = ok(
        &f,
        IsMemberInGroups,
        json!({"IdentityStoreId": s, "MemberId": {"UserId": eve}, "GroupIds": [eng, fin]}),
    )
    .await;
    assert_eq!(r["Results"][0]["MembershipExists"], true);
    assert_eq!(r["Results"][1]["MembershipExists"], false);

    // A membership goes with its group and with its user.
    ok(
        &f,
        DeleteGroup,
        json!({"IdentityStoreId": s, "GroupId": fin}),
    )
    .await;
    let of_mateo = ok(
        &f,
        ListGroupMembershipsForMember,
        json!({"IdentityStoreId": s, "MemberId": {"UserId": mateo}}),
    )
    .await;
    assert_eq!(of_mateo["GroupMemberships"].as_array().unwrap().len(), 1);
    ok(
        &f,
        DeleteUser,
        json!({"IdentityStoreId": s, "UserId": mateo}),
    )
    .await;
    assert_eq!(
        err(
            &f,
            DescribeGroupMembership,
            json!({"IdentityStoreId": s, "MembershipId": m})
        )
        .await,
        "ResourceNotFoundException"
    );
    let of_eng = ok(
        &f,
        ListGroupMemberships,
        json!({"IdentityStoreId": s, "GroupId": eng}),
    )
    .await;
    assert_eq!(of_eng["GroupMemberships"].as_array().unwrap().len(), 1);
    let last = of_eng["GroupMemberships"][0]["MembershipId"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &f,
        DeleteGroupMembership,
        json!({"IdentityStoreId": s, "MembershipId": last}),
    )
    .await;
    assert_eq!(
        err(
            &f,
            DeleteGroupMembership,
            json!({"IdentityStoreId": s, "MembershipId": last})
        )
        .await,
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn bad_group_and_membership_requests() {
    use IdentityStoreOp::*;
    let f = fx().await;
    let s = identity_store(&f).await;
    let user = new_user(&f, &s, "dan").await;
    let missing = "0123456789-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    for (op, doc) in [
        (CreateGroup, json!({"IdentityStoreId": s})),
        (
            CreateGroup,
            json!({"IdentityStoreId": s, "DisplayName": "   "}),
        ),
        (
            DescribeGroup,
            json!({"IdentityStoreId": s, "GroupId": "g-1"}),
        ),
        (
            CreateGroupMembership,
            json!({"IdentityStoreId": s, "GroupId": missing}),
        ),
        (
            CreateGroupMembership,
            json!({"IdentityStoreId": s, "GroupId": missing, "MemberId": {"UserId": "u"}}),
        ),
        (
            IsMemberInGroups,
            json!({"IdentityStoreId": s, "MemberId": {"UserId": user}, "GroupIds": []}),
        ),
        (
            IsMemberInGroups,
            json!({"IdentityStoreId": s, "MemberId": {"UserId": user}, "GroupIds": ["nope"]}),
        ),
        (
            GetGroupId,
            json!({"IdentityStoreId": s, "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "x"}}}),
        ),
        (ListGroups, json!({"IdentityStoreId": s, "MaxResults": 500})),
    ] {
        assert_eq!(
            err(&f, op, doc.clone()).await,
            "ValidationException",
            "{op} {doc}"
        );
    }
    for (op, doc) in [
        (
            DescribeGroup,
            json!({"IdentityStoreId": s, "GroupId": missing}),
        ),
        (
            DeleteGroup,
            json!({"IdentityStoreId": s, "GroupId": missing}),
        ),
        (
            CreateGroupMembership,
            json!({"IdentityStoreId": s, "GroupId": missing, "MemberId": {"UserId": user}}),
        ),
        (
            ListGroupMemberships,
            json!({"IdentityStoreId": s, "GroupId": missing}),
        ),
        (
            ListGroupMembershipsForMember,
            json!({"IdentityStoreId": s, "MemberId": {"UserId": missing}}),
        ),
        (
            GetGroupMembershipId,
            json!({"IdentityStoreId": s, "GroupId": missing, "MemberId": {"UserId": user}}),
        ),
    ] {
        assert_eq!(
            err(&f, op, doc.clone()).await,
            "ResourceNotFoundException",
            "{op} {doc}"
        );
    }
    let g = ok(
        &f,
        CreateGroup,
        json!({"IdentityStoreId": s, "DisplayName": "G"}),
    )
    .await["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        err(
            &f,
            CreateGroupMembership,
            json!({"IdentityStoreId": s, "GroupId": g, "MemberId": {"UserId": missing}})
        )
        .await,
        "ResourceNotFoundException"
    );
    // Authorisation through the kernel: a user without identitystore permissions.
    let nobody = common::user(&f, "nobody", None).await;
    let e = ids_call(
        &f,
        &nobody,
        CreateGroupMembership,
        json!({"IdentityStoreId": s, "GroupId": g, "MemberId": {"UserId": user}}),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(
        e.to_string()
            .contains("identitystore:CreateGroupMembership"),
        "{e}"
    );
    let r = ok(
        &f,
        IsMemberInGroups,
        json!({"IdentityStoreId": s, "MemberId": {"UserId": user}, "GroupIds": [g]}),
    )
    .await;
    assert_eq!(
        r["Results"][0]["MembershipExists"], false,
        "the refused membership was not made"
    );
}

#[tokio::test]
async fn group_updates() {
    use IdentityStoreOp::*;
    let f = fx().await;
    let s = identity_store(&f).await;
    let a = ok(
        &f,
        CreateGroup,
        json!({"IdentityStoreId": s, "DisplayName": "A", "Description": "first"}),
    )
    .await["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &f,
        CreateGroup,
        json!({"IdentityStoreId": s, "DisplayName": "B"}),
    )
    .await;
    ok(
        &f,
        UpdateGroup,
        json!({"IdentityStoreId": s, "GroupId": a, "Operations": [
        {"AttributePath": "displayName", "AttributeValue": "Alpha"},
        {"AttributePath": "description", "AttributeValue": null}]}),
    )
    .await;
    let d = ok(
        &f,
        DescribeGroup,
        json!({"IdentityStoreId": s, "GroupId": a}),
    )
    .await;
    assert_eq!(d["DisplayName"], "Alpha");
    assert!(d.get("Description").is_none());
    assert_eq!(
        err(&f, UpdateGroup, json!({"IdentityStoreId": s, "GroupId": a, "Operations": [{"AttributePath": "displayName", "AttributeValue": "b"}]})).await,
        "ConflictException"
    );
    assert_eq!(
        err(&f, UpdateGroup, json!({"IdentityStoreId": s, "GroupId": a, "Operations": [{"AttributePath": "displayName", "AttributeValue": null}]})).await,
        "ValidationException"
    );
    assert_eq!(
        err(&f, UpdateGroup, json!({"IdentityStoreId": s, "GroupId": a, "Operations": [{"AttributePath": "members", "AttributeValue": []}]})).await,
        "ValidationException"
    );
}
