//! identitystore (awsJson1.1, target prefix `AWSIdentityStore`, signing name `identitystore`):
//! users (CreateUser, DescribeUser, ListUsers, UpdateUser, DeleteUser, GetUserId), groups
//! (CreateGroup, DescribeGroup, ListGroups, UpdateGroup, DeleteGroup, GetGroupId) and memberships (CreateGroupMembership,
//! DescribeGroupMembership, DeleteGroupMembership, GetGroupMembershipId, ListGroupMemberships,
//! ListGroupMembershipsForMember, IsMemberInGroups).
//! The identity store is the one an account's Identity Center instance owns.

use crate::IdentityCenterError;
use crate::request::{Paging, allow, signed_document, string};
use async_trait::async_trait;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tessera_audit::{EventDetails, HIDDEN, Resource};
use tessera_authz::Authorizer;
use tessera_authz::directory::{DirectoryChange, DirectoryView};
use tessera_core::{Caller, Deployment, RequestMeta};
use tessera_service::{Body, Ctx, Operation, Reply, Routing, Service, ServiceSpec};
use tessera_store::{
    IdentityCenterStore, IdentityGroupRecord, IdentityUserRecord, InstanceRecord, MembershipRecord,
    StoreError,
};
use tessera_wire::CommonError;
use tessera_wire::{AwsError, Protocol};

tessera_service::operations! {
    /// The identitystore operations Tessera implements so far.
    pub enum IdentityStoreOp {
        CreateUser,
        DescribeUser,
        ListUsers,
        DeleteUser,
        GetUserId,
        UpdateUser,
        CreateGroup,
        DescribeGroup,
        ListGroups,
        DeleteGroup,
        GetGroupId,
        UpdateGroup,
        CreateGroupMembership,
        DescribeGroupMembership,
        DeleteGroupMembership,
        GetGroupMembershipId,
        ListGroupMemberships,
        ListGroupMembershipsForMember,
        IsMemberInGroups,
    }
}

impl Operation for IdentityStoreOp {
    const ALL: &'static [IdentityStoreOp] = IdentityStoreOp::VARIANTS;

    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// The identitystore service's declaration.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "identitystore",
    signing_names: &["identitystore"],
    protocol: Protocol::Json11,
    event_source: "identitystore.amazonaws.com",
    routing: Routing::JsonTarget {
        prefix: "AWSIdentityStore",
    },
};

type R<T> = Result<T, IdentityCenterError>;

#[derive(Debug, Clone)]
pub struct IdentityStoreService {
    store: Arc<dyn IdentityCenterStore>,
    /// The directory view every user and membership write is folded into.
    directory: Arc<DirectoryView>,
    authz: Authorizer,
    deployment: Deployment,
}

/// User names Identity Center reserves.
const RESERVED_USER_NAMES: &[&str] = &["Administrator", "AWSAdministrators"];

fn invalid(field: &str, constraint: &str) -> IdentityCenterError {
    IdentityCenterError::Common(CommonError::Validation(format!(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"
    )))
}

fn required(field: &str) -> IdentityCenterError {
    invalid(field, "Member must not be null")
}

/// ListUsers' and ListGroups' (deprecated, still honoured) `Filters`: the values each filter
/// asks `path` (`UserName` or `DisplayName`, the one attribute AWS filters on) to equal.
fn filters(doc: &Value, path: &str) -> R<Vec<String>> {
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
fn text<'a>(doc: &'a Value, member: &str, field: &str, max: usize) -> R<Option<&'a str>> {
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
fn identity_store_id(doc: &Value) -> R<&str> {
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

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `UserId`: an optional 10-hex-digit prefix and a UUID.
fn user_id(doc: &Value) -> R<&str> {
    resource_id(doc, "UserId", "userId")
}

/// A user, group or membership id: an optional 10-hex-digit prefix and a UUID.
fn resource_id<'a>(doc: &'a Value, member: &str, field: &str) -> R<&'a str> {
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

fn describe_group(g: &IdentityGroupRecord) -> Value {
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

fn describe_membership(m: &MembershipRecord) -> Value {
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

/// `MemberId`: a union with one member, `UserId`.
fn member_id(doc: &Value) -> R<&str> {
    let m = doc
        .get("MemberId")
        .filter(|v| v.is_object())
        .ok_or_else(|| required("memberId"))?;
    resource_id(m, "UserId", "memberId.userId")
}

/// The unique attribute (`UniqueAttribute{AttributePath, AttributeValue}`) an
/// `AlternateIdentifier` names, as (path, value); `None` for an `ExternalId`.
/// What an `AlternateIdentifier` names.
enum Alternate<'a> {
    /// `UniqueAttribute`: (attribute path, value).
    Unique(&'a str, &'a str),
    /// `ExternalId`: (issuer, id).
    External(&'a str, &'a str),
}

/// Does an `ExternalIds` list (`[{Issuer, Id}]`) hold this pair?
pub(crate) fn has_external_id(list: Option<&Value>, issuer: &str, id: &str) -> bool {
    list.and_then(Value::as_array).is_some_and(|l| {
        l.iter()
            .any(|e| e["Issuer"].as_str() == Some(issuer) && e["Id"].as_str() == Some(id))
    })
}

fn alternate_identifier(doc: &Value) -> R<Alternate<'_>> {
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
const USER_PATHS: &[(&str, &[&str])] = &[
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
const GROUP_PATHS: &[(&str, &[&str])] = &[
    ("displayName", &["DisplayName"]),
    ("description", &["Description"]),
];

/// `Operations`: 1 to 100 `{AttributePath, AttributeValue}`; a missing or null value removes
/// the attribute.
fn operations(doc: &Value) -> R<Vec<(String, Value)>> {
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
fn apply(whole: &mut Value, path: &str, value: Value, paths: &[(&str, &[&str])]) -> R<()> {
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

fn not_found(kind: &str, id: &str) -> IdentityCenterError {
    let resource_type = match kind {
        "User" => "USER",
        "Group" => "GROUP",
        "Membership" => "GROUP_MEMBERSHIP",
        _ => "IDENTITY_STORE",
    };
    IdentityCenterError::NotFound {
        message: format!("{kind} {id} does not exist."),
        resource_type,
        resource_id: Some(id.to_owned()),
    }
}

#[async_trait]
impl Service for IdentityStoreService {
    type Op = IdentityStoreOp;
    type Error = IdentityCenterError;

    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    async fn call(&self, op: IdentityStoreOp, ctx: &Ctx<'_>) -> R<Reply> {
        let (caller, doc) = signed_document(ctx, "identitystore")?;
        self.run(op, caller, ctx.meta, doc).await
    }

    fn to_aws(&self, e: &IdentityCenterError) -> AwsError {
        e.to_aws()
    }
}

impl IdentityStoreService {
    pub fn new(
        store: Arc<dyn IdentityCenterStore>,
        directory: Arc<DirectoryView>,
        authz: Authorizer,
        deployment: Deployment,
    ) -> IdentityStoreService {
        IdentityStoreService {
            store,
            directory,
            authz,
            deployment,
        }
    }

    /// Run one operation for an authenticated caller with its JSON request document.
    pub async fn run(
        &self,
        op: IdentityStoreOp,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        use IdentityStoreOp::*;
        let store_id = identity_store_id(doc)?;
        match op {
            CreateUser => self.create_user(caller, meta, store_id, doc).await,
            DescribeUser => self.describe_user(caller, meta, store_id, doc).await,
            ListUsers => self.list_users(caller, meta, store_id, doc).await,
            DeleteUser => self.delete_user(caller, meta, store_id, doc).await,
            GetUserId => self.get_user_id(caller, meta, store_id, doc).await,
            UpdateUser => self.update_user(caller, meta, store_id, doc).await,
            UpdateGroup => self.update_group(caller, meta, store_id, doc).await,
            CreateGroup => self.create_group(caller, meta, store_id, doc).await,
            DescribeGroup => self.describe_group(caller, meta, store_id, doc).await,
            ListGroups => self.list_groups(caller, meta, store_id, doc).await,
            DeleteGroup => self.delete_group(caller, meta, store_id, doc).await,
            GetGroupId => self.get_group_id(caller, meta, store_id, doc).await,
            CreateGroupMembership => self.create_membership(caller, meta, store_id, doc).await,
            DescribeGroupMembership => self.describe_membership(caller, meta, store_id, doc).await,
            DeleteGroupMembership => self.delete_membership(caller, meta, store_id, doc).await,
            GetGroupMembershipId => self.get_membership_id(caller, meta, store_id, doc).await,
            ListGroupMemberships => {
                self.list_group_memberships(caller, meta, store_id, doc)
                    .await
            }
            ListGroupMembershipsForMember => {
                self.list_memberships_for_member(caller, meta, store_id, doc)
                    .await
            }
            IsMemberInGroups => self.is_member_in_groups(caller, meta, store_id, doc).await,
        }
    }

    fn store_arn(&self, caller: &Caller, store_id: &str) -> String {
        format!(
            "arn:{}:identitystore::{}:identitystore/{store_id}",
            self.deployment.partition, caller.account
        )
    }

    fn group_arn(&self, group_id: &str) -> String {
        format!(
            "arn:{}:identitystore:::group/{group_id}",
            self.deployment.partition
        )
    }

    fn membership_arn(&self, membership_id: &str) -> String {
        format!(
            "arn:{}:identitystore:::membership/{membership_id}",
            self.deployment.partition
        )
    }

    fn user_arn(&self, user_id: &str) -> String {
        format!(
            "arn:{}:identitystore:::user/{user_id}",
            self.deployment.partition
        )
    }

    fn allow(&self, caller: &Caller, meta: &RequestMeta, action: &str, resource: &str) -> R<()> {
        allow(&self.authz, caller, meta, action, resource)
    }

    /// The caller account's instance owning this identity store (another account's is not
    /// found).
    async fn owned_store(&self, caller: &Caller, store_id: &str) -> R<InstanceRecord> {
        self.store
            .instance_by_identity_store(store_id)
            .await?
            .filter(|i| i.owner_account_id == caller.account.as_str())
            .ok_or_else(|| not_found("Identity store", store_id))
    }

    fn details(
        &self,
        caller: &Caller,
        store_id: &str,
        params: Value,
        read_only: bool,
    ) -> EventDetails {
        EventDetails {
            user_identity: None,
            request_parameters: params,
            response_elements: Value::Null,
            resources: vec![Resource {
                account_id: Some(caller.account.to_string()),
                kind: "AWS::IdentityStore::IdentityStore".into(),
                arn: self.store_arn(caller, store_id),
            }],
            read_only,
            additional_event_data: serde_json::Value::Null,
        }
    }

    async fn create_user(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let name = user_name(doc)?;
        let attrs = attributes(doc)?;
        self.allow(
            caller,
            meta,
            "identitystore:CreateUser",
            &self.store_arn(caller, store_id),
        )?;
        self.owned_store(caller, store_id).await?;
        let email_key = primary_email(&attrs);
        let by = caller.arn(&self.deployment.partition);
        let rec = IdentityUserRecord {
            identity_store_id: store_id.to_owned(),
            user_id: new_id(),
            user_name: name.to_owned(),
            email_key,
            attributes: Value::Object(attrs).to_string(),
            created_at: meta.now.timestamp(),
            created_by: by.clone(),
            updated_at: meta.now.timestamp(),
            updated_by: by,
        };
        match self.store.create_identity_user(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(IdentityCenterError::Uniqueness("Duplicate UserName".into()));
            }
            Err(e) => return Err(e.into()),
        }
        self.directory
            .write(DirectoryChange::User(rec.clone()))
            .await?;
        // User attributes are personal data: like CloudTrail, the audit record hides them.
        let params = json!({"identityStoreId": store_id, "userName": HIDDEN, "name": HIDDEN, "displayName": HIDDEN});
        let mut details = self.details(caller, store_id, params, false);
        details.response_elements = json!({"identityStoreId": store_id, "userId": rec.user_id});
        Ok(Reply {
            body: Body::Json(json!({"IdentityStoreId": store_id, "UserId": rec.user_id})),
            details,
        })
    }

    async fn describe_user(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = user_id(doc)?;
        self.allow(
            caller,
            meta,
            "identitystore:DescribeUser",
            &self.user_arn(id),
        )?;
        self.owned_store(caller, store_id).await?;
        let u = self
            .store
            .get_identity_user(store_id, id)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        Ok(Reply {
            body: Body::Json(describe(&u)),
            details: self.details(
                caller,
                store_id,
                json!({"identityStoreId": store_id, "userId": id}),
                true,
            ),
        })
    }

    async fn list_users(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let paging = Paging::parse(doc)?;
        self.allow(
            caller,
            meta,
            "identitystore:ListUsers",
            &self.store_arn(caller, store_id),
        )?;
        self.owned_store(caller, store_id).await?;
        let wanted = filters(doc, "UserName")?;
        let mut all = self.store.list_identity_users(store_id).await?;
        all.retain(|u| wanted.iter().all(|w| *w == u.user_name));
        let body = paging.page(&all, "Users", |u| &u.user_id, describe)?;
        Ok(Reply {
            body: Body::Json(body),
            details: self.details(
                caller,
                store_id,
                json!({"identityStoreId": store_id, "maxResults": doc.get("MaxResults")}),
                true,
            ),
        })
    }

    async fn delete_user(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = user_id(doc)?;
        self.allow(caller, meta, "identitystore:DeleteUser", &self.user_arn(id))?;
        self.owned_store(caller, store_id).await?;
        if !self.store.delete_identity_user(store_id, id).await? {
            return Err(not_found("User", id));
        }
        self.directory
            .write(DirectoryChange::UserDeleted(id.to_owned()))
            .await?;
        Ok(Reply {
            body: Body::Json(json!({})),
            details: self.details(
                caller,
                store_id,
                json!({"identityStoreId": store_id, "userId": id}),
                false,
            ),
        })
    }

    async fn get_user_id(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        enum Lookup<'a> {
            UserName(&'a str),
            Email(&'a str),
            External(&'a str, &'a str),
        }
        let lookup = match alternate_identifier(doc)? {
            Alternate::Unique(p, v) if p.eq_ignore_ascii_case("userName") => Lookup::UserName(v),
            Alternate::Unique(p, v) if p.eq_ignore_ascii_case("emails.value") => Lookup::Email(v),
            Alternate::Unique(other, _) => {
                return Err(IdentityCenterError::Common(CommonError::Validation(
                    format!(
                        "{other} is not a unique attribute of users: use userName or emails.value"
                    ),
                )));
            }
            Alternate::External(issuer, id) => Lookup::External(issuer, id),
        };
        self.allow(
            caller,
            meta,
            "identitystore:GetUserId",
            &self.store_arn(caller, store_id),
        )?;
        self.owned_store(caller, store_id).await?;
        let found = match lookup {
            Lookup::UserName(n) => self.store.identity_user_by_name(store_id, n).await?,
            Lookup::Email(e) => {
                let mut v = self.store.identity_users_by_email(store_id, e).await?;
                // An address two users share identifies neither.
                if v.len() == 1 { v.pop() } else { None }
            }
            // External ids come with SCIM provisioning; they are not indexed (a scan).
            Lookup::External(issuer, id) => self
                .store
                .list_identity_users(store_id)
                .await?
                .into_iter()
                .find(|u| {
                    let attrs: Value = serde_json::from_str(&u.attributes).unwrap_or_default();
                    has_external_id(attrs.get("ExternalIds"), issuer, id)
                }),
        };
        let u = found.ok_or_else(|| IdentityCenterError::NotFound {
            message: "USER not found.".into(),
            resource_type: "USER",
            resource_id: None,
        })?;
        Ok(Reply {
            body: Body::Json(json!({"IdentityStoreId": store_id, "UserId": u.user_id})),
            details: self.details(
                caller,
                store_id,
                json!({"identityStoreId": store_id, "alternateIdentifier": HIDDEN}),
                true,
            ),
        })
    }

    async fn create_group(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let name = text(doc, "DisplayName", "displayName", 1024)?
            .ok_or_else(|| required("displayName"))?;
        if name.trim().is_empty() {
            return Err(invalid("displayName", "Member must not be blank"));
        }
        let description = text(doc, "Description", "description", 1024)?;
        let store_arn = self.store_arn(caller, store_id);
        self.allow(caller, meta, "identitystore:CreateGroup", &store_arn)?;
        self.owned_store(caller, store_id).await?;
        let by = caller.arn(&self.deployment.partition);
        let rec = IdentityGroupRecord {
            identity_store_id: store_id.to_owned(),
            group_id: new_id(),
            display_name: name.to_owned(),
            description: description.map(str::to_owned),
            external_ids: None,
            created_at: meta.now.timestamp(),
            created_by: by.clone(),
            updated_at: meta.now.timestamp(),
            updated_by: by,
        };
        match self.store.create_identity_group(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(IdentityCenterError::Uniqueness(
                    "Duplicate GroupDisplayName".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let mut details = self.details(
            caller,
            store_id,
            json!({"identityStoreId": store_id, "displayName": HIDDEN, "description": HIDDEN}),
            false,
        );
        details.response_elements = json!({"identityStoreId": store_id, "groupId": rec.group_id});
        Ok(Reply {
            body: Body::Json(json!({"IdentityStoreId": store_id, "GroupId": rec.group_id})),
            details,
        })
    }

    async fn group(&self, store_id: &str, id: &str) -> R<IdentityGroupRecord> {
        self.store
            .get_identity_group(store_id, id)
            .await?
            .ok_or_else(|| not_found("Group", id))
    }

    async fn describe_group(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = resource_id(doc, "GroupId", "groupId")?;
        self.allow(
            caller,
            meta,
            "identitystore:DescribeGroup",
            &self.group_arn(id),
        )?;
        self.owned_store(caller, store_id).await?;
        let g = self.group(store_id, id).await?;
        let params = json!({"identityStoreId": store_id, "groupId": id});
        Ok(Reply {
            body: Body::Json(describe_group(&g)),
            details: self.details(caller, store_id, params, true),
        })
    }

    async fn list_groups(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let paging = Paging::parse(doc)?;
        let store_arn = self.store_arn(caller, store_id);
        self.allow(caller, meta, "identitystore:ListGroups", &store_arn)?;
        self.owned_store(caller, store_id).await?;
        let wanted = filters(doc, "DisplayName")?;
        let mut all = self.store.list_identity_groups(store_id).await?;
        all.retain(|g| wanted.iter().all(|w| *w == g.display_name));
        let body = paging.page(&all, "Groups", |g| &g.group_id, describe_group)?;
        let params = json!({"identityStoreId": store_id, "maxResults": doc.get("MaxResults")});
        Ok(Reply {
            body: Body::Json(body),
            details: self.details(caller, store_id, params, true),
        })
    }

    async fn delete_group(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = resource_id(doc, "GroupId", "groupId")?;
        self.allow(
            caller,
            meta,
            "identitystore:DeleteGroup",
            &self.group_arn(id),
        )?;
        self.owned_store(caller, store_id).await?;
        if !self.store.delete_identity_group(store_id, id).await? {
            return Err(not_found("Group", id));
        }
        self.directory
            .write(DirectoryChange::GroupDeleted(id.to_owned()))
            .await?;
        let params = json!({"identityStoreId": store_id, "groupId": id});
        Ok(Reply {
            body: Body::Json(json!({})),
            details: self.details(caller, store_id, params, false),
        })
    }

    async fn get_group_id(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let alt = alternate_identifier(doc)?;
        if let Alternate::Unique(path, _) = alt
            && !path.eq_ignore_ascii_case("displayName")
        {
            return Err(IdentityCenterError::Common(CommonError::Validation(
                format!("{path} is not a unique attribute of groups: use displayName"),
            )));
        }
        let store_arn = self.store_arn(caller, store_id);
        self.allow(caller, meta, "identitystore:GetGroupId", &store_arn)?;
        self.owned_store(caller, store_id).await?;
        let found = match alt {
            Alternate::Unique(_, n) => self.store.identity_group_by_name(store_id, n).await?,
            // External ids come with SCIM provisioning; they are not indexed (a scan).
            Alternate::External(issuer, id) => self
                .store
                .list_identity_groups(store_id)
                .await?
                .into_iter()
                .find(|g| {
                    let ids: Option<Value> = g
                        .external_ids
                        .as_deref()
                        .and_then(|x| serde_json::from_str(x).ok());
                    has_external_id(ids.as_ref(), issuer, id)
                }),
        };
        let g = found.ok_or_else(|| IdentityCenterError::NotFound {
            message: "GROUP not found.".into(),
            resource_type: "GROUP",
            resource_id: None,
        })?;
        let params = json!({"identityStoreId": store_id, "alternateIdentifier": HIDDEN});
        Ok(Reply {
            body: Body::Json(json!({"IdentityStoreId": store_id, "GroupId": g.group_id})),
            details: self.details(caller, store_id, params, true),
        })
    }

    async fn create_membership(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let group = resource_id(doc, "GroupId", "groupId")?;
        let user = member_id(doc)?;
        let action = "identitystore:CreateGroupMembership";
        self.allow(caller, meta, action, &self.group_arn(group))?;
        self.owned_store(caller, store_id).await?;
        self.group(store_id, group).await?;
        if self
            .store
            .get_identity_user(store_id, user)
            .await?
            .is_none()
        {
            return Err(not_found("User", user));
        }
        let rec = MembershipRecord {
            identity_store_id: store_id.to_owned(),
            membership_id: new_id(),
            group_id: group.to_owned(),
            user_id: user.to_owned(),
            created_at: meta.now.timestamp(),
            created_by: caller.arn(&self.deployment.partition),
        };
        match self.store.create_membership(&rec).await {
            Ok(()) => {
                self.directory
                    .write(DirectoryChange::Membership(rec.clone()))
                    .await?;
            }
            Err(StoreError::Conflict) => {
                return Err(IdentityCenterError::Conflict(
                    "The user is already a member of the group".into(),
                ));
            }
            // The user or group went away between the checks and the insert.
            Err(StoreError::Constraint(_)) => return Err(not_found("User", user)),
            Err(e) => return Err(e.into()),
        }
        let params =
            json!({"identityStoreId": store_id, "groupId": group, "memberId": {"userId": user}});
        let mut details = self.details(caller, store_id, params, false);
        details.response_elements =
            json!({"identityStoreId": store_id, "membershipId": rec.membership_id});
        Ok(Reply {
            body: Body::Json(
                json!({"IdentityStoreId": store_id, "MembershipId": rec.membership_id}),
            ),
            details,
        })
    }

    async fn describe_membership(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = resource_id(doc, "MembershipId", "membershipId")?;
        let action = "identitystore:DescribeGroupMembership";
        self.allow(caller, meta, action, &self.membership_arn(id))?;
        self.owned_store(caller, store_id).await?;
        let m = self
            .store
            .get_membership(store_id, id)
            .await?
            .ok_or_else(|| not_found("Membership", id))?;
        let params = json!({"identityStoreId": store_id, "membershipId": id});
        Ok(Reply {
            body: Body::Json(describe_membership(&m)),
            details: self.details(caller, store_id, params, true),
        })
    }

    async fn delete_membership(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = resource_id(doc, "MembershipId", "membershipId")?;
        let action = "identitystore:DeleteGroupMembership";
        self.allow(caller, meta, action, &self.membership_arn(id))?;
        self.owned_store(caller, store_id).await?;
        let m = self
            .store
            .get_membership(store_id, id)
            .await?
            .ok_or_else(|| not_found("Membership", id))?;
        if !self.store.delete_membership(store_id, id).await? {
            return Err(not_found("Membership", id));
        }
        self.directory
            .write(DirectoryChange::MembershipDeleted {
                user_id: m.user_id,
                group_id: m.group_id,
            })
            .await?;
        let params = json!({"identityStoreId": store_id, "membershipId": id});
        Ok(Reply {
            body: Body::Json(json!({})),
            details: self.details(caller, store_id, params, false),
        })
    }

    async fn get_membership_id(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let group = resource_id(doc, "GroupId", "groupId")?;
        let user = member_id(doc)?;
        let action = "identitystore:GetGroupMembershipId";
        self.allow(caller, meta, action, &self.group_arn(group))?;
        self.owned_store(caller, store_id).await?;
        let m = self
            .store
            .membership_of(store_id, group, user)
            .await?
            .ok_or_else(|| IdentityCenterError::NotFound {
                message: "GROUP_MEMBERSHIP not found.".into(),
                resource_type: "GROUP_MEMBERSHIP",
                resource_id: None,
            })?;
        let params =
            json!({"identityStoreId": store_id, "groupId": group, "memberId": {"userId": user}});
        Ok(Reply {
            body: Body::Json(json!({"IdentityStoreId": store_id, "MembershipId": m.membership_id})),
            details: self.details(caller, store_id, params, true),
        })
    }

    async fn list_group_memberships(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let group = resource_id(doc, "GroupId", "groupId")?;
        let paging = Paging::parse(doc)?;
        let action = "identitystore:ListGroupMemberships";
        self.allow(caller, meta, action, &self.group_arn(group))?;
        self.owned_store(caller, store_id).await?;
        self.group(store_id, group).await?;
        let all = self.store.group_memberships(store_id, group).await?;
        let body = paging.page(
            &all,
            "GroupMemberships",
            |m| &m.membership_id,
            describe_membership,
        )?;
        let params = json!({"identityStoreId": store_id, "groupId": group});
        Ok(Reply {
            body: Body::Json(body),
            details: self.details(caller, store_id, params, true),
        })
    }

    async fn list_memberships_for_member(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let user = member_id(doc)?;
        let paging = Paging::parse(doc)?;
        let action = "identitystore:ListGroupMembershipsForMember";
        self.allow(caller, meta, action, &self.user_arn(user))?;
        self.owned_store(caller, store_id).await?;
        if self
            .store
            .get_identity_user(store_id, user)
            .await?
            .is_none()
        {
            return Err(not_found("User", user));
        }
        let all = self.store.user_memberships(store_id, user).await?;
        let body = paging.page(
            &all,
            "GroupMemberships",
            |m| &m.membership_id,
            describe_membership,
        )?;
        let params = json!({"identityStoreId": store_id, "memberId": {"userId": user}});
        Ok(Reply {
            body: Body::Json(body),
            details: self.details(caller, store_id, params, true),
        })
    }

    async fn is_member_in_groups(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let user = member_id(doc)?;
        let groups = match doc.get("GroupIds") {
            Some(Value::Array(a)) if (1..=100).contains(&a.len()) => a,
            None | Some(Value::Null) => return Err(required("groupIds")),
            _ => {
                return Err(invalid(
                    "groupIds",
                    "Member must be a list of 1 to 100 group ids",
                ));
            }
        };
        let mut ids = Vec::new();
        for g in groups {
            let id = g
                .as_str()
                .ok_or_else(|| invalid("groupIds", "Member must be a list of strings"))?;
            resource_id(&json!({ "GroupId": id }), "GroupId", "groupIds.member")?;
            ids.push(id.to_owned());
        }
        let action = "identitystore:IsMemberInGroups";
        self.allow(caller, meta, action, &self.user_arn(user))?;
        self.owned_store(caller, store_id).await?;
        let member_of: Vec<String> = self
            .store
            .user_memberships(store_id, user)
            .await?
            .into_iter()
            .map(|m| m.group_id)
            .collect();
        let results: Vec<Value> = ids
            .iter()
            .map(|g| {
                json!({"GroupId": g, "MemberId": {"UserId": user}, "MembershipExists": member_of.contains(g)})
            })
            .collect();
        let params =
            json!({"identityStoreId": store_id, "memberId": {"userId": user}, "groupIds": ids});
        Ok(Reply {
            body: Body::Json(json!({ "Results": results })),
            details: self.details(caller, store_id, params, true),
        })
    }

    async fn update_user(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = user_id(doc)?;
        let ops = operations(doc)?;
        self.allow(caller, meta, "identitystore:UpdateUser", &self.user_arn(id))?;
        self.owned_store(caller, store_id).await?;
        let u = self
            .store
            .get_identity_user(store_id, id)
            .await?
            .ok_or_else(|| not_found("User", id))?;
        // The whole user as CreateUser takes it, with every operation applied, then validated
        // again as a whole: an update cannot leave a user CreateUser would refuse.
        let mut whole: Map<String, Value> = serde_json::from_str(&u.attributes).unwrap_or_default();
        whole.insert("UserName".into(), json!(u.user_name));
        let mut whole = Value::Object(whole);
        for (path, value) in ops {
            apply(&mut whole, &path, value, USER_PATHS)?;
        }
        let name = user_name(&whole)?.to_owned();
        let mut attrs = attributes(&whole)?;
        // What SCIM provisioning keeps beside the modelled attributes (external ids, the
        // `active` flag, the enterprise extension) is not the API's to change.
        keep_provisioned(&whole, &mut attrs);
        let rec = IdentityUserRecord {
            user_name: name,
            email_key: primary_email(&attrs),
            attributes: Value::Object(attrs).to_string(),
            updated_at: meta.now.timestamp(),
            updated_by: caller.arn(&self.deployment.partition),
            ..u
        };
        match self.store.update_identity_user(&rec).await {
            Ok(true) => {
                self.directory
                    .write(DirectoryChange::User(rec.clone()))
                    .await?;
            }
            Ok(false) => return Err(not_found("User", id)),
            Err(StoreError::Conflict) => {
                return Err(IdentityCenterError::Uniqueness("Duplicate UserName".into()));
            }
            Err(e) => return Err(e.into()),
        }
        let params = json!({"identityStoreId": store_id, "userId": id, "operations": HIDDEN});
        Ok(Reply {
            body: Body::Json(json!({})),
            details: self.details(caller, store_id, params, false),
        })
    }

    async fn update_group(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = resource_id(doc, "GroupId", "groupId")?;
        let ops = operations(doc)?;
        self.allow(
            caller,
            meta,
            "identitystore:UpdateGroup",
            &self.group_arn(id),
        )?;
        self.owned_store(caller, store_id).await?;
        let g = self.group(store_id, id).await?;
        let mut whole = json!({"DisplayName": g.display_name, "Description": g.description});
        for (path, value) in ops {
            apply(&mut whole, &path, value, GROUP_PATHS)?;
        }
        let name = text(&whole, "DisplayName", "displayName", 1024)?
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| invalid("displayName", "Member must not be blank"))?
            .to_owned();
        let description = text(&whole, "Description", "description", 1024)?.map(str::to_owned);
        let rec = IdentityGroupRecord {
            display_name: name,
            description,
            updated_at: meta.now.timestamp(),
            updated_by: caller.arn(&self.deployment.partition),
            ..g
        };
        match self.store.update_identity_group(&rec).await {
            Ok(true) => {}
            Ok(false) => return Err(not_found("Group", id)),
            Err(StoreError::Conflict) => {
                return Err(IdentityCenterError::Uniqueness(
                    "Duplicate GroupDisplayName".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let params = json!({"identityStoreId": store_id, "groupId": id, "operations": HIDDEN});
        Ok(Reply {
            body: Body::Json(json!({})),
            details: self.details(caller, store_id, params, false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
