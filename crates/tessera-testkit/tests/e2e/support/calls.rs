//! AWS CLI calls the tests make again and again, as [`Cli`] methods that must succeed:
//! IAM roles and their policies, Identity Center applications, identity store users and
//! groups.

use super::{Cli, string};

impl Cli<'_> {
    /// `iam create-role` of `name` trusting `trust`; the answer.
    pub fn create_role(&self, name: &str, trust: &str) -> serde_json::Value {
        self.ok(&[
            "iam",
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            trust,
        ])
    }

    /// `iam put-role-policy`: the inline policy `policy` of `role` is `document`.
    pub fn put_role_policy(&self, role: &str, policy: &str, document: &str) {
        self.ok(&[
            "iam",
            "put-role-policy",
            "--role-name",
            role,
            "--policy-name",
            policy,
            "--policy-document",
            document,
        ]);
    }

    /// `iam delete-role-policy`.
    pub fn delete_role_policy(&self, role: &str, policy: &str) {
        self.ok(&[
            "iam",
            "delete-role-policy",
            "--role-name",
            role,
            "--policy-name",
            policy,
        ]);
    }

    /// `sso-admin create-application` of the custom application provider in `instance`;
    /// its ARN.
    pub fn create_application(&self, instance: &str, name: &str) -> String {
        let app = self.ok(&[
            "sso-admin",
            "create-application",
            "--instance-arn",
            instance,
            "--application-provider-arn",
            "arn:aws:sso::aws:applicationProvider/custom",
            "--name",
            name,
        ]);
        string(&app, "ApplicationArn")
    }

    /// `sso-admin put-application-assignment-configuration`: whether users must be assigned.
    pub fn require_assignment(&self, app: &str, required: bool) {
        let flag = if required {
            "--assignment-required"
        } else {
            "--no-assignment-required"
        };
        self.ok(&[
            "sso-admin",
            "put-application-assignment-configuration",
            "--application-arn",
            app,
            flag,
        ]);
    }

    /// `sso-admin put-application-grant` of `grant_type` (`grant`: JSON, or `file://…`).
    pub fn put_application_grant(&self, app: &str, grant_type: &str, grant: &str) {
        self.ok(&[
            "sso-admin",
            "put-application-grant",
            "--application-arn",
            app,
            "--grant-type",
            grant_type,
            "--grant",
            grant,
        ]);
    }

    /// `sso-admin put-application-authentication-method` of type IAM (`method`: JSON, or
    /// `file://…`).
    pub fn put_iam_authentication_method(&self, app: &str, method: &str) {
        self.ok(&[
            "sso-admin",
            "put-application-authentication-method",
            "--application-arn",
            app,
            "--authentication-method",
            method,
            "--authentication-method-type",
            "IAM",
        ]);
    }

    /// `identitystore create-user` in `store` (`names`: `GivenName=…,FamilyName=…`;
    /// `emails`, if any: `Value=…,Primary=true`…); the answer.
    pub fn create_user(
        &self,
        store: &str,
        user_name: &str,
        display_name: &str,
        names: &str,
        emails: Option<&str>,
    ) -> serde_json::Value {
        let mut args = vec![
            "identitystore",
            "create-user",
            "--identity-store-id",
            store,
            "--user-name",
            user_name,
            "--display-name",
            display_name,
            "--name",
            names,
        ];
        args.extend(emails.map(|e| ["--emails", e]).into_iter().flatten());
        self.ok(&args)
    }

    /// `identitystore create-group` in `store`; the group's id.
    pub fn create_group(&self, store: &str, display_name: &str) -> String {
        let group = self.ok(&[
            "identitystore",
            "create-group",
            "--identity-store-id",
            store,
            "--display-name",
            display_name,
        ]);
        string(&group, "GroupId")
    }

    /// `identitystore create-group-membership` of the user `user_id` in `group`; the
    /// membership's id.
    pub fn add_to_group(&self, store: &str, group: &str, user_id: &str) -> String {
        let membership = self.ok(&[
            "identitystore",
            "create-group-membership",
            "--identity-store-id",
            store,
            "--group-id",
            group,
            "--member-id",
            &format!("UserId={user_id}"),
        ]);
        string(&membership, "MembershipId")
    }
}
