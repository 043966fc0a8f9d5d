//! `ARCHITECTURE.md` stays true: every file it names (`tests/registry.rs`, `protocols/`) is in
//! the repository, and every Rust item it names (`tessera_service::Registry`,
//! `Registry::route`, `Routed::Fallback`) is defined somewhere in the workspace's sources.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir`, relative to the repository, skipping build output and tools.
fn files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if ["target", ".git", "node_modules", ".tessera"].contains(&name.as_str()) {
                continue;
            }
            out.push(format!("{}/", p.strip_prefix(root).unwrap().display()));
            files(&p, root, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
}

/// The spans of `text` in backticks.
fn code_spans(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(code), _) = (parts.next(), parts.next()) {
            out.insert(code.to_owned());
        }
    }
    out
}

/// A file path the document names: a relative path with an extension, or a directory.
fn is_path(s: &str) -> bool {
    let exts = [".rs", ".md", ".py", ".mjs", ".toml", ".sql", ".sh", ".json"];
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
        && !s.starts_with('/')
        && !s.starts_with('.')
        && (exts.iter().any(|e| s.ends_with(e)) || (s.ends_with('/') && s.len() > 1))
}

/// A Rust item path the document names: `tessera_x::y::Z` or `Type::item`.
fn is_rust_path(s: &str) -> bool {
    let segs: Vec<&str> = s.split("::").collect();
    segs.len() >= 2
        && segs.iter().all(|seg| {
            !seg.is_empty()
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !seg.starts_with(|c: char| c.is_ascii_digit())
        })
        && (segs[0].starts_with("tessera_")
            || segs[0].starts_with(|c: char| c.is_ascii_uppercase()))
}

/// Whether `name` is defined in `sources`: an item, a variant, a field or a re-export.
fn defined(name: &str, sources: &str) -> bool {
    let keywords = [
        "fn",
        "struct",
        "enum",
        "trait",
        "mod",
        "type",
        "const",
        "static",
        "macro_rules!",
    ];
    if keywords
        .iter()
        .any(|k| sources.contains(&format!("{k} {name}")))
    {
        return true;
    }
    sources.lines().any(|l| {
        let t = l.trim_start();
        // An enum variant or a struct field, or a re-export naming it.
        let rest = t.strip_prefix("pub ").unwrap_or(t);
        let rest = rest.strip_prefix("pub(crate) ").unwrap_or(rest);
        rest.strip_prefix(name)
            .is_some_and(|after| after.is_empty() || after.starts_with([',', '(', ' ', '{', ':']))
            || (t.starts_with("pub use") && t.contains(name))
    })
}

/// Names the document uses that live outside the workspace (std, the AWS SDK) or only at run
/// time (the local backend's `tmp/` directory in its data directory).
const OUTSIDE: &[&str] = &[
    "Arc::make_mut",
    "IdentityCacheLocation::IdentityResolver",
    "tmp/",
];

#[test]
fn the_architecture_document_names_only_what_exists() {
    let root = repo();
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    let mut sources = String::new();
    for f in all
        .iter()
        .filter(|f| f.starts_with("crates/") && f.ends_with(".rs"))
    {
        sources.push_str(&std::fs::read_to_string(root.join(f)).unwrap());
        sources.push('\n');
    }
    let mut missing = Vec::new();
    let spans = code_spans(&doc);
    let (mut paths, mut items) = (0, 0);
    for s in spans.iter().filter(|s| !OUTSIDE.contains(&s.as_str())) {
        if is_path(s) {
            paths += 1;
            let found = all.iter().any(|f| f == s || f.ends_with(&format!("/{s}")));
            if !found {
                missing.push(format!("file {s}"));
            }
        } else if is_rust_path(s) {
            items += 1;
            let segs: Vec<&str> = s.split("::").collect();
            if segs[0].starts_with("tessera_") {
                let dir = format!("crates/{}/", segs[0].replace('_', "-"));
                if !all.contains(&dir) {
                    missing.push(format!("crate {}", segs[0]));
                    continue;
                }
            }
            for seg in &segs[1..] {
                if !defined(seg, &sources) {
                    missing.push(format!("item {seg} (of {s})"));
                }
            }
        }
    }
    assert!(
        paths > 30 && items > 30,
        "{paths} paths, {items} items: the parser broke"
    );
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names what no longer exists:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn the_checker_sees_what_is_missing() {
    let sources = "pub struct Registry;\nimpl Registry {\n    pub fn route(&self) {}\n}\nenum Routed {\n    Fallback,\n}\n";
    assert!(defined("Registry", sources));
    assert!(defined("route", sources));
    assert!(defined("Fallback", sources));
    assert!(!defined("Nowhere", sources));
    assert!(is_path("tests/registry.rs") && is_path("protocols/"));
    assert!(!is_path("/v20180820/") && !is_path("s3://") && !is_path("bucket/key-or-prefix"));
    assert!(is_rust_path("tessera_service::Registry") && is_rust_path("Routed::Fallback"));
    assert!(!is_rust_path("s3:GetObject") && !is_rust_path("a::b c"));
    let spans = code_spans("a `x.rs` b `y::Z`\n```\n`inside.rs`\n```\n");
    assert!(spans.contains("x.rs") && spans.contains("y::Z") && !spans.contains("inside.rs"));
}
