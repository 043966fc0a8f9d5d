//! The user and group writes the identitystore API and SCIM share: the record a new or
//! changed user (or a new membership) becomes, and each write to the store followed by the same change to the
//! directory view. Each caller turns the outcome into its own protocol's error.

use super::attributes::{has_external_id, primary_email};
use super::fields::new_id;
use serde_json::{Map, Value};
use tessera_authz::directory::{DirectoryChange, DirectoryView};
use tessera_store::{IdentityCenterStore, IdentityUserRecord, MembershipRecord, StoreError};

/// How a user write went, when the store did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// Written, and folded into the directory view.
    Done,
    /// The user is not there (an update only).
    Missing,
    /// Another user has that user name.
    Duplicate,
}

/// A new user of `store_id`, created and last changed by `by` at `now`.
pub(crate) fn new_user(
    store_id: &str,
    user_name: String,
    attrs: Map<String, Value>,
    now: i64,
    by: String,
) -> IdentityUserRecord {
    IdentityUserRecord {
        identity_store_id: store_id.to_owned(),
        user_id: new_id(),
        user_name,
        email_key: primary_email(&attrs),
        attributes: Value::Object(attrs).to_string(),
        created_at: now,
        created_by: by.clone(),
        updated_at: now,
        updated_by: by,
    }
}

/// `u` with a new user name and attributes, changed by `by` at `now`.
pub(crate) fn changed_user(
    u: IdentityUserRecord,
    user_name: String,
    attrs: Map<String, Value>,
    now: i64,
    by: String,
) -> IdentityUserRecord {
    IdentityUserRecord {
        user_name,
        email_key: primary_email(&attrs),
        attributes: Value::Object(attrs).to_string(),
        updated_at: now,
        updated_by: by,
        ..u
    }
}

/// A new membership of `user_id` in `group_id` (of `store_id`), made by `by` at `now`.
pub(crate) fn new_membership(
    store_id: &str,
    group_id: &str,
    user_id: &str,
    now: i64,
    by: String,
) -> MembershipRecord {
    MembershipRecord {
        identity_store_id: store_id.to_owned(),
        membership_id: new_id(),
        group_id: group_id.to_owned(),
        user_id: user_id.to_owned(),
        created_at: now,
        created_by: by,
    }
}

/// Does the user carry this `ExternalIds` entry?
pub(crate) fn user_has_external_id(u: &IdentityUserRecord, issuer: &str, id: &str) -> bool {
    let attrs: Value = serde_json::from_str(&u.attributes).unwrap_or_default();
    has_external_id(attrs.get("ExternalIds"), issuer, id)
}

/// Store a new user, then add it to the directory view.
pub(crate) async fn create_user(
    store: &dyn IdentityCenterStore,
    directory: &DirectoryView,
    rec: &IdentityUserRecord,
) -> Result<Written, StoreError> {
    match store.create_identity_user(rec).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Ok(Written::Duplicate),
        Err(e) => return Err(e),
    }
    directory.write(DirectoryChange::User(rec.clone())).await?;
    Ok(Written::Done)
}

/// Store a changed user, then change it in the directory view.
pub(crate) async fn update_user(
    store: &dyn IdentityCenterStore,
    directory: &DirectoryView,
    rec: &IdentityUserRecord,
) -> Result<Written, StoreError> {
    match store.update_identity_user(rec).await {
        Ok(true) => {}
        Ok(false) => return Ok(Written::Missing),
        Err(StoreError::Conflict) => return Ok(Written::Duplicate),
        Err(e) => return Err(e),
    }
    directory.write(DirectoryChange::User(rec.clone())).await?;
    Ok(Written::Done)
}

/// Delete a user (false: there was none), then drop it from the directory view.
pub(crate) async fn delete_user(
    store: &dyn IdentityCenterStore,
    directory: &DirectoryView,
    store_id: &str,
    user_id: &str,
) -> Result<bool, StoreError> {
    if !store.delete_identity_user(store_id, user_id).await? {
        return Ok(false);
    }
    directory
        .write(DirectoryChange::UserDeleted(user_id.to_owned()))
        .await?;
    Ok(true)
}

/// Delete a group (false: there was none), then drop it from the directory view.
pub(crate) async fn delete_group(
    store: &dyn IdentityCenterStore,
    directory: &DirectoryView,
    store_id: &str,
    group_id: &str,
) -> Result<bool, StoreError> {
    if !store.delete_identity_group(store_id, group_id).await? {
        return Ok(false);
    }
    directory
        .write(DirectoryChange::GroupDeleted(group_id.to_owned()))
        .await?;
    Ok(true)
}
