//! The flow's set-up: Identity Center and its directory, the trusted token issuer (seed
//! 002), the application (seed 001, steps B–E) and the IAM roles.

use super::{Flow, MATEO_SUB};
use crate::support::scim::{scim, scim_token, scim_user};
use crate::support::{ROOT, creds, fixture};

impl Flow<'_> {
    /// An instance and its identity store; Mateo provisioned through SCIM, as an IdP would;
    /// two users with Eve's email, so that her token maps to more than one user.
    pub(super) fn provision_directory(&mut self) {
        let server = self.server();
        let (instance, store_id) = self.root.create_instance(Some("acme"));
        let scim_token = scim_token(server, &store_id);
        let (status, created) = scim(
            server,
            &scim_token,
            &store_id,
            "POST",
            "/Users",
            Some(&scim_user(
                "mateo.jackson",
                "mateo.jackson@example.com",
                MATEO_SUB,
            )),
        );
        assert_eq!(status, 201, "{created}");
        self.ids.mateo = created["id"].as_str().unwrap().to_owned();
        for name in ["eve.blue", "eve.blue.2"] {
            self.root.create_user(
                &store_id,
                name,
                "Eve Blue",
                "GivenName=Eve,FamilyName=Blue",
                Some("Value=eve.blue@example.com,Primary=true"),
            );
        }
        self.ids.instance = instance;
        self.ids.store_id = store_id;
        self.ids.scim_token = scim_token;
    }

    /// Step A (seed 002): the trusted token issuer, the test OIDC provider.
    pub(super) fn register_trusted_token_issuer(&mut self) {
        let conf = serde_json::json!({"OidcJwtConfiguration": {"IssuerUrl": self.w.idp.issuer,
            "ClaimAttributePath": "email", "IdentityStoreAttributePath": "emails.value",
            "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}});
        let tti = self.root.ok(&[
            "sso-admin",
            "create-trusted-token-issuer",
            "--instance-arn",
            &self.ids.instance,
            "--name",
            "MyEntraIDTrustedIssuer",
            "--trusted-token-issuer-type",
            "OIDC_JWT",
            "--trusted-token-issuer-configuration",
            &self.file("oidc-configuration.json", &conf),
        ])["TrustedTokenIssuerArn"]
            .as_str()
            .unwrap()
            .to_owned();
        let d = self.root.ok(&[
            "sso-admin",
            "describe-trusted-token-issuer",
            "--trusted-token-issuer-arn",
            &tti,
        ]);
        assert_eq!(
            d["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"]["IssuerUrl"],
            self.w.idp.issuer.as_str()
        );
        self.ids.tti = tti;
    }

    /// Steps B–E (seed 001): the application, no assignment required, the JWT bearer and
    /// refresh grants, the access scope and the ActorPolicy naming ApplicationRole.
    pub(super) fn register_application(&mut self) {
        let root = &self.root;
        let app = root.create_application(&self.ids.instance, "MyDataApplication");
        root.require_assignment(&app, false);
        let grant = serde_json::json!({"JwtBearer": {"AuthorizedTokenIssuers": [
            {"TrustedTokenIssuerArn": self.ids.tti, "AuthorizedAudiences": ["example-cli"]}]}});
        root.put_application_grant(
            &app,
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            &self.file("grant.json", &grant),
        );
        root.put_application_grant(&app, "refresh_token", "{\"RefreshToken\":{}}");
        root.ok(&[
            "sso-admin",
            "put-application-access-scope",
            "--application-arn",
            &app,
            "--scope",
            "s3:access_grants:read_write",
        ]);
        let actor = serde_json::json!({"Iam": {"ActorPolicy": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sso-oauth:CreateTokenWithIAM",
            "Resource": app, "Condition": {"ArnEquals": {"aws:PrincipalArn": format!("arn:aws:iam::{ROOT}:role/ApplicationRole")}}}]}}});
        root.put_iam_authentication_method(&app, &self.file("authentication-method.json", &actor));
        let grants = root.ok(&[
            "sso-admin",
            "list-application-grants",
            "--application-arn",
            &app,
        ]);
        assert_eq!(grants["Grants"].as_array().unwrap().len(), 2, "{grants}");
        self.ids.app = app;
    }

    /// The application role and a role the ActorPolicy does not name; IdentityBearerRole
    /// with the seed's exact trust policy, for this instance; the developer user who assumes
    /// the first two (the account root may not).
    pub(super) fn create_roles(&mut self) {
        let root = &self.root;
        let root_trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{ROOT}"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let app_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sso-oauth:CreateTokenWithIAM", "Resource": self.ids.app},
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetContext"], "Resource": format!("arn:aws:iam::{ROOT}:role/IdentityBearerRole")}]});
        for role in ["ApplicationRole", "OtherRole"] {
            root.create_role(role, &root_trust);
            root.put_role_policy(role, "app", &app_policy.to_string());
        }
        let bearer_trust = std::fs::read_to_string(fixture("fixtures/identity-bearer-trust.json"))
            .unwrap()
            .replace("arn:aws:sso:::instance/ssoins-12345678", &self.ids.instance);
        root.create_role("IdentityBearerRole", &bearer_trust);
        // Roles may not be assumed by the account root: a developer user does it.
        let dev = root.new_user(
            "developer",
            Some((
                "assume",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
            )),
        );
        self.dev = Some(dev);
        self.sessions.app = creds(&self.assume(None, "ApplicationRole", &[]).ok());
        self.sessions.other = creds(&self.assume(None, "OtherRole", &[]).ok());
    }
}
