//! The flow's data (seed 000): S3 Access Grants for the Red Project Group, Mateo's reads and
//! their audit records, refusals and their explanations, escalation attempts, chained
//! sessions, and which grant matches whom.

use super::{Flow, SEED_CSV};
use crate::support::{ROOT, access_grants_location_trust, creds};
use tessera_testkit::tessera_command;

impl Flow<'_> {
    /// Step 4 (seed 000): the Red Project Group has READ on s3://example-bucket/projects/red/*;
    /// Mateo is a member, Zoe is not. The roles' permissions, the data, the instance, its
    /// location and the grant.
    pub(super) fn set_up_access_grants(&mut self) {
        let root = &self.root;
        let store_id = &self.ids.store_id;
        let red = root.create_group(store_id, "Red Project Group");
        let red_membership = root.add_to_group(store_id, &red, &self.ids.mateo);
        // The seed's permissions: the Identity Bearer role may call GetDataAccess; the S3
        // Access Grants role trusts the service, for this account's instance.
        root.put_role_policy(
            "IdentityBearerRole",
            "data-access",
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:GetDataAccess","s3:ListCallerAccessGrants"],"Resource":"arn:aws:s3:us-east-1:{ROOT}:access-grants/default"}}]}}"#
            ),
        );
        root.create_role(
            "s3-access-grants-role",
            &access_grants_location_trust().to_string(),
        );
        // The location role's own permissions (the AWS guide's policy for a location role):
        // the vended credentials are this role's, narrowed to the matched grant.
        root.put_role_policy(
            "s3-access-grants-role",
            "location-data",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:ListBucket","s3:AbortMultipartUpload","s3:ListMultipartUploadParts"],"Resource":["arn:aws:s3:::example-bucket","arn:aws:s3:::example-bucket/*"]}]}"#,
        );
        // The data, written by the account root.
        root.out(&["s3", "mb", "s3://example-bucket"]);
        let seed = self.seed_file();
        std::fs::write(&seed, SEED_CSV).unwrap();
        for dest in [
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
            "s3://example-bucket/projects/blue/berries.csv",
            "s3://example-bucket/bob/notes.txt",
        ] {
            root.out(&["s3", "cp", "--only-show-errors", &seed, dest]);
        }
        let ctl = root.s3control(ROOT);
        let ag = ctl.ok(&[
            "create-access-grants-instance",
            "--identity-center-arn",
            &self.ids.instance,
        ]);
        assert_eq!(ag["IdentityCenterArn"], self.ids.instance.as_str());
        assert!(
            ag["IdentityCenterApplicationArn"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:sso::"),
            "{ag}"
        );
        ctl.ok(&[
            "create-access-grants-location",
            "--location-scope",
            "s3://",
            "--iam-role-arn",
            &format!("arn:aws:iam::{ROOT}:role/s3-access-grants-role"),
        ]);
        let red_grant = self.grant_to(
            "DIRECTORY_GROUP",
            &red,
            "example-bucket/projects/red/*",
            &[],
        )["AccessGrantId"]
            .as_str()
            .unwrap()
            .to_owned();
        self.ids.red = red;
        self.ids.red_membership = red_membership;
        self.ids.red_grant = red_grant;
    }

    /// GetDataAccess with Mateo's identity-enhanced session: the red group's grant, and
    /// credentials of the location role.
    pub(super) fn get_data_access(&mut self) {
        let data = self
            .gda(
                &self.sessions.bearer,
                "s3://example-bucket/projects/red/tomatoes/",
                &[],
            )
            .ok();
        assert_eq!(
            data["MatchedGrantTarget"],
            "s3://example-bucket/projects/red/*"
        );
        assert_eq!(data["Grantee"]["GranteeType"], "DIRECTORY_GROUP");
        assert_eq!(data["Grantee"]["GranteeIdentifier"], self.ids.red.as_str());
        let vended = creds(&data);
        let me = self.session(&vended).ok(&["sts", "get-caller-identity"]);
        assert!(
            me["Arn"].as_str().unwrap().starts_with(&format!(
                "arn:aws:sts::{ROOT}:assumed-role/s3-access-grants-role/access-grants-"
            )),
            "{me}"
        );
        self.sessions.vended = vended;
    }

    /// Step 5: Mateo's application reads the red data with the vended credentials, and
    /// nothing outside the grant.
    pub(super) fn read_red_data(&mut self) {
        let vended = self.session(&self.sessions.vended);
        let listing = vended.out(&["s3", "ls", "s3://example-bucket/projects/red/tomatoes/"]);
        assert!(listing.contains("roma.csv"), "{listing}");
        let content = vended.out(&[
            "s3",
            "cp",
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
            "-",
        ]);
        assert_eq!(content, SEED_CSV);
        let seed = self.seed_file();
        for args in [
            vec!["s3", "ls", "s3://example-bucket/projects/blue/"],
            vec!["s3", "ls", "s3://example-bucket/"],
            vec![
                "s3",
                "cp",
                "s3://example-bucket/projects/blue/berries.csv",
                "-",
            ],
            vec![
                "s3",
                "cp",
                &seed,
                "s3://example-bucket/projects/red/tomatoes/new.csv",
            ],
            vec![
                "s3",
                "rm",
                "s3://example-bucket/projects/red/tomatoes/roma.csv",
            ],
            vec![
                "s3",
                "cp",
                "s3://example-bucket/projects/red/tomatoes/roma.csv",
                "s3://example-bucket/projects/red/tomatoes/copy.csv",
            ],
            vec!["s3", "ls"],
        ] {
            self.refused_beyond_the_grant(&self.sessions.vended, &args);
        }
    }

    /// The data event names the person, the grant and the GetDataAccess call behind it;
    /// `tessera audit query` finds his reads by his user name, and the calls that led to them.
    pub(super) fn audit_mateos_reads(&mut self) {
        let mateo = self.ids.mateo.as_str();
        let audit = self
            .server()
            .audit_records()
            .into_iter()
            .find(|r| {
                r["eventName"] == "GetObject"
                    && r["userIdentity"]["accessKeyId"] == self.sessions.vended.0.as_str()
                    && r["errorCode"].is_null()
            })
            .expect("an audit record of Mateo's GetObject");
        assert_eq!(audit["eventCategory"], "Data", "{audit}");
        assert_eq!(audit["managementEvent"], false, "{audit}");
        assert_eq!(
            audit["userIdentity"]["onBehalfOf"]["userId"], mateo,
            "{audit}"
        );
        assert_eq!(
            audit["requestParameters"]["key"], "projects/red/tomatoes/roma.csv",
            "{audit}"
        );
        assert_eq!(
            audit["additionalEventData"]["accessGrants"]["grantScope"],
            "s3://example-bucket/projects/red/*",
            "{audit}"
        );
        assert!(
            audit["additionalEventData"]["accessGrants"]["getDataAccessRequestId"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{audit}"
        );
        let reads = self.query(&["--user", "mateo.jackson", "--event", "GetObject"]);
        assert!(!reads.is_empty());
        for r in &reads {
            assert_eq!(r["eventName"], "GetObject", "{r}");
            assert_eq!(r["userIdentity"]["onBehalfOf"]["userId"], mateo, "{r}");
        }
        assert!(reads.iter().any(|r| r["requestID"] == audit["requestID"]));
        let vending = self.query(&[
            "--user",
            "mateo.jackson",
            "--event",
            "GetDataAccess",
            "--since",
            "1h",
        ]);
        assert!(
            vending.iter().any(|r| r["requestID"]
                == audit["additionalEventData"]["accessGrants"]["getDataAccessRequestId"]),
            "the GetDataAccess call that vended the credentials is listed for Mateo"
        );
        let exchanges = self.query(&["--user", mateo, "--event", "CreateTokenWithIAM"]);
        assert!(!exchanges.is_empty(), "Mateo's token exchanges are listed");
        let table = tessera_command(&[
            "audit",
            "query",
            "--data-dir",
            &self.server().data_dir.display().to_string(),
            "--user",
            "mateo.jackson",
        ]);
        assert!(table.starts_with("TIME"), "{table}");
        assert!(
            table.contains("GetObject") && table.contains(mateo),
            "{table}"
        );
    }

    /// Mateo asks for the blue data: refused, and `tessera audit explain` says why — no grant
    /// for him or his groups, the red grant nearest — while the reply says only what AWS
    /// says. An explicit deny names the policy and the statement; a read outside the vended
    /// grant's scope is explained by that grant.
    pub(super) fn explain_refusals(&mut self) {
        let (root, ids) = (&self.root, &self.ids);
        let bearer = &self.sessions.bearer;
        let err = self
            .gda(bearer, "s3://example-bucket/projects/blue/berries.csv", &[])
            .fails("(AccessDenied)");
        assert!(
            !err.contains(&ids.red_grant),
            "the reply names a grant: {err}"
        );
        let why = self.explain_newest("GetDataAccess");
        assert!(
            why.contains("no grant matched s3://example-bucket/projects/blue/berries.csv (READ) for the caller or their groups")
                && why.contains(&format!("directory user {} (mateo.jackson)", ids.mateo))
                && why.contains(&format!("groups {} (", ids.red)),
            "{why}"
        );
        let nearest = why
            .lines()
            .skip_while(|l| !l.contains("nearest grants:"))
            .nth(1)
            .unwrap_or_default();
        assert!(
            nearest.contains(&ids.red_grant)
                && nearest.contains("s3://example-bucket/projects/red/* (READ) to DIRECTORY_GROUP")
                && nearest.contains("scope does not cover the target"),
            "{why}"
        );
        // An explicit deny names the policy and the statement.
        root.put_role_policy(
            "IdentityBearerRole",
            "freeze",
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Deny","Action":"iam:*","Resource":"*"},{"Sid":"NoDataAccessToday","Effect":"Deny","Action":"s3:GetDataAccess","Resource":"*"}]}"#,
        );
        let err = self
            .gda(bearer, "s3://example-bucket/projects/red/tomatoes/", &[])
            .fails("with an explicit deny in an identity-based policy");
        assert!(
            !err.contains("NoDataAccessToday"),
            "the reply names the statement: {err}"
        );
        let why = self.explain_newest("GetDataAccess");
        assert!(
            why.contains("explicit deny of s3:GetDataAccess on arn:aws:s3:")
                && why.contains(
                    "denied by statement 1 (Sid \"NoDataAccessToday\") of identity-based policy inline policy freeze"
                ),
            "{why}"
        );
        root.delete_role_policy("IdentityBearerRole", "freeze");
        // A read outside the vended grant's scope is explained by that grant.
        let (done, _, _) = self.session(&self.sessions.vended).run(&[
            "s3api",
            "get-object",
            "--bucket",
            "example-bucket",
            "--key",
            "projects/blue/berries.csv",
            "/dev/null",
        ]);
        assert!(!done);
        let why = self.explain_newest("GetObject");
        assert!(
            why.contains("s3:GetObject on arn:aws:s3:::example-bucket/projects/blue/berries.csv is outside the scope of the Access Grants credentials")
                && why.contains(&format!("grant {} allows s3://example-bucket/projects/red/* (READ)", ids.red_grant)),
            "{why}"
        );
    }

    /// Vended credentials act only within their grant, whatever the location role allows.
    /// With the location role allowed everything, Mateo's READ credentials try the review's
    /// escalation — list the grants, grant himself READWRITE on the whole bucket, take over
    /// the instance's resource policy, read blue data — and every step is refused, as are
    /// IAM, STS and another GetDataAccess.
    pub(super) fn refuse_escalation(&mut self) {
        let root = &self.root;
        let ctl = root.s3control(ROOT);
        let vended = &self.sessions.vended;
        let bearer_role_arn = format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole");
        root.put_role_policy(
            "s3-access-grants-role",
            "everything",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        );
        let grants_before = ctl.ok(&["list-access-grants"])["AccessGrantsList"]
            .as_array()
            .map_or(0, Vec::len);
        let whole_bucket_for_mateo = format!(
            "GranteeType=DIRECTORY_USER,GranteeIdentifier={}",
            self.ids.mateo
        );
        let takeover =
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "*"}, "Action": "s3:*",
            "Resource": format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")}]})
            .to_string();
        for args in [
            vec!["s3control", "list-access-grants", "--account-id", ROOT],
            vec![
                "s3control",
                "create-access-grant",
                "--account-id",
                ROOT,
                "--access-grants-location-id",
                "default",
                "--access-grants-location-configuration",
                "S3SubPrefix=example-bucket/*",
                "--grantee",
                whole_bucket_for_mateo.as_str(),
                "--permission",
                "READWRITE",
            ],
            vec![
                "s3control",
                "put-access-grants-instance-resource-policy",
                "--account-id",
                ROOT,
                "--policy",
                takeover.as_str(),
            ],
            vec![
                "s3control",
                "get-data-access",
                "--account-id",
                ROOT,
                "--target",
                "s3://example-bucket/projects/blue/",
                "--permission",
                "READ",
            ],
            vec!["iam", "list-roles"],
            vec!["iam", "create-user", "--user-name", "mateo-was-here"],
            vec![
                "sts",
                "assume-role",
                "--role-arn",
                &bearer_role_arn,
                "--role-session-name",
                "escape",
            ],
            vec![
                "s3",
                "cp",
                "s3://example-bucket/projects/blue/berries.csv",
                "-",
            ],
            vec!["s3", "ls", "s3://example-bucket/"],
            // Uploads in progress are writes: listing them takes WRITE, even under the scope.
            vec![
                "s3api",
                "list-multipart-uploads",
                "--bucket",
                "example-bucket",
                "--prefix",
                "projects/red/",
            ],
        ] {
            self.refused_beyond_the_grant(vended, &args);
        }
        assert_eq!(
            ctl.ok(&["list-access-grants"])["AccessGrantsList"]
                .as_array()
                .map_or(0, Vec::len),
            grants_before,
            "a grant was created with vended credentials"
        );
        let (has_policy, out, _) = ctl
            .call(&["get-access-grants-instance-resource-policy"])
            .raw();
        assert!(!has_policy || !out.contains("\"*\""), "{out}");
        // The refusal says what AWS says: no session policy allows it.
        let (_, _, err) =
            self.session(vended)
                .run(&["s3control", "list-access-grants", "--account-id", ROOT]);
        assert!(err.contains("because no session policy allows"), "{err}");
        // The red data is still readable: the session policy allows the grant's reads.
        let content = self.session(vended).out(&[
            "s3",
            "cp",
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
            "-",
        ]);
        assert_eq!(content, SEED_CSV);
        root.delete_role_policy("s3-access-grants-role", "everything");
    }

    /// A chained AssumeRole does not smuggle Mateo's identity context: a role whose trust
    /// policy allows Mateo's bearer session only sts:AssumeRole refuses the chain; one that
    /// also allows sts:SetContext carries the context on (and GetDataAccess matches it).
    pub(super) fn chain_with_context(&mut self) {
        let root = &self.root;
        let bearer_role_arn = format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole");
        for (role, actions) in [
            ("ChainNoContext", serde_json::json!(["sts:AssumeRole"])),
            (
                "ChainWithContext",
                serde_json::json!(["sts:AssumeRole", "sts:SetContext"]),
            ),
        ] {
            let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": &bearer_role_arn}, "Action": actions}]});
            root.create_role(role, &trust.to_string());
            root.put_role_policy(
                role,
                "data-access",
                &format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetDataAccess","Resource":"arn:aws:s3:us-east-1:{ROOT}:access-grants/default"}}]}}"#
                ),
            );
        }
        let bearer = &self.sessions.bearer;
        let (chained, out, err) = self.assume(Some(bearer), "ChainNoContext", &[]).raw();
        assert!(
            !chained,
            "a chain without sts:SetContext kept Mateo's context: {out}"
        );
        assert!(
            err.contains("AccessDenied") && err.contains("sts:SetContext"),
            "{err}"
        );
        let with_context = creds(&self.assume(Some(bearer), "ChainWithContext", &[]).ok());
        let data = self
            .gda(
                &with_context,
                "s3://example-bucket/projects/red/tomatoes/",
                &[],
            )
            .ok();
        assert_eq!(data["Grantee"]["GranteeIdentifier"], self.ids.red.as_str());
        self.sessions.with_context = with_context;
    }

    /// A user outside the group is refused. AWS's directory case: the role's own grant and
    /// the user's grant both count, and the most restrictive match wins, whichever identity
    /// holds it. Application-scoped grants apply only to callers who came through that
    /// application; Mateo's caller grants list his group's, his own and the role's.
    pub(super) fn match_grants(&mut self) {
        let (ids, bearer) = (&self.ids, &self.sessions.bearer);
        let mateo = ids.mateo.as_str();
        let zoe_bearer = &self.sessions.zoe_bearer;
        self.gda(
            zoe_bearer,
            "s3://example-bucket/projects/red/tomatoes/",
            &[],
        )
        .fails("(AccessDenied)");
        let bearer_role = format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole");
        self.grant_to("IAM", &bearer_role, "example-bucket/bob/*", &[]);
        self.grant_to("DIRECTORY_USER", mateo, "example-bucket/bob/images/*", &[]);
        self.grant_to("IAM", &bearer_role, "example-bucket/alice/images/*", &[]);
        self.grant_to("DIRECTORY_USER", mateo, "example-bucket/alice/*", &[]);
        for (target, privilege, scope, kind) in [
            (
                "s3://example-bucket/bob/images/image1.jpeg",
                "Default",
                "s3://example-bucket/bob/images/*",
                "DIRECTORY_USER",
            ),
            (
                "s3://example-bucket/bob/images/image1.jpeg",
                "Minimal",
                "s3://example-bucket/bob/images/image1.jpeg",
                "DIRECTORY_USER",
            ),
            (
                "s3://example-bucket/bob/notes.txt",
                "Default",
                "s3://example-bucket/bob/*",
                "IAM",
            ),
            (
                "s3://example-bucket/alice/images/image1.jpeg",
                "Default",
                "s3://example-bucket/alice/images/*",
                "IAM",
            ),
            (
                "s3://example-bucket/alice/images/image1.jpeg",
                "Minimal",
                "s3://example-bucket/alice/images/image1.jpeg",
                "IAM",
            ),
        ] {
            let out = self.gda(bearer, target, &["--privilege", privilege]).ok();
            assert_eq!(out["MatchedGrantTarget"], scope, "{target} {privilege}");
            assert_eq!(out["Grantee"]["GranteeType"], kind, "{target} {privilege}");
        }
        // The role's grant reaches Zoe's session too (same role), the user grant does not.
        let out = self
            .gda(
                zoe_bearer,
                "s3://example-bucket/bob/images/image1.jpeg",
                &[],
            )
            .ok();
        assert_eq!(out["MatchedGrantTarget"], "s3://example-bucket/bob/*");
        let zoe_vended = creds(&out);
        self.grant_to(
            "DIRECTORY_USER",
            mateo,
            "example-bucket/appdata/*",
            &["--application-arn", &ids.app],
        );
        self.grant_to(
            "DIRECTORY_USER",
            mateo,
            "example-bucket/analytics/*",
            &["--application-arn", &ids.analytics],
        );
        let out = self
            .gda(bearer, "s3://example-bucket/appdata/x.csv", &[])
            .ok();
        assert_eq!(out["MatchedGrantTarget"], "s3://example-bucket/appdata/*");
        let (denied, _, err) = self
            .gda(bearer, "s3://example-bucket/analytics/x.csv", &[])
            .raw();
        assert!(!denied, "a grant for another application was used");
        assert!(err.contains("(AccessDenied)"), "{err}");
        let mine = self.session(bearer).ok(&[
            "s3control",
            "list-caller-access-grants",
            "--account-id",
            ROOT,
            "--allowed-by-application",
        ]);
        let scopes: Vec<&str> = mine["CallerAccessGrantsList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["GrantScope"].as_str().unwrap())
            .collect();
        assert!(
            scopes.contains(&"s3://example-bucket/projects/red/*"),
            "{scopes:?}"
        );
        assert!(
            scopes.contains(&"s3://example-bucket/appdata/*"),
            "{scopes:?}"
        );
        assert!(
            !scopes.contains(&"s3://example-bucket/analytics/*"),
            "{scopes:?}"
        );
        self.sessions.zoe_vended = zoe_vended;
    }

    /// Removed from the Red group, Mateo's next request for red data is refused (the test
    /// allows the second the other replicas would take).
    pub(super) fn remove_from_group(&mut self) {
        self.root.ok(&[
            "identitystore",
            "delete-group-membership",
            "--identity-store-id",
            &self.ids.store_id,
            "--membership-id",
            &self.ids.red_membership,
        ]);
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let (denied, _, err) = self
            .gda(
                &self.sessions.bearer,
                "s3://example-bucket/projects/red/tomatoes/",
                &[],
            )
            .raw();
        assert!(!denied, "a removed member still got red data");
        assert!(err.contains("(AccessDenied)"), "{err}");
    }
}
