//! Identity Center: sso-admin instances and the identity store through the AWS CLI, and
//! SCIM (the scim2-tester suite, then what it does not check: tenants, uniqueness, filters,
//! paging, the PATCH shapes of Entra ID and Okta, one store shared with identitystore).

use crate::support::scim::{scim, scim_setup, scim_user};
use crate::support::{Cli, IDC, fixture, json_or_null, python, stderr, stdout, step};
use std::process::Command;
use tessera_testkit::DevServer;

/// sso-admin instances with the AWS CLI (awsJson1.1, signing name `sso`): the instance and
/// its identity store, one per account, and AWS's error shape for a missing instance.
#[test]
fn cli_sso_admin_instances() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = Cli::root(&server);
    let arn = root.ok(&["sso-admin", "create-instance", "--name", "acme"])["InstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(arn.starts_with("arn:aws:sso:::instance/ssoins-"), "{arn}");

    let d = root.ok(&["sso-admin", "describe-instance", "--instance-arn", &arn]);
    assert_eq!(d["Name"], "acme");
    assert_eq!(d["OwnerAccountId"], "111111111111");
    assert_eq!(d["Status"], "ACTIVE");
    assert!(d["IdentityStoreId"].as_str().unwrap().starts_with("d-"));

    let listed = root.ok(&["sso-admin", "list-instances"]);
    assert_eq!(listed["Instances"][0]["InstanceArn"], arn.as_str());

    // One instance per account (the CLI sends a fresh idempotency token each time).
    root.fails(&["sso-admin", "create-instance"], "ConflictException");
    root.fails(
        &[
            "sso-admin",
            "describe-instance",
            "--instance-arn",
            "arn:aws:sso:::instance/ssoins-0000000000000000",
        ],
        "ResourceNotFoundException",
    );

    // The other account has none and cannot see this one.
    let other = Cli::account(&server, IDC);
    let listed = other.ok(&["sso-admin", "list-instances"]);
    assert_eq!(listed["Instances"], serde_json::json!([]));
    other.fails(
        &["sso-admin", "describe-instance", "--instance-arn", &arn],
        "ResourceNotFoundException",
    );

    // Each call has its audit record, with sso-admin's event source.
    let records = server.audit_records();
    let sso: Vec<_> = records
        .iter()
        .filter(|r| r["eventSource"] == "sso.amazonaws.com")
        .collect();
    assert_eq!(sso.len(), 7, "{sso:?}");
    assert_eq!(sso[0]["eventName"], "CreateInstance");
    assert_eq!(sso[3]["errorCode"], "ConflictException");
}

/// identitystore users with the AWS CLI, in the identity store of the account's instance:
/// create, describe, list, look up by user name and by email, duplicates refused, delete.
#[test]
fn cli_identity_store_users() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = Cli::root(&server);
    let (_, store) = step("an instance and its identity store", || {
        root.create_instance(None)
    });
    let store = store.as_str();
    let describe = |user_id: &str| {
        root.ok(&[
            "identitystore",
            "describe-user",
            "--identity-store-id",
            store,
            "--user-id",
            user_id,
        ])
    };

    let user_id = step(
        "create a user, look it up by user name and by email",
        || {
            let created = root.create_user(
                store,
                "mateo",
                "Mateo Jackson",
                "GivenName=Mateo,FamilyName=Jackson",
                Some("Value=mateo@example.com,Type=work,Primary=true"),
            );
            let user_id = created["UserId"].as_str().unwrap().to_owned();
            assert_eq!(created["IdentityStoreId"], store);
            assert_eq!(user_id.len(), 47, "{user_id}");

            let d = describe(&user_id);
            assert_eq!(d["UserName"], "mateo");
            assert_eq!(d["DisplayName"], "Mateo Jackson");
            assert_eq!(d["Name"]["FamilyName"], "Jackson");
            assert_eq!(d["Emails"][0]["Value"], "mateo@example.com");
            assert_eq!(d["Emails"][0]["Primary"], true);

            for (path, value) in [("userName", "MATEO"), ("emails.value", "mateo@example.com")] {
                let found = root.ok(&[
                "identitystore",
                "get-user-id",
                "--identity-store-id",
                store,
                "--alternate-identifier",
                &serde_json::json!({"UniqueAttribute": {"AttributePath": path, "AttributeValue": value}})
                    .to_string(),
            ]);
                assert_eq!(found["UserId"], user_id.as_str(), "{path}");
            }
            user_id
        },
    );

    step(
        "unique user names; list and filter users; update one",
        || {
            // User names are unique without regard to case.
            let create = |name: &str, display: &str, names: &str| {
                root.run(&[
                    "identitystore",
                    "create-user",
                    "--identity-store-id",
                    store,
                    "--user-name",
                    name,
                    "--display-name",
                    display,
                    "--name",
                    names,
                ])
            };
            let (ok, _, err) = create("Mateo", "Another", "GivenName=A,FamilyName=B");
            assert!(!ok);
            assert!(err.contains("ConflictException"), "{err}");
            let (ok, _, err) = create("eve", "Eve", "GivenName=Eve,FamilyName=Doe");
            assert!(ok, "{err}");
            let listed = root.ok(&["identitystore", "list-users", "--identity-store-id", store]);
            let mut names: Vec<&str> = listed["Users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["UserName"].as_str().unwrap())
                .collect();
            names.sort();
            assert_eq!(names, ["eve", "mateo"]);
            // The (deprecated, still honoured) Filters: UserName for users, DisplayName for groups.
            let filter = |f: &str| {
                let filter = format!("AttributePath={f}");
                root.run(&[
                    "identitystore",
                    "list-users",
                    "--identity-store-id",
                    store,
                    "--filters",
                    &filter,
                ])
            };
            let (ok, out, err) = filter("UserName,AttributeValue=eve");
            assert!(ok, "{err}");
            let one = json_or_null(&out);
            assert_eq!(one["Users"].as_array().unwrap().len(), 1, "{one}");
            assert_eq!(one["Users"][0]["UserName"], "eve");
            let (done, _, err) = filter("DisplayName,AttributeValue=Eve");
            assert!(!done && err.contains("ValidationException"), "{err}");

            root.ok(&[
                "identitystore",
                "update-user",
                "--identity-store-id",
                store,
                "--user-id",
                &user_id,
                "--operations",
                r#"[{"AttributePath":"displayName","AttributeValue":"Mateo J."}]"#,
            ]);
            assert_eq!(describe(&user_id)["DisplayName"], "Mateo J.");
        },
    );

    // A group and Mateo's membership of it, as DIRECTORY_GROUP grants will read them.
    let group = step("groups, found by name, and a membership", || {
        let group = root.create_group(store, "Engineering");
        root.create_group(store, "Sales");
        for name in ["Engineering", "Sales"] {
            let found = root.ok(&[
                "identitystore",
                "list-groups",
                "--identity-store-id",
                store,
                "--filters",
                &format!("AttributePath=DisplayName,AttributeValue={name}"),
            ]);
            assert_eq!(found["Groups"].as_array().unwrap().len(), 1, "{found}");
            assert_eq!(found["Groups"][0]["DisplayName"], name);
        }
        root.add_to_group(store, &group, &user_id);
        let member = format!("UserId={user_id}");
        let of = root.ok(&[
            "identitystore",
            "list-group-memberships-for-member",
            "--identity-store-id",
            store,
            "--member-id",
            &member,
        ]);
        assert_eq!(of["GroupMemberships"][0]["GroupId"], group.as_str());
        let is = root.ok(&[
            "identitystore",
            "is-member-in-groups",
            "--identity-store-id",
            store,
            "--member-id",
            &member,
            "--group-ids",
            &group,
        ]);
        assert_eq!(is["Results"][0]["MembershipExists"], true);
        group
    });

    step("a deleted user takes its memberships along", || {
        let user = |op: &'static str| {
            [
                "identitystore",
                op,
                "--identity-store-id",
                store,
                "--user-id",
                user_id.as_str(),
            ]
        };
        root.ok(&user("delete-user"));
        let after = root.ok(&[
            "identitystore",
            "list-group-memberships",
            "--identity-store-id",
            store,
            "--group-id",
            &group,
        ]);
        assert_eq!(
            after["GroupMemberships"],
            serde_json::json!([]),
            "the membership went with the user"
        );
        root.fails(&user("describe-user"), "ResourceNotFoundException");
    });

    step(
        "another account's identity store is not there for this one",
        || {
            Cli::account(&server, IDC).fails(
                &["identitystore", "list-users", "--identity-store-id", store],
                "ResourceNotFoundException",
            );
        },
    );

    step("the audit trail hides the users' personal data", || {
        let records = server.audit_records();
        let create = records
            .iter()
            .find(|r| {
                r["eventSource"] == "identitystore.amazonaws.com" && r["eventName"] == "CreateUser"
            })
            .unwrap();
        assert_eq!(
            create["requestParameters"]["userName"],
            "HIDDEN_DUE_TO_SECURITY_REASONS"
        );
        let text = serde_json::to_string(&server.audit_records()).unwrap();
        assert!(
            !text.contains("mateo@example.com")
                && !text.contains("Mateo Jackson")
                && !text.contains("Mateo J.")
        );
    });
}

/// The SCIM endpoint passes every scim2-tester check (`.search` is unsupported, as in
/// Identity Center, and reported SKIPPED).
#[test]
fn scim_passes_scim2_tester() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let (store, token) = scim_setup(&Cli::root(&server));
    let results = dir.path().join("scim-results.json");
    let out = Command::new(python())
        .arg(fixture("../scim/scim_check.py"))
        .args(["--json", results.to_str().unwrap()])
        .env(
            "SCIM_URL",
            format!("{}/{store}/scim/v2", server.manifest.endpoint),
        )
        .env("SCIM_TOKEN", &token)
        .output()
        .expect("run scim_check.py (the test script installs scim2-tester)");
    let stdout = stdout(&out);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let success = all.iter().filter(|r| r["status"] == "SUCCESS").count();
    assert!(success >= 100, "{stdout}");
    for r in &all {
        assert!(
            r["status"] == "SUCCESS"
                || (r["status"] == "SKIPPED" && r["title"] == "search_with_attributes"),
            "{r}"
        );
    }
}

/// What scim2-tester does not check: tokens per tenant, uniqueness, filters, paging, the
/// PATCH shapes Entra ID and Okta send, oversized bodies, and that SCIM and the identitystore
/// API share one store.
#[test]
fn scim_filters_paging_and_idp_patch_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = Cli::root(&server);
    let (store, token) = scim_setup(&root);
    let call =
        |m: &str, p: &str, b: Option<&serde_json::Value>| scim(&server, &token, &store, m, p, b);
    let q = |f: &str| {
        format!(
            "/Users?filter={}",
            form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
        )
    };

    step("tokens: none, a wrong one, another tenant's", || {
        let (s, e) = scim(&server, "", &store, "GET", "/Users", None);
        assert_eq!(s, 401, "{e}");
        assert_eq!(
            e["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(
            scim(&server, "not-a-token", &store, "GET", "/Users", None).0,
            401
        );
        let (other_store, other_token) = scim_setup(&Cli::account(&server, IDC));
        assert_eq!(
            scim(&server, &other_token, &store, "GET", "/Users", None).0,
            401
        );
        assert_eq!(
            scim(&server, &other_token, &other_store, "GET", "/Users", None).0,
            200
        );
    });

    let mateo_id = step(
        "create users; duplicates and invalid ones refused, nothing half-written",
        || {
            let (s, mateo) = call(
                "POST",
                "/Users",
                Some(&scim_user("mateo.jackson", "mateo@example.com", "E-1")),
            );
            assert_eq!(s, 201, "{mateo}");
            let mateo_id = mateo["id"].as_str().unwrap().to_owned();
            let (s, e) = call(
                "POST",
                "/Users",
                Some(&scim_user("MATEO.JACKSON", "x@example.com", "E-9")),
            );
            assert_eq!(
                (s, e["scimType"].as_str()),
                (409, Some("uniqueness")),
                "{e}"
            );
            let mut nameless = scim_user("nameless", "n@example.com", "E-8");
            nameless.as_object_mut().unwrap().remove("name");
            let (s, e) = call("POST", "/Users", Some(&nameless));
            assert_eq!(s, 400, "{e}");
            let mut two = scim_user("two.emails", "a@example.com", "E-7");
            two["emails"] =
                serde_json::json!([{"value": "a@example.com"}, {"value": "b@example.com"}]);
            assert_eq!(call("POST", "/Users", Some(&two)).0, 400);
            let mut huge = scim_user("huge", "h@example.com", "E-6");
            huge["title"] = serde_json::json!("x".repeat(300 * 1024));
            assert_eq!(call("POST", "/Users", Some(&huge)).0, 413);
            for (n, e) in [("eve.blue", "E-2"), ("zoe.green", "E-3")] {
                let (s, _) = call(
                    "POST",
                    "/Users",
                    Some(&scim_user(n, &format!("{n}@example.com"), e)),
                );
                assert_eq!(s, 201);
            }
            let (_, all) = call("GET", "/Users", None);
            assert_eq!(
                all["totalResults"], 3,
                "nothing of a refused create was kept: {all}"
            );
            mateo_id
        },
    );

    step("filters", || {
        let (_, r) = call("GET", &q(r#"userName eq "Mateo.Jackson""#), None);
        assert_eq!(r["totalResults"], 1);
        assert_eq!(r["Resources"][0]["id"], mateo_id.as_str());
        let (_, r) = call("GET", &q(r#"externalId eq "E-2""#), None);
        assert_eq!(r["Resources"][0]["userName"], "eve.blue");
        let (_, r) = call(
            "GET",
            &q(r#"userName eq "eve.blue" and externalId eq "E-1""#),
            None,
        );
        assert_eq!(r["totalResults"], 0);
        for bad in [
            r#"userName co "m""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"a eq "1" and b eq "2" and c eq "3""#,
            r#"userName eq "unterminated"#,
        ] {
            let (s, e) = call("GET", &q(bad), None);
            assert_eq!(
                (s, e["scimType"].as_str()),
                (400, Some("invalidFilter")),
                "{bad}: {e}"
            );
        }
    });

    step("paging", || {
        let (_, p1) = call("GET", "/Users?startIndex=1&count=2", None);
        assert_eq!(
            (p1["totalResults"].as_u64(), p1["itemsPerPage"].as_u64()),
            (Some(3), Some(2))
        );
        let (_, p2) = call("GET", "/Users?startIndex=3&count=2", None);
        assert_eq!(p2["itemsPerPage"], 1);
        assert_ne!(p1["Resources"][0]["id"], p2["Resources"][0]["id"]);
    });

    step("the PATCH shapes of Entra ID and Okta", || {
        // Entra ID's PATCH: capitalised ops, several operations, filtered paths, the extension.
        let entra = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Mateo J."},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "mateo.jackson@example.com"},
            {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Red"},
            {"op": "Replace", "path": "name.givenName", "value": "Mateo"}]});
        let (s, u) = call("PATCH", &format!("/Users/{mateo_id}"), Some(&entra));
        assert_eq!(s, 200, "{u}");
        assert_eq!(u["displayName"], "Mateo J.");
        assert_eq!(u["emails"][0]["value"], "mateo.jackson@example.com");
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "Red"
        );
        // Okta's: no path.
        let okta = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"id": mateo_id, "active": false}}]});
        let (_, u) = call("PATCH", &format!("/Users/{mateo_id}"), Some(&okta));
        assert_eq!(u["active"], false);
        let back = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": true}}]});
        call("PATCH", &format!("/Users/{mateo_id}"), Some(&back));
        // A PATCH that would break the identity store's rules changes nothing.
        let bad = serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "ok"}, {"op": "remove", "path": "name"}]});
        assert_eq!(
            call("PATCH", &format!("/Users/{mateo_id}"), Some(&bad)).0,
            400
        );
        assert_eq!(
            call("GET", &format!("/Users/{mateo_id}"), None).1["displayName"],
            "Mateo J."
        );
    });

    step("the identitystore API sees the same user", || {
        // The identitystore API sees the same user (email lookup, external id).
        for id in [
            r#"{"UniqueAttribute":{"AttributePath":"emails.value","AttributeValue":"mateo.jackson@example.com"}}"#,
            r#"{"ExternalId":{"Issuer":"scim","Id":"E-1"}}"#,
        ] {
            let found = root.ok(&[
                "identitystore",
                "get-user-id",
                "--identity-store-id",
                &store,
                "--alternate-identifier",
                id,
            ]);
            assert_eq!(found["UserId"], mateo_id.as_str(), "{id}");
        }
    });

    let eve_id = step(
        "groups: members added and removed as Entra ID and Okta do",
        || {
            // Groups: create with members; Entra's add and remove-with-value; Okta's filtered remove.
            let eve_id = call("GET", &q(r#"userName eq "eve.blue""#), None).1["Resources"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let (s, g) = call(
                "POST",
                "/Groups",
                Some(
                    &serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Red Project Group", "externalId": "G-1", "members": [{"value": mateo_id}]}),
                ),
            );
            assert_eq!(s, 201, "{g}");
            let gid = g["id"].as_str().unwrap().to_owned();
            let patch = |ops: serde_json::Value| serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
            let (s, _) = call(
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(&patch(
                    serde_json::json!([{"op": "Add", "path": "members", "value": [{"value": eve_id}]}]),
                )),
            );
            assert_eq!(s, 200);
            let gq = |f: &str| {
                format!(
                    "/Groups?filter={}",
                    form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
                )
            };
            let (_, r) = call(
                "GET",
                &gq(&format!(
                    r#"displayName eq "Red Project Group" and members.value eq "{eve_id}""#
                )),
                None,
            );
            assert_eq!(r["totalResults"], 1, "{r}");
            let memberships = root.ok(&[
                "identitystore",
                "list-group-memberships",
                "--identity-store-id",
                &store,
                "--group-id",
                &gid,
            ]);
            assert_eq!(memberships["GroupMemberships"].as_array().unwrap().len(), 2);
            call(
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(&patch(
                    serde_json::json!([{"op": "Remove", "path": "members", "value": [{"value": eve_id}]}]),
                )),
            );
            call(
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(&patch(
                    serde_json::json!([{"op": "remove", "path": format!("members[value eq \"{mateo_id}\"]")}]),
                )),
            );
            let (_, g) = call("GET", &format!("/Groups/{gid}"), None);
            assert_eq!(g["members"], serde_json::json!([]), "{g}");
            // A member who is not a user of this store is refused.
            let (s, _) = call(
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(&patch(
                    serde_json::json!([{"op": "add", "path": "members", "value": [{"value": "0000000000-00000000-0000-0000-0000-000000000000"}]}]),
                )),
            );
            assert_eq!(s, 400);
            let (_, r) = call("GET", &gq(r#"externalId eq "G-1""#), None);
            assert_eq!(r["Resources"][0]["id"], gid.as_str());
            eve_id
        },
    );

    step("delete a user", || {
        assert_eq!(call("DELETE", &format!("/Users/{eve_id}"), None).0, 204);
        assert_eq!(call("GET", &format!("/Users/{eve_id}"), None).0, 404);
        assert_eq!(call("DELETE", &format!("/Users/{eve_id}"), None).0, 404);
    });

    step(
        "SCIM calls are audited with the tenant, bodies hidden",
        || {
            let records = server.audit_records();
            let scim_events: Vec<_> = records
                .iter()
                .filter(|r| r["eventSource"] == "identitystore-scim.amazonaws.com")
                .collect();
            assert!(scim_events.iter().any(|r| r["eventName"] == "CreateUser"
                && r["requestParameters"]["tenantId"] == store.as_str()));
            let text = serde_json::to_string(&scim_events).unwrap();
            assert!(
                !text.contains("mateo.jackson@example.com"),
                "personal data reached the audit log"
            );
        },
    );
}
