//! The AWS CLI against a `tessera dev`: [`Cli`], a caller (keys or a session) whose runs
//! ([`Ran`]) must succeed or fail with a given error, and say otherwise with the command, the
//! step it was in and the CLI's stderr.

use super::{ROOT, json_or_null, steps};
use std::process::Command;
use tessera_testkit::DevServer;

/// Temporary credentials: (access key id, secret access key, session token).
pub type Creds = (String, String, String);

/// What a run of the AWS CLI gave: (success, stdout, stderr).
pub type CliOut = (bool, String, String);

/// The AWS CLI under test: `TESSERA_TEST_AWS_CLI`, else `aws` on the PATH.
pub fn aws_cli() -> String {
    std::env::var("TESSERA_TEST_AWS_CLI").unwrap_or_else(|_| "aws".into())
}

/// How the AWS CLI reaches s3control, which prepends `{AccountId}.` to the endpoint host
/// (a name that does not resolve here): through Tessera itself as the HTTP proxy, so the
/// name is never looked up and the request keeps the labelled Host it was signed with
/// (README, "s3control and the account host label").
fn s3control_env(server: &DevServer, args: &[&str]) -> Vec<(String, String)> {
    if args.first() != Some(&"s3control") {
        return Vec::new();
    }
    let e = server.manifest.endpoint.clone();
    vec![
        ("HTTP_PROXY".into(), e.clone()),
        ("http_proxy".into(), e),
        ("NO_PROXY".into(), String::new()),
        ("no_proxy".into(), String::new()),
    ]
}

fn run(server: &DevServer, id: &str, secret: &str, token: Option<&str>, args: &[&str]) -> CliOut {
    let cli = aws_cli();
    let mut cmd = Command::new(&cli);
    cmd.args(args)
        .envs(server.cli_env(id, secret))
        .envs(s3control_env(server, args));
    if let Some(token) = token {
        cmd.env("AWS_SESSION_TOKEN", token);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cli}: {e} (the test script installs the AWS CLI)"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `Credentials` of an STS (or GetDataAccess) answer.
pub fn creds(v: &serde_json::Value) -> Creds {
    let c = &v["Credentials"];
    (
        c["AccessKeyId"].as_str().unwrap().to_owned(),
        c["SecretAccessKey"].as_str().unwrap().to_owned(),
        c["SessionToken"].as_str().unwrap().to_owned(),
    )
}

/// The arguments of `aws sts assume-role` of `role_arn` as the session `session`, then
/// `extra`.
pub fn assume_role_args<'a>(
    role_arn: &'a str,
    session: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "sts",
        "assume-role",
        "--role-arn",
        role_arn,
        "--role-session-name",
        session,
    ];
    args.extend_from_slice(extra);
    args
}

/// A finished run of the AWS CLI, to be checked.
pub struct Ran {
    args: Vec<String>,
    pub done: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// `aws …` as a failure message shows it (long arguments shortened), and the step.
    fn command(&self) -> String {
        let shown: Vec<String> = self
            .args
            .iter()
            .map(|a| match a.char_indices().nth(160) {
                Some((i, _)) => format!("{}…", &a[..i]),
                None => a.clone(),
            })
            .collect();
        format!("aws {}{}", shown.join(" "), steps::in_step())
    }

    /// (success, stdout, stderr), checking nothing.
    pub fn raw(self) -> CliOut {
        (self.done, self.stdout, self.stderr)
    }

    /// It must have succeeded; its stdout.
    pub fn out(self) -> String {
        assert!(
            self.done,
            "{} failed\nstdout: {}\nstderr: {}",
            self.command(),
            self.stdout,
            self.stderr
        );
        self.stdout
    }

    /// It must have succeeded; its stdout as JSON (`Null` when the CLI printed nothing, as it
    /// does for an empty answer).
    pub fn ok(self) -> serde_json::Value {
        json_or_null(&self.out())
    }

    /// It must have failed with `needle` (an error code, or part of the message) in its
    /// stderr; returns stderr.
    pub fn fails(self, needle: &str) -> String {
        assert!(
            !self.done,
            "{}: expected an error with {needle:?}, but it succeeded: {}",
            self.command(),
            self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "{}: expected {needle:?} in stderr: {}",
            self.command(),
            self.stderr
        );
        self.stderr
    }

    /// It must have failed with the error code `code` (the CLI says `An error occurred
    /// (code) …`); returns stderr.
    pub fn fails_code(self, code: &str) -> String {
        self.fails(&format!("({code})"))
    }
}

/// A caller of the AWS CLI: an account's or user's keys, or a session.
#[derive(Clone)]
pub struct Cli<'s> {
    pub server: &'s DevServer,
    id: String,
    secret: String,
    token: Option<String>,
}

impl<'s> Cli<'s> {
    pub fn new(server: &'s DevServer, key: (&str, &str)) -> Cli<'s> {
        Cli {
            server,
            id: key.0.to_owned(),
            secret: key.1.to_owned(),
            token: None,
        }
    }

    /// The root keys of `account` (from the manifest).
    pub fn account(server: &'s DevServer, account: &str) -> Cli<'s> {
        let k = server.account(account);
        Cli::new(server, (&k.access_key_id, &k.secret_access_key))
    }

    /// The root keys of [`ROOT`].
    pub fn root(server: &'s DevServer) -> Cli<'s> {
        Cli::account(server, ROOT)
    }

    pub fn session(server: &'s DevServer, c: &Creds) -> Cli<'s> {
        Cli {
            server,
            id: c.0.clone(),
            secret: c.1.clone(),
            token: Some(c.2.clone()),
        }
    }

    /// (access key id, secret access key).
    pub fn key(&self) -> (&str, &str) {
        (&self.id, &self.secret)
    }

    /// Run `aws args`, to be checked.
    pub fn call(&self, args: &[&str]) -> Ran {
        let (done, stdout, stderr) = run(
            self.server,
            &self.id,
            &self.secret,
            self.token.as_deref(),
            args,
        );
        Ran {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            done,
            stdout,
            stderr,
        }
    }

    /// Run `aws args`: (success, stdout, stderr), checking nothing.
    pub fn run(&self, args: &[&str]) -> CliOut {
        self.call(args).raw()
    }

    /// `aws args` must succeed; its JSON answer (`Null` for an empty one).
    pub fn ok(&self, args: &[&str]) -> serde_json::Value {
        self.call(args).ok()
    }

    /// `aws args` must succeed; its stdout.
    pub fn out(&self, args: &[&str]) -> String {
        self.call(args).out()
    }

    /// `aws args` must fail with `needle` in its stderr; returns stderr.
    pub fn fails(&self, args: &[&str], needle: &str) -> String {
        self.call(args).fails(needle)
    }

    /// `aws sts get-caller-identity`'s ARN (must succeed).
    pub fn caller_arn(&self) -> String {
        self.out(&[
            "sts",
            "get-caller-identity",
            "--query",
            "Arn",
            "--output",
            "text",
        ])
        .trim()
        .to_owned()
    }

    /// This caller's `aws s3control … --account-id account`.
    pub fn s3control(&self, account: &str) -> S3Control<'_, 's> {
        S3Control {
            cli: self,
            account: account.to_owned(),
        }
    }

    /// An Identity Center instance of this caller's account (named `name`, if any): (its
    /// ARN, its identity store's id).
    pub fn create_instance(&self, name: Option<&str>) -> (String, String) {
        let mut args = vec!["sso-admin", "create-instance"];
        args.extend(name.map(|n| ["--name", n]).into_iter().flatten());
        let instance = self.ok(&args)["InstanceArn"].as_str().unwrap().to_owned();
        let store = self.identity_store_of(&instance);
        (instance, store)
    }

    /// The identity store of the Identity Center instance `instance` (`describe-instance`).
    pub fn identity_store_of(&self, instance: &str) -> String {
        let described = self.ok(&["sso-admin", "describe-instance", "--instance-arn", instance]);
        super::string(&described, "IdentityStoreId")
    }

    /// A new IAM user of this caller's account with an access key (and the inline policy
    /// `policy` = (name, document), if any); the user as a caller.
    pub fn new_user(&self, name: &str, policy: Option<(&str, &str)>) -> Cli<'s> {
        self.ok(&["iam", "create-user", "--user-name", name]);
        if let Some((policy_name, document)) = policy {
            self.ok(&[
                "iam",
                "put-user-policy",
                "--user-name",
                name,
                "--policy-name",
                policy_name,
                "--policy-document",
                document,
            ]);
        }
        let key = self.ok(&["iam", "create-access-key", "--user-name", name]);
        let field = |f: &str| key["AccessKey"][f].as_str().unwrap().to_owned();
        Cli::new(
            self.server,
            (&field("AccessKeyId"), &field("SecretAccessKey")),
        )
    }
}

/// `aws s3control …` of a caller for an account (`--account-id` added to every call).
pub struct S3Control<'c, 's> {
    cli: &'c Cli<'s>,
    account: String,
}

impl S3Control<'_, '_> {
    /// Run `aws s3control args --account-id …`, to be checked.
    pub fn call(&self, args: &[&str]) -> Ran {
        let mut a = vec!["s3control"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--account-id", &self.account]);
        self.cli.call(&a)
    }

    /// It must succeed; its JSON answer (`Null` for an empty one).
    pub fn ok(&self, args: &[&str]) -> serde_json::Value {
        self.call(args).ok()
    }

    /// It must fail with the error code `code`; returns stderr.
    pub fn fails_code(&self, args: &[&str], code: &str) -> String {
        self.call(args).fails_code(code)
    }

    /// `create-access-grant` in `location` of `S3SubPrefix=sub_prefix` to
    /// `GranteeType=grantee_type,GranteeIdentifier=grantee` with `permission`, then `extra`.
    pub fn grant(
        &self,
        location: &str,
        sub_prefix: &str,
        (grantee_type, grantee): (&str, &str),
        permission: &str,
        extra: &[&str],
    ) -> Ran {
        let configuration = format!("S3SubPrefix={sub_prefix}");
        let grantee = format!("GranteeType={grantee_type},GranteeIdentifier={grantee}");
        let mut a = vec![
            "create-access-grant",
            "--access-grants-location-id",
            location,
            "--access-grants-location-configuration",
            &configuration,
            "--grantee",
            &grantee,
            "--permission",
            permission,
        ];
        a.extend_from_slice(extra);
        self.call(&a)
    }

    /// `get-data-access` of `target` with `permission`, then `extra`.
    pub fn get_data_access(&self, target: &str, permission: &str, extra: &[&str]) -> Ran {
        let mut a = vec![
            "get-data-access",
            "--target",
            target,
            "--permission",
            permission,
        ];
        a.extend_from_slice(extra);
        self.call(&a)
    }
}
