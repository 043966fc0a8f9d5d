//! identitystore groups: CreateGroup, DescribeGroup, ListGroups, DeleteGroup, GetGroupId,
//! UpdateGroup.

use super::attributes::{describe_group, has_external_id};
use super::fields::{
    Alternate, GROUP_PATHS, alternate_identifier, apply, filters, new_id, operations, resource_id,
    text,
};
use super::writes;
use super::{IdentityStoreService, R, invalid, not_found, required};
use crate::IdentityCenterError;
use crate::request::Paging;
use serde_json::{Value, json};
use tessera_audit::HIDDEN;
use tessera_core::{Caller, RequestMeta};
use tessera_service::{Body, Reply};
use tessera_store::{IdentityGroupRecord, StoreError};
use tessera_wire::CommonError;

impl IdentityStoreService {
    pub(super) async fn create_group(
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

    pub(super) async fn group(&self, store_id: &str, id: &str) -> R<IdentityGroupRecord> {
        self.store
            .get_identity_group(store_id, id)
            .await?
            .ok_or_else(|| not_found("Group", id))
    }

    pub(super) async fn describe_group(
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

    pub(super) async fn list_groups(
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

    pub(super) async fn delete_group(
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
        if !writes::delete_group(&*self.store, &self.directory, store_id, id).await? {
            return Err(not_found("Group", id));
        }
        let params = json!({"identityStoreId": store_id, "groupId": id});
        Ok(Reply {
            body: Body::Json(json!({})),
            details: self.details(caller, store_id, params, false),
        })
    }

    pub(super) async fn get_group_id(
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

    pub(super) async fn update_group(
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
