//! SCIM documents of the identity store's records: a user as SCIM shows it and as SCIM
//! sends it (validated by `CreateUser`'s rules), and a group with its members.

use super::{
    ENTERPRISE, ENTERPRISE_KEY, GROUP_SCHEMA, R, SCIM_ISSUER, ScimError, USER_SCHEMA, get_ci, iso,
    upper_first,
};
use crate::identity_store::{attributes, describe as describe_user, user_name};
use serde_json::{Map, Value, json};
use tessera_store::{IdentityGroupRecord, IdentityUserRecord, MembershipRecord};

/// User attributes: SCIM name → identity store member.
pub(super) const USER_TEXT: &[&str] = &[
    "displayName",
    "nickName",
    "profileUrl",
    "userType",
    "title",
    "preferredLanguage",
    "locale",
    "timezone",
];
pub(super) const NAME_PARTS: &[&str] = &[
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
pub(super) const MULTI: &[(&str, &[&str])] = &[
    ("emails", &["value", "type"]),
    ("phoneNumbers", &["value", "type"]),
    (
        "addresses",
        &[
            "formatted",
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
            "type",
        ],
    ),
];
pub(super) const ENTERPRISE_TEXT: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
];

/// Canonical spelling of a (case-insensitive) SCIM user attribute name.
pub(super) fn canonical_user_attr(name: &str) -> Option<&'static str> {
    let all = USER_TEXT.iter().chain(
        [
            "userName",
            "name",
            "active",
            "externalId",
            "id",
            "emails",
            "phoneNumbers",
            "addresses",
            "schemas",
            "meta",
            "groups",
        ]
        .iter(),
    );
    all.copied().find(|a| a.eq_ignore_ascii_case(name))
}

/// The SCIM representation of a stored user.
pub(super) fn user_to_scim(u: &IdentityUserRecord, base: &str) -> Value {
    let d = describe_user(u);
    let mut out = Map::new();
    let mut schemas = vec![json!(USER_SCHEMA)];
    out.insert("id".into(), json!(u.user_id));
    if let Some(id) = d["ExternalIds"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["Issuer"] == SCIM_ISSUER))
        .and_then(|e| e["Id"].as_str())
    {
        out.insert("externalId".into(), json!(id));
    }
    out.insert("userName".into(), json!(u.user_name));
    if let Some(n) = d["Name"].as_object() {
        let mut name = Map::new();
        for p in NAME_PARTS {
            if let Some(v) = n.get(&upper_first(p)) {
                name.insert((*p).into(), v.clone());
            }
        }
        out.insert("name".into(), Value::Object(name));
    }
    for a in USER_TEXT {
        if let Some(v) = d.get(upper_first(a)) {
            out.insert((*a).into(), v.clone());
        }
    }
    if let Some(a) = d.get("Active") {
        out.insert("active".into(), a.clone());
    }
    for (m, fields) in MULTI {
        if let Some(list) = d.get(upper_first(m)).and_then(Value::as_array) {
            let items: Vec<Value> = list
                .iter()
                .map(|e| {
                    let mut o = Map::new();
                    for f in *fields {
                        if let Some(v) = e.get(upper_first(f)) {
                            o.insert((*f).into(), v.clone());
                        }
                    }
                    if let Some(p) = e.get("Primary") {
                        o.insert("primary".into(), p.clone());
                    }
                    Value::Object(o)
                })
                .collect();
            out.insert((*m).into(), Value::Array(items));
        }
    }
    if let Some(ext) = d["Extensions"].get(ENTERPRISE_KEY) {
        out.insert(ENTERPRISE.into(), ext.clone());
        schemas.push(json!(ENTERPRISE));
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert(
        "meta".into(),
        json!({"resourceType": "User", "created": iso(u.created_at), "lastModified": iso(u.updated_at),
            "location": format!("{base}/Users/{}", u.user_id)}),
    );
    Value::Object(out)
}

/// A SCIM user document → the identity store's attribute document (validated as CreateUser
/// validates), with the provisioned members.
pub(super) fn user_from_scim(doc: &Value) -> R<(String, Map<String, Value>)> {
    let o = doc
        .as_object()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "The body must be a JSON object."))?;
    let mut aws = Map::new();
    let text = |v: &Value, what: &str| -> R<Value> {
        match v {
            Value::String(_) | Value::Null => Ok(v.clone()),
            _ => Err(ScimError::bad(
                "invalidValue",
                format!("{what} must be a string."),
            )),
        }
    };
    if let Some(u) = get_ci(o, "userName") {
        aws.insert("UserName".into(), text(u, "userName")?);
    }
    if let Some(n) = get_ci(o, "name").filter(|v| !v.is_null()) {
        let n = n
            .as_object()
            .ok_or_else(|| ScimError::bad("invalidValue", "name must be a complex attribute."))?;
        let mut name = Map::new();
        for p in NAME_PARTS {
            if let Some(v) = get_ci(n, p).filter(|v| !v.is_null()) {
                name.insert(upper_first(p), text(v, p)?);
            }
        }
        aws.insert("Name".into(), Value::Object(name));
    }
    for a in USER_TEXT {
        if let Some(v) = get_ci(o, a).filter(|v| !v.is_null()) {
            aws.insert(upper_first(a), text(v, a)?);
        }
    }
    for (m, fields) in MULTI {
        let Some(list) = get_ci(o, m).filter(|v| !v.is_null()) else {
            continue;
        };
        let list = list
            .as_array()
            .ok_or_else(|| ScimError::bad("invalidValue", format!("{m} must be a list.")))?;
        let mut items = Vec::new();
        for e in list {
            let e = e.as_object().ok_or_else(|| {
                ScimError::bad("invalidValue", format!("{m} entries must be complex."))
            })?;
            let mut item = Map::new();
            for f in *fields {
                if let Some(v) = get_ci(e, f).filter(|v| !v.is_null()) {
                    item.insert(upper_first(f), text(v, f)?);
                }
            }
            if let Some(p) = get_ci(e, "primary").filter(|v| !v.is_null()) {
                item.insert("Primary".into(), p.clone());
            }
            items.push(Value::Object(item));
        }
        if !items.is_empty() {
            aws.insert(upper_first(m), Value::Array(items));
        }
    }
    let (user_name, mut attrs) = {
        let doc = Value::Object(aws.clone());
        (user_name(&doc)?.to_owned(), attributes(&doc)?)
    };
    match get_ci(o, "active") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => {
            attrs.insert("Active".into(), json!(b));
        }
        // Okta and others sometimes send "True"/"False".
        Some(Value::String(s))
            if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
        {
            attrs.insert("Active".into(), json!(s.eq_ignore_ascii_case("true")));
        }
        Some(_) => return Err(ScimError::bad("invalidValue", "active must be a boolean.")),
    }
    match get_ci(o, "externalId") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => {
            attrs.insert(
                "ExternalIds".into(),
                json!([{"Issuer": SCIM_ISSUER, "Id": s}]),
            );
        }
        Some(_) => {
            return Err(ScimError::bad(
                "invalidValue",
                "externalId must be a string of 1 to 256 characters.",
            ));
        }
    }
    if let Some(ext) = get_ci(o, ENTERPRISE).filter(|v| !v.is_null()) {
        let ext = ext.as_object().ok_or_else(|| {
            ScimError::bad("invalidValue", "The enterprise extension must be complex.")
        })?;
        let mut e = Map::new();
        for a in ENTERPRISE_TEXT {
            if let Some(v) = get_ci(ext, a).filter(|v| !v.is_null()) {
                e.insert((*a).into(), text(v, a)?);
            }
        }
        if let Some(m) = get_ci(ext, "manager").filter(|v| !v.is_null()) {
            let value = m
                .get("value")
                .or_else(|| m.as_str().map(|_| m))
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::bad("invalidValue", "manager.value must be a string."))?;
            e.insert("manager".into(), json!({"value": value}));
        }
        if !e.is_empty() {
            attrs.insert("Extensions".into(), json!({ ENTERPRISE_KEY: e }));
        }
    }
    Ok((user_name, attrs))
}

pub(super) fn group_external_id(g: &IdentityGroupRecord) -> Option<String> {
    let ids: Value = serde_json::from_str(g.external_ids.as_deref()?).ok()?;
    ids.as_array()?
        .iter()
        .find(|e| e["Issuer"] == SCIM_ISSUER)
        .and_then(|e| e["Id"].as_str())
        .map(str::to_owned)
}

pub(super) fn group_to_scim(
    g: &IdentityGroupRecord,
    members: &[MembershipRecord],
    base: &str,
) -> Value {
    let mut v = json!({
        "schemas": [GROUP_SCHEMA],
        "id": g.group_id,
        "displayName": g.display_name,
        "members": members.iter().map(|m| json!({"value": m.user_id, "$ref": format!("{base}/Users/{}", m.user_id)})).collect::<Vec<_>>(),
        "meta": {"resourceType": "Group", "created": iso(g.created_at), "lastModified": iso(g.updated_at),
            "location": format!("{base}/Groups/{}", g.group_id)},
    });
    if let Some(e) = group_external_id(g) {
        v["externalId"] = json!(e);
    }
    v
}
