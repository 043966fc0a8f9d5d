//! IAM and STS: roles, users and policies through the AWS CLI, boto3 and aws-sdk-rust;
//! AssumeRole chains under the seeds' trust policies, session policies, tags, source identity
//! and revocation, cross-account trust, and trust that follows a principal, not its name.

use crate::support::cli::assume_role_args;
use crate::support::sdk::{
    account_config, assume_role, code, create_role, new_user, percent_decode, session_config,
    sts_session, sts_with, trust_policy_of,
};
use crate::support::{
    Cli, IDC, ROOT, boto3_script, creds, fixture, fixture_arg, script_ok, step, trust_policy,
};
use tessera_testkit::DevServer;

#[test]
fn aws_cli_flow() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = Cli::root(&server);
    let trust_arg = fixture_arg("application-role-trust.json");

    let v = root.create_role("ApplicationRole", &trust_arg);
    assert_eq!(
        v["Role"]["Arn"],
        "arn:aws:iam::111111111111:role/ApplicationRole"
    );
    assert_eq!(
        v["Role"]["AssumeRolePolicyDocument"],
        serde_json::from_str::<serde_json::Value>(&trust_policy()).unwrap()
    );

    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sso-oauth:CreateTokenWithIAM","Resource":"arn:aws:sso::222222222222:application/ssoins-12345678/apl-87654321"},{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111111111111:role/IdentityBearerRole"}]}"#;
    root.put_role_policy("ApplicationRole", "app", policy);
    let v = root.ok(&[
        "iam",
        "get-role-policy",
        "--role-name",
        "ApplicationRole",
        "--policy-name",
        "app",
    ]);
    assert_eq!(
        v["PolicyDocument"],
        serde_json::from_str::<serde_json::Value>(policy).unwrap()
    );

    let out = root.out(&["iam", "list-roles", "--query", "Roles[].RoleName"]);
    assert!(out.contains("\"ApplicationRole\""), "{out}");

    assert_eq!(root.caller_arn(), "arn:aws:iam::111111111111:root");

    Cli::new(&server, (root.key().0, "not-the-secret"))
        .fails(&["sts", "get-caller-identity"], "SignatureDoesNotMatch");

    root.fails(
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "ApplicationRole",
            "--policy-name",
            "bad",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*"}}"#,
        ],
        "MalformedPolicyDocument",
    );

    let carol = root.new_user("carol", None);
    carol.fails(&["iam", "list-roles"], "AccessDenied");
    assert_eq!(carol.caller_arn(), "arn:aws:iam::111111111111:user/carol");
}

#[test]
fn boto3_flow() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let out = boto3_script("boto3_flow.py")
        .arg(&server.manifest_path)
        .arg(fixture("fixtures/application-role-trust.json"))
        .output()
        .unwrap_or_else(|e| panic!("running the test Python: {e}"));
    script_ok(out, "the boto3 flow", "boto3 flow ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_flow_and_audit() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = server.account(ROOT).clone();
    let cfg = server
        .sdk_config(&root.access_key_id, &root.secret_access_key)
        .await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    let sts = aws_sdk_sts::Client::new(&cfg);

    let id = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(id.arn(), Some("arn:aws:iam::111111111111:root"));
    assert_eq!(id.account(), Some(ROOT));

    let role = iam
        .create_role()
        .role_name("ApplicationRole")
        .assume_role_policy_document(trust_policy())
        .max_session_duration(7200)
        .send()
        .await
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.arn(), "arn:aws:iam::111111111111:role/ApplicationRole");
    assert!(role.role_id().starts_with("AROA"));
    assert_eq!(role.max_session_duration(), Some(7200));

    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"arn:aws:s3:us-east-1:111111111111:access-grants/default"}]}"#;
    iam.put_role_policy()
        .role_name("ApplicationRole")
        .policy_name("grants")
        .policy_document(doc)
        .send()
        .await
        .unwrap();
    let got = iam
        .get_role_policy()
        .role_name("ApplicationRole")
        .policy_name("grants")
        .send()
        .await
        .unwrap();
    // IAM returns the document URL-encoded; the Rust SDK hands it over as is.
    let decoded = percent_decode(got.policy_document());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&decoded).unwrap(),
        serde_json::from_str::<serde_json::Value>(doc).unwrap()
    );
    let roles = iam.list_roles().send().await.unwrap();
    assert_eq!(
        roles
            .roles()
            .iter()
            .map(|r| r.role_name())
            .collect::<Vec<_>>(),
        ["ApplicationRole"]
    );

    let mp = iam.create_policy().policy_name("ReadOnly").policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#).send().await.unwrap();
    let mp_arn = mp.policy().unwrap().arn().unwrap().to_owned();
    iam.attach_role_policy()
        .role_name("ApplicationRole")
        .policy_arn(&mp_arn)
        .send()
        .await
        .unwrap();
    let attached = iam
        .list_attached_role_policies()
        .role_name("ApplicationRole")
        .send()
        .await
        .unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    let e = iam
        .delete_policy()
        .policy_arn(&mp_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");
    let e = iam
        .delete_role()
        .role_name("ApplicationRole")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DeleteConflict");

    let e = iam
        .create_role()
        .role_name("Bad")
        .assume_role_policy_document("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocument");
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
        "a".repeat(7000)
    );
    let e = iam
        .create_policy()
        .policy_name("Huge")
        .policy_document(huge)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceeded");

    // An IAM user without permission is refused; with an allowing policy it may act.
    let (_, k) = new_user(&iam, "dave", None).await;
    let dcfg = server
        .sdk_config(k.access_key_id(), k.secret_access_key())
        .await;
    let dave = aws_sdk_iam::Client::new(&dcfg);
    let e = dave.list_roles().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let did = aws_sdk_sts::Client::new(&dcfg)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(did.arn(), Some("arn:aws:iam::111111111111:user/dave"));
    assert!(did.user_id().unwrap().starts_with("AIDA"));

    // Wrong secret.
    let bad = server.sdk_config(&root.access_key_id, "wrong-secret").await;
    let e = aws_sdk_sts::Client::new(&bad)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.as_service_error()
            .and_then(|s| aws_sdk_sts::error::ProvideErrorMetadata::code(s)),
        Some("SignatureDoesNotMatch")
    );

    // Every request produced exactly one audit record, and none holds a secret.
    let requests = 17; // the calls above, one HTTP request each (retries are off)
    let records = server.audit_records();
    assert_eq!(records.len(), requests, "one audit record per request");
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains(&root.secret_access_key));
    assert!(!text.contains(k.secret_access_key()));
    let create = records
        .iter()
        .find(|r| r["eventName"] == "CreateRole" && r["errorCode"].is_null())
        .unwrap();
    assert_eq!(create["eventSource"], "iam.amazonaws.com");
    assert_eq!(create["userIdentity"]["type"], "Root");
    assert_eq!(
        create["resources"][0]["ARN"],
        "arn:aws:iam::111111111111:role/ApplicationRole"
    );
    let denied = records
        .iter()
        .find(|r| r["errorCode"] == "AccessDenied")
        .unwrap();
    assert_eq!(denied["userIdentity"]["userName"], "dave");
}

/// The seed's application flow with the AWS CLI: the root assumes `ApplicationRole`, which
/// assumes `IdentityBearerRole` under the seed's trust policy (`ArnEquals aws:PrincipalArn`);
/// another role is refused; get-caller-identity shows the assumed-role ARNs.
#[test]
fn cli_assume_role_chain_with_the_seed_trust_policies() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let root = Cli::root(&server);
    let role = |name: &str| format!("arn:aws:iam::111111111111:role/{name}");
    // ApplicationRole: the seed's Lambda trust, plus this account (the CLI stands in for the
    // Lambda runtime); and the seed's permissions.
    let app_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com.rproxy.govskope.ca"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
    let assume_any = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    step("the seed's roles, and one the seed does not trust", || {
        root.create_role("ApplicationRole", app_trust);
        root.put_role_policy(
            "ApplicationRole",
            "app",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sso-oauth:CreateTokenWithIAM","Resource":"arn:aws:sso::222222222222:application/ssoins-12345678/apl-87654321"},{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111111111111:role/IdentityBearerRole"}]}"#,
        );
        // IdentityBearerRole with the seed's trust policy minus the Identity Center context
        // condition (ProvidedContexts arrive with Identity Center); a second role with the
        // seed's exact trust policy.
        root.create_role(
            "IdentityBearerRole",
            &fixture_arg("identity-bearer-trust-no-context.json"),
        );
        root.create_role(
            "SeedIdentityBearerRole",
            &fixture_arg("identity-bearer-trust.json"),
        );
        root.create_role("OtherRole", app_trust);
        root.put_role_policy("OtherRole", "any", assume_any);
    });

    // Roles may not be assumed by the account root (as in AWS): a developer user does it.
    let dev = step("a developer user; the root may not assume roles", || {
        let dev = root.new_user("developer", Some(("assume", assume_any)));
        root.fails(
            &assume_role_args(&role("ApplicationRole"), "root", &[]),
            "Roles may not be assumed by root accounts",
        );
        dev
    });

    let app = step("the developer assumes ApplicationRole", || {
        let app = creds(&dev.ok(&assume_role_args(&role("ApplicationRole"), "app", &[])));
        assert!(app.0.starts_with("ASIA"));
        let who = Cli::session(&server, &app).ok(&["sts", "get-caller-identity"]);
        assert_eq!(
            who["Arn"],
            "arn:aws:sts::111111111111:assumed-role/ApplicationRole/app"
        );
        assert!(
            who["UserId"].as_str().unwrap().starts_with("AROA")
                && who["UserId"].as_str().unwrap().ends_with(":app")
        );
        Cli::session(&server, &app)
    });

    step("ApplicationRole assumes IdentityBearerRole", || {
        let bearer = app.ok(&assume_role_args(
            &role("IdentityBearerRole"),
            "webapp",
            &[],
        ));
        assert_eq!(
            bearer["AssumedRoleUser"]["Arn"],
            "arn:aws:sts::111111111111:assumed-role/IdentityBearerRole/webapp"
        );
        let who = Cli::session(&server, &creds(&bearer)).ok(&["sts", "get-caller-identity"]);
        assert_eq!(
            who["Arn"],
            "arn:aws:sts::111111111111:assumed-role/IdentityBearerRole/webapp"
        );
    });

    step(
        "other callers, and longer chained sessions, are refused",
        || {
            // Another caller is refused by the ArnEquals aws:PrincipalArn condition.
            let other = creds(&dev.ok(&assume_role_args(&role("OtherRole"), "other", &[])));
            Cli::session(&server, &other).fails(
                &assume_role_args(&role("IdentityBearerRole"), "xx", &[]),
                "AccessDenied",
            );
            // The developer is refused too: the condition names ApplicationRole only.
            dev.fails(
                &assume_role_args(&role("IdentityBearerRole"), "xx", &[]),
                "AccessDenied",
            );
            // The seed's exact trust policy also requires an Identity Center context.
            app.fails(
                &assume_role_args(&role("SeedIdentityBearerRole"), "xx", &[]),
                "AccessDenied",
            );
            // Chained sessions are capped at one hour.
            let err = app.fails(
                &assume_role_args(
                    &role("IdentityBearerRole"),
                    "xx",
                    &["--duration-seconds", "7200"],
                ),
                "ValidationError",
            );
            assert!(err.contains("role chaining"), "{err}");
        },
    );
}

/// An STS client of a new IAM user `dev` whose inline policy `sts` is `policy` (the account
/// root may not assume roles).
async fn dev_sts(
    server: &DevServer,
    iam: &aws_sdk_iam::Client,
    policy: &str,
) -> aws_sdk_sts::Client {
    let (_, k) = new_user(iam, "dev", Some(("sts", policy))).await;
    sts_with(server, &k).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_policies_tags_source_identity_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let iam = aws_sdk_iam::Client::new(&account_config(&server, ROOT).await);
    // Roles are assumed by an IAM user allowed to (root may not assume roles).
    let sts = dev_sts(
        &server,
        &iam,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}"#,
    )
    .await;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Condition":{"StringEquals":{"sts:ExternalId":"ext-1234"}}}]}"#;
    iam.create_role()
        .role_name("Reader")
        .assume_role_policy_document(trust)
        .max_session_duration(7200)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("Reader")
        .policy_name("read")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetRole","iam:ListRoles"],"Resource":"*"},{"Effect":"Allow","Action":"sts:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let arn = "arn:aws:iam::111111111111:role/Reader";

    // AssumeRole of Reader as `session` by `sts`, with the right external id.
    let reader = |sts: &aws_sdk_sts::Client, session: &str| {
        assume_role(sts, arn, session).external_id("ext-1234")
    };
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:GetRole","Resource":"arn:aws:iam::111111111111:role/{}"}}]}}"#,
        "r".repeat(2100)
    );
    for (attempt, expected) in [
        // The trust policy's sts:ExternalId condition is honoured.
        (assume_role(&sts, arn, "s1"), "AccessDenied"),
        (
            assume_role(&sts, arn, "s1").external_id("wrong-id"),
            "AccessDenied",
        ),
        // Duration bounds: above the role's maximum, below 900.
        (reader(&sts, "s1").duration_seconds(7201), "ValidationError"),
        (reader(&sts, "s1").duration_seconds(899), "ValidationError"),
        (reader(&sts, "bad name!"), "ValidationError"),
        (reader(&sts, "s1").policy(huge), "PackedPolicyTooLarge"),
        (
            reader(&sts, "s1").policy("{nope"),
            "MalformedPolicyDocument",
        ),
    ] {
        let e = attempt.send().await.unwrap_err();
        assert_eq!(code(&e), expected);
    }

    // A session policy narrows the session to GetRole; tags and source identity are set.
    let out = reader(&sts, "narrow")
        .duration_seconds(7200)
        .source_identity("mateo.jackson")
        .tags(aws_sdk_sts::types::Tag::builder().key("team").value("red").build().unwrap())
        .transitive_tag_keys("team")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GetRole","sts:*"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(out.source_identity(), Some("mateo.jackson"));
    #[allow(deprecated)]
    let packed = out.packed_policy_size();
    assert!(packed.unwrap() > 0);
    let c = out.credentials().unwrap();
    let expires = c.expiration().secs() - chrono::Utc::now().timestamp();
    assert!(
        (7100..=7200).contains(&expires),
        "duration honoured: {expires}"
    );
    let scfg = session_config(&server, c).await;
    let siam = aws_sdk_iam::Client::new(&scfg);
    siam.get_role().role_name("Reader").send().await.unwrap();
    let e = siam.list_roles().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied", "session policy ∩ role policy");

    // Chaining keeps the source identity (it cannot change) and transitive tags.
    let ssts = aws_sdk_sts::Client::new(&scfg);
    let e = reader(&ssts, "c1")
        .source_identity("someone.else")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let chained = reader(&ssts, "chained").send().await.unwrap();
    assert_eq!(chained.source_identity(), Some("mateo.jackson"));

    // Revoke older sessions the AWS way: deny everything for tokens issued before now.
    let plain = reader(&sts, "plain").send().await.unwrap();
    let pcfg = session_config(&server, plain.credentials().unwrap()).await;
    let piam = aws_sdk_iam::Client::new(&pcfg);
    piam.list_roles().send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let cutoff = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let revoke = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{cutoff}"}}}}}}]}}"#
    );
    iam.put_role_policy()
        .role_name("Reader")
        .policy_name("AWSRevokeOlderSessions")
        .policy_document(revoke)
        .send()
        .await
        .unwrap();
    let e = piam.list_roles().send().await.unwrap_err();
    assert_eq!(
        code(&e),
        "AccessDenied",
        "sessions issued before the cutoff are revoked"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = reader(&sts, "fresh").send().await.unwrap();
    let fiam =
        aws_sdk_iam::Client::new(&session_config(&server, fresh.credentials().unwrap()).await);
    fiam.list_roles().send().await.unwrap();

    // The audit trail names the session and its source identity, never the secret or token.
    let records = server.audit_records();
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains(c.secret_access_key()) && !text.contains(c.session_token()));
    let by_session = records
        .iter()
        .find(|r| r["eventName"] == "GetRole" && r["userIdentity"]["type"] == "AssumedRole")
        .unwrap();
    assert_eq!(
        by_session["userIdentity"]["sessionContext"]["sourceIdentity"],
        "mateo.jackson"
    );
    assert_eq!(
        by_session["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
        arn
    );
}

/// Across accounts both sides must allow: the role's trust policy in 222222222222 and the
/// caller's identity policy in 111111111111.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_assume_role_needs_both_policies() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let iam_a = aws_sdk_iam::Client::new(&account_config(&server, ROOT).await);
    let iam_b = aws_sdk_iam::Client::new(&account_config(&server, IDC).await);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#;
    create_role(&iam_b, "Shared", trust).await;
    let (_, k) = new_user(&iam_a, "alice", None).await;
    let sts = sts_with(&server, &k).await;
    let arn = "arn:aws:iam::222222222222:role/Shared";
    // Trust allows account A, but alice's identity policy does not allow yet.
    let e = assume_role(&sts, arn, "x1").send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    iam_a
        .put_user_policy()
        .user_name("alice")
        .policy_name("assume-shared")
        .policy_document(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"{arn}"}}]}}"#))
        .send()
        .await
        .unwrap();
    let out = assume_role(&sts, arn, "x2").send().await.unwrap();
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::222222222222:assumed-role/Shared/x2"
    );
    let who = sts_session(&server, out.credentials().unwrap())
        .await
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.account(), Some("222222222222"));
    // A role in B that does not trust A refuses alice even with her identity policy allowing *.
    create_role(
        &iam_b,
        "Private",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sts:AssumeRole"}]}"#,
    )
    .await;
    iam_a
        .put_user_policy()
        .user_name("alice")
        .policy_name("assume-any")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let e = assume_role(&sts, "arn:aws:iam::222222222222:role/Private", "x3")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
}

/// Sessions of a deleted role can do nothing, even where a trust policy names that role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_a_deleted_role_are_powerless() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let iam = aws_sdk_iam::Client::new(&account_config(&server, ROOT).await);
    let sts = dev_sts(
        &server,
        &iam,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
    )
    .await;
    let first_trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;
    let second = "arn:aws:iam::111111111111:role/Second";
    create_role(&iam, "First", first_trust).await;
    create_role(
        &iam,
        "Second",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/First"},"Action":"sts:AssumeRole"}]}"#,
    )
    .await;
    let first = assume_role(&sts, "arn:aws:iam::111111111111:role/First", "s1")
        .send()
        .await
        .unwrap();
    let s1 = sts_session(&server, first.credentials().unwrap()).await;
    assume_role(&s1, second, "s2").send().await.unwrap();
    iam.delete_role().role_name("First").send().await.unwrap();
    let e = assume_role(&s1, second, "s3").send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Re-creating a role of the same name does not revive old sessions.
    create_role(&iam, "First", first_trust).await;
    let e = assume_role(&s1, second, "s4").send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // As in AWS, the session still authenticates.
    let who = s1.get_caller_identity().send().await.unwrap();
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::111111111111:assumed-role/First/s1")
    );
}

/// AWS resolves the users and roles a trust policy names to their unique ids when it is
/// saved: a principal deleted and re-created under the same name is not trusted any more, and
/// GetRole shows the old unique id where the ARN was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_follows_the_principal_not_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start(dir.path());
    let iam = aws_sdk_iam::Client::new(&account_config(&server, ROOT).await);
    let may_assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    // A user with a key and the right to assume roles; returns an STS client as that user.
    let make_bob = || async {
        let (user, k) = new_user(&iam, "bob", Some(("assume", may_assume))).await;
        let sts = sts_with(&server, &k).await;
        (user.user_id().to_owned(), k.access_key_id().to_owned(), sts)
    };
    let bob_arn = "arn:aws:iam::111111111111:user/bob";
    let assume = |sts: &aws_sdk_sts::Client, role: &str| {
        assume_role(sts, &format!("arn:aws:iam::111111111111:role/{role}"), "s1").send()
    };

    // A trust policy allowing bob as its `Principal` (or `NotPrincipal`).
    let trust_of_bob = |principal: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","{principal}":{{"AWS":"{bob_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
        )
    };
    let trust_bob = trust_of_bob("Principal");

    for (role, trust) in [
        // Allow + NotPrincipal can only widen who may assume a role: refused in trust policies.
        ("Wide", trust_of_bob("NotPrincipal")),
        // A trust policy may only name principals that exist.
        ("ForBob", trust_bob.clone()),
    ] {
        let e = iam
            .create_role()
            .role_name(role)
            .assume_role_policy_document(trust)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "MalformedPolicyDocument", "{role}");
    }

    let (old_id, old_key, bob) = make_bob().await;
    create_role(&iam, "ForBob", &trust_bob).await;
    assume(&bob, "ForBob").await.expect("bob is trusted");

    // Delete bob and create another bob: the trust does not carry over.
    iam.delete_access_key()
        .user_name("bob")
        .access_key_id(old_key)
        .send()
        .await
        .unwrap();
    // The key was used a moment ago (its secret is cached): deleted, it is refused at once.
    let e = assume(&bob, "ForBob").await.unwrap_err();
    assert_eq!(code(&e), "InvalidClientTokenId");
    iam.delete_user_policy()
        .user_name("bob")
        .policy_name("assume")
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name("bob").send().await.unwrap();
    let (new_id, _, new_bob) = make_bob().await;
    assert_ne!(old_id, new_id);
    let e = assume(&new_bob, "ForBob").await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let doc = trust_policy_of(&iam, "ForBob").await;
    assert!(doc.contains(&format!("\"{old_id}\"")), "{doc}");
    assert!(!doc.contains(bob_arn), "{doc}");
    let listed = iam.list_roles().send().await.unwrap();
    let listed_doc = listed
        .roles()
        .iter()
        .find(|r| r.role_name() == "ForBob")
        .and_then(|r| r.assume_role_policy_document())
        .map(percent_decode)
        .unwrap();
    assert_eq!(listed_doc, doc);
    // Saving the policy again trusts the new bob.
    iam.update_assume_role_policy()
        .role_name("ForBob")
        .policy_document(&trust_bob)
        .send()
        .await
        .unwrap();
    assume(&new_bob, "ForBob")
        .await
        .expect("the new bob is trusted once named again");
    let doc = trust_policy_of(&iam, "ForBob").await;
    assert!(doc.contains(bob_arn), "{doc}");

    // The same for a role: Target trusts the role Source, whose sessions then assume Target.
    // Source trusts bob.
    let source_trust = &trust_bob;
    let make_source = || async {
        let r = iam
            .create_role()
            .role_name("Source")
            .assume_role_policy_document(source_trust)
            .send()
            .await
            .unwrap();
        iam.put_role_policy()
            .role_name("Source")
            .policy_name("assume")
            .policy_document(may_assume)
            .send()
            .await
            .unwrap();
        r.role().unwrap().role_id().to_owned()
    };
    let old_role_id = make_source().await;
    let source_arn = "arn:aws:iam::111111111111:role/Source";
    create_role(
        &iam,
        "Target",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{source_arn}"}},"Action":"sts:AssumeRole"}}]}}"#
        ),
    )
    .await;
    let s = assume(&new_bob, "Source").await.unwrap();
    let source = sts_session(&server, s.credentials().unwrap()).await;
    assume(&source, "Target").await.expect("Source is trusted");
    iam.delete_role_policy()
        .role_name("Source")
        .policy_name("assume")
        .send()
        .await
        .unwrap();
    iam.delete_role().role_name("Source").send().await.unwrap();
    let new_role_id = make_source().await;
    assert_ne!(old_role_id, new_role_id);
    let s = assume(&new_bob, "Source").await.unwrap();
    let source = sts_session(&server, s.credentials().unwrap()).await;
    let e = assume(&source, "Target").await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let doc = trust_policy_of(&iam, "Target").await;
    assert!(doc.contains(&format!("\"{old_role_id}\"")), "{doc}");
}
