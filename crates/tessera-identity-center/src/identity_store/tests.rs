//! Unit tests of identitystore ids and user attribute rules.

use super::attributes::*;
use super::fields::*;
use serde_json::json;

#[test]
fn ids_have_aws_shapes() {
    let id = new_id();
    assert_eq!(id.len(), 47);
    assert!(user_id(&json!({ "UserId": id })).is_ok());
    assert!(user_id(&json!({"UserId": "11111111-2222-3333-4444-555555555555"})).is_ok());
    assert!(user_id(&json!({"UserId": "nope"})).is_err());
    assert!(user_id(&json!({"UserId": "0123456789-1111"})).is_err());
    assert!(identity_store_id(&json!({"IdentityStoreId": "d-0123456789"})).is_ok());
    assert!(identity_store_id(&json!({"IdentityStoreId": "d-012345678"})).is_err());
    assert!(identity_store_id(&json!({"IdentityStoreId": "d-ABCDEF0123"})).is_err());
    assert!(identity_store_id(&json!({})).is_err());
}

#[test]
fn user_attribute_rules() {
    let base = json!({"UserName": "mateo", "DisplayName": "Mateo Jackson", "Name": {"GivenName": "Mateo", "FamilyName": "Jackson"}});
    let a = attributes(&base).unwrap();
    assert_eq!(a["Name"]["GivenName"], "Mateo");
    assert!(!a.contains_key("UserName"));
    let mut no_display = base.clone();
    no_display.as_object_mut().unwrap().remove("DisplayName");
    assert!(attributes(&no_display).is_err());
    let mut two_emails = base.clone();
    two_emails["Emails"] = json!([{"Value": "a@x"}, {"Value": "b@x"}]);
    assert!(attributes(&two_emails).is_err());
    let mut no_family = base.clone();
    no_family["Name"] = json!({"GivenName": "Mateo"});
    assert!(attributes(&no_family).is_err());
    assert!(user_name(&json!({"UserName": "has space"})).is_err());
    assert!(user_name(&json!({"UserName": "administrator"})).is_err());
    assert!(user_name(&json!({"UserName": "x".repeat(129)})).is_err());
    assert_eq!(
        user_name(&json!({"UserName": "mateo@example.com"})).unwrap(),
        "mateo@example.com"
    );
}
