//! The identity-store directory as a replicated view: users (by id, by user name, by primary
//! email) and group memberships, for every identity store. The token endpoint maps an
//! assertion to a user and checks assignments with it; Access Grants will resolve
//! `DIRECTORY_USER` / `DIRECTORY_GROUP` grants with it. It lives in the kernel so that those
//! services read it without depending on each other. The identitystore API and SCIM fold
//! every write into it ([`DirectoryView::write`]).

use async_trait::async_trait;
use imbl::{HashMap, OrdSet, Vector};
use std::sync::Arc;
use tessera_store::view::{Projection, View};
use tessera_store::{
    ChangeCounters, IdentityCenterStore, IdentityUserRecord, MembershipRecord, StoreError,
};

/// The change counter every identity-store write bumps.
pub const DIRECTORY_COUNTER: &str = "identity-store";

/// One immutable snapshot of every identity store.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    users: HashMap<String, Arc<IdentityUserRecord>>,
    /// (identity store, lower-case user name) → user id.
    by_name: HashMap<(String, String), String>,
    /// (identity store, lower-case primary email) → user ids.
    by_email: HashMap<(String, String), Vector<String>>,
    /// identity store → its user ids.
    by_store: HashMap<String, OrdSet<String>>,
    /// user id → group ids.
    groups_of: HashMap<String, OrdSet<String>>,
    /// group id → user ids.
    members_of: HashMap<String, OrdSet<String>>,
}

impl Directory {
    /// The user with this id in this identity store.
    pub fn user(&self, store: &str, user_id: &str) -> Option<&IdentityUserRecord> {
        self.users
            .get(user_id)
            .map(|u| u.as_ref())
            .filter(|u| u.identity_store_id == store)
    }

    /// The user, if it is active: not deactivated by provisioning (SCIM `active: false`).
    pub fn active_user(&self, store: &str, user_id: &str) -> Option<&IdentityUserRecord> {
        self.user(store, user_id).filter(|u| is_active(u))
    }

    /// The user with this name (compared without regard to case).
    pub fn user_by_name(&self, store: &str, name: &str) -> Option<&IdentityUserRecord> {
        let id = self.by_name.get(&(store.to_owned(), name.to_lowercase()))?;
        self.user(store, id)
    }

    /// The users whose primary email is this address (compared without regard to case).
    pub fn users_by_email(&self, store: &str, email: &str) -> Vec<&IdentityUserRecord> {
        self.by_email
            .get(&(store.to_owned(), email.to_lowercase()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.user(store, id))
            .collect()
    }

    /// Every user of an identity store, ordered by id.
    pub fn users(&self, store: &str) -> impl Iterator<Item = &IdentityUserRecord> {
        self.by_store
            .get(store)
            .into_iter()
            .flatten()
            .filter_map(move |id| self.user(store, id))
    }

    /// The groups a user is a member of.
    pub fn groups_of(&self, user_id: &str) -> impl Iterator<Item = &String> {
        self.groups_of.get(user_id).into_iter().flatten()
    }

    pub fn is_member(&self, user_id: &str, group_id: &str) -> bool {
        self.groups_of
            .get(user_id)
            .is_some_and(|g| g.contains(group_id))
    }

    fn remove_user(&mut self, user_id: &str) {
        let Some(old) = self.users.remove(user_id) else {
            return;
        };
        let store = old.identity_store_id.clone();
        self.by_name
            .remove(&(store.clone(), old.user_name.to_lowercase()));
        if let Some(e) = &old.email_key {
            let k = (store.clone(), e.clone());
            if let Some(ids) = self.by_email.get(&k) {
                let rest: Vector<String> = ids.iter().filter(|i| *i != user_id).cloned().collect();
                if rest.is_empty() {
                    self.by_email.remove(&k);
                } else {
                    self.by_email.insert(k, rest);
                }
            }
        }
        if let Some(mut ids) = self.by_store.get(&store).cloned() {
            ids.remove(user_id);
            self.by_store.insert(store, ids);
        }
    }

    fn put_user(&mut self, u: IdentityUserRecord) {
        self.remove_user(&u.user_id);
        let store = u.identity_store_id.clone();
        self.by_name.insert(
            (store.clone(), u.user_name.to_lowercase()),
            u.user_id.clone(),
        );
        if let Some(e) = &u.email_key {
            let k = (store.clone(), e.clone());
            let mut ids = self.by_email.get(&k).cloned().unwrap_or_default();
            ids.push_back(u.user_id.clone());
            self.by_email.insert(k, ids);
        }
        let mut ids = self.by_store.get(&store).cloned().unwrap_or_default();
        ids.insert(u.user_id.clone());
        self.by_store.insert(store, ids);
        self.users.insert(u.user_id.clone(), Arc::new(u));
    }

    fn set_membership(&mut self, user: &str, group: &str, present: bool) {
        let mut groups = self.groups_of.get(user).cloned().unwrap_or_default();
        let mut members = self.members_of.get(group).cloned().unwrap_or_default();
        if present {
            groups.insert(group.to_owned());
            members.insert(user.to_owned());
        } else {
            groups.remove(group);
            members.remove(user);
        }
        self.groups_of.insert(user.to_owned(), groups);
        self.members_of.insert(group.to_owned(), members);
    }
}

/// Is a user active? Users are, unless provisioning set `active: false` (kept as `Active` in
/// the attribute document).
pub fn is_active(u: &IdentityUserRecord) -> bool {
    serde_json::from_str::<serde_json::Value>(&u.attributes)
        .map(|a| a["Active"] != serde_json::Value::Bool(false))
        .unwrap_or(true)
}

/// An identity-store write, as read back from the store.
#[derive(Debug, Clone)]
pub enum DirectoryChange {
    /// A user created or updated.
    User(IdentityUserRecord),
    /// A user deleted (its memberships with it).
    UserDeleted(String),
    Membership(MembershipRecord),
    MembershipDeleted {
        user_id: String,
        group_id: String,
    },
    /// A group deleted (its memberships with it).
    GroupDeleted(String),
}

pub struct DirectoryProjection {
    store: Arc<dyn IdentityCenterStore>,
}

#[async_trait]
impl Projection for DirectoryProjection {
    type Snapshot = Directory;
    type Change = DirectoryChange;

    const NAME: &'static str = "identity-store";
    const COUNTER: &'static str = DIRECTORY_COUNTER;

    async fn load(&self) -> Result<Directory, StoreError> {
        let t = self.store.directory_tables().await?;
        let mut d = Directory::default();
        for u in t.users {
            d.put_user(u);
        }
        for m in t.memberships {
            d.set_membership(&m.user_id, &m.group_id, true);
        }
        Ok(d)
    }

    fn apply(&self, d: &Directory, change: &DirectoryChange) -> Directory {
        d.with(change)
    }
}

impl Directory {
    /// This snapshot with `change` folded in.
    pub fn with(&self, change: &DirectoryChange) -> Directory {
        let mut d = self.clone();
        match change {
            DirectoryChange::User(u) => d.put_user(u.clone()),
            DirectoryChange::UserDeleted(id) => {
                d.remove_user(id);
                let groups: Vec<String> = d.groups_of(id).cloned().collect();
                for g in groups {
                    d.set_membership(id, &g, false);
                }
                d.groups_of.remove(id);
            }
            DirectoryChange::Membership(m) => d.set_membership(&m.user_id, &m.group_id, true),
            DirectoryChange::MembershipDeleted { user_id, group_id } => {
                d.set_membership(user_id, group_id, false)
            }
            DirectoryChange::GroupDeleted(g) => {
                let users: Vec<String> =
                    d.members_of.get(g).into_iter().flatten().cloned().collect();
                for u in users {
                    d.set_membership(&u, g, false);
                }
                d.members_of.remove(g);
            }
        }
        d
    }
}

pub type DirectoryView = View<DirectoryProjection>;

pub async fn load_view(
    store: Arc<dyn IdentityCenterStore>,
    counters: Arc<dyn ChangeCounters>,
) -> Result<DirectoryView, StoreError> {
    View::load(DirectoryProjection { store }, counters).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str, email: Option<&str>) -> IdentityUserRecord {
        IdentityUserRecord {
            identity_store_id: "d-1".into(),
            user_id: id.into(),
            user_name: name.into(),
            email_key: email.map(str::to_owned),
            attributes: "{}".into(),
            created_at: 0,
            created_by: String::new(),
            updated_at: 0,
            updated_by: String::new(),
        }
    }

    #[test]
    fn indexes_follow_updates_and_deletes() {
        let mut d = Directory::default();
        d = d.with(&DirectoryChange::User(user("u1", "Mateo", Some("m@x"))));
        d = d.with(&DirectoryChange::User(user("u2", "eve", Some("m@x"))));
        assert_eq!(d.user_by_name("d-1", "MATEO").unwrap().user_id, "u1");
        assert_eq!(d.users_by_email("d-1", "M@X").len(), 2);
        assert!(d.user_by_name("d-2", "mateo").is_none());
        // Renamed and re-addressed: the old keys are gone.
        d = d.with(&DirectoryChange::User(user("u1", "mateo.j", Some("mj@x"))));
        assert!(d.user_by_name("d-1", "mateo").is_none());
        assert_eq!(d.users_by_email("d-1", "m@x").len(), 1);
        let m = MembershipRecord {
            identity_store_id: "d-1".into(),
            membership_id: "m1".into(),
            group_id: "g1".into(),
            user_id: "u1".into(),
            created_at: 0,
            created_by: String::new(),
        };
        d = d.with(&DirectoryChange::Membership(m));
        assert!(d.is_member("u1", "g1"));
        d = d.with(&DirectoryChange::GroupDeleted("g1".into()));
        assert!(!d.is_member("u1", "g1"));
        d = d.with(&DirectoryChange::UserDeleted("u1".into()));
        assert!(d.user("d-1", "u1").is_none());
        assert_eq!(d.users("d-1").count(), 1);
    }
}
