//! The grants near a target that did not match it, and why: the explanation of a refusal.

use super::tree::{Node, Resolved, common_prefix};
use super::*;

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
