//! The IAM principal view: every role and user with its parsed policies, and every managed
//! policy, as one immutable snapshot on the generic replicated-view mechanism
//! ([`tessera_store::view`]).
//!
//! Authorising a request reads only this snapshot, never the store. A full load reads each
//! IAM table once ([`IamStore::iam_tables`]); an IAM write on this replica reads back only the
//! entity it changed ([`PrincipalView::role_changed`], …) and folds it in, so a write costs
//! the same with ten roles or ten thousand. Other replicas reload when the `iam` change
//! counter moves (within a second, via the server's refresher).

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use tessera_policy::{Policy, PolicyKind};
use tessera_store::view::{Projection, Refresh, View};
use tessera_store::{
    ChangeCounters, IamStore, ManagedPolicyRecord, RoleRecord, StoreError, UserRecord, name_key,
};

/// The change counter every write to roles, users and managed policies bumps.
pub const IAM_COUNTER: &str = "iam";

/// A role with its parsed trust policy, identity policies (inline + attached) and boundary.
#[derive(Debug)]
pub struct RoleEntry {
    pub record: RoleRecord,
    pub trust: Option<Policy>,
    pub identity: Vec<Policy>,
    /// What each of `identity` is, for explanations: `inline policy NAME` or a managed
    /// policy's ARN.
    pub identity_names: Vec<String>,
    pub boundary: Option<Policy>,
}

/// A user with its parsed inline policies and boundary.
#[derive(Debug)]
pub struct UserEntry {
    pub record: UserRecord,
    pub identity: Vec<Policy>,
    /// What each of `identity` is (see [`RoleEntry::identity_names`]).
    pub identity_names: Vec<String>,
    pub boundary: Option<Policy>,
}

/// A managed policy and its parsed document (`None` if it no longer parses).
pub type ManagedEntry = (ManagedPolicyRecord, Option<Policy>);

type Key = (String, String);

/// One immutable view of every IAM principal. Persistent maps: a changed entity makes a new
/// snapshot in O(log n), sharing everything else with the old one.
#[derive(Debug, Default, Clone)]
pub struct Principals {
    roles: imbl::HashMap<Key, Arc<RoleEntry>>,
    users: imbl::HashMap<Key, Arc<UserEntry>>,
    managed: imbl::HashMap<String, Arc<ManagedEntry>>,
}

/// One entity as it now is in the store (`None`: it was deleted), read back after a write.
#[derive(Debug, Clone)]
pub enum PrincipalChange {
    Role {
        account: String,
        name: String,
        entry: Option<Arc<RoleEntry>>,
    },
    User {
        account: String,
        name: String,
        entry: Option<Arc<UserEntry>>,
    },
    Managed {
        arn: String,
        entry: Option<Arc<ManagedEntry>>,
    },
}

fn parse_stored(doc: &str, kind: PolicyKind, what: &str) -> Option<Policy> {
    // Stored documents were validated when written; one that no longer parses is ignored,
    // which can only remove permissions.
    match Policy::parse_with_limit(doc, kind, None) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(policy = what, error = %e, "ignoring stored policy that does not parse");
            None
        }
    }
}

fn managed_entry(mp: ManagedPolicyRecord) -> Arc<ManagedEntry> {
    let parsed = parse_stored(&mp.document, PolicyKind::Identity, &mp.arn);
    Arc::new((mp, parsed))
}

fn boundary_of(
    managed: &imbl::HashMap<String, Arc<ManagedEntry>>,
    arn: &Option<String>,
) -> Option<Policy> {
    let m = managed.get(arn.as_ref()?)?;
    parse_stored(&m.0.document, PolicyKind::PermissionsBoundary, &m.0.arn)
}

fn role_entry(
    r: RoleRecord,
    inline: impl IntoIterator<Item = (String, String)>,
    attached: impl IntoIterator<Item = ManagedPolicyRecord>,
    managed: &imbl::HashMap<String, Arc<ManagedEntry>>,
) -> RoleEntry {
    let mut identity = Vec::new();
    let mut identity_names = Vec::new();
    for (n, doc) in inline {
        if let Some(p) = parse_stored(&doc, PolicyKind::Identity, &n) {
            identity.push(p);
            identity_names.push(format!("inline policy {n}"));
        }
    }
    for mp in attached {
        if let Some(p) = parse_stored(&mp.document, PolicyKind::Identity, &mp.arn) {
            identity.push(p);
            identity_names.push(mp.arn);
        }
    }
    let mut trust = parse_stored(&r.trust_policy, PolicyKind::Trust, &r.name);
    // Principals were resolved to unique ids when the policy was saved: bind them, so a user
    // or role re-created under the same name is not trusted.
    if let (Some(t), Some(ids)) = (trust.as_mut(), r.trust_principal_ids.as_deref()) {
        t.bind_principal_ids(|arn| ids.iter().find(|(a, _)| a == arn).map(|(_, id)| id.clone()));
    }
    let boundary = boundary_of(managed, &r.permissions_boundary);
    RoleEntry {
        record: r,
        trust,
        identity,
        identity_names,
        boundary,
    }
}

fn user_entry(
    u: UserRecord,
    inline: impl IntoIterator<Item = (String, String)>,
    managed: &imbl::HashMap<String, Arc<ManagedEntry>>,
) -> UserEntry {
    let mut identity = Vec::new();
    let mut identity_names = Vec::new();
    for (n, doc) in inline {
        if let Some(p) = parse_stored(&doc, PolicyKind::Identity, &n) {
            identity.push(p);
            identity_names.push(format!("inline policy {n}"));
        }
    }
    let boundary = boundary_of(managed, &u.permissions_boundary);
    UserEntry {
        record: u,
        identity,
        identity_names,
        boundary,
    }
}

/// How the principal view is loaded from the IAM tables.
#[derive(Debug, Clone)]
pub struct PrincipalProjection {
    store: Arc<dyn IamStore>,
}

#[async_trait]
impl Projection for PrincipalProjection {
    type Snapshot = Principals;
    type Change = PrincipalChange;

    const NAME: &'static str = "iam-principals";
    const COUNTER: &'static str = IAM_COUNTER;

    async fn load(&self) -> Result<Principals, StoreError> {
        let t = self.store.iam_tables().await?;
        let mut managed = imbl::HashMap::new();
        for mp in t.managed_policies {
            managed.insert(mp.arn.clone(), managed_entry(mp));
        }
        let mut role_inline: HashMap<Key, Vec<(String, String)>> = HashMap::new();
        for p in t.role_policies {
            role_inline
                .entry((p.account_id, p.owner_key))
                .or_default()
                .push((p.name, p.document));
        }
        let mut role_attached: HashMap<Key, Vec<ManagedPolicyRecord>> = HashMap::new();
        for a in t.role_attachments {
            if let Some(m) = managed.get(&a.policy_arn) {
                role_attached
                    .entry((a.account_id, a.role_key))
                    .or_default()
                    .push(m.0.clone());
            }
        }
        let mut user_inline: HashMap<Key, Vec<(String, String)>> = HashMap::new();
        for p in t.user_policies {
            user_inline
                .entry((p.account_id, p.owner_key))
                .or_default()
                .push((p.name, p.document));
        }
        let mut roles = imbl::HashMap::new();
        for r in t.roles {
            let key = (r.account_id.clone(), name_key(&r.name));
            let inline = role_inline.remove(&key).unwrap_or_default();
            let attached = role_attached.remove(&key).unwrap_or_default();
            roles.insert(key, Arc::new(role_entry(r, inline, attached, &managed)));
        }
        let mut users = imbl::HashMap::new();
        for u in t.users {
            let key = (u.account_id.clone(), name_key(&u.name));
            let inline = user_inline.remove(&key).unwrap_or_default();
            users.insert(key, Arc::new(user_entry(u, inline, &managed)));
        }
        Ok(Principals {
            roles,
            users,
            managed,
        })
    }

    fn apply(&self, s: &Principals, change: &PrincipalChange) -> Principals {
        let mut next = s.clone();
        match change {
            PrincipalChange::Role {
                account,
                name,
                entry,
            } => {
                let key = (account.clone(), name_key(name));
                match entry {
                    Some(e) => next.roles.insert(key, e.clone()),
                    None => next.roles.remove(&key),
                };
            }
            PrincipalChange::User {
                account,
                name,
                entry,
            } => {
                let key = (account.clone(), name_key(name));
                match entry {
                    Some(e) => next.users.insert(key, e.clone()),
                    None => next.users.remove(&key),
                };
            }
            PrincipalChange::Managed { arn, entry } => {
                match entry {
                    Some(e) => next.managed.insert(arn.clone(), e.clone()),
                    None => next.managed.remove(arn),
                };
            }
        }
        next
    }
}

/// The replicated view of IAM principals.
#[derive(Debug)]
pub struct PrincipalView {
    view: View<PrincipalProjection>,
    store: Arc<dyn IamStore>,
}

impl PrincipalView {
    /// Load the view from the store.
    pub async fn load(
        store: Arc<dyn IamStore>,
        counters: Arc<dyn ChangeCounters>,
    ) -> Result<PrincipalView, StoreError> {
        let projection = PrincipalProjection {
            store: store.clone(),
        };
        Ok(PrincipalView {
            view: View::load(projection, counters).await?,
            store,
        })
    }

    /// The generic view underneath (for the refresher).
    pub fn view(&self) -> &View<PrincipalProjection> {
        &self.view
    }

    /// The current snapshot: one consistent view for a whole decision.
    pub fn snapshot(&self) -> Arc<Principals> {
        self.view.get()
    }

    pub fn role(&self, account: &str, name: &str) -> Option<Arc<RoleEntry>> {
        self.snapshot().role(account, name)
    }

    pub fn user(&self, account: &str, name: &str) -> Option<Arc<UserEntry>> {
        self.snapshot().user(account, name)
    }

    pub fn managed_policy(&self, arn: &str) -> Option<Arc<ManagedEntry>> {
        self.snapshot().managed_policy(arn)
    }

    /// Reload if the `iam` counter moved (see [`View::refresh`]).
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        self.view.refresh().await
    }

    /// Load everything afresh.
    pub async fn reload(&self) -> Result<(), StoreError> {
        self.view.reload().await
    }

    /// A role (its record, inline policies or attachments) was written on this replica:
    /// read it back (three small queries) and fold it in.
    pub async fn role_changed(&self, account: &str, name: &str) -> Result<(), StoreError> {
        let entry = match self.store.get_role(account, name).await? {
            None => None,
            Some(r) => {
                let inline = self.store.list_role_policies(account, name).await?;
                let attached = self
                    .store
                    .list_attached_role_policies(account, name)
                    .await?;
                Some(Arc::new(role_entry(
                    r,
                    inline,
                    attached,
                    &self.snapshot().managed,
                )))
            }
        };
        self.view
            .write(PrincipalChange::Role {
                account: account.to_owned(),
                name: name.to_owned(),
                entry,
            })
            .await
    }

    /// A user (its record or inline policies) was written on this replica.
    pub async fn user_changed(&self, account: &str, name: &str) -> Result<(), StoreError> {
        let entry = match self.store.get_user(account, name).await? {
            None => None,
            Some(u) => {
                let inline = self.store.list_user_policies(account, name).await?;
                Some(Arc::new(user_entry(u, inline, &self.snapshot().managed)))
            }
        };
        self.view
            .write(PrincipalChange::User {
                account: account.to_owned(),
                name: name.to_owned(),
                entry,
            })
            .await
    }

    /// A managed policy was created or deleted on this replica.
    pub async fn managed_changed(&self, arn: &str) -> Result<(), StoreError> {
        let entry = self.store.get_managed_policy(arn).await?.map(managed_entry);
        self.view
            .write(PrincipalChange::Managed {
                arn: arn.to_owned(),
                entry,
            })
            .await
    }
}

#[async_trait]
impl Refresh for PrincipalView {
    fn name(&self) -> &'static str {
        <PrincipalProjection as Projection>::NAME
    }

    async fn refresh(&self) -> Result<bool, StoreError> {
        self.view.refresh().await
    }
}

impl Principals {
    pub fn role(&self, account: &str, name: &str) -> Option<Arc<RoleEntry>> {
        self.roles
            .get(&(account.to_owned(), name_key(name)))
            .cloned()
    }

    pub fn user(&self, account: &str, name: &str) -> Option<Arc<UserEntry>> {
        self.users
            .get(&(account.to_owned(), name_key(name)))
            .cloned()
    }

    /// A managed policy and its parsed document.
    pub fn managed_policy(&self, arn: &str) -> Option<Arc<ManagedEntry>> {
        self.managed.get(arn).cloned()
    }

    pub fn role_count(&self) -> usize {
        self.roles.len()
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The unique id of the user (`kind` = `user`) or role with exactly this path and name.
    pub fn entity_id(&self, account: &str, kind: &str, path: &str, name: &str) -> Option<String> {
        if kind == "user" {
            self.user(account, name)
                .filter(|u| u.record.path == path && u.record.name == name)
                .map(|u| u.record.user_id.clone())
        } else {
            self.role(account, name)
                .filter(|r| r.record.path == path && r.record.name == name)
                .map(|r| r.record.role_id.clone())
        }
    }
}
