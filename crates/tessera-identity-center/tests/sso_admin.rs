//! sso-admin's instance operations at the service seam, on a scratch SQLite store: validation,
//! authorisation through the kernel, one instance per account, idempotent retries, paging.

mod common;

use common::*;
use serde_json::json;
use tessera_identity_center::SsoAdminOp;

#[tokio::test]
async fn create_describe_and_list_an_instance() {
    let f = fx().await;
    let created = call(&f, &root(ACCT), SsoAdminOp::CreateInstance, json!({"Name": "acme", "ClientToken": "t-1", "Tags": [{"Key": "team", "Value": "identity"}]}))
        .await
        .unwrap();
    let arn = created["InstanceArn"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:sso:::instance/ssoins-") && arn.len() == 46,
        "{arn}"
    );

    let d = call(
        &f,
        &root(ACCT),
        SsoAdminOp::DescribeInstance,
        json!({"InstanceArn": arn}),
    )
    .await
    .unwrap();
    assert_eq!(d["InstanceArn"], arn);
    assert_eq!(d["Name"], "acme");
    assert_eq!(d["OwnerAccountId"], ACCT);
    assert_eq!(d["Status"], "ACTIVE");
    let store_id = d["IdentityStoreId"].as_str().unwrap();
    assert!(
        store_id.len() == 12
            && store_id.starts_with("d-")
            && store_id[2..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{store_id}"
    );
    assert!(d["CreatedDate"].as_i64().unwrap() > 1_700_000_000);

    let l = call(&f, &root(ACCT), SsoAdminOp::ListInstances, json!({}))
        .await
        .unwrap();
    assert_eq!(l["Instances"].as_array().unwrap().len(), 1);
    assert_eq!(l["Instances"][0], d);
    assert!(l.get("NextToken").is_none());

    // A retry with the same idempotency token returns the same instance; another is refused.
    let again = call(
        &f,
        &root(ACCT),
        SsoAdminOp::CreateInstance,
        json!({"Name": "acme", "ClientToken": "t-1"}),
    )
    .await
    .unwrap();
    assert_eq!(again["InstanceArn"], arn);
    let e = call(
        &f,
        &root(ACCT),
        SsoAdminOp::CreateInstance,
        json!({"ClientToken": "t-2"}),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "ConflictException");
    let e = call(&f, &root(ACCT), SsoAdminOp::CreateInstance, json!({}))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConflictException");

    // Another account sees neither the instance nor its description.
    let other = root("222222222222");
    let e = call(
        &f,
        &other,
        SsoAdminOp::DescribeInstance,
        json!({"InstanceArn": arn}),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let l = call(&f, &other, SsoAdminOp::ListInstances, json!({}))
        .await
        .unwrap();
    assert_eq!(l["Instances"], json!([]));
}

#[tokio::test]
async fn validation_rules() {
    let f = fx().await;
    let r = root(ACCT);
    for (op, doc) in [
        (SsoAdminOp::CreateInstance, json!({"Name": "has space"})),
        (SsoAdminOp::CreateInstance, json!({"Name": ""})),
        (SsoAdminOp::CreateInstance, json!({"Name": 7})),
        (SsoAdminOp::CreateInstance, json!({"ClientToken": ""})),
        (SsoAdminOp::CreateInstance, json!({"Tags": [{"Key": "k"}]})),
        (SsoAdminOp::CreateInstance, json!({"Tags": "k=v"})),
        (SsoAdminOp::DescribeInstance, json!({})),
        (
            SsoAdminOp::DescribeInstance,
            json!({"InstanceArn": "arn:aws:sso:::instance/nope"}),
        ),
        (SsoAdminOp::ListInstances, json!({"MaxResults": 0})),
        (SsoAdminOp::ListInstances, json!({"MaxResults": 101})),
        (SsoAdminOp::ListInstances, json!({"MaxResults": "5"})),
        (
            SsoAdminOp::ListInstances,
            json!({"NextToken": "not-an-instance"}),
        ),
    ] {
        let e = call(&f, &r, op, doc.clone()).await.unwrap_err();
        assert_eq!(code(&e), "ValidationException", "{op} {doc}: {e:?}");
    }
    // Nothing was created by the refused requests.
    assert!(f.store.list_instances(ACCT).await.unwrap().is_empty());
    let e = call(
        &f,
        &r,
        SsoAdminOp::DescribeInstance,
        json!({"InstanceArn": "arn:aws:sso:::instance/ssoins-0000000000000000"}),
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
}

#[tokio::test]
async fn iam_users_need_the_sso_actions() {
    let f = fx().await;
    let nobody = user(&f, "nobody", None).await;
    for (op, action) in [
        (SsoAdminOp::CreateInstance, "sso:CreateInstance"),
        (SsoAdminOp::ListInstances, "sso:ListInstances"),
    ] {
        let e = call(&f, &nobody, op, json!({})).await.unwrap_err();
        assert_eq!(code(&e), "AccessDeniedException", "{op}");
        assert!(e.to_string().contains(action), "{e}");
    }
    assert!(f.store.list_instances(ACCT).await.unwrap().is_empty());
    let admin = user(
        &f,
        "admin",
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sso:CreateInstance","sso:DescribeInstance"],"Resource":"*"}]}"#),
    )
    .await;
    let created = call(&f, &admin, SsoAdminOp::CreateInstance, json!({}))
        .await
        .unwrap();
    let arn = created["InstanceArn"].as_str().unwrap();
    call(
        &f,
        &admin,
        SsoAdminOp::DescribeInstance,
        json!({"InstanceArn": arn}),
    )
    .await
    .unwrap();
    let e = call(&f, &admin, SsoAdminOp::ListInstances, json!({}))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
}
