//! What the end-to-end tests share: where the fixtures and tools are, JSON and output
//! helpers, the AWS CLI ([`cli`], and the calls made again and again in [`calls`]),
//! aws-sdk-rust ([`sdk`]), SCIM ([`scim`]), the seeded world's data ([`seeded`]) and named
//! steps ([`steps`]).

pub mod calls;
pub mod cli;
pub mod scim;
pub mod sdk;
pub mod seeded;
pub mod steps;

pub use cli::{Cli, Creds, creds};
pub use steps::{step, step_async};

use std::path::PathBuf;
use std::process::{Command, Output};

/// The account most tests act in (the seeds' application account).
pub const ROOT: &str = "111111111111";
/// The second account of `tessera dev` (Identity Center's in the seeds).
pub const IDC: &str = "222222222222";

/// A file under `tests/` of this crate.
pub fn fixture(name: &str) -> PathBuf {
    tessera_testkit::manifest_dir().join("tests").join(name)
}

/// `file://…` of `tests/fixtures/{name}`, as the AWS CLI takes a document from a file.
pub fn fixture_arg(name: &str) -> String {
    format!("file://{}", fixture(&format!("fixtures/{name}")).display())
}

/// The seeds' trust policy of the application role.
pub fn trust_policy() -> String {
    std::fs::read_to_string(fixture("fixtures/application-role-trust.json")).unwrap()
}

/// The Python the test script set up (boto3, scim2-tester, DuckDB): `TESSERA_TEST_PYTHON`,
/// else `python3`.
pub fn python() -> String {
    std::env::var("TESSERA_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// The browser tools (playwright-core, axe-core, the sign-in script): `TESSERA_TEST_BROWSER`.
pub fn browser_dir() -> PathBuf {
    PathBuf::from(std::env::var("TESSERA_TEST_BROWSER").expect(
        "TESSERA_TEST_BROWSER is not set: run ./scripts/test, which installs the browser tools",
    ))
}

/// Chromium for the browser tests: `TESSERA_TEST_CHROMIUM`, else Debian's.
pub fn chromium() -> String {
    std::env::var("TESSERA_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Where the browser tests' screenshots go: `target/e2e-screenshots/` of this checkout.
pub fn screenshot_dir() -> PathBuf {
    tessera_testkit::manifest_dir()
        .join("../../target/e2e-screenshots")
        .components()
        .collect()
}

/// The seeds' trust policy of an S3 Access Grants location role in [`ROOT`]: the service
/// principal may assume it (with a source identity and context) for this account's instance.
pub fn access_grants_location_trust() -> serde_json::Value {
    serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "access-grants.s3.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"],
        "Condition": {"StringEquals": {"aws:SourceAccount": ROOT},
            "ArnEquals": {"aws:SourceArn": format!("arn:aws:s3:us-east-1:{ROOT}:access-grants/default")}}}]})
}

/// The string `v[key]`, which must be there.
pub fn string(v: &serde_json::Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {v}"))
        .to_owned()
}

pub fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// [`json`], or `Null` for nothing (the AWS CLI prints nothing for an empty answer).
pub fn json_or_null(out: &str) -> serde_json::Value {
    if out.trim().is_empty() {
        serde_json::Value::Null
    } else {
        json(out)
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The value of the line `name …` in the output of a `tessera` command (`Token:`,
/// `AccessKeyId:`…).
pub fn field(out: &str, name: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

/// A test script (`tests/{script}`) under the test Python, with no AWS configuration of the
/// machine's and assertions stripped (its checks must hold without them).
pub fn boto3_script(script: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(fixture(script))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("PYTHONOPTIMIZE", "1");
    cmd
}

/// A script's run must have succeeded with `last` as the last line of its stdout (what it
/// prints only when every check held); its stdout.
pub fn script_ok(out: Output, what: &str, last: &str) -> String {
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{what} failed:\n{text}\n{}",
        stderr(&out)
    );
    assert_eq!(
        text.lines().last(),
        Some(last),
        "{what} did not reach its end:\n{text}"
    );
    text
}
