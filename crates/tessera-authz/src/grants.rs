//! The S3 Access Grants index as a replicated view: every instance with its resource policy,
//! its locations, and a radix tree of its grant scopes that answers "which grants cover this
//! target" in time linear in the target's length. GetDataAccess reads only this (and the
//! directory view for group memberships), never the store.
//!
//! **Scope strings** are compared as plain strings without `s3://`. A grant scope ending in
//! `*` covers every target that, with its own trailing `*` removed, starts with the scope
//! before the `*` (a character prefix, not path-aware); a scope without `*` is exactly one
//! object and covers only itself. Every grant's scope ends at a node of the tree: walking the
//! target's bytes from the root meets, in order, every prefix grant that covers it, and the
//! node the walk ends on holds the object grants equal to it.

use async_trait::async_trait;
use imbl::{HashMap, OrdMap};
use std::sync::Arc;
use std::time::Duration;
use tessera_core::GrantPermission;
use tessera_policy::{Policy, PolicyKind};
use tessera_store::view::{Projection, View};
use tessera_store::{
    AccessGrantsStore, AgGrantRecord, AgInstanceRecord, AgLocationRecord, ChangeCounters,
    StoreError,
};

/// The change counter every Access Grants write bumps.
pub const GRANTS_COUNTER: &str = "access-grants";

/// Who a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GranteeKind {
    /// Listed first: when two grants are equally close, a directory grant wins.
    DirectoryUser,
    DirectoryGroup,
    Iam,
}

impl GranteeKind {
    pub fn parse(s: &str) -> Option<GranteeKind> {
        match s {
            "IAM" => Some(GranteeKind::Iam),
            "DIRECTORY_USER" => Some(GranteeKind::DirectoryUser),
            "DIRECTORY_GROUP" => Some(GranteeKind::DirectoryGroup),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GranteeKind::Iam => "IAM",
            GranteeKind::DirectoryUser => "DIRECTORY_USER",
            GranteeKind::DirectoryGroup => "DIRECTORY_GROUP",
        }
    }
}

/// What matching needs of one grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedGrant {
    pub grant_id: Arc<str>,
    pub grantee_kind: GranteeKind,
    pub grantee: Arc<str>,
    pub permission: GrantPermission,
    pub application_arn: Option<Arc<str>>,
    pub location_id: Arc<str>,
    pub created_at: i64,
}

impl IndexedGrant {
    fn order_key(&self) -> (GranteeKind, &str, &str) {
        (self.grantee_kind, &self.grantee, &self.grant_id)
    }
}

/// A grant scope split for the index: its key (without `s3://` and without the trailing `*`)
/// and whether it is a prefix. `None` for a scope that is not `s3://…`.
pub fn scope_key(scope: &str) -> Option<(&str, bool)> {
    let rest = scope.strip_prefix("s3://")?;
    Some(match rest.strip_suffix('*') {
        Some(k) => (k, true),
        None => (rest, false),
    })
}

/// One node of the radix tree. Children are keyed by their label's first byte (unique among
/// siblings, kept sorted); grants are kept sorted by grantee so a caller's identities can be
/// looked up without scanning a crowded node.
#[derive(Debug, Clone, Default)]
struct Node {
    children: Vec<(Box<[u8]>, Arc<Node>)>,
    prefix: Vec<Arc<IndexedGrant>>,
    exact: Vec<Arc<IndexedGrant>>,
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn insert_sorted(list: &mut Vec<Arc<IndexedGrant>>, g: Arc<IndexedGrant>) {
    let at = list.partition_point(|e| e.order_key() < g.order_key());
    list.insert(at, g);
}

impl Node {
    /// Insert in place; nodes shared with an older snapshot are copied on the way down
    /// (`Arc::make_mut`), so a snapshot that is already published never changes.
    fn insert(&mut self, key: &[u8], prefix: bool, g: Arc<IndexedGrant>) {
        if key.is_empty() {
            insert_sorted(
                if prefix {
                    &mut self.prefix
                } else {
                    &mut self.exact
                },
                g,
            );
            return;
        }
        match self.children.binary_search_by_key(&key[0], |(l, _)| l[0]) {
            Ok(i) => {
                let common = common_prefix(&self.children[i].0, key);
                if common == self.children[i].0.len() {
                    Arc::make_mut(&mut self.children[i].1).insert(&key[common..], prefix, g);
                } else {
                    let (label, child) = std::mem::take(&mut self.children[i]);
                    let mut mid = Node {
                        children: vec![(label[common..].into(), child)],
                        ..Node::default()
                    };
                    mid.insert(&key[common..], prefix, g);
                    self.children[i] = (label[..common].into(), Arc::new(mid));
                }
            }
            Err(i) => {
                let mut leaf = Node::default();
                leaf.insert(&[], prefix, g);
                self.children.insert(i, (key.into(), Arc::new(leaf)));
            }
        }
    }

    /// Remove the grant `id` at `key`; returns whether it was there. Emptied nodes are
    /// dropped and a node left with one child and no grants is merged into it.
    fn remove(&mut self, key: &[u8], prefix: bool, id: &str) -> bool {
        if key.is_empty() {
            let list = if prefix {
                &mut self.prefix
            } else {
                &mut self.exact
            };
            let before = list.len();
            list.retain(|g| &*g.grant_id != id);
            return list.len() != before;
        }
        let Ok(i) = self.children.binary_search_by_key(&key[0], |(l, _)| l[0]) else {
            return false;
        };
        let label_len = self.children[i].0.len();
        if !key.starts_with(&self.children[i].0) {
            return false;
        }
        let child = Arc::make_mut(&mut self.children[i].1);
        let removed = child.remove(&key[label_len..], prefix, id);
        if removed {
            let empty = child.prefix.is_empty() && child.exact.is_empty();
            if empty && child.children.is_empty() {
                self.children.remove(i);
            } else if empty && child.children.len() == 1 {
                let (sub_label, grandchild) = child.children.pop().expect("one child");
                let mut label = self.children[i].0.to_vec();
                label.extend_from_slice(&sub_label);
                self.children[i] = (label.into_boxed_slice(), grandchild);
            }
        }
        removed
    }

    fn count(&self) -> usize {
        self.prefix.len()
            + self.exact.len()
            + self.children.iter().map(|(_, c)| c.count()).sum::<usize>()
    }
}

/// The identities a GetDataAccess caller presents, each of which may hold grants.
#[derive(Debug, Clone, Default)]
pub struct CallerIdentities<'a> {
    /// IAM grantee ARNs (a role session presents its role's ARN).
    pub iam: Vec<&'a str>,
    /// The directory user of an identity-enhanced session.
    pub user: Option<&'a str>,
    /// That user's groups.
    pub groups: Vec<&'a str>,
    /// `identitycenter:ApplicationArn` of the session, for application-scoped grants.
    pub application_arn: Option<&'a str>,
}

impl CallerIdentities<'_> {
    fn holds(&self, g: &IndexedGrant) -> bool {
        let who = match g.grantee_kind {
            GranteeKind::Iam => self.iam.iter().any(|a| **a == *g.grantee),
            GranteeKind::DirectoryUser => self.user.is_some_and(|u| u == &*g.grantee),
            GranteeKind::DirectoryGroup => self.groups.iter().any(|x| **x == *g.grantee),
        };
        who && match &g.application_arn {
            None => true,
            Some(app) => self.application_arn == Some(app),
        }
    }

    fn count(&self) -> usize {
        self.iam.len() + usize::from(self.user.is_some()) + self.groups.len()
    }

    /// The grants of `list` this caller holds.
    fn held<'g>(&self, list: &'g [Arc<IndexedGrant>], out: &mut Vec<&'g Arc<IndexedGrant>>) {
        // A crowded node (one prefix granted to thousands of groups) is searched per identity.
        if list.len() <= 4 * self.count().max(1) {
            out.extend(list.iter().filter(|g| self.holds(g)));
            return;
        }
        let mut probe = |kind: GranteeKind, who: &str| {
            let start = list.partition_point(|g| (g.grantee_kind, &*g.grantee) < (kind, who));
            out.extend(
                list[start..]
                    .iter()
                    .take_while(|g| g.grantee_kind == kind && &*g.grantee == who)
                    .filter(|g| self.holds(g)),
            );
        };
        for a in &self.iam {
            probe(GranteeKind::Iam, a);
        }
        if let Some(u) = self.user {
            probe(GranteeKind::DirectoryUser, u);
        }
        for g in &self.groups {
            probe(GranteeKind::DirectoryGroup, g);
        }
    }
}

/// The grant GetDataAccess picked, and the scope it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantMatch {
    pub grant: Arc<IndexedGrant>,
    /// The matched grant's scope key (without `s3://` and `*`).
    pub scope: String,
    /// Whether the matched grant's scope is a prefix.
    pub prefix: bool,
}

impl GrantMatch {
    /// The grant's scope as AWS spells it (`s3://bucket/prefix*`).
    pub fn grant_scope(&self) -> String {
        format!("s3://{}{}", self.scope, if self.prefix { "*" } else { "" })
    }
}

/// The grants of one instance, as a radix tree over their scope keys.
#[derive(Debug, Clone, Default)]
pub struct GrantTree {
    root: Node,
}

impl GrantTree {
    pub fn insert(&mut self, key: &str, prefix: bool, g: Arc<IndexedGrant>) {
        self.root.insert(key.as_bytes(), prefix, g);
    }

    pub fn remove(&mut self, key: &str, prefix: bool, grant_id: &str) -> bool {
        self.root.remove(key.as_bytes(), prefix, grant_id)
    }

    pub fn len(&self) -> usize {
        self.root.count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Call `f(depth, is_prefix_grant, grant)` for every grant whose scope covers `target`
    /// (a scope key: no `s3://`; a trailing `*` marks a prefix target), held by `who` or by
    /// anyone when `who` is `None`. Linear in the target's length plus the grants visited.
    pub fn covering<'t>(
        &'t self,
        target: &str,
        who: Option<&CallerIdentities<'_>>,
        mut f: impl FnMut(usize, bool, &'t Arc<IndexedGrant>),
    ) {
        let (t, target_is_prefix) = match target.strip_suffix('*') {
            Some(t) => (t.as_bytes(), true),
            None => (target.as_bytes(), false),
        };
        let mut node = &self.root;
        let mut pos = 0;
        let mut held = Vec::new();
        loop {
            let mut visit = |list: &'t [Arc<IndexedGrant>], prefix: bool| match who {
                None => list.iter().for_each(|g| f(pos, prefix, g)),
                Some(w) => {
                    held.clear();
                    w.held(list, &mut held);
                    held.iter().for_each(|g| f(pos, prefix, g));
                }
            };
            visit(&node.prefix, true);
            if pos == t.len() {
                if !target_is_prefix {
                    visit(&node.exact, false);
                }
                return;
            }
            let Ok(i) = node.children.binary_search_by_key(&t[pos], |(l, _)| l[0]) else {
                return;
            };
            let (label, child) = &node.children[i];
            if !t[pos..].starts_with(label) {
                return;
            }
            pos += label.len();
            node = child;
        }
    }

    /// GetDataAccess's choice among the grants `who` holds that cover `target` with
    /// `permission`: the closest (longest) scope; among equally close ones a directory grant
    /// before an IAM one, then the oldest, then the lowest id.
    pub fn best(
        &self,
        target: &str,
        permission: GrantPermission,
        who: &CallerIdentities<'_>,
    ) -> Option<GrantMatch> {
        let mut best: Option<(usize, bool, &Arc<IndexedGrant>)> = None;
        self.covering(target, Some(who), |depth, prefix, g| {
            if !g.permission.covers(permission) {
                return;
            }
            let better = match best {
                None => true,
                Some((d, p, b)) => {
                    // Deeper is closer; at the same depth an object grant (exact) is closer
                    // than a prefix grant.
                    (depth, !prefix) > (d, !p)
                        || ((depth, !prefix) == (d, !p)
                            && (g.grantee_kind, g.created_at, &*g.grant_id)
                                < (b.grantee_kind, b.created_at, &*b.grant_id))
                }
            };
            if better {
                best = Some((depth, prefix, g));
            }
        });
        let key = target.strip_suffix('*').unwrap_or(target);
        best.map(|(depth, prefix, g)| GrantMatch {
            grant: g.clone(),
            scope: key[..depth].to_owned(),
            prefix,
        })
    }
}

/// One Access Grants instance as the hot path sees it.
#[derive(Debug, Clone)]
pub struct InstanceEntry {
    pub record: AgInstanceRecord,
    /// The instance's resource policy, parsed.
    pub policy: Option<Policy>,
    pub locations: OrdMap<String, Arc<AgLocationRecord>>,
    pub grants: GrantTree,
}

/// Every Access Grants instance (one immutable snapshot).
#[derive(Debug, Clone, Default)]
pub struct AccessGrants {
    instances: HashMap<String, Arc<InstanceEntry>>,
}

impl AccessGrants {
    pub fn instance(&self, account: &str) -> Option<&Arc<InstanceEntry>> {
        self.instances.get(account)
    }

    pub fn instances(&self) -> impl Iterator<Item = &Arc<InstanceEntry>> {
        self.instances.values()
    }

    fn entry(record: AgInstanceRecord) -> InstanceEntry {
        let policy = record
            .resource_policy
            .as_deref()
            .and_then(|p| Policy::parse(p, PolicyKind::Resource).ok());
        InstanceEntry {
            record,
            policy,
            locations: OrdMap::new(),
            grants: GrantTree::default(),
        }
    }

    fn update(&mut self, account: &str, f: impl FnOnce(&mut InstanceEntry)) {
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
                if let (Some(ig), Some((key, prefix))) = (
                    indexed(g, &mut Interner::default()),
                    scope_key(&g.grant_scope),
                ) {
                    s.update(&g.account_id, |e| {
                        e.grants.remove(key, prefix, &g.grant_id);
                        e.grants.insert(key, prefix, Arc::new(ig));
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
        let mut entries: std::collections::HashMap<String, InstanceEntry> = instances
            .into_iter()
            .map(|r| (r.account_id.clone(), AccessGrants::entry(r)))
            .collect();
        for l in locations {
            if let Some(e) = entries.get_mut(&l.account_id) {
                e.locations.insert(l.location_id.clone(), Arc::new(l));
            }
        }
        let mut interner = Interner::default();
        for g in &grants {
            if let (Some(e), Some(ig), Some((key, prefix))) = (
                entries.get_mut(&g.account_id),
                indexed(g, &mut interner),
                scope_key(&g.grant_scope),
            ) {
                e.grants.insert(key, prefix, Arc::new(ig));
            }
        }
        AccessGrants {
            instances: entries.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        }
    }
}

/// Shares the strings many grants repeat (grantees, locations, applications).
#[derive(Default)]
struct Interner(std::collections::HashSet<Arc<str>>);

impl Interner {
    fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(a.clone());
        a
    }
}

fn indexed(g: &AgGrantRecord, interner: &mut Interner) -> Option<IndexedGrant> {
    Some(IndexedGrant {
        grant_id: Arc::from(g.grant_id.as_str()),
        grantee_kind: GranteeKind::parse(&g.grantee_type)?,
        grantee: interner.get(&g.grantee_id),
        permission: GrantPermission::parse(&g.permission)?,
        application_arn: g.application_arn.as_deref().map(|a| interner.get(a)),
        location_id: interner.get(&g.location_id),
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

    fn name(&self) -> &'static str {
        "access-grants"
    }

    fn counter(&self) -> &'static str {
        GRANTS_COUNTER
    }

    fn max_age(&self) -> Duration {
        Duration::from_secs(60)
    }

    async fn load(&self) -> Result<AccessGrants, StoreError> {
        let t = self.store.access_grants_tables().await?;
        Ok(AccessGrants::build(t.instances, t.locations, t.grants))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(id: &str, kind: GranteeKind, who: &str, perm: GrantPermission) -> Arc<IndexedGrant> {
        Arc::new(IndexedGrant {
            grant_id: id.into(),
            grantee_kind: kind,
            grantee: who.into(),
            permission: perm,
            application_arn: None,
            location_id: "default".into(),
            created_at: 0,
        })
    }

    fn tree(scopes: &[(&str, &str)]) -> GrantTree {
        let mut t = GrantTree::default();
        for (id, scope) in scopes {
            let (k, p) = scope_key(scope).unwrap();
            t.insert(
                k,
                p,
                grant(id, GranteeKind::Iam, "role", GrantPermission::Read),
            );
        }
        t
    }

    fn caller() -> CallerIdentities<'static> {
        CallerIdentities {
            iam: vec!["role"],
            ..CallerIdentities::default()
        }
    }

    fn pick(t: &GrantTree, target: &str) -> Option<String> {
        t.best(target, GrantPermission::Read, &caller())
            .map(|m| m.grant_scope())
    }

    #[test]
    fn closest_scope_wins() {
        let t = tree(&[("a", "s3://b1/bob/*"), ("b", "s3://b1/bob/reports/*")]);
        assert_eq!(pick(&t, "b1/bob/*").as_deref(), Some("s3://b1/bob/*"));
        assert_eq!(
            pick(&t, "b1/bob/reports/file.txt").as_deref(),
            Some("s3://b1/bob/reports/*")
        );
        assert_eq!(pick(&t, "b1/bob/").as_deref(), Some("s3://b1/bob/*"));
        assert_eq!(pick(&t, "b1/bo"), None);
        assert_eq!(pick(&t, "b1/*"), None);
        assert_eq!(pick(&t, "b2/bob/x"), None);
    }

    #[test]
    fn character_prefixes_and_objects() {
        let t = tree(&[("a", "s3://b/prefixA*"), ("o", "s3://b/bob/")]);
        assert_eq!(pick(&t, "b/prefixAB").as_deref(), Some("s3://b/prefixA*"));
        assert_eq!(pick(&t, "b/prefixA1/x").as_deref(), Some("s3://b/prefixA*"));
        // An object grant covers only itself (not a prefix target of the same text).
        assert_eq!(pick(&t, "b/bob/").as_deref(), Some("s3://b/bob/"));
        assert_eq!(pick(&t, "b/bob/*"), None);
        assert_eq!(pick(&t, "b/bob/x"), None);
    }

    #[test]
    fn removal_merges_and_keeps_others() {
        let mut t = tree(&[
            ("a", "s3://b/abc*"),
            ("b", "s3://b/abd*"),
            ("c", "s3://b/ab*"),
        ]);
        assert_eq!(t.len(), 3);
        assert!(t.remove("b/ab", true, "c"));
        assert!(!t.remove("b/ab", true, "c"));
        assert_eq!(pick(&t, "b/abd/x").as_deref(), Some("s3://b/abd*"));
        assert!(t.remove("b/abc", true, "a"));
        assert_eq!(pick(&t, "b/abc/x"), None);
        assert_eq!(pick(&t, "b/abd/x").as_deref(), Some("s3://b/abd*"));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn snapshots_are_not_changed_by_later_writes() {
        let t1 = tree(&[("a", "s3://b/x/*")]);
        let mut t2 = t1.clone();
        t2.insert(
            "b/x/y/",
            true,
            grant("n", GranteeKind::Iam, "role", GrantPermission::Read),
        );
        assert_eq!(pick(&t1, "b/x/y/z").as_deref(), Some("s3://b/x/*"));
        assert_eq!(pick(&t2, "b/x/y/z").as_deref(), Some("s3://b/x/y/*"));
    }

    #[test]
    fn crowded_nodes_are_searched_per_identity() {
        let mut t = GrantTree::default();
        for i in 0..1000 {
            t.insert(
                "b/red/",
                true,
                grant(
                    &format!("g{i:04}"),
                    GranteeKind::DirectoryGroup,
                    &format!("group-{i:04}"),
                    GrantPermission::Read,
                ),
            );
        }
        let who = CallerIdentities {
            groups: vec!["group-0500", "nobody"],
            ..CallerIdentities::default()
        };
        let m = t.best("b/red/x", GrantPermission::Read, &who).unwrap();
        assert_eq!(&*m.grant.grant_id, "g0500");
        let nobody = CallerIdentities {
            groups: vec!["nobody"],
            ..CallerIdentities::default()
        };
        assert!(t.best("b/red/x", GrantPermission::Read, &nobody).is_none());
    }

    #[test]
    fn permissions_and_applications() {
        let mut t = GrantTree::default();
        t.insert(
            "b/w/",
            true,
            grant("w", GranteeKind::Iam, "role", GrantPermission::Write),
        );
        let mut app = (*grant("rw", GranteeKind::Iam, "role", GrantPermission::ReadWrite)).clone();
        app.application_arn = Some("arn:app".into());
        t.insert("b/a/", true, Arc::new(app));
        let mut who = caller();
        assert!(t.best("b/w/x", GrantPermission::Read, &who).is_none());
        assert!(t.best("b/w/x", GrantPermission::Write, &who).is_some());
        assert!(t.best("b/a/x", GrantPermission::Read, &who).is_none());
        who.application_arn = Some("arn:other");
        assert!(t.best("b/a/x", GrantPermission::Read, &who).is_none());
        who.application_arn = Some("arn:app");
        assert!(t.best("b/a/x", GrantPermission::Read, &who).is_some());
        assert!(t.best("b/a/x", GrantPermission::Write, &who).is_some());
    }
}
