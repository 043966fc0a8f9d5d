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

mod nearest;
#[cfg(test)]
mod tests;
mod tree;
mod view;
pub use nearest::{Miss, NearGrant};
pub use tree::{CallerIdentities, GrantMatch, GrantTree};
pub use view::{AccessGrants, GrantChange, GrantProjection, GrantView, InstanceEntry, load_view};

use async_trait::async_trait;
use imbl::{HashMap, OrdMap};
use std::sync::Arc;
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
