//! SCIM 2.0 provisioning (RFC 7643/7644) of an identity store, as IAM Identity Center offers
//! it: `{endpoint}/{identity-store-id}/scim/v2/…` with a bearer token the operator created
//! for that store (`tessera scim-token create`). Users and groups are the identity store's
//! (the identitystore API sees them at once); a user is validated by the same rules as
//! `CreateUser`.
//!
//! Supported: `/Users` and `/Groups` create, get, list (filters `attr eq "v"` joined by at
//! most one `and`; `startIndex`/`count` paging, 100 at most), replace (PUT), PATCH (the RFC
//! shapes and those Entra ID and Okta send: no `path`, value-filter paths such as
//! `emails[type eq "work"].value` and `members[value eq "…"]`, several operations, capitalised
//! op names), delete; `attributes` / `excludedAttributes`; `/ServiceProviderConfig`,
//! `/ResourceTypes`, `/Schemas`. Not supported (as in Identity Center): bulk, sorting, `/Me`,
//! `/.search` (501), passwords. A user's `emails`, `phoneNumbers` and `addresses` hold one
//! entry each. A group's `members` are its memberships; listing them in a group is a
//! Tessera extension (Identity Center answers with an empty list).

use crate::identity_store::{
    attributes, describe as describe_user, has_external_id, new_id, primary_email, user_name,
};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tessera_authz::directory::{DirectoryChange, DirectoryView};
use tessera_crypto::token::token_digest;
use tessera_store::{
    GroupWrite, IdentityCenterStore, IdentityGroupRecord, IdentityUserRecord, MembershipRecord,
    StoreError,
};
use tessera_wire::CommonError;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = tessera_wire::SCIM_ERROR_SCHEMA;
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The `Issuer` of the `ExternalIds` entry SCIM's `externalId` is kept in.
pub const SCIM_ISSUER: &str = "scim";
/// The extension key of the enterprise attributes in the identity store.
const ENTERPRISE_KEY: &str = "aws:identitystore:enterprise";
/// Largest SCIM request body.
pub const MAX_BODY: usize = 256 * 1024;
/// Most operations in one PATCH, and most member changes (Identity Center's limit).
const MAX_OPERATIONS: usize = 100;
const MAX_PAGE: usize = 100;
/// The principal recorded as `CreatedBy` / `UpdatedBy`.
const BY: &str = "SCIM";

/// A SCIM failure: HTTP status, `scimType` and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> ScimError {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    fn bad(scim_type: &'static str, detail: impl Into<String>) -> ScimError {
        Self::new(400, Some(scim_type), detail)
    }
    fn not_found(detail: impl Into<String>) -> ScimError {
        Self::new(404, None, detail)
    }

    /// The SCIM Error body (RFC 7644 §3.12).
    pub fn body(&self) -> Value {
        let mut v =
            json!({"schemas": [ERROR], "status": self.status.to_string(), "detail": self.detail});
        if let Some(t) = self.scim_type {
            v["scimType"] = json!(t);
        }
        v
    }

    /// The AWS-style error name for audit records.
    pub fn code(&self) -> &'static str {
        match self.status {
            401 => "UnauthorizedException",
            403 => "AccessDeniedException",
            404 => "ResourceNotFoundException",
            409 => "ConflictException",
            413 => "ValidationException",
            405 | 501 => "ValidationException",
            s if s >= 500 => "InternalServerException",
            _ => "ValidationException",
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        ScimError::new(
            500,
            None,
            "The request processing has failed because of an unknown error.",
        )
    }
}

impl From<crate::IdentityCenterError> for ScimError {
    fn from(e: crate::IdentityCenterError) -> Self {
        use crate::IdentityCenterError as E;
        match e {
            E::Common(CommonError::Validation(m)) => ScimError::bad("invalidValue", m),
            E::Conflict(m) | E::Uniqueness(m) => ScimError::new(409, Some("uniqueness"), m),
            E::NotFound { message, .. } => ScimError::not_found(message),
            E::ResourceNotFound(m) => ScimError::not_found(m),
            E::Common(CommonError::AccessDenied(m)) => ScimError::new(403, None, m),
            E::ServiceQuotaExceeded(m) => ScimError::bad("tooMany", m),
            E::Common(CommonError::InternalFailure) => ScimError::new(500, None, "Internal error."),
            E::Common(other) => {
                let e = other.to_aws(tessera_wire::Protocol::Scim);
                ScimError::new(e.status, None, e.message)
            }
        }
    }
}

type R<T> = Result<T, ScimError>;

/// One SCIM request, as the server hands it over.
#[derive(Debug)]
pub struct ScimRequest<'a> {
    pub method: &'a str,
    /// The whole path: `/{tenant}/scim/v2/…`.
    pub path: &'a str,
    pub query: &'a str,
    /// The bearer token, if the request carried one.
    pub bearer: Option<&'a str>,
    pub body: &'a [u8],
    /// Unix seconds.
    pub now: i64,
    /// `http://host:port` of this server, for `meta.location`.
    pub base_url: &'a str,
}

/// What a SCIM request produced.
#[derive(Debug)]
pub struct ScimResponse {
    pub status: u16,
    pub body: Option<Value>,
    pub location: Option<String>,
    /// The operation, for audit and metrics (`CreateUser`, `PatchGroup`, …).
    pub operation: &'static str,
    /// The identity store, once the token was checked.
    pub tenant: Option<String>,
    pub error: Option<ScimError>,
}

#[derive(Debug, Clone)]
pub struct ScimService {
    store: Arc<dyn IdentityCenterStore>,
    /// The directory view every user and membership write is folded into.
    directory: Arc<DirectoryView>,
    /// `http://host:port` of this server, for `meta.location`.
    pub(crate) base_url: String,
}

fn iso(t: i64) -> String {
    tessera_core::iso8601(t)
}

/// A case-insensitive member of an object.
fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// User attributes: SCIM name → identity store member.
const USER_TEXT: &[&str] = &[
    "displayName",
    "nickName",
    "profileUrl",
    "userType",
    "title",
    "preferredLanguage",
    "locale",
    "timezone",
];
const NAME_PARTS: &[&str] = &[
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
const MULTI: &[(&str, &[&str])] = &[
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
const ENTERPRISE_TEXT: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
];

/// Canonical spelling of a (case-insensitive) SCIM user attribute name.
fn canonical_user_attr(name: &str) -> Option<&'static str> {
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
fn user_to_scim(u: &IdentityUserRecord, base: &str) -> Value {
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
fn user_from_scim(doc: &Value) -> R<(String, Map<String, Value>)> {
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

fn group_external_id(g: &IdentityGroupRecord) -> Option<String> {
    let ids: Value = serde_json::from_str(g.external_ids.as_deref()?).ok()?;
    ids.as_array()?
        .iter()
        .find(|e| e["Issuer"] == SCIM_ISSUER)
        .and_then(|e| e["Id"].as_str())
        .map(str::to_owned)
}

fn group_to_scim(g: &IdentityGroupRecord, members: &[MembershipRecord], base: &str) -> Value {
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

/// One `attr eq "value"` term of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    attr: String,
    value: String,
}

/// `attr eq "value"` terms joined by `and`, at most two (Identity Center's subset).
fn parse_filter(f: &str) -> R<Vec<Term>> {
    let invalid = |m: &str| ScimError::bad("invalidFilter", format!("Invalid filter: {m}"));
    if f.len() > 1024 {
        return Err(invalid("too long"));
    }
    let mut terms = Vec::new();
    let mut rest = f.trim();
    loop {
        let (attr, after) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("expected `attribute eq \"value\"`"))?;
        let after = after.trim_start();
        let (op, after) = after
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("expected an operator"))?;
        if !op.eq_ignore_ascii_case("eq") {
            return Err(invalid("only the eq operator is supported"));
        }
        let after = after.trim_start();
        let body = after
            .strip_prefix('"')
            .ok_or_else(|| invalid("the value must be a quoted string"))?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => value.push(e),
                    None => return Err(invalid("unterminated escape")),
                },
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| invalid("unterminated string"))?;
        if attr.contains(['(', ')', '[', ']']) || attr.is_empty() {
            return Err(invalid("grouping and value filters are not supported"));
        }
        terms.push(Term {
            attr: attr.to_owned(),
            value,
        });
        rest = body[end..].trim_start();
        if rest.is_empty() {
            break;
        }
        let (joiner, after) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("expected `and`"))?;
        if !joiner.eq_ignore_ascii_case("and") {
            return Err(invalid("only `and` may join terms"));
        }
        rest = after.trim_start();
        if terms.len() >= 2 {
            return Err(invalid("at most two terms joined by `and`"));
        }
    }
    Ok(terms)
}

/// `startIndex` (1-based) and `count` (≤ 100).
fn paging(q: &[(String, String)]) -> R<(usize, usize)> {
    let num = |k: &str| -> R<Option<i64>> {
        q.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| {
                v.parse::<i64>()
                    .map_err(|_| ScimError::bad("invalidValue", format!("{k} must be an integer.")))
            })
            .transpose()
    };
    let start = num("startIndex")?.unwrap_or(1).max(1) as usize;
    let count = num("count")?
        .unwrap_or(MAX_PAGE as i64)
        .clamp(0, MAX_PAGE as i64) as usize;
    Ok((start, count))
}

fn list_response(items: Vec<Value>, start: usize, count: usize) -> Value {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start - 1).take(count).collect();
    json!({"schemas": [LIST], "totalResults": total, "itemsPerPage": page.len(), "startIndex": start, "Resources": page})
}

/// `attributes` / `excludedAttributes` (top-level names, or `name.sub`).
fn project(mut v: Value, q: &[(String, String)]) -> Value {
    let list = |k: &str| -> Option<Vec<String>> {
        q.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
    };
    let Some(o) = v.as_object_mut() else {
        return v;
    };
    let always = ["id", "schemas", "meta"];
    if let Some(keep) = list("attributes") {
        let mut out = Map::new();
        for (k, val) in o.iter() {
            if always.contains(&k.as_str()) {
                out.insert(k.clone(), val.clone());
                continue;
            }
            for a in &keep {
                let a = a.strip_prefix(&format!("{USER_SCHEMA}:")).unwrap_or(a);
                let (top, sub) = match a.split_once('.') {
                    Some((t, s)) => (t, Some(s)),
                    None => (a, None),
                };
                if !top.eq_ignore_ascii_case(k) {
                    continue;
                }
                match (sub, val) {
                    (None, _) => {
                        out.insert(k.clone(), val.clone());
                    }
                    (Some(s), Value::Object(inner)) => {
                        if let Some((sk, sv)) =
                            inner.iter().find(|(x, _)| x.eq_ignore_ascii_case(s))
                        {
                            let e = out.entry(k.clone()).or_insert_with(|| json!({}));
                            e[sk] = sv.clone();
                        }
                    }
                    (Some(_), _) => {}
                }
            }
        }
        *o = out;
    }
    if let Some(drop) = list("excludedAttributes") {
        for a in drop {
            let a = a
                .strip_prefix(&format!("{USER_SCHEMA}:"))
                .unwrap_or(&a)
                .to_owned();
            match a.split_once('.') {
                Some((t, s)) => {
                    if let Some(Value::Object(inner)) = o
                        .iter_mut()
                        .find(|(k, _)| k.eq_ignore_ascii_case(t))
                        .map(|(_, v)| v)
                    {
                        inner.retain(|k, _| !k.eq_ignore_ascii_case(s));
                    }
                }
                None if !always.iter().any(|x| x.eq_ignore_ascii_case(&a)) => {
                    o.retain(|k, _| !k.eq_ignore_ascii_case(&a));
                }
                None => {}
            }
        }
    }
    v
}

/// A PATCH path: attribute (with the schema URN it may carry), optional value filter,
/// optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PatchPath {
    /// `None`: the core schema; `Some`: the enterprise extension object.
    extension: bool,
    attr: String,
    filter: Option<Term>,
    sub: Option<String>,
}

fn parse_path(p: &str) -> R<PatchPath> {
    let bad = || {
        ScimError::bad(
            "invalidPath",
            format!("Invalid path {:?}", p.chars().take(200).collect::<String>()),
        )
    };
    let mut rest = p.trim();
    let mut extension = false;
    if let Some(r) = strip_ci(rest, ENTERPRISE) {
        extension = true;
        rest = r.strip_prefix(':').unwrap_or(r);
        if rest.is_empty() {
            return Ok(PatchPath {
                extension,
                attr: String::new(),
                filter: None,
                sub: None,
            });
        }
    } else if let Some(r) = strip_ci(rest, &format!("{USER_SCHEMA}:"))
        .or_else(|| strip_ci(rest, &format!("{GROUP_SCHEMA}:")))
    {
        rest = r;
    }
    let (attr, filter, after) = match rest.find('[') {
        Some(i) => {
            let close = rest.rfind(']').ok_or_else(bad)?;
            if close < i {
                return Err(bad());
            }
            let terms = parse_filter(&rest[i + 1..close])?;
            let [t] = <[Term; 1]>::try_from(terms).map_err(|_| bad())?;
            (&rest[..i], Some(t), &rest[close + 1..])
        }
        None => match rest.split_once('.') {
            Some((a, s)) => (a, None, &rest[a.len()..][..s.len() + 1]),
            None => (rest, None, ""),
        },
    };
    let sub = match after {
        "" => None,
        s => Some(s.strip_prefix('.').ok_or_else(bad)?.to_owned()),
    };
    if attr.is_empty()
        || !attr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '$' || c == '_')
    {
        return Err(bad());
    }
    Ok(PatchPath {
        extension,
        attr: attr.to_owned(),
        filter,
        sub,
    })
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // `get` (not indexing): the cut may fall inside a multi-byte character.
    s.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

/// The key of `o` matching `name` without regard to case, or `name` itself.
fn key_of(o: &Map<String, Value>, name: &str) -> String {
    o.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

fn matches_term(v: &Value, t: &Term) -> bool {
    v.as_object()
        .and_then(|o| get_ci(o, &t.attr))
        .is_some_and(|x| match x {
            Value::String(s) => s.eq_ignore_ascii_case(&t.value),
            Value::Bool(b) => b.to_string() == t.value.to_ascii_lowercase(),
            Value::Number(n) => n.to_string() == t.value,
            _ => false,
        })
}

/// Apply one PATCH operation to a SCIM user document (RFC 7644 §3.5.2).
fn patch_user(doc: &mut Value, op: &str, path: Option<&str>, value: Option<&Value>) -> R<()> {
    let Some(path) = path else {
        // No path: the value is an object of attributes (possibly with dotted or URN-qualified
        // names) to add or replace; Okta and Entra ID send this.
        if op == "remove" {
            return Err(ScimError::bad(
                "noTarget",
                "A remove operation needs a path.",
            ));
        }
        let obj = value.and_then(Value::as_object).ok_or_else(|| {
            ScimError::bad(
                "invalidValue",
                "Without a path, the value must be an object.",
            )
        })?;
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("id")
                || k.eq_ignore_ascii_case("schemas")
                || k.eq_ignore_ascii_case("meta")
            {
                continue;
            }
            if k.eq_ignore_ascii_case(ENTERPRISE) && v.is_object() {
                for (ek, ev) in v.as_object().into_iter().flatten() {
                    patch_user(doc, op, Some(&format!("{ENTERPRISE}:{ek}")), Some(ev))?;
                }
                continue;
            }
            if op == "add" && k.eq_ignore_ascii_case("name") && v.is_object() {
                for (nk, nv) in v.as_object().into_iter().flatten() {
                    patch_user(doc, op, Some(&format!("name.{nk}")), Some(nv))?;
                }
                continue;
            }
            patch_user(doc, op, Some(k), Some(v))?;
        }
        return Ok(());
    };
    let p = parse_path(path)?;
    let root = doc.as_object_mut().expect("a user document is an object");
    let target: &mut Map<String, Value> = if p.extension {
        let k = key_of(root, ENTERPRISE);
        let e = root.entry(k).or_insert_with(|| json!({}));
        if !e.is_object() {
            *e = json!({});
        }
        e.as_object_mut().expect("an object")
    } else {
        root
    };
    if p.attr.is_empty() {
        // The whole extension.
        match (op, value) {
            ("remove", _) => target.clear(),
            (_, Some(Value::Object(v))) => {
                for (k, x) in v {
                    target.insert(k.clone(), x.clone());
                }
            }
            _ => {
                return Err(ScimError::bad(
                    "invalidValue",
                    "The extension value must be an object.",
                ));
            }
        }
        return Ok(());
    }
    let attr = if p.extension {
        ENTERPRISE_TEXT
            .iter()
            .chain(["manager"].iter())
            .find(|a| a.eq_ignore_ascii_case(&p.attr))
            .map(|a| (*a).to_owned())
            .ok_or_else(|| ScimError::bad("invalidPath", format!("Unknown attribute {}", p.attr)))?
    } else {
        let a = canonical_user_attr(&p.attr).ok_or_else(|| {
            ScimError::bad("invalidPath", format!("Unknown attribute {}", p.attr))
        })?;
        if ["id", "meta", "schemas", "groups"].contains(&a) {
            return Err(ScimError::bad(
                "mutability",
                format!("{a} cannot be changed."),
            ));
        }
        a.to_owned()
    };
    let key = key_of(target, &attr);
    let multi = MULTI.iter().any(|(m, _)| *m == attr);
    match (&p.filter, &p.sub) {
        (None, None) => match op {
            "remove" => {
                target.remove(&key);
            }
            "add" if multi => {
                let v =
                    value.ok_or_else(|| ScimError::bad("invalidValue", "add needs a value."))?;
                let list = target.entry(key).or_insert_with(|| json!([]));
                if !list.is_array() {
                    *list = json!([]);
                }
                let l = list.as_array_mut().expect("an array");
                match v {
                    Value::Array(items) => l.extend(items.iter().cloned()),
                    other => l.push(other.clone()),
                }
            }
            "add" if attr == "name" => {
                let v = value
                    .and_then(Value::as_object)
                    .ok_or_else(|| ScimError::bad("invalidValue", "name must be an object."))?;
                let n = target.entry(key).or_insert_with(|| json!({}));
                for (k, x) in v {
                    n[k] = x.clone();
                }
            }
            _ => {
                let v = value.ok_or_else(|| {
                    ScimError::bad("invalidValue", "The operation needs a value.")
                })?;
                target.insert(key, v.clone());
            }
        },
        (None, Some(sub)) => {
            // `name.givenName`, `manager.value`.
            let o = target.entry(key).or_insert_with(|| json!({}));
            if !o.is_object() {
                *o = json!({});
            }
            let o = o.as_object_mut().expect("an object");
            let sk = key_of(o, sub);
            if op == "remove" {
                o.remove(&sk);
            } else {
                let v = value.ok_or_else(|| {
                    ScimError::bad("invalidValue", "The operation needs a value.")
                })?;
                o.insert(sk, v.clone());
            }
        }
        (Some(term), sub) => {
            if !multi {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("{attr} is not multi-valued."),
                ));
            }
            let list = target.entry(key).or_insert_with(|| json!([]));
            if !list.is_array() {
                *list = json!([]);
            }
            let l = list.as_array_mut().expect("an array");
            let hit = l.iter().position(|e| matches_term(e, term));
            match (op, sub, hit) {
                ("remove", None, _) => l.retain(|e| !matches_term(e, term)),
                ("remove", Some(s), Some(i)) => {
                    if let Some(o) = l[i].as_object_mut() {
                        let k = key_of(o, s);
                        o.remove(&k);
                    }
                }
                ("remove", Some(_), None) => {}
                (_, Some(s), Some(i)) => {
                    let v = value.ok_or_else(|| {
                        ScimError::bad("invalidValue", "The operation needs a value.")
                    })?;
                    if let Some(o) = l[i].as_object_mut() {
                        let k = key_of(o, s);
                        o.insert(k, v.clone());
                    }
                }
                (_, Some(s), None) => {
                    // Entra ID: `emails[type eq "work"].value` on a user without one adds it.
                    let v = value.ok_or_else(|| {
                        ScimError::bad("invalidValue", "The operation needs a value.")
                    })?;
                    let mut o = Map::new();
                    o.insert(term.attr.clone(), json!(term.value));
                    o.insert(s.clone(), v.clone());
                    if attr == "emails" {
                        o.insert("primary".into(), json!(true));
                    }
                    l.push(Value::Object(o));
                }
                (_, None, hit) => {
                    let v = value.ok_or_else(|| {
                        ScimError::bad("invalidValue", "The operation needs a value.")
                    })?;
                    match hit {
                        Some(i) => l[i] = v.clone(),
                        None => l.push(v.clone()),
                    }
                }
            }
        }
    }
    Ok(())
}

/// The operations of a PATCH body: (lower-case op, path, value).
/// One PATCH operation: (lower-case op, path, value).
type PatchOperation = (String, Option<String>, Option<Value>);

fn operations(body: &Value) -> R<Vec<PatchOperation>> {
    let o = body
        .as_object()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "The body must be a JSON object."))?;
    if let Some(s) = get_ci(o, "schemas")
        && !s
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == PATCH_OP))
    {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("A PATCH body's schemas must include {PATCH_OP}."),
        ));
    }
    let ops = get_ci(o, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "A PATCH body needs an Operations list."))?;
    if ops.is_empty() || ops.len() > MAX_OPERATIONS {
        return Err(ScimError::bad(
            "tooMany",
            format!("A PATCH carries 1 to {MAX_OPERATIONS} operations."),
        ));
    }
    ops.iter()
        .map(|op| {
            let m = op.as_object().ok_or_else(|| {
                ScimError::bad("invalidSyntax", "Each operation must be an object.")
            })?;
            let name = get_ci(m, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .filter(|n| ["add", "replace", "remove"].contains(&n.as_str()))
                .ok_or_else(|| {
                    ScimError::bad("invalidSyntax", "op must be add, replace or remove.")
                })?;
            let path = match get_ci(m, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(ScimError::bad("invalidPath", "path must be a string.")),
            };
            Ok((name, path, get_ci(m, "value").cloned()))
        })
        .collect()
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn filter_of(q: &[(String, String)]) -> R<Option<Vec<Term>>> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filter"))
        .map(|(_, f)| parse_filter(f))
        .transpose()
}

fn body_json(body: &[u8]) -> R<Value> {
    if body.len() > MAX_BODY {
        return Err(ScimError::new(
            413,
            Some("tooLarge"),
            format!("The request body exceeds {MAX_BODY} bytes."),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::bad("invalidSyntax", format!("The body is not valid JSON: {e}")))
}

impl ScimService {
    pub fn new(store: Arc<dyn IdentityCenterStore>, directory: Arc<DirectoryView>) -> ScimService {
        ScimService {
            store,
            directory,
            base_url: String::new(),
        }
    }

    /// The URL clients reach this server at, the base of `meta.location`.
    pub fn with_base_url(mut self, base_url: &str) -> ScimService {
        self.base_url = base_url.trim_end_matches('/').to_owned();
        self
    }

    /// Serve one SCIM request.
    pub async fn handle(&self, r: &ScimRequest<'_>) -> ScimResponse {
        let mut resp = ScimResponse {
            status: 200,
            body: None,
            location: None,
            operation: "Unknown",
            tenant: None,
            error: None,
        };
        match self.route(r, &mut resp).await {
            Ok(()) => {}
            Err(e) => {
                resp.status = e.status;
                resp.body = Some(e.body());
                resp.location = None;
                resp.error = Some(e);
            }
        }
        resp
    }

    async fn route(&self, r: &ScimRequest<'_>, resp: &mut ScimResponse) -> R<()> {
        let segs: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
        let [tenant, "scim", "v2", rest @ ..] = segs.as_slice() else {
            return Err(ScimError::not_found("No such SCIM endpoint."));
        };
        // The token must be a live token of this tenant's identity store.
        let unauthorized =
            || ScimError::new(401, None, "The bearer token is not valid for this tenant.");
        let token = r.bearer.ok_or_else(unauthorized)?;
        if token.len() > 512 {
            return Err(unauthorized());
        }
        let t = self
            .store
            .scim_token_by_hash(&token_digest(token))
            .await?
            .filter(|t| t.identity_store_id == *tenant && t.expires_at > r.now)
            .ok_or_else(unauthorized)?;
        let store = t.identity_store_id;
        resp.tenant = Some(store.clone());
        let base = format!("{}/{store}/scim/v2", r.base_url.trim_end_matches('/'));
        let q = query_pairs(r.query);
        let m = r.method;
        let rest: Vec<&str> = rest.iter().copied().filter(|s| !s.is_empty()).collect();
        let not_allowed = || ScimError::new(405, None, "Method not allowed.");
        match (m, rest.as_slice()) {
            (_, ["ServiceProviderConfig"]) => {
                resp.operation = "GetServiceProviderConfig";
                if m != "GET" {
                    return Err(not_allowed());
                }
                resp.body = Some(service_provider_config(&base));
            }
            (_, ["ResourceTypes", id @ ..]) => {
                resp.operation = "ListResourceTypes";
                if m != "GET" {
                    return Err(not_allowed());
                }
                resp.body = Some(match id {
                    [] => {
                        let all = vec![resource_type("User", &base), resource_type("Group", &base)];
                        list_response(all, 1, MAX_PAGE)
                    }
                    [name] if ["User", "Group"].contains(name) => resource_type(name, &base),
                    _ => return Err(ScimError::not_found("No such resource type.")),
                });
            }
            (_, ["Schemas", id @ ..]) => {
                resp.operation = "ListSchemas";
                if m != "GET" {
                    return Err(not_allowed());
                }
                let all = schemas(&base);
                resp.body = Some(match id {
                    [] => list_response(all, 1, MAX_PAGE),
                    [urn] => all
                        .into_iter()
                        .find(|s| s["id"] == *urn)
                        .ok_or_else(|| ScimError::not_found("No such schema."))?,
                    _ => return Err(ScimError::not_found("No such schema.")),
                });
            }
            (_, [".search"]) | (_, [_, ".search"]) => {
                resp.operation = "Search";
                return Err(ScimError::new(501, None, "POST /.search is not supported."));
            }
            ("GET", ["Users"]) => {
                resp.operation = "ListUsers";
                resp.body = Some(self.list_users(&store, &q, &base).await?);
            }
            ("POST", ["Users"]) => {
                resp.operation = "CreateUser";
                let doc = body_json(r.body)?;
                let u = self.create_user(&store, &doc, r.now).await?;
                resp.status = 201;
                resp.location = Some(format!("{base}/Users/{}", u.user_id));
                resp.body = Some(user_to_scim(&u, &base));
            }
            ("GET", ["Users", id]) => {
                resp.operation = "GetUser";
                let u = self.user(&store, id).await?;
                resp.body = Some(project(user_to_scim(&u, &base), &q));
            }
            ("PUT", ["Users", id]) => {
                resp.operation = "PutUser";
                let doc = body_json(r.body)?;
                let u = self.user(&store, id).await?;
                let u = self.replace_user(u, &doc, r.now).await?;
                resp.body = Some(user_to_scim(&u, &base));
            }
            ("PATCH", ["Users", id]) => {
                resp.operation = "PatchUser";
                let doc = body_json(r.body)?;
                let ops = operations(&doc)?;
                let u = self.user(&store, id).await?;
                let mut scim = user_to_scim(&u, &base);
                for (op, path, value) in &ops {
                    patch_user(&mut scim, op, path.as_deref(), value.as_ref())?;
                }
                let u = self.replace_user(u, &scim, r.now).await?;
                resp.body = Some(user_to_scim(&u, &base));
            }
            ("DELETE", ["Users", id]) => {
                resp.operation = "DeleteUser";
                if !self.store.delete_identity_user(&store, id).await? {
                    return Err(ScimError::not_found(format!("User {id} does not exist.")));
                }
                self.directory
                    .write(DirectoryChange::UserDeleted((*id).to_owned()))
                    .await?;
                resp.status = 204;
            }
            ("GET", ["Groups"]) => {
                resp.operation = "ListGroups";
                resp.body = Some(self.list_groups(&store, &q, &base).await?);
            }
            ("POST", ["Groups"]) => {
                resp.operation = "CreateGroup";
                let doc = body_json(r.body)?;
                let (g, members) = self.create_group(&store, &doc, r.now).await?;
                resp.status = 201;
                resp.location = Some(format!("{base}/Groups/{}", g.group_id));
                resp.body = Some(group_to_scim(&g, &members, &base));
            }
            ("GET", ["Groups", id]) => {
                resp.operation = "GetGroup";
                let g = self.group(&store, id).await?;
                let members = self.store.group_memberships(&store, id).await?;
                resp.body = Some(project(group_to_scim(&g, &members, &base), &q));
            }
            ("PUT", ["Groups", id]) => {
                resp.operation = "PutGroup";
                let doc = body_json(r.body)?;
                let g = self.group(&store, id).await?;
                let (g, members) = self.replace_group(g, &doc, r.now).await?;
                resp.body = Some(group_to_scim(&g, &members, &base));
            }
            ("PATCH", ["Groups", id]) => {
                resp.operation = "PatchGroup";
                let doc = body_json(r.body)?;
                let ops = operations(&doc)?;
                let g = self.group(&store, id).await?;
                let (g, members) = self.patch_group(g, &ops, r.now).await?;
                resp.body = Some(group_to_scim(&g, &members, &base));
            }
            ("DELETE", ["Groups", id]) => {
                resp.operation = "DeleteGroup";
                if !self.store.delete_identity_group(&store, id).await? {
                    return Err(ScimError::not_found(format!("Group {id} does not exist.")));
                }
                self.directory
                    .write(DirectoryChange::GroupDeleted((*id).to_owned()))
                    .await?;
                resp.status = 204;
            }
            (_, ["Users"] | ["Users", _] | ["Groups"] | ["Groups", _]) => return Err(not_allowed()),
            _ => return Err(ScimError::not_found("No such SCIM resource.")),
        }
        Ok(())
    }

    async fn user(&self, store: &str, id: &str) -> R<IdentityUserRecord> {
        self.store
            .get_identity_user(store, id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("User {id} does not exist.")))
    }

    async fn group(&self, store: &str, id: &str) -> R<IdentityGroupRecord> {
        self.store
            .get_identity_group(store, id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("Group {id} does not exist.")))
    }

    async fn create_user(&self, store: &str, doc: &Value, now: i64) -> R<IdentityUserRecord> {
        let (name, attrs) = user_from_scim(doc)?;
        let rec = IdentityUserRecord {
            identity_store_id: store.to_owned(),
            user_id: new_id(),
            user_name: name,
            email_key: primary_email(&attrs),
            attributes: Value::Object(attrs).to_string(),
            created_at: now,
            created_by: BY.into(),
            updated_at: now,
            updated_by: BY.into(),
        };
        match self.store.create_identity_user(&rec).await {
            Ok(()) => {
                self.directory
                    .write(DirectoryChange::User(rec.clone()))
                    .await?;
                Ok(rec)
            }
            Err(StoreError::Conflict) => Err(ScimError::new(
                409,
                Some("uniqueness"),
                "Duplicate userName.",
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn replace_user(
        &self,
        u: IdentityUserRecord,
        doc: &Value,
        now: i64,
    ) -> R<IdentityUserRecord> {
        let (name, attrs) = user_from_scim(doc)?;
        let rec = IdentityUserRecord {
            user_name: name,
            email_key: primary_email(&attrs),
            attributes: Value::Object(attrs).to_string(),
            updated_at: now,
            updated_by: BY.into(),
            ..u
        };
        match self.store.update_identity_user(&rec).await {
            Ok(true) => {
                self.directory
                    .write(DirectoryChange::User(rec.clone()))
                    .await?;
                Ok(rec)
            }
            Ok(false) => Err(ScimError::not_found(format!(
                "User {} does not exist.",
                rec.user_id
            ))),
            Err(StoreError::Conflict) => Err(ScimError::new(
                409,
                Some("uniqueness"),
                "Duplicate userName.",
            )),
            Err(e) => Err(e.into()),
        }
    }

    async fn list_users(&self, store: &str, q: &[(String, String)], base: &str) -> R<Value> {
        let (start, count) = paging(q)?;
        let filter = filter_of(q)?;
        let mut users = match filter.as_deref() {
            Some([t]) if t.attr.eq_ignore_ascii_case("userName") => self
                .store
                .identity_user_by_name(store, &t.value)
                .await?
                .into_iter()
                .collect(),
            _ => self.store.list_identity_users(store).await?,
        };
        if let Some(terms) = &filter {
            let mut kept = Vec::new();
            for u in users {
                let mut all = true;
                for t in terms {
                    if !self.user_matches(store, &u, t).await? {
                        all = false;
                        break;
                    }
                }
                if all {
                    kept.push(u);
                }
            }
            users = kept;
        }
        let items = users
            .iter()
            .map(|u| project(user_to_scim(u, base), q))
            .collect();
        Ok(list_response(items, start, count))
    }

    async fn user_matches(&self, store: &str, u: &IdentityUserRecord, t: &Term) -> R<bool> {
        let a = t.attr.as_str();
        Ok(if a.eq_ignore_ascii_case("userName") {
            u.user_name.eq_ignore_ascii_case(&t.value)
        } else if a.eq_ignore_ascii_case("id") {
            u.user_id == t.value
        } else if a.eq_ignore_ascii_case("externalId") {
            let attrs: Value = serde_json::from_str(&u.attributes).unwrap_or_default();
            has_external_id(attrs.get("ExternalIds"), SCIM_ISSUER, &t.value)
        } else if a.eq_ignore_ascii_case("emails.value") {
            u.email_key.as_deref() == Some(t.value.to_lowercase().as_str())
        } else if a.eq_ignore_ascii_case("groups.value") || a.eq_ignore_ascii_case("groups") {
            self.store
                .membership_of(store, &t.value, &u.user_id)
                .await?
                .is_some()
        } else if a.eq_ignore_ascii_case("manager")
            || a.eq_ignore_ascii_case("manager.value")
            || a.eq_ignore_ascii_case(&format!("{ENTERPRISE}:manager"))
            || a.eq_ignore_ascii_case(&format!("{ENTERPRISE}:manager.value"))
        {
            let attrs: Value = serde_json::from_str(&u.attributes).unwrap_or_default();
            attrs["Extensions"][ENTERPRISE_KEY]["manager"]["value"] == t.value.as_str()
        } else {
            return Err(ScimError::bad(
                "invalidFilter",
                format!("Filtering users by {a} is not supported."),
            ));
        })
    }

    /// `displayName`, `externalId` and `members` of a group document, validated.
    fn group_fields(doc: &Value) -> R<(String, Option<String>, Option<Vec<String>>)> {
        let o = doc
            .as_object()
            .ok_or_else(|| ScimError::bad("invalidSyntax", "The body must be a JSON object."))?;
        let name = get_ci(o, "displayName")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty() && n.chars().count() <= 1024)
            .ok_or_else(|| {
                ScimError::bad(
                    "invalidValue",
                    "displayName is required (1 to 1024 characters).",
                )
            })?
            .to_owned();
        let external = match get_ci(o, "externalId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
            Some(_) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    "externalId must be a string of 1 to 256 characters.",
                ));
            }
        };
        let members = match get_ci(o, "members") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(member_ids(a)?),
            Some(_) => return Err(ScimError::bad("invalidValue", "members must be a list.")),
        };
        Ok((name, external, members))
    }

    async fn create_group(
        &self,
        store: &str,
        doc: &Value,
        now: i64,
    ) -> R<(IdentityGroupRecord, Vec<MembershipRecord>)> {
        let (name, external, members) = Self::group_fields(doc)?;
        let g = IdentityGroupRecord {
            identity_store_id: store.to_owned(),
            group_id: new_id(),
            display_name: name,
            description: None,
            external_ids: external.map(|e| json!([{"Issuer": SCIM_ISSUER, "Id": e}]).to_string()),
            created_at: now,
            created_by: BY.into(),
            updated_at: now,
            updated_by: BY.into(),
        };
        let members = members.unwrap_or_default();
        self.check_users(store, &members).await?;
        self.commit_group(&g, GroupWrite::Create, &members, &[], now)
            .await?;
        let ms = self.store.group_memberships(store, &g.group_id).await?;
        Ok((g, ms))
    }

    /// Write a group and its membership changes in one transaction (nothing is half-written),
    /// then fold them into the directory view.
    async fn commit_group(
        &self,
        g: &IdentityGroupRecord,
        mode: GroupWrite,
        add_users: &[String],
        remove: &[MembershipRecord],
        now: i64,
    ) -> R<()> {
        let add: Vec<MembershipRecord> = add_users
            .iter()
            .map(|u| MembershipRecord {
                identity_store_id: g.identity_store_id.clone(),
                membership_id: new_id(),
                group_id: g.group_id.clone(),
                user_id: u.clone(),
                created_at: now,
                created_by: BY.into(),
            })
            .collect();
        let remove_ids: Vec<String> = remove.iter().map(|m| m.membership_id.clone()).collect();
        match self.store.write_group(g, mode, &add, &remove_ids).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(ScimError::not_found(format!(
                    "Group {} does not exist.",
                    g.group_id
                )));
            }
            Err(StoreError::Conflict) => {
                return Err(ScimError::new(
                    409,
                    Some("uniqueness"),
                    "Duplicate displayName.",
                ));
            }
            Err(StoreError::Constraint(_)) => {
                return Err(ScimError::bad(
                    "invalidValue",
                    "A member is not a user of this identity store.",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        for m in remove {
            self.directory
                .write(DirectoryChange::MembershipDeleted {
                    user_id: m.user_id.clone(),
                    group_id: m.group_id.clone(),
                })
                .await?;
        }
        for m in add {
            self.directory.write(DirectoryChange::Membership(m)).await?;
        }
        Ok(())
    }

    async fn check_users(&self, store: &str, ids: &[String]) -> R<()> {
        if ids.len() > MAX_OPERATIONS {
            return Err(ScimError::bad(
                "tooMany",
                format!("At most {MAX_OPERATIONS} member changes per request."),
            ));
        }
        for id in ids {
            if self.store.get_identity_user(store, id).await?.is_none() {
                return Err(ScimError::bad(
                    "invalidValue",
                    format!("Member {id} is not a user of this identity store."),
                ));
            }
        }
        Ok(())
    }

    async fn replace_group(
        &self,
        g: IdentityGroupRecord,
        doc: &Value,
        now: i64,
    ) -> R<(IdentityGroupRecord, Vec<MembershipRecord>)> {
        let (name, external, members) = Self::group_fields(doc)?;
        let want = members.unwrap_or_default();
        self.check_users(&g.identity_store_id, &want).await?;
        let g = IdentityGroupRecord {
            display_name: name,
            external_ids: external.map(|e| json!([{"Issuer": SCIM_ISSUER, "Id": e}]).to_string()),
            updated_at: now,
            updated_by: BY.into(),
            ..g
        };
        let store = g.identity_store_id.clone();
        let have = self.store.group_memberships(&store, &g.group_id).await?;
        let remove: Vec<MembershipRecord> = have
            .iter()
            .filter(|m| !want.contains(&m.user_id))
            .cloned()
            .collect();
        let add: Vec<String> = want
            .iter()
            .filter(|u| !have.iter().any(|m| &m.user_id == *u))
            .cloned()
            .collect();
        self.commit_group(&g, GroupWrite::Update, &add, &remove, now)
            .await?;
        let ms = self.store.group_memberships(&store, &g.group_id).await?;
        Ok((g, ms))
    }

    async fn patch_group(
        &self,
        mut g: IdentityGroupRecord,
        ops: &[PatchOperation],
        now: i64,
    ) -> R<(IdentityGroupRecord, Vec<MembershipRecord>)> {
        let store = g.identity_store_id.clone();
        let mut add: Vec<String> = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        let mut set_members: Option<Vec<String>> = None;
        let mut renamed = false;
        let mut apply_attr = |g: &mut IdentityGroupRecord,
                              attr: &str,
                              op: &str,
                              v: Option<&Value>|
         -> R<()> {
            if attr.eq_ignore_ascii_case("displayName") {
                let name = v
                    .and_then(Value::as_str)
                    .filter(|n| op != "remove" && !n.trim().is_empty())
                    .ok_or_else(|| {
                        ScimError::bad("invalidValue", "displayName cannot be removed or blank.")
                    })?;
                g.display_name = name.to_owned();
                renamed = true;
            } else if attr.eq_ignore_ascii_case("externalId") {
                g.external_ids = match (op, v.and_then(Value::as_str)) {
                    ("remove", _) => None,
                    (_, Some(e)) if !e.is_empty() && e.len() <= 256 => {
                        Some(json!([{"Issuer": SCIM_ISSUER, "Id": e}]).to_string())
                    }
                    _ => {
                        return Err(ScimError::bad(
                            "invalidValue",
                            "externalId must be a string of 1 to 256 characters.",
                        ));
                    }
                };
                renamed = true;
            } else {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("Groups can change displayName, externalId and members, not {attr}."),
                ));
            }
            Ok(())
        };
        for (op, path, value) in ops {
            let Some(path) = path else {
                // No path: an object of attributes (Okta sends `{"id": …, "displayName": …}`).
                if op == "remove" {
                    return Err(ScimError::bad(
                        "noTarget",
                        "A remove operation needs a path.",
                    ));
                }
                let obj = value.as_ref().and_then(Value::as_object).ok_or_else(|| {
                    ScimError::bad(
                        "invalidValue",
                        "Without a path, the value must be an object.",
                    )
                })?;
                for (k, v) in obj {
                    if k.eq_ignore_ascii_case("id")
                        || k.eq_ignore_ascii_case("schemas")
                        || k.eq_ignore_ascii_case("meta")
                    {
                        continue;
                    }
                    if k.eq_ignore_ascii_case("members") {
                        let ids = member_ids(v.as_array().ok_or_else(|| {
                            ScimError::bad("invalidValue", "members must be a list.")
                        })?)?;
                        if op == "replace" {
                            set_members = Some(ids);
                        } else {
                            add.extend(ids);
                        }
                        continue;
                    }
                    apply_attr(&mut g, k, op, Some(v))?;
                }
                continue;
            };
            let p = parse_path(path)?;
            if !p.attr.eq_ignore_ascii_case("members") {
                if p.filter.is_some() || p.sub.is_some() || p.extension {
                    return Err(ScimError::bad(
                        "invalidPath",
                        format!("Invalid path {path} for a group."),
                    ));
                }
                apply_attr(&mut g, &p.attr, op, value.as_ref())?;
                continue;
            }
            match (op.as_str(), &p.filter) {
                ("remove", Some(t)) if t.attr.eq_ignore_ascii_case("value") => {
                    remove.push(t.value.clone())
                }
                ("remove", Some(_)) => {
                    return Err(ScimError::bad(
                        "invalidFilter",
                        "Members are filtered by value.",
                    ));
                }
                // Entra ID removes members with a value list and no filter; without a value
                // every member goes (within the limit of member changes per request).
                ("remove", None) => match value.as_ref().and_then(Value::as_array) {
                    Some(list) if !list.is_empty() => remove.extend(member_ids(list)?),
                    _ => {
                        let all = self.store.group_memberships(&store, &g.group_id).await?;
                        remove.extend(all.into_iter().map(|m| m.user_id));
                    }
                },
                ("add", None) => {
                    let v = value
                        .as_ref()
                        .ok_or_else(|| ScimError::bad("invalidValue", "add needs a value."))?;
                    match v {
                        Value::Array(list) => add.extend(member_ids(list)?),
                        one => add.extend(member_ids(std::slice::from_ref(one))?),
                    }
                }
                ("replace", None) => {
                    let list = value.as_ref().and_then(Value::as_array).ok_or_else(|| {
                        ScimError::bad("invalidValue", "replace members needs a list.")
                    })?;
                    set_members = Some(member_ids(list)?);
                }
                _ => {
                    return Err(ScimError::bad(
                        "invalidPath",
                        format!("Unsupported member operation on {path}."),
                    ));
                }
            }
        }
        let changes = add.len() + remove.len() + set_members.as_ref().map_or(0, Vec::len);
        if changes > MAX_OPERATIONS {
            return Err(ScimError::bad(
                "tooMany",
                format!("At most {MAX_OPERATIONS} member changes per request."),
            ));
        }
        let mut check: Vec<String> = add.clone();
        if let Some(s) = &set_members {
            check.extend(s.iter().cloned());
        }
        self.check_users(&store, &check).await?;
        let mode = if renamed {
            g.updated_at = now;
            g.updated_by = BY.into();
            GroupWrite::Update
        } else {
            GroupWrite::Keep
        };
        // The membership changes, worked out against what is there now, then written with
        // the group in one transaction.
        let have = self.store.group_memberships(&store, &g.group_id).await?;
        let mut members: Vec<String> = have.iter().map(|m| m.user_id.clone()).collect();
        if let Some(want) = set_members {
            members = want;
        }
        for u in add {
            if !members.contains(&u) {
                members.push(u);
            }
        }
        members.retain(|u| !remove.contains(u));
        let drop: Vec<MembershipRecord> = have
            .iter()
            .filter(|m| !members.contains(&m.user_id))
            .cloned()
            .collect();
        let new: Vec<String> = members
            .iter()
            .filter(|u| !have.iter().any(|m| &m.user_id == *u))
            .cloned()
            .collect();
        self.commit_group(&g, mode, &new, &drop, now).await?;
        let ms = self.store.group_memberships(&store, &g.group_id).await?;
        Ok((g, ms))
    }

    async fn list_groups(&self, store: &str, q: &[(String, String)], base: &str) -> R<Value> {
        let (start, count) = paging(q)?;
        let filter = filter_of(q)?;
        let groups = match filter.as_deref() {
            Some([t]) if t.attr.eq_ignore_ascii_case("displayName") => self
                .store
                .identity_group_by_name(store, &t.value)
                .await?
                .into_iter()
                .collect(),
            _ => self.store.list_identity_groups(store).await?,
        };
        let mut items = Vec::new();
        for g in groups {
            let mut all = true;
            for t in filter.iter().flatten() {
                let a = t.attr.as_str();
                let ok = if a.eq_ignore_ascii_case("displayName") {
                    g.display_name.eq_ignore_ascii_case(&t.value)
                } else if a.eq_ignore_ascii_case("id") {
                    g.group_id == t.value
                } else if a.eq_ignore_ascii_case("externalId") {
                    group_external_id(&g).as_deref() == Some(t.value.as_str())
                } else if a.eq_ignore_ascii_case("members.value")
                    || a.eq_ignore_ascii_case("members")
                    || a.eq_ignore_ascii_case("member")
                {
                    self.store
                        .membership_of(store, &g.group_id, &t.value)
                        .await?
                        .is_some()
                } else {
                    return Err(ScimError::bad(
                        "invalidFilter",
                        format!("Filtering groups by {a} is not supported."),
                    ));
                };
                if !ok {
                    all = false;
                    break;
                }
            }
            if all {
                let ms = self.store.group_memberships(store, &g.group_id).await?;
                items.push(project(group_to_scim(&g, &ms, base), q));
            }
        }
        Ok(list_response(items, start, count))
    }
}

/// The user ids of a `members` list (`[{"value": id}, …]`).
fn member_ids(list: &[Value]) -> R<Vec<String>> {
    list.iter()
        .map(|m| {
            m.as_object()
                .and_then(|o| get_ci(o, "value"))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty() && v.len() <= 64)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ScimError::bad("invalidValue", "Each member needs a value (a user id).")
                })
        })
        .collect()
}

fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
            "description": "A bearer token created with `tessera scim-token create`.", "primary": true}],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

fn resource_type(name: &str, base: &str) -> Value {
    let (endpoint, schema) = if name == "User" {
        ("/Users", USER_SCHEMA)
    } else {
        ("/Groups", GROUP_SCHEMA)
    };
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name, "name": name, "endpoint": endpoint, "schema": schema,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
    });
    if name == "User" {
        v["schemaExtensions"] = json!([{"schema": ENTERPRISE, "required": false}]);
    }
    v
}

fn attr(name: &str, kind: &str, required: bool, mutability: &str) -> Value {
    json!({"name": name, "type": kind, "multiValued": false, "required": required,
        "caseExact": false, "mutability": mutability, "returned": "default", "uniqueness": "none"})
}

fn complex(name: &str, subs: Vec<Value>, multi: bool, required: bool) -> Value {
    json!({"name": name, "type": "complex", "multiValued": multi, "required": required,
        "mutability": "readWrite", "returned": "default", "uniqueness": "none", "subAttributes": subs})
}

/// The schemas this endpoint publishes: exactly the attributes it stores and returns.
fn schemas(base: &str) -> Vec<Value> {
    let text = |n: &str| attr(n, "string", false, "readWrite");
    let mut user_name = attr("userName", "string", true, "readWrite");
    user_name["uniqueness"] = json!("server");
    let mut user_attrs = vec![
        user_name,
        complex(
            "name",
            vec![
                text("formatted"),
                attr("familyName", "string", true, "readWrite"),
                attr("givenName", "string", true, "readWrite"),
                text("middleName"),
                text("honorificPrefix"),
                text("honorificSuffix"),
            ],
            false,
            true,
        ),
        attr("displayName", "string", true, "readWrite"),
    ];
    for a in &USER_TEXT[1..] {
        user_attrs.push(text(a));
    }
    user_attrs.push(attr("active", "boolean", false, "readWrite"));
    for (m, fields) in MULTI {
        let mut subs: Vec<Value> = fields.iter().map(|f| text(f)).collect();
        subs.push(attr("primary", "boolean", false, "readWrite"));
        user_attrs.push(complex(m, subs, true, false));
    }
    let meta =
        |id: &str| json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")});
    let mut manager = complex("manager", vec![text("value")], false, false);
    manager["subAttributes"][0]["type"] = json!("string");
    let mut enterprise: Vec<Value> = ENTERPRISE_TEXT.iter().map(|a| text(a)).collect();
    enterprise.push(manager);
    let mut members = complex(
        "members",
        vec![
            attr("value", "string", false, "immutable"),
            attr("$ref", "reference", false, "immutable"),
        ],
        true,
        false,
    );
    members["subAttributes"][1]["referenceTypes"] = json!(["User"]);
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": USER_SCHEMA, "name": "User",
            "description": "User Account", "attributes": user_attrs, "meta": meta(USER_SCHEMA)}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": GROUP_SCHEMA, "name": "Group",
            "description": "Group", "attributes": [attr("displayName", "string", true, "readWrite"), members], "meta": meta(GROUP_SCHEMA)}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": ENTERPRISE, "name": "EnterpriseUser",
            "description": "Enterprise User", "attributes": enterprise, "meta": meta(ENTERPRISE)}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
