//! The radix tree of grant scopes, and the search for the grant that best covers a target
//! for a caller's identities.

use super::*;

/// One node of the radix tree. Children are keyed by their label's first byte (unique among
/// siblings, kept sorted); the grants whose scope key ends here are kept sorted by grantee so
/// a caller's identities can be looked up without scanning a crowded node.
#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    pub(super) children: Vec<(Box<[u8]>, Arc<Node>)>,
    pub(super) grants: Vec<IndexedGrant>,
}

pub(super) fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Node {
    /// Insert in place; nodes shared with an older snapshot are copied on the way down
    /// (`Arc::make_mut`), so a snapshot that is already published never changes.
    pub(super) fn insert(&mut self, key: &[u8], g: IndexedGrant) {
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
    pub(super) fn remove(&mut self, key: &[u8], prefix: bool, id: GrantId) -> bool {
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

    pub(super) fn count(&self) -> usize {
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
pub(super) struct Resolved {
    pub(super) ids: Vec<(GranteeKind, Sym)>,
    pub(super) application: Option<Sym>,
}

impl Resolved {
    pub(super) fn new(who: &CallerIdentities<'_>, sy: &Symbols) -> Resolved {
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

    pub(super) fn app_ok(&self, g: &IndexedGrant) -> bool {
        g.application.is_none() || g.application == self.application
    }

    /// The grants of `list` this caller holds.
    pub(super) fn held<'g>(&self, list: &'g [IndexedGrant], out: &mut Vec<&'g IndexedGrant>) {
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
    pub(super) root: Node,
    pub(super) symbols: Symbols,
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

    pub(super) fn walk<'t>(
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
