//! S3 Access Grants through the AWS CLI: which Identity Center instance an Access Grants
//! instance may use, and IAM grantees (AWS's Default/Minimal table, object grants, the
//! location role's trust, validation, tags, paging, the instance resource policy).

use crate::support::cli::{Ran, S3Control};
use crate::support::{
    Cli, Creds, IDC, ROOT, access_grants_location_trust, creds, field, step, string,
};
use tessera_testkit::{DevServer, tessera_command};

/// The second tenant of these tests: an account outside the organization.
const TENANT: &str = "333333333333";

/// An Access Grants instance may use its own account's Identity Center instance or one of its
/// organization's (the seeds' shape: the application in 111111111111, Identity Center in
/// 222222222222, one organization under `tessera dev`), never another tenant's: the
/// association is refused as if the instance did not exist, so grantee validation cannot be
/// used to probe another tenant's user and group ids.
#[test]
fn access_grants_use_only_their_organizations_identity_center() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let ic = Cli::account(&server, IDC);
    let root = Cli::root(&server);
    let (instance, user) = step("the organization's Identity Center, with a user", || {
        let (instance, store_id) = ic.create_instance(Some("org"));
        let user = ic.create_user(
            &store_id,
            "mateo.jackson",
            "Mateo Jackson",
            "GivenName=Mateo,FamilyName=Jackson",
            None,
        );
        let user = string(&user, "UserId");
        (instance, user)
    });

    // Another tenant: an account outside the organization, with its own root key.
    let d = server.data_dir.to_str().unwrap();
    let other = step("another tenant, with a root key", || {
        let out = tessera_command(&["account", "create", TENANT, "--data-dir", d]);
        assert!(out.contains("created"), "{out}");
        let out = tessera_command(&["root-key", "create", "--account", TENANT, "--data-dir", d]);
        Cli::new(
            &server,
            (
                &field(&out, "AccessKeyId:"),
                &field(&out, "SecretAccessKey:"),
            ),
        )
    });
    let location_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"access-grants.s3.amazonaws.com"},"Action":["sts:AssumeRole","sts:SetContext"]}]}"#;
    for k in [&other, &root] {
        k.create_role("location", location_trust);
    }
    let grantee = ("DIRECTORY_USER", user.as_str());

    step(
        "another tenant may not use the organization's instance",
        || {
            let ctl = other.s3control(TENANT);
            let err = ctl
                .call(&[
                    "create-access-grants-instance",
                    "--identity-center-arn",
                    &instance,
                ])
                .fails_code("InvalidIdentityCenterInstance");
            assert!(err.contains("does not exist"), "{err}");
            // Unassociated, then associated later: the same refusal, and no directory grantee
            // can be checked against the organization's store.
            ctl.ok(&["create-access-grants-instance"]);
            ctl.fails_code(
                &[
                    "associate-access-grants-identity-center",
                    "--identity-center-arn",
                    &instance,
                ],
                "InvalidIdentityCenterInstance",
            );
            ctl.ok(&[
                "create-access-grants-location",
                "--location-scope",
                "s3://",
                "--iam-role-arn",
                "arn:aws:iam::333333333333:role/location",
            ]);
            ctl.grant("default", "bucket/*", grantee, "READ", &[])
                .fails_code("InvalidAccessGrant");
        },
    );

    // The application account of the organization associates it, and its directory grantee
    // is validated against the organization's store.
    step("the organization's application account may", || {
        let ctl = root.s3control(ROOT);
        ctl.ok(&[
            "create-access-grants-instance",
            "--identity-center-arn",
            &instance,
        ]);
        ctl.ok(&[
            "create-access-grants-location",
            "--location-scope",
            "s3://",
            "--iam-role-arn",
            &format!("arn:aws:iam::{ROOT}:role/location"),
        ]);
        ctl.grant("default", "bucket/*", grantee, "READ", &[]).ok();
    });

    step(
        "once the account leaves the organization, it may not",
        || {
            tessera_command(&[
                "account",
                "set-organization",
                ROOT,
                "--none",
                "--data-dir",
                d,
            ]);
            root.s3control(ROOT)
                .grant("default", "bucket/other/*", grantee, "READ", &[])
                .fails_code("InvalidAccessGrant");
        },
    );
}

/// S3 Access Grants with IAM grantees, through the AWS CLI: AWS's documented Default/Minimal
/// table (grants `s3://…/bob/*` and `s3://…/bob/reports/*`), object grants, the location
/// role's trust policy, the control plane's validation and "not empty" rules, tags, paging,
/// and the instance resource policy across accounts.
#[test]
fn cli_access_grants_with_iam_grantees() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = Cli::root(&server);
    let ctl = root.s3control(ROOT);
    step("one instance per account", || one_instance(&ctl));
    let other_loc_id = step("locations: the role's trust policy, valid scopes", || {
        locations(&root, &ctl)
    });
    let bob = step("bob, an IAM user, and the grants of AWS's table", || {
        grants_to_bob(&root, &ctl)
    });
    let inner_id = step("a grant inside a prefix location; not empty; pages", || {
        prefix_location_and_pages(&ctl, &bob, &other_loc_id)
    });
    let vended = step("GetDataAccess: AWS's table, refusals and bad input", || {
        get_data_access(&root, &bob)
    });
    step("bob's caller grants", || {
        let caller_grants = bob.cli.s3control(ROOT).ok(&[
            "list-caller-access-grants",
            "--grant-scope",
            "s3://bucket1/bob/",
        ]);
        // The list's order is the store's (creation second, then grant id), not a promise:
        // compare as a set. (Two grants made within one second used to make this test flaky.)
        let mut scopes: Vec<&str> = caller_grants["CallerAccessGrantsList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["GrantScope"].as_str().unwrap())
            .collect();
        scopes.sort_unstable();
        assert_eq!(
            scopes,
            ["s3://bucket1/bob/*", "s3://bucket1/bob/reports/*"],
            "{caller_grants}"
        );
    });
    step(
        "across accounts, the instance's resource policy must allow too",
        || cross_account(&server, &ctl),
    );
    step("tags on a grant; the instance for a prefix", || {
        tags_and_prefix(&ctl, &bob.g1_id)
    });
    // Deleting a grant takes effect at once; then the prefix location can go.
    step(
        "deleted grants are gone at once; then their location",
        || {
            ctl.ok(&["delete-access-grant", "--access-grant-id", &bob.g1_id]);
            ctl.fails_code(
                &["get-access-grant", "--access-grant-id", &bob.g1_id],
                "NoSuchAccessGrantError",
            );
            bob.gda("s3://bucket1/bob/x", "READ", &[])
                .fails_code("AccessDenied");
            ctl.ok(&["delete-access-grant", "--access-grant-id", &inner_id]);
            ctl.ok(&[
                "delete-access-grants-location",
                "--access-grants-location-id",
                &other_loc_id,
            ]);
            ctl.fails_code(
                &[
                    "get-access-grants-location",
                    "--access-grants-location-id",
                    &other_loc_id,
                ],
                "NoSuchAccessGrantsLocationError",
            );
        },
    );

    step(
        "the audit trail: a record per call, the matched grant",
        || {
            let records = server.audit_records();
            let gda_ok: Vec<_> = records
                .iter()
                .filter(|r| r["eventName"] == "GetDataAccess" && r["errorCode"].is_null())
                .collect();
            assert!(!gda_ok.is_empty());
            assert_eq!(gda_ok[0]["eventSource"], "s3.amazonaws.com");
            assert_eq!(
                gda_ok[0]["requestParameters"]["target"],
                "s3://bucket1/bob/*"
            );
            assert_eq!(
                gda_ok[0]["additionalEventData"]["matchedGrantId"],
                bob.g1_id.as_str()
            );
            let text = serde_json::to_string(&records).unwrap();
            assert!(
                !text.contains(&vended.1) && !text.contains(&vended.2),
                "credentials reached the audit log"
            );
        },
    );
}

/// An IAM user with the grants of AWS's table.
struct Bob<'s> {
    cli: Cli<'s>,
    arn: String,
    /// The grant of `s3://bucket1/bob/*`.
    g1_id: String,
}

impl Bob<'_> {
    /// Bob's GetDataAccess of `target`.
    fn gda(&self, target: &str, permission: &str, extra: &[&str]) -> Ran {
        self.cli
            .s3control(ROOT)
            .get_data_access(target, permission, extra)
    }
}

fn one_instance(ctl: &S3Control) {
    // Nothing exists yet.
    ctl.fails_code(
        &["get-access-grants-instance"],
        "AccessGrantsInstanceNotExistsError",
    );
    let listed = ctl.ok(&["list-access-grants-instances"]);
    assert!(
        listed["AccessGrantsInstancesList"]
            .as_array()
            .is_none_or(|l| l.is_empty()),
        "{listed}"
    );
    let inst = ctl.ok(&[
        "create-access-grants-instance",
        "--tags",
        "Key=team,Value=data",
    ]);
    assert_eq!(
        inst["AccessGrantsInstanceArn"],
        format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")
    );
    assert_eq!(inst["AccessGrantsInstanceId"], "default");
    ctl.fails_code(
        &["create-access-grants-instance"],
        "AccessGrantsInstanceAlreadyExists",
    );
}

/// The default location (`s3://`, its role trusting the service) and a prefix location whose
/// role does not trust it; returns the prefix location's id.
fn locations(root: &Cli, ctl: &S3Control) -> String {
    // The location role: the seed's trust policy for the service principal.
    root.create_role(
        "ag-location-role",
        &access_grants_location_trust().to_string(),
    );
    // A role whose trust policy does not admit the service.
    root.create_role(
        "not-for-grants",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"sts:AssumeRole"}}]}}"#
        ),
    );
    let role = format!("arn:aws:iam::{ROOT}:role/ag-location-role");
    let location = |scope: &str, role: &str| {
        ctl.call(&[
            "create-access-grants-location",
            "--location-scope",
            scope,
            "--iam-role-arn",
            role,
        ])
    };
    location("s3://", &format!("arn:aws:iam::{ROOT}:role/missing")).fails_code("InvalidIamRole");
    for bad in [
        "s3://Bad_Bucket/",
        "s3://bucket1/*",
        "s3://bucket1/a/../b",
        "gs:bucket1",
    ] {
        location(bad, &role).fails_code("InvalidAccessGrantsLocation");
    }
    let loc = location("s3://", &role).ok();
    assert_eq!(loc["AccessGrantsLocationId"], "default");
    location("s3://", &role).fails_code("AccessGrantsLocationAlreadyExistsError");
    let other_loc = location(
        "s3://other-bucket/team/",
        &format!("arn:aws:iam::{ROOT}:role/not-for-grants"),
    )
    .ok();
    let other_loc_id = other_loc["AccessGrantsLocationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let locs = ctl.ok(&["list-access-grants-locations"]);
    assert_eq!(
        locs["AccessGrantsLocationsList"].as_array().unwrap().len(),
        2
    );
    other_loc_id
}

/// The caller: an IAM user allowed GetDataAccess, and the grants of AWS's table; the
/// control plane's validation of grants.
fn grants_to_bob<'s>(root: &Cli<'s>, ctl: &S3Control) -> Bob<'s> {
    let cli = root.new_user(
        "bob",
        Some((
            "data",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetDataAccess","s3:ListCallerAccessGrants"],"Resource":"*"}]}"#,
        )),
    );
    let arn = format!("arn:aws:iam::{ROOT}:user/bob");
    let grant = |sub: &str, perm: &str, extra: &[&str]| {
        ctl.grant("default", sub, ("IAM", &arn), perm, extra)
    };
    let g1 = grant("bucket1/bob/*", "READ", &[]).ok();
    assert_eq!(g1["GrantScope"], "s3://bucket1/bob/*");
    let g1_id = g1["AccessGrantId"].as_str().unwrap().to_owned();
    grant("bucket1/bob/reports/*", "READ", &[]).ok();
    grant(
        "bucket1/shared/data.csv",
        "READWRITE",
        &["--s3-prefix-type", "Object"],
    )
    .ok();
    grant("bucket1/bob/*", "READ", &[]).fails_code("AccessGrantAlreadyExists");
    for bad in [
        "bucket1/a*b*",
        "bucket1/../x/*",
        "bucket1//x*",
        "bucket1/a%2Fb*",
        "Bad_Bucket/x*",
    ] {
        grant(bad, "READ", &[]).fails_code("InvalidAccessGrant");
    }
    grant("bucket1/x*", "READ", &["--s3-prefix-type", "Object"]).fails_code("InvalidAccessGrant");
    grant("bucket1/x*", "OWNER", &[]).fails_code("InvalidRequest");
    let nobody = format!("arn:aws:iam::{ROOT}:user/nobody");
    for grantee in [
        ("IAM", nobody.as_str()),
        (
            "DIRECTORY_USER",
            "a1b2c3d4e5-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
        ),
    ] {
        ctl.grant("default", "bucket1/x*", grantee, "READ", &[])
            .fails_code("InvalidAccessGrant");
    }
    Bob { cli, arn, g1_id }
}

/// A grant on the prefix location stays inside it; what holds grants may not be deleted;
/// grants are listed in pages and by scope. Returns the inner grant's id.
fn prefix_location_and_pages(ctl: &S3Control, bob: &Bob, other_loc_id: &str) -> String {
    let inner = ctl
        .grant(other_loc_id, "reports*", ("IAM", &bob.arn), "READ", &[])
        .ok();
    assert_eq!(inner["GrantScope"], "s3://other-bucket/team/reports*");
    ctl.fails_code(
        &[
            "delete-access-grants-location",
            "--access-grants-location-id",
            other_loc_id,
        ],
        "AccessGrantsLocationNotEmptyError",
    );
    ctl.fails_code(
        &["delete-access-grants-instance"],
        "AccessGrantsInstanceNotEmptyError",
    );
    let listed = ctl.ok(&["list-access-grants", "--max-results", "2"]);
    assert_eq!(listed["AccessGrantsList"].as_array().unwrap().len(), 2);
    let token = listed["NextToken"].as_str().unwrap().to_owned();
    let rest = ctl.ok(&[
        "list-access-grants",
        "--max-results",
        "10",
        "--next-token",
        &token,
    ]);
    assert_eq!(rest["AccessGrantsList"].as_array().unwrap().len(), 2);
    let filtered = ctl.ok(&["list-access-grants", "--grant-scope", "s3://bucket1/bob/*"]);
    assert_eq!(filtered["AccessGrantsList"].as_array().unwrap().len(), 1);
    inner["AccessGrantId"].as_str().unwrap().to_owned()
}

/// Bob's GetDataAccess: AWS's table, a session of the location role, object grants,
/// refusals and bad input; returns the credentials vended for `s3://bucket1/bob/x`.
fn get_data_access(root: &Cli, bob: &Bob) -> Creds {
    // AWS's table.
    for (target, privilege, scope) in [
        ("s3://bucket1/bob/*", "Default", "s3://bucket1/bob/*"),
        ("s3://bucket1/bob/", "Minimal", "s3://bucket1/bob/"),
        (
            "s3://bucket1/bob/images/*",
            "Minimal",
            "s3://bucket1/bob/images/*",
        ),
        (
            "s3://bucket1/bob/reports/file.txt",
            "Default",
            "s3://bucket1/bob/reports/*",
        ),
        (
            "s3://bucket1/bob/reports/file.txt",
            "Minimal",
            "s3://bucket1/bob/reports/file.txt",
        ),
    ] {
        let out = bob.gda(target, "READ", &["--privilege", privilege]).ok();
        assert_eq!(out["MatchedGrantTarget"], scope, "{target} {privilege}");
        assert_eq!(out["Grantee"]["GranteeType"], "IAM");
        assert_eq!(out["Grantee"]["GranteeIdentifier"], bob.arn.as_str());
    }
    // Default privilege is Default; the credentials are a session of the location role.
    let out = bob
        .gda("s3://bucket1/bob/x", "READ", &["--duration-seconds", "900"])
        .ok();
    assert_eq!(out["MatchedGrantTarget"], "s3://bucket1/bob/*");
    let vended = creds(&out);
    assert!(vended.0.starts_with("ASIA"));
    let me = Cli::session(root.server, &vended).ok(&["sts", "get-caller-identity"]);
    let arn = me["Arn"].as_str().unwrap();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:sts::{ROOT}:assumed-role/ag-location-role/access-grants-"
        )),
        "{arn}"
    );
    // Object grants: exactly that object, READWRITE covers both permissions.
    let out = bob
        .gda(
            "s3://bucket1/shared/data.csv",
            "WRITE",
            &["--target-type", "Object"],
        )
        .ok();
    assert_eq!(out["MatchedGrantTarget"], "s3://bucket1/shared/data.csv");
    let long = format!("s3://bucket1/bob/{}", "k".repeat(1100));
    let refusals: &[(&str, &str, &[&str], &str)] = &[
        (
            "s3://bucket1/shared/data.csv.bak",
            "READ",
            &[],
            "AccessDenied",
        ),
        ("s3://bucket1/shared/*", "READ", &[], "AccessDenied"),
        // No covering grant, the wrong permission, a character prefix that is not a grant.
        ("s3://bucket1/bo", "READ", &[], "AccessDenied"),
        ("s3://bucket1/bob/x", "WRITE", &[], "AccessDenied"),
        ("s3://bucket1/*", "READ", &[], "AccessDenied"),
        // The prefix location's role does not trust the service.
        (
            "s3://other-bucket/team/reports/q1",
            "READ",
            &[],
            "StsNotAuthorizedError",
        ),
        // Bad input.
        ("bucket1/bob/x", "READ", &[], "InvalidRequest"),
        ("s3://bucket1", "READ", &[], "InvalidRequest"),
        ("s3://bucket1/", "READ", &[], "InvalidRequest"),
        ("s3://BUCKET/x", "READ", &[], "InvalidRequest"),
        ("s3://bucket1/bob/../x", "READ", &[], "InvalidRequest"),
        ("s3://bucket1/bob//x", "READ", &[], "InvalidRequest"),
        ("s3://bucket1/bob/%2e%2e/x", "READ", &[], "InvalidRequest"),
        ("s3://bucket1/b*b", "READ", &[], "InvalidRequest"),
        (long.as_str(), "READ", &[], "InvalidRequest"),
        (
            "s3://bucket1/bob/x",
            "READ",
            &["--privilege", "Maximal"],
            "InvalidRequest",
        ),
        (
            "s3://bucket1/bob/*",
            "READ",
            &["--target-type", "Object"],
            "InvalidRequest",
        ),
        (
            "s3://bucket1/bob/x",
            "READ",
            &["--duration-seconds", "43201"],
            "InvalidRequest",
        ),
        // The location role's maximum session is one hour: longer credentials are refused.
        (
            "s3://bucket1/bob/x",
            "READ",
            &["--duration-seconds", "7200"],
            "StsValidationError",
        ),
    ];
    for (target, permission, extra, code) in refusals {
        bob.gda(target, permission, extra).fails_code(code);
    }
    // The root of the account (no policy grants it data).
    root.s3control(ROOT)
        .get_data_access("s3://bucket1/bob/x", "READ", &[])
        .fails_code("AccessDenied");
    vended
}

/// Cross-account: a user of 222222222222 needs the instance's resource policy too.
fn cross_account(server: &DevServer, ctl: &S3Control) {
    let partner = Cli::account(server, IDC).new_user(
        "partner",
        Some((
            "data",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"*"}]}"#,
        )),
    );
    let partner_arn = "arn:aws:iam::222222222222:user/partner";
    ctl.grant(
        "default",
        "bucket1/partner/*",
        ("IAM", partner_arn),
        "READ",
        &[],
    )
    .ok();
    let partner_gda = || {
        partner
            .s3control(ROOT)
            .get_data_access("s3://bucket1/partner/a", "READ", &[])
    };
    partner_gda().fails_code("AccessDenied");
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": partner_arn}, "Action": "s3:GetDataAccess",
        "Resource": format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")}]});
    ctl.fails_code(
        &[
            "put-access-grants-instance-resource-policy",
            "--policy",
            "{not json",
        ],
        "InvalidResourcePolicy",
    );
    ctl.ok(&[
        "put-access-grants-instance-resource-policy",
        "--policy",
        &policy.to_string(),
    ]);
    let got = ctl.ok(&["get-access-grants-instance-resource-policy"]);
    assert!(got["Policy"].as_str().unwrap().contains(partner_arn));
    let out = partner_gda().ok();
    assert_eq!(out["MatchedGrantTarget"], "s3://bucket1/partner/*");
    ctl.ok(&["delete-access-grants-instance-resource-policy"]);
    ctl.fails_code(
        &["get-access-grants-instance-resource-policy"],
        "AccessGrantsInstanceResourcePolicyNotExists",
    );
    partner_gda().fails_code("AccessDenied");
}

/// Tags on a grant; the instance for a prefix.
fn tags_and_prefix(ctl: &S3Control, g1_id: &str) {
    let g1_arn = format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default/grant/{g1_id}");
    ctl.ok(&[
        "tag-resource",
        "--resource-arn",
        &g1_arn,
        "--tags",
        "Key=owner,Value=bob",
        "Key=tier,Value=gold",
    ]);
    ctl.ok(&[
        "untag-resource",
        "--resource-arn",
        &g1_arn,
        "--tag-keys",
        "tier",
    ]);
    let tags = ctl.ok(&["list-tags-for-resource", "--resource-arn", &g1_arn]);
    assert_eq!(
        tags["Tags"],
        serde_json::json!([{"Key": "owner", "Value": "bob"}])
    );
    ctl.fails_code(
        &[
            "tag-resource",
            "--resource-arn",
            &g1_arn,
            "--tags",
            "Key=aws:x,Value=y",
        ],
        "InvalidTag",
    );
    let for_prefix = ctl.ok(&[
        "get-access-grants-instance-for-prefix",
        "--s3-prefix",
        "s3://bucket1/bob/",
    ]);
    assert_eq!(
        for_prefix["AccessGrantsInstanceArn"],
        format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")
    );
}
