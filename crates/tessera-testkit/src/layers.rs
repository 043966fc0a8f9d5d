//! The layer rules of `ARCHITECTURE.md`, checked against `cargo metadata`.
//!
//! The workspace's `Cargo.toml` assigns every crate a layer (`[workspace.metadata.layers]`):
//! kernel crates (some of them pure), service crates and edge crates. [`check`] reports every
//! dependency that breaks a rule:
//!
//! 1. every workspace crate is in exactly one of `kernel`, `service`, `edge`, and `pure`
//!    crates are kernel crates;
//! 2. a pure crate has no IO crate among its (transitive, normal) dependencies;
//! 3. a kernel crate depends on no service or edge crate;
//! 4. a service crate depends on no other service crate and no edge crate;
//! 5. only edge crates depend on AWS SDK crates (transitively, or directly as dev-dependencies).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The layer assignment, as `[workspace.metadata.layers]` states it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Layers {
    pub pure: Vec<String>,
    pub kernel: Vec<String>,
    pub service: Vec<String>,
    pub edge: Vec<String>,
    /// Crates that do IO (runtimes, sockets, SQL, HTTP clients and servers).
    pub io_crates: Vec<String>,
    /// Name prefixes of the AWS SDK crates.
    pub sdk_prefixes: Vec<String>,
}

/// A dependency edge's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Normal,
    Dev,
    Build,
}

/// The dependency graph: package name → (dependency name, kind).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub members: BTreeSet<String>,
    pub deps: BTreeMap<String, Vec<(String, Kind)>>,
}

impl Graph {
    /// Build the graph from `cargo metadata --format-version 1` output (with its resolve).
    pub fn from_metadata(meta: &Value) -> Graph {
        let mut names = BTreeMap::new();
        for p in meta["packages"].as_array().into_iter().flatten() {
            names.insert(
                p["id"].as_str().unwrap_or("").to_owned(),
                p["name"].as_str().unwrap_or("").to_owned(),
            );
        }
        let name = |id: &Value| {
            names
                .get(id.as_str().unwrap_or(""))
                .cloned()
                .unwrap_or_default()
        };
        let members = meta["workspace_members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(name)
            .collect();
        let mut deps = BTreeMap::new();
        for n in meta["resolve"]["nodes"].as_array().into_iter().flatten() {
            let mut out = Vec::new();
            for d in n["deps"].as_array().into_iter().flatten() {
                for k in d["dep_kinds"].as_array().into_iter().flatten() {
                    let kind = match k["kind"].as_str() {
                        Some("dev") => Kind::Dev,
                        Some("build") => Kind::Build,
                        _ => Kind::Normal,
                    };
                    out.push((name(&d["pkg"]), kind));
                }
            }
            out.sort();
            out.dedup();
            deps.insert(name(&n["id"]), out);
        }
        Graph { members, deps }
    }

    fn direct(&self, krate: &str) -> impl Iterator<Item = &(String, Kind)> {
        self.deps.get(krate).into_iter().flatten()
    }

    /// Every crate `krate` needs to build (normal and build dependencies, transitively), each
    /// with the path from `krate` that reaches it.
    fn closure(&self, krate: &str) -> BTreeMap<String, Vec<String>> {
        let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut stack = vec![(krate.to_owned(), vec![krate.to_owned()])];
        while let Some((c, path)) = stack.pop() {
            for (d, k) in self.direct(&c) {
                if *k == Kind::Dev || seen.contains_key(d) {
                    continue;
                }
                let mut p = path.clone();
                p.push(d.clone());
                seen.insert(d.clone(), p.clone());
                stack.push((d.clone(), p));
            }
        }
        seen
    }
}

/// Every broken rule, as one readable line each (empty: the layers hold).
pub fn check(layers: &Layers, g: &Graph) -> Vec<String> {
    let mut errors = Vec::new();
    let in_set = |set: &[String], c: &str| set.iter().any(|s| s == c);
    let layer_of = |c: &str| {
        if in_set(&layers.kernel, c) {
            Some("kernel")
        } else if in_set(&layers.service, c) {
            Some("service")
        } else if in_set(&layers.edge, c) {
            Some("edge")
        } else {
            None
        }
    };
    let is_sdk = |c: &str| {
        layers
            .sdk_prefixes
            .iter()
            .any(|p| c.starts_with(p.as_str()))
    };
    for m in &g.members {
        let n = [&layers.kernel, &layers.service, &layers.edge]
            .iter()
            .filter(|s| in_set(s, m))
            .count();
        if n != 1 {
            errors.push(format!(
                "{m} must be in exactly one of kernel, service, edge (is in {n})"
            ));
        }
    }
    for p in &layers.pure {
        if !in_set(&layers.kernel, p) {
            errors.push(format!("pure crate {p} must be a kernel crate"));
        }
    }
    for m in &g.members {
        let layer = layer_of(m);
        if in_set(&layers.pure, m) {
            for (dep, path) in g.closure(m) {
                if in_set(&layers.io_crates, &dep) {
                    errors.push(format!(
                        "pure crate {m} depends on IO crate {dep} ({})",
                        path.join(" -> ")
                    ));
                }
            }
        }
        for (dep, kind) in g.direct(m) {
            if *kind == Kind::Dev || !g.members.contains(dep) {
                continue;
            }
            match (layer, layer_of(dep)) {
                (Some("kernel"), Some(l @ ("service" | "edge"))) => {
                    errors.push(format!("kernel crate {m} depends on {l} crate {dep}"))
                }
                (Some("service"), Some("service")) => errors.push(format!(
                    "service crate {m} depends on service crate {dep}: services share only kernel crates"
                )),
                (Some("service"), Some("edge")) => {
                    errors.push(format!("service crate {m} depends on edge crate {dep}"))
                }
                _ => {}
            }
        }
        if layer != Some("edge") {
            for (dep, path) in g.closure(m) {
                if is_sdk(&dep) {
                    errors.push(format!(
                        "{m} is not an edge crate but depends on AWS SDK crate {dep} ({})",
                        path.join(" -> ")
                    ));
                }
            }
            for (dep, kind) in g.direct(m) {
                if *kind == Kind::Dev && is_sdk(dep) {
                    errors.push(format!(
                        "{m} is not an edge crate but has AWS SDK crate {dep} as a dev-dependency"
                    ));
                }
            }
        }
    }
    errors.sort();
    errors.dedup();
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Layers {
        Layers {
            pure: vec!["core".into()],
            kernel: vec!["core".into(), "store".into()],
            service: vec!["iam".into(), "sts".into()],
            edge: vec!["server".into()],
            io_crates: vec!["tokio".into()],
            sdk_prefixes: vec!["aws-sdk-".into()],
        }
    }

    fn graph(edges: &[(&str, &str, Kind)]) -> Graph {
        let mut g = Graph {
            members: ["core", "store", "iam", "sts", "server"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ..Graph::default()
        };
        for (a, b, k) in edges {
            g.deps
                .entry(a.to_string())
                .or_default()
                .push((b.to_string(), *k));
        }
        g
    }

    fn clean() -> Vec<(&'static str, &'static str, Kind)> {
        vec![
            ("store", "core", Kind::Normal),
            ("store", "tokio", Kind::Normal),
            ("iam", "store", Kind::Normal),
            ("sts", "store", Kind::Normal),
            ("server", "iam", Kind::Normal),
            ("server", "sts", Kind::Normal),
            ("server", "aws-sdk-sts", Kind::Dev),
            ("core", "tokio", Kind::Dev),
        ]
    }

    #[test]
    fn a_clean_graph_passes() {
        assert_eq!(check(&layers(), &graph(&clean())), Vec::<String>::new());
    }

    #[test]
    fn a_sibling_service_dependency_fails() {
        let mut e = clean();
        e.push(("sts", "iam", Kind::Normal));
        let errors = check(&layers(), &graph(&e));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("service crate sts depends on service crate iam"));
    }

    #[test]
    fn io_in_a_pure_crate_fails_even_transitively() {
        let mut e = clean();
        e.push(("core", "helper", Kind::Normal));
        e.push(("helper", "tokio", Kind::Normal));
        let errors = check(&layers(), &graph(&e));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("core -> helper -> tokio"), "{errors:?}");
    }

    #[test]
    fn sdk_crates_outside_the_edge_fail() {
        let mut e = clean();
        e.push(("iam", "aws-sdk-iam", Kind::Dev));
        e.push(("store", "wrapper", Kind::Normal));
        e.push(("wrapper", "aws-sdk-sts", Kind::Normal));
        let errors = check(&layers(), &graph(&e));
        assert!(
            errors.contains(
                &"iam is not an edge crate but has AWS SDK crate aws-sdk-iam as a dev-dependency"
                    .to_owned()
            ),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|m| m.contains("store -> wrapper -> aws-sdk-sts")),
            "{errors:?}"
        );
        // Every crate that reaches the SDK through the store is reported too.
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    #[test]
    fn kernel_crates_do_not_reach_up_and_every_crate_has_a_layer() {
        let mut e = clean();
        e.push(("store", "iam", Kind::Normal));
        let mut g = graph(&e);
        g.members.insert("stray".into());
        let errors = check(&layers(), &g);
        assert!(
            errors
                .iter()
                .any(|m| m.contains("kernel crate store depends on service crate iam"))
        );
        assert!(
            errors
                .iter()
                .any(|m| m.contains("stray must be in exactly one"))
        );
    }
}
