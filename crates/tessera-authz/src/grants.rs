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
    AccessGrantsStore, AgGrantRecord, AgInstanceDelta, AgInstanceRecord, AgLocationRecord,
    ChangeCounters, StoreError,
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

/// A grant id as the index keeps it: the 128 bits of its UUID (grant ids are UUIDs).
pub type GrantId = (u64, u64);

/// Parse a hyphenated UUID (`8-4-4-4-12` hex digits).
pub fn parse_grant_id(s: &str) -> Option<GrantId> {
    let b = s.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let v = u128::from_str_radix(&hex, 16).ok()?;
    Some(((v >> 64) as u64, v as u64))
}

/// The hyphenated form of a grant id (lower-case, as ids are generated).
pub fn format_grant_id(id: GrantId) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = (u128::from(id.0) << 64) | u128::from(id.1);
    let mut out = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        let nibble = (v >> (124 - 4 * i)) & 0xf;
        out.push(char::from(HEX[nibble as usize]));
    }
    out
}

/// An interned string of one instance's grants (grantees, locations, applications): many
/// grants repeat few values, and matching compares numbers.
pub type Sym = u32;

#[derive(Debug, Clone, Default)]
pub struct Symbols {
    names: Arc<Vec<Arc<str>>>,
    /// Copied on write: a snapshot's table is shared with its successor until a write
    /// interns a name it has never seen (rare: grantees and locations repeat).
    ids: Arc<std::collections::HashMap<Arc<str>, Sym, std::hash::BuildHasherDefault<Fnv>>>,
}

/// FNV-1a: the symbol table is looked up several times per GetDataAccess, with short keys
/// that operators and the caller's own session choose (not an attacker's flood of keys).
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Symbols {
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = Sym::try_from(self.names.len()).expect("fewer than 2^32 distinct names");
        let a: Arc<str> = Arc::from(s);
        Arc::make_mut(&mut self.names).push(a.clone());
        Arc::make_mut(&mut self.ids).insert(a, id);
        id
    }

    pub fn name(&self, id: Sym) -> Arc<str> {
        self.names
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from(""))
    }
}

/// What matching needs of one grant, stored inline in the tree (48 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedGrant {
    pub id: GrantId,
    pub created_at: i64,
    pub grantee: Sym,
    pub location: Sym,
    pub application: Option<Sym>,
    pub grantee_kind: GranteeKind,
    pub permission: GrantPermission,
    /// The scope ends in `*` (else it is one object).
    pub prefix: bool,
}

impl IndexedGrant {
    fn order_key(&self) -> (GranteeKind, Sym, bool, GrantId) {
        (self.grantee_kind, self.grantee, self.prefix, self.id)
    }
}

/// One grant to add to a [`GrantTree`], with its strings.
#[derive(Debug, Clone, Copy)]
pub struct NewGrant<'a> {
    pub id: &'a str,
    pub grantee_kind: GranteeKind,
    pub grantee: &'a str,
    pub permission: GrantPermission,
    pub application_arn: Option<&'a str>,
    pub location_id: &'a str,
    pub created_at: i64,
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
/// siblings, kept sorted); the grants whose scope key ends here are kept sorted by grantee so
/// a caller's identities can be looked up without scanning a crowded node.
#[derive(Debug, Clone, Default)]
struct Node {
    children: Vec<(Box<[u8]>, Arc<Node>)>,
    grants: Vec<IndexedGrant>,
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Node {
    /// Insert in place; nodes shared with an older snapshot are copied on the way down
    /// (`Arc::make_mut`), so a snapshot that is already published never changes.
    fn insert(&mut self, key: &[u8], g: IndexedGrant) {
        if key.is_empty() {
            let at = self
                .grants
                .partition_point(|e| e.order_key() < g.order_key());
            if self.grants.capacity() == 0 {
                self.grants.reserve_exact(1);
            }
            self.grants.insert(at, g);
            return;
        }
        match self.children.binary_search_by_key(&key[0], |(l, _)| l[0]) {
            Ok(i) => {
                let common = common_prefix(&self.children[i].0, key);
                if common == self.children[i].0.len() {
                    Arc::make_mut(&mut self.children[i].1).insert(&key[common..], g);
                } else {
                    let (label, child) = std::mem::take(&mut self.children[i]);
                    let mut mid = Node {
                        children: vec![(label[common..].into(), child)],
                        ..Node::default()
                    };
                    mid.insert(&key[common..], g);
                    self.children[i] = (label[..common].into(), Arc::new(mid));
                }
            }
            Err(i) => {
                let mut leaf = Node::default();
                leaf.insert(&[], g);
                if self.children.capacity() == 0 {
                    self.children.reserve_exact(1);
                }
                self.children.insert(i, (key.into(), Arc::new(leaf)));
            }
        }
    }

    /// Remove the grant `id` at `key`; returns whether it was there. Emptied nodes are
    /// dropped and a node left with one child and no grants is merged into it.
    fn remove(&mut self, key: &[u8], prefix: bool, id: GrantId) -> bool {
        if key.is_empty() {
            let before = self.grants.len();
            self.grants.retain(|g| !(g.id == id && g.prefix == prefix));
            return self.grants.len() != before;
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
        if removed && child.grants.is_empty() {
            if child.children.is_empty() {
                self.children.remove(i);
            } else if child.children.len() == 1 {
                let (sub_label, grandchild) = child.children.pop().expect("one child");
                let mut label = self.children[i].0.to_vec();
                label.extend_from_slice(&sub_label);
                self.children[i] = (label.into_boxed_slice(), grandchild);
            }
        }
        removed
    }

    fn count(&self) -> usize {
        self.grants.len() + self.children.iter().map(|(_, c)| c.count()).sum::<usize>()
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

/// A caller's identities as one tree's symbols (identities the tree never names drop out).
struct Resolved {
    ids: Vec<(GranteeKind, Sym)>,
    application: Option<Sym>,
}

impl Resolved {
    fn new(who: &CallerIdentities<'_>, sy: &Symbols) -> Resolved {
        let mut ids = Vec::with_capacity(who.iam.len() + 1 + who.groups.len());
        ids.extend(
            who.iam
                .iter()
                .filter_map(|a| sy.get(a))
                .map(|s| (GranteeKind::Iam, s)),
        );
        ids.extend(
            who.user
                .and_then(|u| sy.get(u))
                .map(|s| (GranteeKind::DirectoryUser, s)),
        );
        ids.extend(
            who.groups
                .iter()
                .filter_map(|g| sy.get(g))
                .map(|s| (GranteeKind::DirectoryGroup, s)),
        );
        ids.sort_unstable();
        ids.dedup();
        Resolved {
            ids,
            application: who.application_arn.and_then(|a| sy.get(a)),
        }
    }

    fn app_ok(&self, g: &IndexedGrant) -> bool {
        g.application.is_none() || g.application == self.application
    }

    /// The grants of `list` this caller holds.
    fn held<'g>(&self, list: &'g [IndexedGrant], out: &mut Vec<&'g IndexedGrant>) {
        // A crowded node (one prefix granted to thousands of groups) is searched per identity.
        if list.len() <= 4 * self.ids.len().max(1) {
            out.extend(list.iter().filter(|g| {
                self.ids.binary_search(&(g.grantee_kind, g.grantee)).is_ok() && self.app_ok(g)
            }));
            return;
        }
        for &(kind, who) in &self.ids {
            let start = list.partition_point(|g| (g.grantee_kind, g.grantee) < (kind, who));
            out.extend(
                list[start..]
                    .iter()
                    .take_while(|g| g.grantee_kind == kind && g.grantee == who)
                    .filter(|g| self.app_ok(g)),
            );
        }
    }
}

/// The grant GetDataAccess picked, and the scope it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantMatch {
    pub id: GrantId,
    pub grantee_kind: GranteeKind,
    pub grantee: Arc<str>,
    pub location_id: Arc<str>,
    pub permission: GrantPermission,
    /// The matched grant's scope key (without `s3://` and `*`).
    pub scope: String,
    /// Whether the matched grant's scope is a prefix.
    pub prefix: bool,
}

impl GrantMatch {
    /// The matched grant's id.
    pub fn grant_id(&self) -> String {
        format_grant_id(self.id)
    }

    /// The grant's scope as AWS spells it (`s3://bucket/prefix*`).
    pub fn grant_scope(&self) -> String {
        format!("s3://{}{}", self.scope, if self.prefix { "*" } else { "" })
    }
}

/// The grants of one instance, as a radix tree over their scope keys.
#[derive(Debug, Clone, Default)]
pub struct GrantTree {
    root: Node,
    symbols: Symbols,
}

impl GrantTree {
    /// Add a grant (a grant id that is not a UUID is not indexed: ids are generated UUIDs).
    pub fn insert(&mut self, key: &str, prefix: bool, g: NewGrant<'_>) -> bool {
        let Some(id) = parse_grant_id(g.id) else {
            return false;
        };
        let ig = IndexedGrant {
            id,
            created_at: g.created_at,
            grantee: self.symbols.intern(g.grantee),
            location: self.symbols.intern(g.location_id),
            application: g.application_arn.map(|a| self.symbols.intern(a)),
            grantee_kind: g.grantee_kind,
            permission: g.permission,
            prefix,
        };
        self.root.insert(key.as_bytes(), ig);
        true
    }

    pub fn remove(&mut self, key: &str, prefix: bool, grant_id: &str) -> bool {
        parse_grant_id(grant_id).is_some_and(|id| self.root.remove(key.as_bytes(), prefix, id))
    }

    pub fn len(&self) -> usize {
        self.root.count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn walk<'t>(
        &'t self,
        target: &str,
        who: &Resolved,
        mut f: impl FnMut(usize, &'t IndexedGrant),
    ) {
        let (t, target_is_prefix) = match target.strip_suffix('*') {
            Some(t) => (t.as_bytes(), true),
            None => (target.as_bytes(), false),
        };
        let mut node = &self.root;
        let mut pos = 0;
        let mut held = Vec::new();
        loop {
            let end = pos == t.len();
            if !node.grants.is_empty() {
                held.clear();
                who.held(&node.grants, &mut held);
                // Prefix grants cover whatever continues here; object grants only the
                // object target that ends here.
                for g in &held {
                    if g.prefix || (end && !target_is_prefix) {
                        f(pos, g);
                    }
                }
            }
            if end {
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
    /// `permission`: the closest (longest) scope; among equally close ones an object grant
    /// before a prefix grant, a directory grant before an IAM one, then the oldest, then the
    /// lowest id.
    pub fn best(
        &self,
        target: &str,
        permission: GrantPermission,
        who: &CallerIdentities<'_>,
    ) -> Option<GrantMatch> {
        let r = Resolved::new(who, &self.symbols);
        if r.ids.is_empty() {
            return None;
        }
        let mut best: Option<(usize, &IndexedGrant)> = None;
        self.walk(target, &r, |depth, g| {
            if !g.permission.covers(permission) {
                return;
            }
            let better = match best {
                None => true,
                Some((d, b)) => {
                    (
                        depth,
                        !g.prefix,
                        std::cmp::Reverse((g.grantee_kind, g.created_at, g.id)),
                    ) > (
                        d,
                        !b.prefix,
                        std::cmp::Reverse((b.grantee_kind, b.created_at, b.id)),
                    )
                }
            };
            if better {
                best = Some((depth, g));
            }
        });
        let key = target.strip_suffix('*').unwrap_or(target);
        best.map(|(depth, g)| GrantMatch {
            id: g.id,
            grantee_kind: g.grantee_kind,
            grantee: self.symbols.name(g.grantee),
            location_id: self.symbols.name(g.location),
            permission: g.permission,
            scope: key[..depth].to_owned(),
            prefix: g.prefix,
        })
    }
}

/// Why a grant near a GetDataAccess target did not match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Its scope covers the target but it is granted to someone the caller is not.
    NotTheCallers,
    /// The caller holds it and it covers the target, but not with the permission asked.
    Permission,
    /// The caller holds it and it covers the target, but only through another application.
    Application,
    /// Its scope does not cover the target.
    Scope,
}

impl Miss {
    pub fn as_str(self) -> &'static str {
        match self {
            Miss::NotTheCallers => "granted to another grantee",
            Miss::Permission => "permission does not cover the request",
            Miss::Application => "granted for another application",
            Miss::Scope => "scope does not cover the target",
        }
    }
}

/// A grant close to a target it did not match (for explaining a refused GetDataAccess).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearGrant {
    pub id: GrantId,
    pub grantee_kind: GranteeKind,
    pub grantee: Arc<str>,
    pub permission: GrantPermission,
    /// As AWS spells it (`s3://bucket/prefix*`).
    pub scope: String,
    /// How many leading characters of the target (without `s3://`) its scope shares.
    pub shared: usize,
    pub miss: Miss,
}

impl NearGrant {
    pub fn grant_id(&self) -> String {
        format_grant_id(self.id)
    }
}

/// How many tree nodes [`GrantTree::nearest`] looks at before it stops (its cost is bounded
/// however many grants an instance has: it runs only for refused requests).
const NEAREST_NODE_BUDGET: usize = 4096;

impl GrantTree {
    /// The `limit` grants closest to `target` that did not match it for `who` with
    /// `permission`, closest first: grants covering the target (not the caller's, or too
    /// narrow a permission), then grants whose scopes share the longest start with it.
    pub fn nearest(
        &self,
        target: &str,
        permission: GrantPermission,
        who: &CallerIdentities<'_>,
        limit: usize,
    ) -> Vec<NearGrant> {
        let r = Resolved::new(who, &self.symbols);
        let (t, target_is_prefix) = match target.strip_suffix('*') {
            Some(t) => (t.as_bytes(), true),
            None => (target.as_bytes(), false),
        };
        let held = |g: &IndexedGrant| r.ids.binary_search(&(g.grantee_kind, g.grantee)).is_ok();
        let near = |g: &IndexedGrant, key: &[u8], shared: usize, covers: bool| {
            let miss = if !covers {
                Miss::Scope
            } else if !held(g) {
                Miss::NotTheCallers
            } else if !r.app_ok(g) {
                Miss::Application
            } else {
                Miss::Permission
            };
            NearGrant {
                id: g.id,
                grantee_kind: g.grantee_kind,
                grantee: self.symbols.name(g.grantee),
                permission: g.permission,
                scope: format!(
                    "s3://{}{}",
                    String::from_utf8_lossy(key),
                    if g.prefix { "*" } else { "" }
                ),
                shared,
                miss,
            }
        };
        // Down the target's path: grants there cover it (or, object grants, end before it).
        let mut path: Vec<(&Node, usize)> = Vec::new();
        let mut covering = Vec::new();
        let mut node = &self.root;
        let mut pos = 0;
        let mut off_path: Option<(&Node, Vec<u8>, usize)> = None;
        loop {
            path.push((node, pos));
            let end = pos == t.len();
            for g in &node.grants {
                let covers = g.prefix || (end && !target_is_prefix);
                let matched = covers && held(g) && r.app_ok(g) && g.permission.covers(permission);
                if covers && !matched {
                    covering.push(near(g, &t[..pos], pos, true));
                }
            }
            if end {
                break;
            }
            let Ok(i) = node.children.binary_search_by_key(&t[pos], |(l, _)| l[0]) else {
                break;
            };
            let (label, child) = &node.children[i];
            if !t[pos..].starts_with(label) {
                // The walk leaves the target inside this label: that subtree shares the most.
                let mut key = t[..pos].to_vec();
                key.extend_from_slice(label);
                off_path = Some((child, key, pos + common_prefix(label, &t[pos..])));
                break;
            }
            pos += label.len();
            node = child;
        }
        covering.reverse();
        let mut out = covering;
        out.truncate(limit);
        let mut budget = NEAREST_NODE_BUDGET;
        // Then the subtrees that branch off the path, deepest branch first.
        let mut visit = |start: &Node, key: Vec<u8>, shared: usize, out: &mut Vec<NearGrant>| {
            let mut stack = vec![(start, key)];
            while let Some((n, key)) = stack.pop() {
                if out.len() >= limit || budget == 0 {
                    return;
                }
                budget -= 1;
                for g in &n.grants {
                    if out.len() < limit {
                        out.push(near(g, &key, shared, false));
                    }
                }
                for (label, c) in n.children.iter().rev() {
                    let mut k = key.clone();
                    k.extend_from_slice(label);
                    stack.push((c, k));
                }
            }
        };
        if let Some((child, key, shared)) = off_path {
            visit(child, key, shared, &mut out);
        }
        for (depth, &(n, at)) in path.iter().enumerate().rev() {
            let next_on_path = path.get(depth + 1).map(|&(c, _)| c);
            // Object grants on the path that end before the target do not cover it.
            for g in &n.grants {
                if out.len() < limit && !g.prefix && at < t.len() {
                    out.push(near(g, &t[..at], at, false));
                }
            }
            for (label, c) in &n.children {
                if out.len() >= limit {
                    break;
                }
                let on_path = next_on_path.is_some_and(|p| std::ptr::eq(p, &**c))
                    || t.get(at).is_some_and(|b| *b == label[0]);
                if on_path {
                    continue;
                }
                let mut k = t[..at].to_vec();
                k.extend_from_slice(label);
                visit(c, k, at, &mut out);
            }
        }
        out
    }
}

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
            version: -1,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A UUID-shaped id from a short name.
    fn uid(name: &str) -> String {
        let n: u64 = name
            .bytes()
            .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        format_grant_id((0, n))
    }

    fn grant<'a>(
        id: &'a str,
        kind: GranteeKind,
        who: &'a str,
        perm: GrantPermission,
    ) -> NewGrant<'a> {
        NewGrant {
            id,
            grantee_kind: kind,
            grantee: who,
            permission: perm,
            application_arn: None,
            location_id: "default",
            created_at: 0,
        }
    }

    fn tree(scopes: &[(&str, &str)]) -> GrantTree {
        let mut t = GrantTree::default();
        for (id, scope) in scopes {
            let (k, p) = scope_key(scope).unwrap();
            let id = uid(id);
            t.insert(
                k,
                p,
                grant(&id, GranteeKind::Iam, "role", GrantPermission::Read),
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
    fn grant_ids_round_trip() {
        let id = "3f2b6c1d-8e4a-4d7b-9f0c-1a2b3c4d5e6f";
        assert_eq!(format_grant_id(parse_grant_id(id).unwrap()), id);
        assert!(parse_grant_id("not-a-uuid").is_none());
        assert!(parse_grant_id("3f2b6c1d-8e4a-4d7b-9f0c-1a2b3c4d5e6g").is_none());
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
        assert!(t.remove("b/ab", true, &uid("c")));
        assert!(!t.remove("b/ab", true, &uid("c")));
        assert_eq!(pick(&t, "b/abd/x").as_deref(), Some("s3://b/abd*"));
        assert!(t.remove("b/abc", true, &uid("a")));
        assert_eq!(pick(&t, "b/abc/x"), None);
        assert_eq!(pick(&t, "b/abd/x").as_deref(), Some("s3://b/abd*"));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn snapshots_are_not_changed_by_later_writes() {
        let t1 = tree(&[("a", "s3://b/x/*")]);
        let mut t2 = t1.clone();
        let id = uid("n");
        t2.insert(
            "b/x/y/",
            true,
            grant(&id, GranteeKind::Iam, "role", GrantPermission::Read),
        );
        assert_eq!(pick(&t1, "b/x/y/z").as_deref(), Some("s3://b/x/*"));
        assert_eq!(pick(&t2, "b/x/y/z").as_deref(), Some("s3://b/x/y/*"));
    }

    #[test]
    fn crowded_nodes_are_searched_per_identity() {
        let mut t = GrantTree::default();
        for i in 0..1000u64 {
            let id = format_grant_id((1, i));
            let who = format!("group-{i:04}");
            t.insert(
                "b/red/",
                true,
                grant(
                    &id,
                    GranteeKind::DirectoryGroup,
                    &who,
                    GrantPermission::Read,
                ),
            );
        }
        let who = CallerIdentities {
            groups: vec!["group-0500", "nobody"],
            ..CallerIdentities::default()
        };
        let m = t.best("b/red/x", GrantPermission::Read, &who).unwrap();
        assert_eq!(m.grant_id(), format_grant_id((1, 500)));
        assert_eq!(&*m.grantee, "group-0500");
        let nobody = CallerIdentities {
            groups: vec!["nobody"],
            ..CallerIdentities::default()
        };
        assert!(t.best("b/red/x", GrantPermission::Read, &nobody).is_none());
    }

    #[test]
    fn permissions_and_applications() {
        let mut t = GrantTree::default();
        let (w, rw) = (uid("w"), uid("rw"));
        t.insert(
            "b/w/",
            true,
            grant(&w, GranteeKind::Iam, "role", GrantPermission::Write),
        );
        let mut app = grant(&rw, GranteeKind::Iam, "role", GrantPermission::ReadWrite);
        app.application_arn = Some("arn:app");
        t.insert("b/a/", true, app);
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

    #[test]
    fn nearest_grants_explain_a_refusal() {
        let mut t = GrantTree::default();
        let (red, blue, other, obj) = (uid("red"), uid("blue"), uid("other"), uid("obj"));
        for (id, scope, who, perm) in [
            (
                &red,
                "s3://bucket/projects/red/*",
                "red-group",
                GrantPermission::Read,
            ),
            (
                &blue,
                "s3://bucket/projects/blue/*",
                "blue-group",
                GrantPermission::Read,
            ),
            (
                &other,
                "s3://elsewhere/*",
                "red-group",
                GrantPermission::ReadWrite,
            ),
            (
                &obj,
                "s3://bucket/projects/a.csv",
                "red-group",
                GrantPermission::Read,
            ),
        ] {
            let (k, p) = scope_key(scope).unwrap();
            t.insert(k, p, grant(id, GranteeKind::DirectoryGroup, who, perm));
        }
        let mateo = CallerIdentities {
            groups: vec!["red-group"],
            ..CallerIdentities::default()
        };
        // Mateo asks for blue data: the blue grant covers it but is another group's.
        let near = t.nearest(
            "bucket/projects/blue/berries.csv",
            GrantPermission::Read,
            &mateo,
            3,
        );
        assert_eq!(near[0].grant_id(), blue);
        assert_eq!(near[0].miss, Miss::NotTheCallers);
        assert_eq!(near[0].scope, "s3://bucket/projects/blue/*");
        // Then what shares the most of the target.
        assert_eq!(near[1].shared, "bucket/projects/".len());
        assert!(near.iter().all(|n| n.grant_id() != other), "{near:?}");
        assert_eq!(near.len(), 3);

        // Green data: nothing covers it; the red grant (his own) and the blue share the most.
        let near = t.nearest("bucket/projects/green/x", GrantPermission::Read, &mateo, 2);
        assert_eq!(near.len(), 2);
        assert!(near.iter().all(|n| n.miss == Miss::Scope), "{near:?}");
        assert!(near.iter().all(|n| n.shared == "bucket/projects/".len()));
        // Writing red data: his grant covers the target but only for reads.
        let near = t.nearest("bucket/projects/red/x", GrantPermission::Write, &mateo, 1);
        assert_eq!(near[0].grant_id(), red);
        assert_eq!(near[0].miss, Miss::Permission);
        // A target the tree has nothing near: whatever there is, sharing nothing.
        let near = t.nearest("zzz/x", GrantPermission::Read, &mateo, 10);
        assert_eq!(near.len(), 4);
        assert!(near.iter().all(|n| n.shared == 0));
        // An empty tree explains with nothing.
        assert!(
            GrantTree::default()
                .nearest("b/x", GrantPermission::Read, &mateo, 3)
                .is_empty()
        );
    }
}
