//! Unit tests of SCIM's filters, paths, PATCH and projection.

use super::documents::*;
use super::patch::*;
use super::query::*;
use super::*;
use crate::identity_store::has_external_id;

#[test]
fn filters() {
    assert_eq!(
        parse_filter(r#"userName eq "alice""#).unwrap(),
        vec![Term {
            attr: "userName".into(),
            value: "alice".into()
        }]
    );
    let two = parse_filter(r#"id eq "a" AND manager eq "b \"q\"""#).unwrap();
    assert_eq!(two[1].value, r#"b "q""#);
    for bad in [
        r#"userName co "a""#,
        r#"userName eq a"#,
        r#"a eq "1" and b eq "2" and c eq "3""#,
        r#"a eq "1" or b eq "2""#,
        r#"(a eq "1")"#,
        r#"emails[type eq "work"] eq "x""#,
        r#"a eq "unterminated"#,
        "",
    ] {
        assert_eq!(
            parse_filter(bad).unwrap_err().scim_type,
            Some("invalidFilter"),
            "{bad}"
        );
    }
}

#[test]
fn paths() {
    let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(
        (p.attr.as_str(), p.sub.as_deref()),
        ("emails", Some("value"))
    );
    assert_eq!(p.filter.unwrap().value, "work");
    let p = parse_path(&format!("{ENTERPRISE}:department")).unwrap();
    assert!(p.extension);
    assert_eq!(p.attr, "department");
    let p = parse_path("name.givenName").unwrap();
    assert_eq!(
        (p.attr.as_str(), p.sub.as_deref()),
        ("name", Some("givenName"))
    );
    let p = parse_path(r#"members[value eq "u-1"]"#).unwrap();
    assert_eq!(p.filter.unwrap().value, "u-1");
    assert!(parse_path("a]b[").is_err());
    // Multi-byte text where a schema prefix would end must not panic.
    assert!(parse_path(&"é".repeat(30)).is_err());
    assert!(parse_path("").is_err());
}

fn user() -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": "mateo", "displayName": "Mateo Jackson",
        "name": {"givenName": "Mateo", "familyName": "Jackson"},
        "emails": [{"value": "m@example.com", "type": "work", "primary": true}], "active": true})
}

#[test]
fn entra_and_okta_patch_shapes() {
    let mut u = user();
    // Entra ID: capitalised ops, filtered paths, the extension URN.
    patch_user(
        &mut u,
        "replace",
        Some(r#"emails[type eq "work"].value"#),
        Some(&json!("new@example.com")),
    )
    .unwrap();
    patch_user(
        &mut u,
        "add",
        Some(&format!("{ENTERPRISE}:department")),
        Some(&json!("Data")),
    )
    .unwrap();
    patch_user(
        &mut u,
        "replace",
        Some("name.givenName"),
        Some(&json!("Mat")),
    )
    .unwrap();
    // Okta: no path.
    patch_user(
        &mut u,
        "replace",
        None,
        Some(&json!({"id": "x", "active": false})),
    )
    .unwrap();
    assert_eq!(u["emails"][0]["value"], "new@example.com");
    assert_eq!(u[ENTERPRISE]["department"], "Data");
    assert_eq!(u["name"]["givenName"], "Mat");
    assert_eq!(u["active"], false);
    let (name, attrs) = user_from_scim(&u).unwrap();
    assert_eq!(name, "mateo");
    assert_eq!(attrs["Active"], false);
    assert_eq!(attrs["Extensions"][ENTERPRISE_KEY]["department"], "Data");
    patch_user(&mut u, "remove", Some(r#"emails[type eq "work"]"#), None).unwrap();
    assert_eq!(u["emails"], json!([]));
    assert!(patch_user(&mut u, "replace", Some("id"), Some(&json!("y"))).is_err());
    assert!(patch_user(&mut u, "remove", None, None).is_err());
}

#[test]
fn users_follow_the_identity_store_rules() {
    let mut two_emails = user();
    two_emails["emails"] = json!([{"value": "a@x"}, {"value": "b@x"}]);
    assert!(user_from_scim(&two_emails).is_err());
    let mut no_name = user();
    no_name.as_object_mut().unwrap().remove("name");
    assert!(user_from_scim(&no_name).is_err());
    let mut ext = user();
    ext["externalId"] = json!("E-1");
    let (_, attrs) = user_from_scim(&ext).unwrap();
    assert!(has_external_id(
        attrs.get("ExternalIds"),
        SCIM_ISSUER,
        "E-1"
    ));
}

#[test]
fn projections() {
    let v = json!({"id": "1", "schemas": [], "meta": {}, "userName": "a", "name": {"givenName": "g", "familyName": "f"}, "title": "t"});
    let q = vec![(
        "attributes".to_owned(),
        "userName,name.givenName".to_owned(),
    )];
    let p = project(v.clone(), &q);
    assert_eq!(p["userName"], "a");
    assert_eq!(p["name"], json!({"givenName": "g"}));
    assert!(p.get("title").is_none() && p.get("id").is_some());
    let q = vec![(
        "excludedAttributes".to_owned(),
        "title,name.familyName,id".to_owned(),
    )];
    let p = project(v, &q);
    assert!(p.get("title").is_none());
    assert_eq!(p["name"], json!({"givenName": "g"}));
    assert_eq!(p["id"], "1");
}
