//! SCIM `/Users`: read, create, replace and list (with filters) users of the identity store.

use super::documents::{user_from_scim, user_to_scim};
use super::query::{Term, filter_of, list_response, paging, project};
use super::{BY, ENTERPRISE, ENTERPRISE_KEY, R, SCIM_ISSUER, ScimError, ScimService};
use crate::identity_store::writes::{self, Written, changed_user, new_user, user_has_external_id};
use serde_json::Value;
use tessera_store::IdentityUserRecord;

/// Another user of the identity store has the user name.
fn duplicate_user_name() -> ScimError {
    ScimError::new(409, Some("uniqueness"), "Duplicate userName.")
}

impl ScimService {
    pub(super) async fn user(&self, store: &str, id: &str) -> R<IdentityUserRecord> {
        self.store
            .get_identity_user(store, id)
            .await?
            .ok_or_else(|| ScimError::not_found(format!("User {id} does not exist.")))
    }

    pub(super) async fn create_user(
        &self,
        store: &str,
        doc: &Value,
        now: i64,
    ) -> R<IdentityUserRecord> {
        let (name, attrs) = user_from_scim(doc)?;
        let rec = new_user(store, name, attrs, now, BY.into());
        match writes::create_user(&*self.store, &self.directory, &rec).await? {
            Written::Duplicate => Err(duplicate_user_name()),
            _ => Ok(rec),
        }
    }

    pub(super) async fn replace_user(
        &self,
        u: IdentityUserRecord,
        doc: &Value,
        now: i64,
    ) -> R<IdentityUserRecord> {
        let (name, attrs) = user_from_scim(doc)?;
        let rec = changed_user(u, name, attrs, now, BY.into());
        match writes::update_user(&*self.store, &self.directory, &rec).await? {
            Written::Done => Ok(rec),
            Written::Missing => Err(ScimError::not_found(format!(
                "User {} does not exist.",
                rec.user_id
            ))),
            Written::Duplicate => Err(duplicate_user_name()),
        }
    }

    pub(super) async fn list_users(
        &self,
        store: &str,
        q: &[(String, String)],
        base: &str,
    ) -> R<Value> {
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
            user_has_external_id(u, SCIM_ISSUER, &t.value)
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
}
