//! The demo world of `tessera dev --with-demo`: issue 20's walk in a real browser, and the
//! sign-in and session hygiene of the data application, which survives a restart.

use crate::support::seeded::demo_expectations;
use crate::support::{
    Cli, IDC, ROOT, browser_dir, chromium, fixture, python, screenshot_dir, script_ok,
};
use std::process::Command;
use tessera_testkit::DevServer;

/// Issue 20's walk in a real browser (Debian's Chromium driven by playwright-core; axe-core on
/// every page): Mateo signs in, sees his datasets, charts the tomatoes with the data's totals,
/// is refused the blueberries with a request id, finds his reads in who-read-what, signs out;
/// the Blue user does the same the other way round. Screenshots of every page.
#[test]
fn demo_world_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_demo(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let expect = rt.block_on(demo_expectations(&server));
    let expect_path = dir.path().join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).unwrap();
    let shots = screenshot_dir();
    let out = Command::new("node")
        .arg(browser_dir().join("demo_walk.mjs"))
        .args(["--manifest"])
        .arg(&server.manifest_path)
        .arg("--expect")
        .arg(&expect_path)
        .arg("--screenshots")
        .arg(&shots)
        .args(["--chromium", &chromium()])
        .output()
        .expect("run node");
    script_ok(out, "the browser walk", "browser walk ok");
    for name in [
        "mateo-04-chart-tomatoes.png",
        "mateo-04-chart-tomatoes-390px.png",
        "mateo-05-refused-blueberries.png",
        "mateo-06-who-read-what.png",
        "blue-04-chart-blueberries.png",
    ] {
        assert!(shots.join(name).exists(), "no screenshot {name}");
    }
    // The reads the browser made are Mateo's in the audit trail, on his behalf.
    let mateo = server
        .manifest
        .idp
        .as_ref()
        .unwrap()
        .users
        .iter()
        .find(|u| u.username == "mateo.jackson")
        .unwrap()
        .user_id
        .clone();
    let reads: Vec<serde_json::Value> = server
        .audit_records()
        .into_iter()
        .filter(|r| {
            r["eventName"] == "GetObject"
                && r["userIdentity"]["onBehalfOf"]["userId"] == mateo.as_str()
        })
        .collect();
    assert!(!reads.is_empty(), "no GetObject on Mateo's behalf");
    for r in &reads {
        assert!(
            r["requestParameters"]["key"]
                .as_str()
                .unwrap()
                .starts_with("projects/red/"),
            "{r}"
        );
    }
}

/// Run the demo's bad-input checks (`tests/demo_bad_input.py`) against a world.
fn demo_bad_input(server: &DevServer) -> String {
    let out = Command::new(python())
        .arg(fixture("demo_bad_input.py"))
        .arg(&server.manifest_path)
        .output()
        .unwrap();
    script_ok(out, "the demo's bad-input checks", "demo bad input ok")
}

/// Sign-in and session hygiene: a wrong password gets the sign-in page again; a forged or
/// replayed `state`, a wrong PKCE verifier and a reused authorization code are refused; the
/// session cookie is HttpOnly, SameSite and opaque; an unknown dataset is a 404 page. Then a
/// restart keeps the world: the same users (no duplicates), grants, objects and passwords.
#[test]
fn demo_world_refuses_bad_input_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = DevServer::start_demo(&data);
    demo_bad_input(&server);
    let before = server.manifest.clone();
    let count = |server: &DevServer| {
        let (idc, root) = (Cli::account(server, IDC), Cli::root(server));
        let instances = idc.ok(&["sso-admin", "list-instances"]);
        let store = instances["Instances"][0]["IdentityStoreId"]
            .as_str()
            .unwrap()
            .to_owned();
        let users =
            idc.ok(&["identitystore", "list-users", "--identity-store-id", &store])["Users"]
                .as_array()
                .unwrap()
                .len();
        let grants = root.s3control(ROOT).ok(&["list-access-grants"])["AccessGrantsList"]
            .as_array()
            .unwrap()
            .len();
        let objects =
            root.ok(&["s3api", "list-objects-v2", "--bucket", "example-bucket"])["Contents"]
                .as_array()
                .map_or(0, Vec::len);
        (users, grants, objects)
    };
    let counted = count(&server);
    assert_eq!((counted.0, counted.1), (2, 2), "{counted:?}");
    assert!(server.stop());
    let server = DevServer::start_demo(&data);
    assert_eq!(
        count(&server),
        counted,
        "the restart duplicated or lost part of the world"
    );
    let pw = |m: &tessera_testkit::Manifest| -> Vec<(String, String)> {
        m.idp
            .as_ref()
            .unwrap()
            .users
            .iter()
            .map(|u| (u.username.clone(), u.password.clone()))
            .collect()
    };
    assert_eq!(pw(&before), pw(&server.manifest), "passwords changed");
    // And the world still works after the restart.
    demo_bad_input(&server);
}
