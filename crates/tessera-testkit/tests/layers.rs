//! The workspace keeps its layers (see `tessera_testkit::layers`): read `cargo metadata` and
//! the layer assignment in the workspace `Cargo.toml`, and fail on any broken rule.

use tessera_testkit::layers::{Graph, Layers, check};

#[test]
fn the_workspace_keeps_its_layers() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = tessera_testkit::manifest_dir().join("../../Cargo.toml");
    // Resolve for this machine only: other platforms' crates need not be downloaded.
    let rustc =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("-vV")
            .output()
            .expect("run rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc -vV names the host");
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
        ])
        .arg(&host)
        .args(["--manifest-path".as_ref(), manifest.as_os_str()])
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers: Layers = serde_json::from_value(meta["metadata"]["layers"].clone())
        .expect("[workspace.metadata.layers] in the workspace Cargo.toml");
    let graph = Graph::from_metadata(&meta);
    assert!(graph.members.len() >= 12, "{:?}", graph.members);
    let errors = check(&layers, &graph);
    assert!(
        errors.is_empty(),
        "layer rules broken:\n{}",
        errors.join("\n")
    );
}
