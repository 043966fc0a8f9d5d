//! The in-memory IAM directory: every role and user with its parsed policies, and every
//! managed policy, held as one immutable snapshot and swapped whole on reload.
//!
//! Authorising a request reads only this snapshot, never the store. Writes on this replica
//! bump the store's `iam` change counter and reload at once (read-your-writes); other replicas
//! notice the counter change when they [`Directory::refresh`] (the server polls every second).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tessera_policy::{Policy, PolicyKind};
use tessera_store::{ManagedPolicyRecord, RoleRecord, Store, StoreError, UserRecord, name_key};

/// A role with its parsed trust policy, identity policies (inline + attached) and boundary.
#[derive(Debug)]
pub struct RoleEntry {
    pub record: RoleRecord,
    pub trust: Option<Policy>,
    pub identity: Vec<Policy>,
    pub boundary: Option<Policy>,
}

/// A user with its parsed inline policies and boundary.
#[derive(Debug)]
pub struct UserEntry {
    pub record: UserRecord,
    pub identity: Vec<Policy>,
    pub boundary: Option<Policy>,
}

/// One immutable view of the whole directory.
#[derive(Debug, Default)]
pub struct Snapshot {
    generation: i64,
    roles: HashMap<(String, String), Arc<RoleEntry>>,
    users: HashMap<(String, String), Arc<UserEntry>>,
    managed: HashMap<String, Arc<(ManagedPolicyRecord, Option<Policy>)>>,
}

#[derive(Debug)]
pub struct Directory {
    store: Arc<dyn Store>,
    snapshot: RwLock<Arc<Snapshot>>,
    reload: tokio::sync::Mutex<()>,
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

impl Directory {
    /// Build the directory from the store.
    pub async fn load(store: Arc<dyn Store>) -> Result<Directory, StoreError> {
        let d = Directory {
            store,
            snapshot: RwLock::new(Arc::new(Snapshot {
                generation: -1,
                ..Snapshot::default()
            })),
            reload: tokio::sync::Mutex::new(()),
        };
        d.reload().await?;
        Ok(d)
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reload if the store's change counter moved since the last load. Returns whether it did.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let g = self.store.generation("iam").await?;
        if g == self.current().generation {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    /// Note a local write (bump the change counter) and reload.
    pub async fn changed(&self) -> Result<(), StoreError> {
        // Reload here even if the bump fails, so this replica never keeps a stale snapshot;
        // other replicas also reload periodically in full (see `tessera-server`).
        let bumped = self.store.bump_generation("iam").await;
        self.reload().await?;
        bumped.map(|_| ())
    }

    /// Load everything afresh.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.reload.lock().await;
        // Read the counter first: a write that lands during the load bumps it again, and the
        // next refresh reloads.
        let generation = self.store.generation("iam").await?;
        let mut snap = Snapshot {
            generation,
            ..Snapshot::default()
        };
        for acct in self.store.list_accounts().await? {
            for mp in self.store.list_managed_policies(&acct).await? {
                let parsed = parse_stored(&mp.document, PolicyKind::Identity, &mp.arn);
                snap.managed.insert(mp.arn.clone(), Arc::new((mp, parsed)));
            }
            let boundary_of = |arn: &Option<String>| {
                arn.as_ref()
                    .and_then(|a| snap.managed.get(a))
                    .and_then(|m| {
                        parse_stored(&m.0.document, PolicyKind::PermissionsBoundary, &m.0.arn)
                    })
            };
            let mut roles = Vec::new();
            for r in self.store.list_roles(&acct).await? {
                let mut identity = Vec::new();
                for (n, doc) in self.store.list_role_policies(&acct, &r.name).await? {
                    identity.extend(parse_stored(&doc, PolicyKind::Identity, &n));
                }
                for mp in self
                    .store
                    .list_attached_role_policies(&acct, &r.name)
                    .await?
                {
                    identity.extend(parse_stored(&mp.document, PolicyKind::Identity, &mp.arn));
                }
                let mut trust = parse_stored(&r.trust_policy, PolicyKind::Trust, &r.name);
                // Principals were resolved to unique ids when the policy was saved: bind them,
                // so a user or role re-created under the same name is not trusted.
                if let (Some(t), Some(ids)) = (trust.as_mut(), r.trust_principal_ids.as_deref()) {
                    t.bind_principal_ids(|arn| {
                        ids.iter().find(|(a, _)| a == arn).map(|(_, id)| id.clone())
                    });
                }
                let boundary = boundary_of(&r.permissions_boundary);
                roles.push(RoleEntry {
                    record: r,
                    trust,
                    identity,
                    boundary,
                });
            }
            let mut users = Vec::new();
            for u in self.store.list_users(&acct).await? {
                let mut identity = Vec::new();
                for (n, doc) in self.store.list_user_policies(&acct, &u.name).await? {
                    identity.extend(parse_stored(&doc, PolicyKind::Identity, &n));
                }
                let boundary = boundary_of(&u.permissions_boundary);
                users.push(UserEntry {
                    record: u,
                    identity,
                    boundary,
                });
            }
            for r in roles {
                snap.roles
                    .insert((acct.clone(), name_key(&r.record.name)), Arc::new(r));
            }
            for u in users {
                snap.users
                    .insert((acct.clone(), name_key(&u.record.name)), Arc::new(u));
            }
        }
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snap);
        Ok(())
    }

    /// The current snapshot: one consistent view for a whole decision.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current()
    }

    pub fn role(&self, account: &str, name: &str) -> Option<Arc<RoleEntry>> {
        self.current().role(account, name)
    }

    pub fn user(&self, account: &str, name: &str) -> Option<Arc<UserEntry>> {
        self.current().user(account, name)
    }

    /// A managed policy and its parsed document.
    pub fn managed_policy(&self, arn: &str) -> Option<Arc<(ManagedPolicyRecord, Option<Policy>)>> {
        self.current().managed_policy(arn)
    }
}

impl Snapshot {
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
    pub fn managed_policy(&self, arn: &str) -> Option<Arc<(ManagedPolicyRecord, Option<Policy>)>> {
        self.managed.get(arn).cloned()
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
