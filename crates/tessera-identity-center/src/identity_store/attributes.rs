//! A user's attributes as CreateUser and UpdateUser take them (validated) and as the identity
//! store keeps them, and the documents DescribeUser, DescribeGroup and
//! DescribeGroupMembership return.

use super::fields::text;
use super::{R, invalid, required};
use crate::IdentityCenterError;
use crate::request::string;
use serde_json::{Map, Value, json};
use tessera_store::{IdentityGroupRecord, IdentityUserRecord, MembershipRecord};
use tessera_wire::CommonError;

/// User names Identity Center reserves.
const RESERVED_USER_NAMES: &[&str] = &["Administrator", "AWSAdministrators"];

/// `UserName`: 1 to 128 characters, no white space or control characters, not reserved.
pub(crate) fn user_name(doc: &Value) -> R<&str> {
    let n = string(doc, "UserName")?.ok_or_else(|| required("userName"))?;
    if n.is_empty()
        || n.chars().count() > 128
        || n.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "userName",
            "Member must satisfy regular expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+ and have length between 1 and 128",
        ));
    }
    if RESERVED_USER_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(n))
    {
        return Err(IdentityCenterError::Common(CommonError::Validation(
            format!("The user name {n} is reserved"),
        )));
    }
    Ok(n)
}

/// A list attribute (`Emails`, `PhoneNumbers`, `Addresses`): at most one entry, each an object
/// of the given string members and an optional `Primary` flag.
fn one_entry_list(doc: &Value, member: &str, fields: &[&str]) -> R<Option<Value>> {
    let list = match doc.get(member) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(IdentityCenterError::Common(CommonError::Validation(
                format!("Member {member} must be a list"),
            )));
        }
    };
    if list.len() > 1 {
        return Err(invalid(
            &member.to_ascii_lowercase(),
            "Member must have length less than or equal to 1",
        ));
    }
    let mut out = Vec::new();
    for e in list {
        let mut m = Map::new();
        for f in fields {
            if let Some(v) = text(e, f, &format!("{member}.{f}"), 1024)? {
                m.insert((*f).to_owned(), json!(v));
            }
        }
        match e.get("Primary") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => {
                m.insert("Primary".into(), json!(b));
            }
            Some(_) => {
                return Err(IdentityCenterError::Common(CommonError::Validation(
                    format!("Member {member}.Primary must be a boolean"),
                )));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(Some(Value::Array(out)))
}

const NAME_FIELDS: &[&str] = &[
    "Formatted",
    "FamilyName",
    "GivenName",
    "MiddleName",
    "HonorificPrefix",
    "HonorificSuffix",
];
const TEXT_FIELDS: &[&str] = &[
    "DisplayName",
    "NickName",
    "ProfileUrl",
    "UserType",
    "Title",
    "PreferredLanguage",
    "Locale",
    "Timezone",
];

/// The user's attributes other than `UserName`, validated, as the document DescribeUser
/// returns. Identity Center requires `DisplayName` and `Name` with `GivenName` and
/// `FamilyName`. Members Tessera does not model are not kept.
pub(crate) fn attributes(doc: &Value) -> R<Map<String, Value>> {
    let mut out = Map::new();
    let name = match doc.get("Name") {
        Some(n @ Value::Object(_)) => n,
        None | Some(Value::Null) => return Err(required("name")),
        Some(_) => {
            return Err(IdentityCenterError::Common(CommonError::Validation(
                "Member Name must be a structure".into(),
            )));
        }
    };
    let mut n = Map::new();
    for f in NAME_FIELDS {
        if let Some(v) = text(name, f, &format!("name.{}", lower_first(f)), 1024)? {
            n.insert((*f).to_owned(), json!(v));
        }
    }
    for f in ["GivenName", "FamilyName"] {
        if !n.contains_key(f) {
            return Err(required(&format!("name.{}", lower_first(f))));
        }
    }
    out.insert("Name".into(), Value::Object(n));
    for f in TEXT_FIELDS {
        if let Some(v) = text(doc, f, &lower_first(f), 1024)? {
            out.insert((*f).to_owned(), json!(v));
        }
    }
    if !out.contains_key("DisplayName") {
        return Err(required("displayName"));
    }
    for (member, fields) in [
        ("Emails", &["Value", "Type"][..]),
        ("PhoneNumbers", &["Value", "Type"][..]),
        (
            "Addresses",
            &[
                "StreetAddress",
                "Locality",
                "Region",
                "PostalCode",
                "Country",
                "Formatted",
                "Type",
            ][..],
        ),
    ] {
        if let Some(v) = one_entry_list(doc, member, fields)? {
            out.insert(member.to_owned(), v);
        }
    }
    Ok(out)
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

pub(crate) fn describe(u: &IdentityUserRecord) -> Value {
    let mut v: Map<String, Value> = serde_json::from_str(&u.attributes).unwrap_or_default();
    v.insert("IdentityStoreId".into(), json!(u.identity_store_id));
    v.insert("UserId".into(), json!(u.user_id));
    v.insert("UserName".into(), json!(u.user_name));
    v.insert("UserStatus".into(), json!("ENABLED"));
    v.insert("CreatedAt".into(), json!(u.created_at));
    v.insert("CreatedBy".into(), json!(u.created_by));
    v.insert("UpdatedAt".into(), json!(u.updated_at));
    v.insert("UpdatedBy".into(), json!(u.updated_by));
    Value::Object(v)
}

pub(super) fn describe_group(g: &IdentityGroupRecord) -> Value {
    let mut v = json!({
        "IdentityStoreId": g.identity_store_id,
        "GroupId": g.group_id,
        "DisplayName": g.display_name,
        "CreatedAt": g.created_at,
        "CreatedBy": g.created_by,
        "UpdatedAt": g.updated_at,
        "UpdatedBy": g.updated_by,
    });
    if let Some(d) = &g.description {
        v["Description"] = json!(d);
    }
    if let Some(ids) = g
        .external_ids
        .as_deref()
        .and_then(|x| serde_json::from_str::<Value>(x).ok())
    {
        v["ExternalIds"] = ids;
    }
    v
}

pub(super) fn describe_membership(m: &MembershipRecord) -> Value {
    json!({
        "IdentityStoreId": m.identity_store_id,
        "MembershipId": m.membership_id,
        "GroupId": m.group_id,
        "MemberId": {"UserId": m.user_id},
        "CreatedAt": m.created_at,
        "CreatedBy": m.created_by,
        "UpdatedAt": m.created_at,
        "UpdatedBy": m.created_by,
    })
}

/// Does an `ExternalIds` list (`[{Issuer, Id}]`) hold this pair?
pub(crate) fn has_external_id(list: Option<&Value>, issuer: &str, id: &str) -> bool {
    list.and_then(Value::as_array).is_some_and(|l| {
        l.iter()
            .any(|e| e["Issuer"].as_str() == Some(issuer) && e["Id"].as_str() == Some(id))
    })
}

/// Members of a stored user that only SCIM writes.
pub(crate) const PROVISIONED: &[&str] = &["ExternalIds", "Active", "Extensions"];

/// Copy the provisioned members of `from` into `to`.
pub(crate) fn keep_provisioned(from: &Value, to: &mut Map<String, Value>) {
    for k in PROVISIONED {
        if let Some(v) = from.get(*k).filter(|v| !v.is_null()) {
            to.insert((*k).to_owned(), v.clone());
        }
    }
}

pub(crate) fn primary_email(attrs: &Map<String, Value>) -> Option<String> {
    attrs
        .get("Emails")
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("Value"))
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}
