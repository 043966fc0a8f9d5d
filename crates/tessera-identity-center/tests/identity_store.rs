//! identitystore's user operations at the service seam: validation, authorisation through the
//! kernel, the account's own identity store only, uniqueness, lookups, paging.

mod common;

use common::*;
use serde_json::{Value, json};
use tessera_identity_center::IdentityStoreOp;

fn new_user(store: &str, name: &str) -> Value {
    json!({"IdentityStoreId": store, "UserName": name, "DisplayName": format!("{name} Doe"),
        "Name": {"GivenName": name, "FamilyName": "Doe"},
        "Emails": [{"Value": format!("{name}@example.com"), "Type": "work", "Primary": true}]})
}

#[tokio::test]
async fn users_are_created_found_listed_and_deleted() {
    let f = fx().await;
    let store = identity_store(&f).await;
    let r = root(ACCT);
    let mut ids = Vec::new();
    for n in ["ann", "bob", "cid"] {
        let c = ids_call(&f, &r, IdentityStoreOp::CreateUser, new_user(&store, n))
            .await
            .unwrap();
        ids.push(c["UserId"].as_str().unwrap().to_owned());
    }
    let d = ids_call(
        &f,
        &r,
        IdentityStoreOp::DescribeUser,
        json!({"IdentityStoreId": store, "UserId": ids[1]}),
    )
    .await
    .unwrap();
    assert_eq!(d["UserName"], "bob");
    assert_eq!(d["CreatedBy"], "arn:aws:iam::111111111111:root");
    assert_eq!(d["UserStatus"], "ENABLED");

    // Paging: two pages of at most two users, every user once.
    let p1 = ids_call(
        &f,
        &r,
        IdentityStoreOp::ListUsers,
        json!({"IdentityStoreId": store, "MaxResults": 2}),
    )
    .await
    .unwrap();
    assert_eq!(p1["Users"].as_array().unwrap().len(), 2);
    let p2 = ids_call(
        &f,
        &r,
        IdentityStoreOp::ListUsers,
        json!({"IdentityStoreId": store, "MaxResults": 2, "NextToken": p1["NextToken"]}),
    )
    .await
    .unwrap();
    assert_eq!(p2["Users"].as_array().unwrap().len(), 1);
    assert!(p2.get("NextToken").is_none());

    let found = ids_call(&f, &r, IdentityStoreOp::GetUserId, json!({"IdentityStoreId": store,
        "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": "CID@example.com"}}}))
        .await
        .unwrap();
    assert_eq!(found["UserId"], ids[2].as_str());
    let e = ids_call(&f, &r, IdentityStoreOp::GetUserId, json!({"IdentityStoreId": store,
        "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "nobody"}}}))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = ids_call(&f, &r, IdentityStoreOp::GetUserId, json!({"IdentityStoreId": store,
        "AlternateIdentifier": {"ExternalId": {"Issuer": "https://idp.example.com", "Id": "00u1"}}}))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");

    let e = ids_call(&f, &r, IdentityStoreOp::CreateUser, new_user(&store, "ANN"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConflictException");
    // The modelled members SDKs read beside the message.
    let fields = e.to_aws().fields;
    assert!(
        fields.contains(&("Reason".into(), "UNIQUENESS_CONSTRAINT_VIOLATION".into())),
        "{fields:?}"
    );

    ids_call(
        &f,
        &r,
        IdentityStoreOp::DeleteUser,
        json!({"IdentityStoreId": store, "UserId": ids[0]}),
    )
    .await
    .unwrap();
    let e = ids_call(
        &f,
        &r,
        IdentityStoreOp::DeleteUser,
        json!({"IdentityStoreId": store, "UserId": ids[0]}),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let fields = e.to_aws().fields;
    assert!(
        fields.contains(&("ResourceType".into(), "USER".into())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("ResourceId".into(), ids[0].clone())),
        "{fields:?}"
    );
}

#[tokio::test]
async fn validation_rules() {
    let f = fx().await;
    let store = identity_store(&f).await;
    let r = root(ACCT);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut v = new_user(&store, "dan");
        change(&mut v);
        v
    };
    for (what, op, doc) in [
        ("no store id", IdentityStoreOp::ListUsers, json!({})),
        (
            "bad store id",
            IdentityStoreOp::ListUsers,
            json!({"IdentityStoreId": "d-123"}),
        ),
        (
            "no user name",
            IdentityStoreOp::CreateUser,
            with(&|v| {
                v.as_object_mut().unwrap().remove("UserName");
            }),
        ),
        (
            "space in user name",
            IdentityStoreOp::CreateUser,
            with(&|v| v["UserName"] = json!("dan doe")),
        ),
        (
            "reserved user name",
            IdentityStoreOp::CreateUser,
            with(&|v| v["UserName"] = json!("AWSAdministrators")),
        ),
        (
            "no display name",
            IdentityStoreOp::CreateUser,
            with(&|v| {
                v.as_object_mut().unwrap().remove("DisplayName");
            }),
        ),
        (
            "no family name",
            IdentityStoreOp::CreateUser,
            with(&|v| v["Name"] = json!({"GivenName": "Dan"})),
        ),
        (
            "two emails",
            IdentityStoreOp::CreateUser,
            with(&|v| v["Emails"] = json!([{"Value": "a@x"}, {"Value": "b@x"}])),
        ),
        (
            "Primary not a boolean",
            IdentityStoreOp::CreateUser,
            with(&|v| v["Emails"] = json!([{"Value": "a@x", "Primary": "yes"}])),
        ),
        (
            "bad user id",
            IdentityStoreOp::DescribeUser,
            json!({"IdentityStoreId": store, "UserId": "u-1"}),
        ),
        (
            "MaxResults 0",
            IdentityStoreOp::ListUsers,
            json!({"IdentityStoreId": store, "MaxResults": 0}),
        ),
        (
            "unknown NextToken",
            IdentityStoreOp::ListUsers,
            json!({"IdentityStoreId": store, "NextToken": "x"}),
        ),
        (
            "no alternate identifier",
            IdentityStoreOp::GetUserId,
            json!({"IdentityStoreId": store}),
        ),
        (
            "not a unique attribute",
            IdentityStoreOp::GetUserId,
            json!({"IdentityStoreId": store,
            "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": "x"}}}),
        ),
        (
            "both identifiers",
            IdentityStoreOp::GetUserId,
            json!({"IdentityStoreId": store,
            "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": "x"},
                "ExternalId": {"Issuer": "i", "Id": "x"}}}),
        ),
    ] {
        let e = ids_call(&f, &r, op, doc).await.unwrap_err();
        assert_eq!(code(&e), "ValidationException", "{what}: {e:?}");
    }
    assert!(
        f.store
            .list_identity_users(&store)
            .await
            .unwrap()
            .is_empty(),
        "nothing half-written"
    );
    // A well-formed id of an identity store that is not this account's.
    let e = ids_call(
        &f,
        &r,
        IdentityStoreOp::ListUsers,
        json!({"IdentityStoreId": "d-0000000000"}),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = ids_call(
        &f,
        &root("222222222222"),
        IdentityStoreOp::ListUsers,
        json!({"IdentityStoreId": store}),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
}

#[tokio::test]
async fn iam_users_need_the_identitystore_actions() {
    let f = fx().await;
    let store = identity_store(&f).await;
    let nobody = user(&f, "nobody", None).await;
    let e = ids_call(
        &f,
        &nobody,
        IdentityStoreOp::CreateUser,
        new_user(&store, "eve"),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(e.to_string().contains("identitystore:CreateUser"), "{e}");
    let e = ids_call(
        &f,
        &nobody,
        IdentityStoreOp::ListUsers,
        json!({"IdentityStoreId": store}),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let reader = user(
        &f,
        "reader",
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["identitystore:List*","identitystore:Describe*"],"Resource":"*"}]}"#),
    )
    .await;
    ids_call(
        &f,
        &reader,
        IdentityStoreOp::ListUsers,
        json!({"IdentityStoreId": store}),
    )
    .await
    .unwrap();
    let e = ids_call(
        &f,
        &reader,
        IdentityStoreOp::CreateUser,
        new_user(&store, "eve"),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert!(
        f.store
            .list_identity_users(&store)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn updates_apply_operations_and_keep_the_rules() {
    let f = fx().await;
    let store = identity_store(&f).await;
    let r = root(ACCT);
    let id = ids_call(&f, &r, IdentityStoreOp::CreateUser, new_user(&store, "ann"))
        .await
        .unwrap()["UserId"]
        .as_str()
        .unwrap()
        .to_owned();
    ids_call(&f, &r, IdentityStoreOp::CreateUser, new_user(&store, "bob"))
        .await
        .unwrap();
    let update = |ops: Value| json!({"IdentityStoreId": store, "UserId": id, "Operations": ops});
    ids_call(&f, &r, IdentityStoreOp::UpdateUser, update(json!([
        {"AttributePath": "displayName", "AttributeValue": "Ann Lee"},
        {"AttributePath": "name.familyName", "AttributeValue": "Lee"},
        {"AttributePath": "title", "AttributeValue": "Engineer"},
        {"AttributePath": "emails", "AttributeValue": [{"Value": "ann.lee@example.com", "Primary": true}]},
    ])))
    .await
    .unwrap();
    let d = ids_call(
        &f,
        &r,
        IdentityStoreOp::DescribeUser,
        json!({"IdentityStoreId": store, "UserId": id}),
    )
    .await
    .unwrap();
    assert_eq!(d["DisplayName"], "Ann Lee");
    assert_eq!(d["Name"]["FamilyName"], "Lee");
    assert_eq!(d["Name"]["GivenName"], "ann", "untouched members stay");
    assert_eq!(d["Title"], "Engineer");
    let by_mail = ids_call(&f, &r, IdentityStoreOp::GetUserId, json!({"IdentityStoreId": store,
        "AlternateIdentifier": {"UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": "ann.lee@example.com"}}}))
        .await
        .unwrap();
    assert_eq!(by_mail["UserId"], id.as_str());
    // A null value removes an optional attribute.
    ids_call(
        &f,
        &r,
        IdentityStoreOp::UpdateUser,
        update(json!([{"AttributePath": "title", "AttributeValue": null}])),
    )
    .await
    .unwrap();
    let d = ids_call(
        &f,
        &r,
        IdentityStoreOp::DescribeUser,
        json!({"IdentityStoreId": store, "UserId": id}),
    )
    .await
    .unwrap();
    assert!(d.get("Title").is_none());
    for (ops, want) in [
        (
            json!([{"AttributePath": "displayName"}]),
            "ValidationException",
        ),
        (
            json!([{"AttributePath": "name.givenName", "AttributeValue": null}]),
            "ValidationException",
        ),
        (
            json!([{"AttributePath": "userName", "AttributeValue": "has space"}]),
            "ValidationException",
        ),
        (
            json!([{"AttributePath": "id", "AttributeValue": "x"}]),
            "ValidationException",
        ),
        (json!([]), "ValidationException"),
        (
            json!([{"AttributePath": "userName", "AttributeValue": "BOB"}]),
            "ConflictException",
        ),
    ] {
        let e = ids_call(&f, &r, IdentityStoreOp::UpdateUser, update(ops.clone()))
            .await
            .unwrap_err();
        assert_eq!(code(&e), want, "{ops}: {e:?}");
    }
    let d = ids_call(
        &f,
        &r,
        IdentityStoreOp::DescribeUser,
        json!({"IdentityStoreId": store, "UserId": id}),
    )
    .await
    .unwrap();
    assert_eq!(
        (d["UserName"].as_str(), d["DisplayName"].as_str()),
        (Some("ann"), Some("Ann Lee")),
        "refused updates change nothing"
    );
    let nobody = user(&f, "nobody", None).await;
    let e = ids_call(
        &f,
        &nobody,
        IdentityStoreOp::UpdateUser,
        update(json!([{"AttributePath": "title", "AttributeValue": "x"}])),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
}
