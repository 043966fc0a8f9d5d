//! The Access Grants index as a replicated view: instances with their resource policies,
//! locations and grant trees, built from the store and kept current by its changes.

use super::*;

/// One Access Grants instance as the hot path sees it.
#[derive(Debug, Clone)]
pub struct InstanceEntry {
    pub record: AgInstanceRecord,
    /// The instance's version in the store this entry reflects (local writes fold in without
    /// moving it; the next incremental refresh replays them, which changes nothing).
    pub version: i64,
    /// The instance's resource policy, parsed.
    pub policy: Option<Policy>,
    pub locations: OrdMap<String, Arc<AgLocationRecord>>,
    pub grants: GrantTree,
}

/// Every Access Grants instance (one immutable snapshot).
#[derive(Debug, Clone, Default)]
pub struct AccessGrants {
    pub(super) instances: HashMap<String, Arc<InstanceEntry>>,
}

impl AccessGrants {
    pub fn instance(&self, account: &str) -> Option<&Arc<InstanceEntry>> {
        self.instances.get(account)
    }

    pub fn instances(&self) -> impl Iterator<Item = &Arc<InstanceEntry>> {
        self.instances.values()
    }

    pub(super) fn entry(record: AgInstanceRecord) -> InstanceEntry {
        let policy = record
            .resource_policy
            .as_deref()
            .and_then(|p| Policy::parse(p, PolicyKind::Resource).ok());
        InstanceEntry {
            record,
            version: -1,
            policy,
            locations: OrdMap::new(),
            grants: GrantTree::default(),
        }
    }

    pub(super) fn update(&mut self, account: &str, f: impl FnOnce(&mut InstanceEntry)) {
        if let Some(e) = self.instances.get_mut(account) {
            f(Arc::make_mut(e));
        }
    }

    /// This snapshot with `change` folded in.
    pub fn with(&self, change: &GrantChange) -> AccessGrants {
        let mut s = self.clone();
        match change {
            GrantChange::Instance(r) => {
                let mut e = AccessGrants::entry(r.clone());
                if let Some(old) = s.instances.get(&r.account_id) {
                    e.locations = old.locations.clone();
                    e.grants = old.grants.clone();
                    e.version = old.version;
                }
                s.instances.insert(r.account_id.clone(), Arc::new(e));
            }
            GrantChange::InstanceDeleted(account) => {
                s.instances.remove(account);
            }
            GrantChange::Location(l) => s.update(&l.account_id, |e| {
                e.locations
                    .insert(l.location_id.clone(), Arc::new(l.clone()));
            }),
            GrantChange::LocationDeleted { account, id } => s.update(account, |e| {
                e.locations.remove(id);
            }),
            GrantChange::Grant(g) => {
                if let (Some(ng), Some((key, prefix))) = (new_grant(g), scope_key(&g.grant_scope)) {
                    s.update(&g.account_id, |e| {
                        e.grants.remove(key, prefix, &g.grant_id);
                        e.grants.insert(key, prefix, ng);
                    });
                }
            }
            GrantChange::GrantDeleted(g) => {
                if let Some((key, prefix)) = scope_key(&g.grant_scope) {
                    s.update(&g.account_id, |e| {
                        e.grants.remove(key, prefix, &g.grant_id);
                    });
                }
            }
        }
        s
    }

    /// Build a snapshot from every table.
    pub fn build(
        instances: Vec<AgInstanceRecord>,
        locations: Vec<AgLocationRecord>,
        grants: Vec<AgGrantRecord>,
    ) -> AccessGrants {
        AccessGrants::build_versioned(instances, locations, grants, &[])
    }

    /// [`AccessGrants::build`] with each instance's store version.
    pub fn build_versioned(
        instances: Vec<AgInstanceRecord>,
        locations: Vec<AgLocationRecord>,
        grants: Vec<AgGrantRecord>,
        versions: &[(String, i64)],
    ) -> AccessGrants {
        let mut entries: std::collections::HashMap<String, InstanceEntry> = instances
            .into_iter()
            .map(|r| {
                let mut e = AccessGrants::entry(r);
                e.version = versions
                    .iter()
                    .find(|(a, _)| *a == e.record.account_id)
                    .map_or(-1, |(_, v)| *v);
                (e.record.account_id.clone(), e)
            })
            .collect();
        for l in locations {
            if let Some(e) = entries.get_mut(&l.account_id) {
                e.locations.insert(l.location_id.clone(), Arc::new(l));
            }
        }
        for g in &grants {
            if let (Some(e), Some(ng), Some((key, prefix))) = (
                entries.get_mut(&g.account_id),
                new_grant(g),
                scope_key(&g.grant_scope),
            ) {
                e.grants.insert(key, prefix, ng);
            }
        }
        AccessGrants {
            instances: entries.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        }
    }
}

fn new_grant(g: &AgGrantRecord) -> Option<NewGrant<'_>> {
    Some(NewGrant {
        id: &g.grant_id,
        grantee_kind: GranteeKind::parse(&g.grantee_type)?,
        grantee: &g.grantee_id,
        permission: GrantPermission::parse(&g.permission)?,
        application_arn: g.application_arn.as_deref(),
        location_id: &g.location_id,
        created_at: g.created_at,
    })
}

/// An Access Grants write, as read back from the store.
#[derive(Debug, Clone)]
pub enum GrantChange {
    /// An instance created or updated (association, policy, tags).
    Instance(AgInstanceRecord),
    InstanceDeleted(String),
    Location(AgLocationRecord),
    LocationDeleted {
        account: String,
        id: String,
    },
    Grant(AgGrantRecord),
    GrantDeleted(AgGrantRecord),
}

pub struct GrantProjection {
    store: Arc<dyn AccessGrantsStore>,
}

#[async_trait]
impl Projection for GrantProjection {
    type Snapshot = AccessGrants;
    type Change = GrantChange;

    const NAME: &'static str = "access-grants";
    const COUNTER: &'static str = GRANTS_COUNTER;

    async fn load(&self) -> Result<AccessGrants, StoreError> {
        let t = self.store.access_grants_tables().await?;
        Ok(AccessGrants::build_versioned(
            t.instances,
            t.locations,
            t.grants,
            &t.versions,
        ))
    }

    /// Only what changed since each instance's version: the log's grant puts and deletions
    /// folded into the tree, the instance row and locations replaced; an instance the log no
    /// longer reaches back for is rebuilt alone.
    async fn load_since(&self, current: &AccessGrants) -> Result<Option<AccessGrants>, StoreError> {
        let known: Vec<(String, i64)> = current
            .instances
            .iter()
            .map(|(a, e)| (a.clone(), e.version))
            .collect();
        let delta = self.store.access_grants_delta(&known).await?;
        let mut next = current.clone();
        for (account, d) in delta {
            match d {
                AgInstanceDelta::Same => {}
                AgInstanceDelta::Deleted => {
                    next.instances.remove(&account);
                }
                AgInstanceDelta::Full {
                    instance,
                    version,
                    locations,
                    grants,
                } => {
                    let built = AccessGrants::build_versioned(
                        vec![instance],
                        locations,
                        grants,
                        &[(account.clone(), version)],
                    );
                    if let Some(e) = built.instances.get(&account) {
                        next.instances.insert(account, e.clone());
                    }
                }
                AgInstanceDelta::Changes {
                    instance,
                    version,
                    locations,
                    log,
                    grants,
                } => {
                    let old = next.instances.get(&account).cloned();
                    let mut e = AccessGrants::entry(instance);
                    e.version = version;
                    e.locations = locations
                        .into_iter()
                        .map(|l| (l.location_id.clone(), Arc::new(l)))
                        .collect();
                    if let Some(old) = old {
                        e.grants = old.grants.clone();
                    }
                    let rows: std::collections::HashMap<&str, &AgGrantRecord> =
                        grants.iter().map(|g| (g.grant_id.as_str(), g)).collect();
                    for entry in &log {
                        let Some((key, prefix)) = scope_key(&entry.grant_scope) else {
                            continue;
                        };
                        match entry.op.as_str() {
                            "put" => {
                                e.grants.remove(key, prefix, &entry.grant_id);
                                if let Some(ng) =
                                    rows.get(entry.grant_id.as_str()).and_then(|g| new_grant(g))
                                {
                                    e.grants.insert(key, prefix, ng);
                                }
                            }
                            "delete" => {
                                e.grants.remove(key, prefix, &entry.grant_id);
                            }
                            _ => {}
                        }
                    }
                    next.instances.insert(account, Arc::new(e));
                }
            }
        }
        Ok(Some(next))
    }

    fn apply(&self, s: &AccessGrants, change: &GrantChange) -> AccessGrants {
        s.with(change)
    }
}

pub type GrantView = View<GrantProjection>;

pub async fn load_view(
    store: Arc<dyn AccessGrantsStore>,
    counters: Arc<dyn ChangeCounters>,
) -> Result<GrantView, StoreError> {
    View::load(GrantProjection { store }, counters).await
}
