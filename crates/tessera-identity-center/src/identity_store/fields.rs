//! The members of identitystore requests: identity store, user, group and membership ids,
//! bounded text, ListUsers' and ListGroups' `Filters`, `AlternateIdentifier`, and UpdateUser's
//! and UpdateGroup's `Operations`; and the ids new records get.

use super::{R, invalid, required};
use crate::IdentityCenterError;
use crate::request::string;
use serde_json::{Value, json};
use tessera_wire::CommonError;

/// ListUsers' and ListGroups' (deprecated, still honoured) `Filters`: the values each filter
/// asks `path` (`UserName` or `DisplayName`, the one attribute AWS filters on) to equal.
pub(super) fn filters(doc: &Value, path: &str) -> R<Vec<String>> {
    let Some(f) = doc.get("Filters").filter(|f| !f.is_null()) else {
        return Ok(Vec::new());
    };
    let list = f
        .as_array()
        .ok_or_else(|| invalid("filters", "Member must be a list"))?;
    let mut out = Vec::new();
    for item in list {
        let attr = item
            .get("AttributePath")
            .and_then(Value::as_str)
            .ok_or_else(|| required("filters.member.attributePath"))?;
        let value = item
            .get("AttributeValue")
            .and_then(Value::as_str)
            .ok_or_else(|| required("filters.member.attributeValue"))?;
        if attr != path {
            return Err(IdentityCenterError::Common(CommonError::Validation(
                format!("AttributePath {attr} is not supported: filter on {path}"),
            )));
        }
        if value.is_empty() || value.chars().count() > 1024 {
            return Err(invalid(
                "filters.member.attributeValue",
                "Member must have length between 1 and 1024",
            ));
        }
        out.push(value.to_owned());
    }
    Ok(out)
}

/// A string attribute of 1 to `max` characters, without control characters.
pub(super) fn text<'a>(
    doc: &'a Value,
    member: &str,
    field: &str,
    max: usize,
) -> R<Option<&'a str>> {
    let Some(v) = string(doc, member)? else {
        return Ok(None);
    };
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(invalid(
            field,
            &format!("Member must have length between 1 and {max} and no control characters"),
        ));
    }
    Ok(Some(v))
}

/// `IdentityStoreId`: `d-` + 10 lower-case hex digits (or a UUID).
pub(super) fn identity_store_id(doc: &Value) -> R<&str> {
    let id = string(doc, "IdentityStoreId")?.ok_or_else(|| required("identityStoreId"))?;
    let short = id.strip_prefix("d-").is_some_and(|h| {
        h.len() == 10
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if !short && !is_uuid(id) {
        return Err(invalid(
            "identityStoreId",
            "Member must satisfy regular expression pattern: d-[0-9a-f]{10}$|^[0-9a-f]{8}\\b-[0-9a-f]{4}\\b-[0-9a-f]{4}\\b-[0-9a-f]{4}\\b-[0-9a-f]{12}",
        ));
    }
    Ok(id)
}

pub(super) fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `UserId`: an optional 10-hex-digit prefix and a UUID.
pub(super) fn user_id(doc: &Value) -> R<&str> {
    resource_id(doc, "UserId", "userId")
}

/// A user, group or membership id: an optional 10-hex-digit prefix and a UUID.
pub(super) fn resource_id<'a>(doc: &'a Value, member: &str, field: &str) -> R<&'a str> {
    let id = string(doc, member)?.ok_or_else(|| required(field))?;
    let uuid = match id.split_once('-') {
        Some((prefix, rest)) if prefix.len() == 10 && rest.len() == 36 => prefix
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then_some(rest),
        _ => Some(id),
    };
    if !uuid.is_some_and(is_uuid) {
        return Err(invalid(
            field,
            "Member must satisfy regular expression pattern: ^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$",
        ));
    }
    Ok(id)
}

pub(crate) fn new_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    let prefix = &uuid::Uuid::new_v4().simple().to_string()[..10];
    format!(
        "{prefix}-{}-{}-{}-{}-{}",
        &u[..8],
        &u[8..12],
        &u[12..16],
        &u[16..20],
        &u[20..]
    )
}

/// `MemberId`: a union with one member, `UserId`.
pub(super) fn member_id(doc: &Value) -> R<&str> {
    let m = doc
        .get("MemberId")
        .filter(|v| v.is_object())
        .ok_or_else(|| required("memberId"))?;
    resource_id(m, "UserId", "memberId.userId")
}

/// The unique attribute (`UniqueAttribute{AttributePath, AttributeValue}`) an
/// `AlternateIdentifier` names, as (path, value); `None` for an `ExternalId`.
/// What an `AlternateIdentifier` names.
pub(super) enum Alternate<'a> {
    /// `UniqueAttribute`: (attribute path, value).
    Unique(&'a str, &'a str),
    /// `ExternalId`: (issuer, id).
    External(&'a str, &'a str),
}
pub(super) fn alternate_identifier(doc: &Value) -> R<Alternate<'_>> {
    let alt = doc
        .get("AlternateIdentifier")
        .filter(|v| v.is_object())
        .ok_or_else(|| required("alternateIdentifier"))?;
    match (alt.get("UniqueAttribute"), alt.get("ExternalId")) {
        (Some(u), None) => {
            let path = string(u, "AttributePath")?
                .ok_or_else(|| required("alternateIdentifier.uniqueAttribute.attributePath"))?;
            // AttributeValue is a JSON document: here a bare JSON string.
            let value = u
                .get("AttributeValue")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    IdentityCenterError::Common(CommonError::Validation(
                        "AttributeValue must be a JSON string for this attribute path".into(),
                    ))
                })?;
            Ok(Alternate::Unique(path, value))
        }
        (None, Some(e)) => {
            let issuer = string(e, "Issuer")?
                .ok_or_else(|| required("alternateIdentifier.externalId.issuer"))?;
            let id =
                string(e, "Id")?.ok_or_else(|| required("alternateIdentifier.externalId.id"))?;
            Ok(Alternate::External(issuer, id))
        }
        _ => Err(IdentityCenterError::Common(CommonError::Validation(
            "AlternateIdentifier must name exactly one of UniqueAttribute and ExternalId".into(),
        ))),
    }
}

/// The attribute paths UpdateUser may set, and the members they name.
pub(super) const USER_PATHS: &[(&str, &[&str])] = &[
    ("userName", &["UserName"]),
    ("displayName", &["DisplayName"]),
    ("nickName", &["NickName"]),
    ("profileUrl", &["ProfileUrl"]),
    ("userType", &["UserType"]),
    ("title", &["Title"]),
    ("preferredLanguage", &["PreferredLanguage"]),
    ("locale", &["Locale"]),
    ("timezone", &["Timezone"]),
    ("name", &["Name"]),
    ("name.formatted", &["Name", "Formatted"]),
    ("name.familyName", &["Name", "FamilyName"]),
    ("name.givenName", &["Name", "GivenName"]),
    ("name.middleName", &["Name", "MiddleName"]),
    ("name.honorificPrefix", &["Name", "HonorificPrefix"]),
    ("name.honorificSuffix", &["Name", "HonorificSuffix"]),
    ("emails", &["Emails"]),
    ("phoneNumbers", &["PhoneNumbers"]),
    ("addresses", &["Addresses"]),
];

/// The attribute paths UpdateGroup may set.
pub(super) const GROUP_PATHS: &[(&str, &[&str])] = &[
    ("displayName", &["DisplayName"]),
    ("description", &["Description"]),
];

/// `Operations`: 1 to 100 `{AttributePath, AttributeValue}`; a missing or null value removes
/// the attribute.
pub(super) fn operations(doc: &Value) -> R<Vec<(String, Value)>> {
    let list = match doc.get("Operations") {
        Some(Value::Array(a)) if (1..=100).contains(&a.len()) => a,
        None | Some(Value::Null) => return Err(required("operations")),
        _ => {
            return Err(invalid(
                "operations",
                "Member must be a list of 1 to 100 operations",
            ));
        }
    };
    list.iter()
        .map(|o| {
            let path = string(o, "AttributePath")?
                .ok_or_else(|| required("operations.member.attributePath"))?;
            Ok((
                path.to_owned(),
                o.get("AttributeValue").cloned().unwrap_or(Value::Null),
            ))
        })
        .collect()
}

/// Set (or, for null, remove) the member `path` names in `whole`.
pub(super) fn apply(
    whole: &mut Value,
    path: &str,
    value: Value,
    paths: &[(&str, &[&str])],
) -> R<()> {
    let Some((_, members)) = paths.iter().find(|(p, _)| p.eq_ignore_ascii_case(path)) else {
        return Err(IdentityCenterError::Common(CommonError::Validation(
            format!("{path} is not an attribute path that can be updated"),
        )));
    };
    let mut at = whole;
    for m in &members[..members.len() - 1] {
        if !at.get(*m).is_some_and(Value::is_object) {
            at[*m] = json!({});
        }
        at = &mut at[*m];
    }
    let last = members[members.len() - 1];
    let obj = at.as_object_mut().expect("attributes are an object");
    if value.is_null() {
        obj.remove(last);
    } else {
        obj.insert(last.to_owned(), value);
    }
    Ok(())
}
