//! identitystore users: CreateUser, DescribeUser, ListUsers, DeleteUser, GetUserId, UpdateUser.

use super::attributes::{attributes, describe, keep_provisioned, user_name};
use super::fields::{
    Alternate, USER_PATHS, alternate_identifier, apply, filters, operations, user_id,
};
use super::writes::{self, Written, changed_user, new_user, user_has_external_id};
use super::{IdentityStoreService, R, not_found};
use crate::IdentityCenterError;
use crate::request::Paging;
use serde_json::{Map, Value, json};
use tessera_audit::HIDDEN;
use tessera_core::{Caller, RequestMeta};
use tessera_service::{Body, Reply};
use tessera_store::IdentityUserRecord;
use tessera_wire::CommonError;

impl IdentityStoreService {
    /// A user of the identity store, or the error that it does not exist.
    pub(super) async fn user(&self, store_id: &str, id: &str) -> R<IdentityUserRecord> {
        self.store
            .get_identity_user(store_id, id)
            .await?
            .ok_or_else(|| not_found("User", id))
    }

    pub(super) async fn create_user(
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
        let by = caller.arn(&self.deployment.partition);
        let rec = new_user(store_id, name.to_owned(), attrs, meta.now.timestamp(), by);
        if writes::create_user(&*self.store, &self.directory, &rec).await? == Written::Duplicate {
            return Err(IdentityCenterError::Uniqueness("Duplicate UserName".into()));
        }
        // User attributes are personal data: like CloudTrail, the audit record hides them.
        let params = json!({"identityStoreId": store_id, "userName": HIDDEN, "name": HIDDEN, "displayName": HIDDEN});
        let mut details = self.details(caller, store_id, params, false);
        details.response_elements = json!({"identityStoreId": store_id, "userId": rec.user_id});
        Ok(Reply {
            body: Body::Json(json!({"IdentityStoreId": store_id, "UserId": rec.user_id})),
            details,
        })
    }

    pub(super) async fn describe_user(
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
        let u = self.user(store_id, id).await?;
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

    pub(super) async fn list_users(
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

    pub(super) async fn delete_user(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        store_id: &str,
        doc: &Value,
    ) -> R<Reply> {
        let id = user_id(doc)?;
        self.allow(caller, meta, "identitystore:DeleteUser", &self.user_arn(id))?;
        self.owned_store(caller, store_id).await?;
        if !writes::delete_user(&*self.store, &self.directory, store_id, id).await? {
            return Err(not_found("User", id));
        }
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

    pub(super) async fn get_user_id(
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
                .find(|u| user_has_external_id(u, issuer, id)),
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

    pub(super) async fn update_user(
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
        let u = self.user(store_id, id).await?;
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
        let by = caller.arn(&self.deployment.partition);
        let rec = changed_user(u, name, attrs, meta.now.timestamp(), by);
        match writes::update_user(&*self.store, &self.directory, &rec).await? {
            Written::Done => {}
            Written::Missing => return Err(not_found("User", id)),
            Written::Duplicate => {
                return Err(IdentityCenterError::Uniqueness("Duplicate UserName".into()));
            }
        }
        let params = json!({"identityStoreId": store_id, "userId": id, "operations": HIDDEN});
        Ok(Reply {
            body: Body::Json(json!({})),
            details: self.details(caller, store_id, params, false),
        })
    }
}
