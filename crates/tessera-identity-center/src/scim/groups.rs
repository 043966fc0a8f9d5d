//! SCIM `/Groups`: read, create, replace, patch and list groups, and write a group with its
//! membership changes in one transaction.

use super::documents::{group_external_id, group_to_scim};
use super::patch::{PatchOperation, parse_path};
use super::query::{filter_of, list_response, paging, project};
use super::{BY, MAX_OPERATIONS, R, SCIM_ISSUER, ScimError, ScimService, get_ci};
use crate::identity_store::new_id;
use crate::identity_store::writes::new_membership;
use serde_json::{Value, json};
use tessera_authz::directory::DirectoryChange;
use tessera_store::{GroupWrite, IdentityGroupRecord, MembershipRecord, StoreError};

impl ScimService {
    pub(super) async fn group(&self, store: &str, id: &str) -> R<IdentityGroupRecord> {
        self.store
            .get_identity_group(store, id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("Group {id} does not exist.")))
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

    pub(super) async fn create_group(
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
            .map(|u| new_membership(&g.identity_store_id, &g.group_id, u, now, BY.into()))
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

    pub(super) async fn replace_group(
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

    pub(super) async fn patch_group(
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

    pub(super) async fn list_groups(
        &self,
        store: &str,
        q: &[(String, String)],
        base: &str,
    ) -> R<Value> {
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
