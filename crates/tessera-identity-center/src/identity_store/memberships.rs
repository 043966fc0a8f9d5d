//! identitystore group memberships: CreateGroupMembership, DescribeGroupMembership,
//! DeleteGroupMembership, GetGroupMembershipId, ListGroupMemberships,
//! ListGroupMembershipsForMember, IsMemberInGroups.

use super::attributes::describe_membership;
use super::fields::{member_id, resource_id};
use super::writes::new_membership;
use super::{IdentityStoreService, R, invalid, not_found, required};
use crate::IdentityCenterError;
use crate::request::Paging;
use serde_json::{Value, json};
use tessera_authz::directory::DirectoryChange;
use tessera_core::{Caller, RequestMeta};
use tessera_service::{Body, Reply};
use tessera_store::{MembershipRecord, StoreError};

impl IdentityStoreService {
    /// A membership of the identity store, or the error that it does not exist.
    async fn membership(&self, store_id: &str, id: &str) -> R<MembershipRecord> {
        self.store
            .get_membership(store_id, id)
            .await?
            .ok_or_else(|| not_found("Membership", id))
    }

    pub(super) async fn create_membership(
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
        self.user(store_id, user).await?;
        let by = caller.arn(&self.deployment.partition);
        let rec = new_membership(store_id, group, user, meta.now.timestamp(), by);
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

    pub(super) async fn describe_membership(
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
        let m = self.membership(store_id, id).await?;
        let params = json!({"identityStoreId": store_id, "membershipId": id});
        Ok(Reply {
            body: Body::Json(describe_membership(&m)),
            details: self.details(caller, store_id, params, true),
        })
    }

    pub(super) async fn delete_membership(
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
        let m = self.membership(store_id, id).await?;
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

    pub(super) async fn get_membership_id(
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

    pub(super) async fn list_group_memberships(
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

    pub(super) async fn list_memberships_for_member(
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
        self.user(store_id, user).await?;
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

    pub(super) async fn is_member_in_groups(
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
}
