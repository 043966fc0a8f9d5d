//! The flow's end: Mateo revoked, then deleted through SCIM; the audit records of the whole
//! run, and no secret of it in them.

use super::tokens::jwt_claims;
use super::{Flow, SEED_CSV};
use crate::support::scim::scim;
use crate::support::{Creds, ROOT};
use tessera_testkit::tessera_command;

impl Flow<'_> {
    /// Revoke Mateo: his identity-enhanced session and refresh tokens stop working within a
    /// second (the test waits a little longer, for a loaded machine); the application role's
    /// own session and another user's identity-enhanced session keep working.
    pub(super) fn revoke_mateo(&mut self) {
        let app = &self.sessions.app;
        let fresh = self
            .exchange(
                app,
                &self
                    .w
                    .idp
                    .login("example-cli", "mateo.jackson", "mateo-password"),
            )
            .ok();
        let d = self.server().data_dir.to_str().unwrap();
        let out = tessera_command(&[
            "sessions",
            "revoke",
            "--user",
            &self.ids.mateo,
            "--data-dir",
            d,
        ]);
        assert!(out.contains("revoked"), "{out}");
        std::thread::sleep(std::time::Duration::from_millis(2500));
        let caller = |c: &Creds| self.session(c).run(&["sts", "get-caller-identity"]);
        let (still, _, err) = caller(&self.sessions.bearer);
        assert!(!still, "a revoked user's session still works");
        assert!(err.contains("ExpiredToken"), "{err}");
        // The chained session that carried his context on is revoked with it.
        let (still, _, err) = caller(&self.sessions.with_context);
        assert!(
            !still,
            "a chained session with a revoked user's context still works"
        );
        assert!(err.contains("ExpiredToken"), "{err}");
        // So are the credentials Access Grants vended for him, at STS and at S3; Zoe's keep
        // working.
        let vended = self.session(&self.sessions.vended);
        let (still, _, err) = caller(&self.sessions.vended);
        assert!(!still, "credentials vended to a revoked user still work");
        assert!(err.contains("ExpiredToken"), "{err}");
        let (still, _, err) = vended.run(&[
            "s3",
            "cp",
            "s3://example-bucket/projects/red/tomatoes/roma.csv",
            "-",
        ]);
        assert!(!still, "S3 served credentials vended to a revoked user");
        assert!(err.contains("(403) when calling the HeadObject"), "{err}");
        let (still, _, err) =
            vended.run(&["s3", "ls", "s3://example-bucket/projects/red/tomatoes/"]);
        assert!(!still, "S3 listed for credentials vended to a revoked user");
        assert!(err.contains("AccessDenied"), "{err}");
        let zoe_read = self.session(&self.sessions.zoe_vended).out(&[
            "s3",
            "cp",
            "s3://example-bucket/bob/notes.txt",
            "-",
        ]);
        assert_eq!(zoe_read, SEED_CSV);
        self.refresh(app, fresh["refreshToken"].as_str().unwrap())
            .fails("InvalidGrantException");
        let fresh_ctx = jwt_claims(fresh["idToken"].as_str().unwrap())["sts:identity_context"]
            .as_str()
            .unwrap()
            .to_owned();
        self.assume_bearer_with(&fresh_ctx).fails("AccessDenied");
        self.session(app).ok(&["sts", "get-caller-identity"]);
        // Another user's identity-enhanced session keeps working.
        let me = self
            .session(&self.sessions.zoe_bearer)
            .ok(&["sts", "get-caller-identity"]);
        assert_eq!(
            me["Arn"],
            format!("arn:aws:sts::{ROOT}:assumed-role/IdentityBearerRole/s1")
        );
        self.tokens.fresh = fresh;
        self.tokens.fresh_context = fresh_ctx;
    }

    /// A user deleted through SCIM can no longer exchange tokens.
    pub(super) fn delete_through_scim(&mut self) {
        let again = self
            .w
            .idp
            .login("example-cli", "mateo.jackson", "mateo-password");
        let (status, _) = scim(
            self.server(),
            &self.ids.scim_token,
            &self.ids.store_id,
            "DELETE",
            &format!("/Users/{}", self.ids.mateo),
            None,
        );
        assert_eq!(status, 204);
        let (accepted, _, err) = self.exchange(&self.sessions.app, &again).raw();
        assert!(!accepted, "a deleted user exchanged a token");
        assert!(err.contains("InvalidGrantException"), "{err}");
        self.tokens.again = again;
    }

    /// The exchange's audit record names the resolved user and hides the tokens; userIdentity
    /// per principal type, as CloudTrail shapes it.
    pub(super) fn audit_identities(&mut self) {
        let records = self.server().audit_records();
        let mateo = self.ids.mateo.as_str();
        let ct: Vec<_> = records
            .iter()
            .filter(|r| r["eventName"] == "CreateTokenWithIAM" && r["errorCode"].is_null())
            .collect();
        assert!(!ct.is_empty());
        assert_eq!(ct[0]["eventSource"], "sso-oauth.amazonaws.com");
        assert_eq!(ct[0]["additionalEventData"]["identitystore:UserId"], mateo);
        assert_eq!(
            ct[0]["requestParameters"]["assertion"],
            "HIDDEN_DUE_TO_SECURITY_REASONS"
        );
        let by_key = |id: &str| {
            records
                .iter()
                .find(|r| r["userIdentity"]["accessKeyId"] == id)
                .unwrap_or_else(|| panic!("no record made with {id}"))["userIdentity"]
                .clone()
        };
        let user = by_key(self.dev().key().0);
        assert_eq!(user["type"], "IAMUser", "{user}");
        assert_eq!(user["userName"], "developer", "{user}");
        assert_eq!(user["arn"], format!("arn:aws:iam::{ROOT}:user/developer"));
        assert_eq!(user["accountId"], ROOT);
        assert!(
            user["principalId"].as_str().unwrap().starts_with("AIDA"),
            "{user}"
        );
        let root_id = by_key(self.root.key().0);
        assert_eq!(root_id["type"], "Root", "{root_id}");
        assert_eq!(root_id["arn"], format!("arn:aws:iam::{ROOT}:root"));
        // An identity-enhanced session: the role session, its issuer, and the user it acts
        // for.
        let enhanced = by_key(&self.sessions.bearer.0);
        assert_eq!(enhanced["type"], "AssumedRole", "{enhanced}");
        let issuer = &enhanced["sessionContext"]["sessionIssuer"];
        assert_eq!(issuer["type"], "Role");
        assert_eq!(issuer["userName"], "IdentityBearerRole");
        assert_eq!(
            issuer["arn"],
            format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole")
        );
        assert!(
            enhanced["principalId"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}:", issuer["principalId"].as_str().unwrap())),
            "{enhanced}"
        );
        assert_eq!(enhanced["onBehalfOf"]["userId"], mateo);
        assert!(
            enhanced["onBehalfOf"]["identityStoreArn"]
                .as_str()
                .unwrap()
                .ends_with(&format!("identitystore/{}", self.ids.store_id)),
            "{enhanced}"
        );
        // Access Grants credentials: the location role's session, on behalf of the same user.
        let vended_id = by_key(&self.sessions.vended.0);
        assert_eq!(
            vended_id["sessionContext"]["sessionIssuer"]["userName"],
            "s3-access-grants-role"
        );
        assert_eq!(vended_id["onBehalfOf"]["userId"], mateo);
        self.records = records;
    }

    /// Nothing secret of this whole run is in any record: not in the store's trail, not in
    /// the export. Every secret key, session token, id / access / refresh token, assertion,
    /// password and SCIM token the run used is looked for.
    pub(super) fn audit_holds_no_secret(&mut self) {
        let (t, s) = (&self.tokens, &self.sessions);
        let mut secrets: Vec<(&str, String)> = vec![
            ("root secret key", self.root.key().1.to_owned()),
            ("developer secret key", self.dev().key().1.to_owned()),
            ("id token", t.id_token.clone()),
            ("identity context assertion", t.context.clone()),
            ("fresh identity context assertion", t.fresh_context.clone()),
            ("later id token", t.again.clone()),
            ("refresh token", t.refresh.clone()),
            ("rotated refresh token", t.rotated_refresh.clone()),
            ("access token", t.access.clone()),
            ("SCIM token", self.ids.scim_token.clone()),
            ("password", "mateo-password".into()),
        ];
        for (what, answer) in [
            ("tokens", &t.first),
            ("exchanged", &t.exchanged),
            ("zoe", &t.zoe),
            ("fresh", &t.fresh),
        ] {
            for field in ["idToken", "accessToken", "refreshToken"] {
                if let Some(v) = answer[field].as_str() {
                    secrets.push((what, v.to_owned()));
                }
            }
        }
        for (what, c) in [
            ("application", &s.app),
            ("other", &s.other),
            ("bearer", &s.bearer),
            ("zoe bearer", &s.zoe_bearer),
            ("vended", &s.vended),
            ("zoe vended", &s.zoe_vended),
        ] {
            secrets.push((what, c.1.clone()));
            secrets.push((what, c.2.clone()));
        }
        let stored = tessera_command(&[
            "audit",
            "query",
            "--data-dir",
            &self.server().data_dir.display().to_string(),
            "--json",
            "--limit",
            "100000",
        ]);
        let stored_count = stored.lines().count();
        let records = &self.records;
        assert!(
            stored_count >= records.len() && stored_count > 100,
            "only {stored_count} records in the trail, {} exported",
            records.len()
        );
        let exported = serde_json::to_string(records).unwrap();
        for (what, secret) in &secrets {
            assert!(secret.len() >= 12, "{what}: too short to look for");
            // JSON escapes `/` nowhere and `+` nowhere, but a token inside a JSON string could
            // be escaped: look for the escaped form too.
            let escaped = serde_json::to_string(secret).unwrap();
            let escaped = escaped.trim_matches('"');
            for (place, text) in [("the store's trail", &stored), ("the export", &exported)] {
                assert!(
                    !text.contains(secret.as_str()) && !text.contains(escaped),
                    "a {what} reached {place}"
                );
            }
        }
    }
}
