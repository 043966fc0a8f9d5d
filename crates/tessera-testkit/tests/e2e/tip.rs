//! Issue 21: `tip` against the real `tessera` and the real test OIDC provider (npm
//! `oidc-provider`), its sign-in form driven by plain HTTP requests or headless Chromium; the
//! AWS CLI, aws-config's `CredentialProcessProvider`, DuckDB and the Access Grants credentials
//! provider for aws-sdk-s3 reading on the signed-in user's behalf.

use crate::support::cli::aws_cli;
use crate::support::sdk::s3_client;
use crate::support::seeded::{demo_expectations, dollars};
use crate::support::{
    Cli, IDC, ROOT, browser_dir, chromium, fixture, json, python, screenshot_dir, stderr, stdout,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tessera_testkit::{DevServer, TestIdp, tip_bin};

const WEB_IDENTITY_ROLE: &str = "CliWebIdentityRole";
const BEARER_ROLE: &str = "CliIdentityBearerRole";
const RED: &str = "s3://example-bucket/projects/red/*";
const BLUE: &str = "s3://example-bucket/projects/blue/*";

/// Run `tip` as a user whose home is `home` (nothing of the machine's own config leaks in).
fn tip_in(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(tip_bin())
        .args(args)
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("AWS_CONFIG_FILE", home.join(".aws/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join(".aws/credentials"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("TIP_CONFIG")
        .env_remove("TIP_PROFILE")
        .env_remove("BROWSER")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run tip")
}

/// `tip` must have succeeded; its stdout.
fn ok(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// `tip` must have failed as a `credential_process` consumer needs: non-zero exit, nothing
/// on stdout, the reason on stderr. Returns stderr.
fn refused(o: Output, what: &str) -> String {
    assert!(!o.status.success(), "{what} succeeded: {}", stdout(&o));
    assert!(
        o.stdout.is_empty(),
        "{what} printed on stdout: {}",
        stdout(&o)
    );
    let e = stderr(&o);
    assert!(e.contains("tip: error:"), "{what}: {e}");
    e
}

/// The world of these tests: `tessera dev` with its seeded world (Mateo in the Red Project
/// Group, grants Red → projects/red/*, Blue → projects/blue/*), the test OIDC provider as a
/// trusted token issuer of the application (email → emails.value), Eve Blue of the test
/// provider in the directory's Blue group, the IAM setup from `tip configure generate-setup
/// --apply`, and a `default` tip profile, in a home of its own.
struct TipWorld {
    server: DevServer,
    idp: TestIdp,
    home: PathBuf,
    _dir: tempfile::TempDir,
}

impl TipWorld {
    fn start() -> TipWorld {
        let dir = tempfile::tempdir().unwrap();
        let server = DevServer::start_demo(dir.path());
        let idp = TestIdp::start(dir.path());
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let idc = Cli::account(&server, IDC);
        let run = |args: &[&str]| idc.ok(args);
        let instance = run(&["sso-admin", "list-instances"])["Instances"][0]["InstanceArn"]
            .as_str()
            .unwrap()
            .to_owned();
        let store = idc.identity_store_of(&instance);
        let apps = run(&[
            "sso-admin",
            "list-applications",
            "--instance-arn",
            &instance,
        ]);
        let app = apps["Applications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["Name"] == "MyDataApplication")
            .expect("the seeded application")["ApplicationArn"]
            .as_str()
            .unwrap()
            .to_owned();
        // The test provider as a trusted token issuer, users matched by e-mail.
        let tti = run(&[
            "sso-admin",
            "create-trusted-token-issuer",
            "--instance-arn",
            &instance,
            "--name",
            "ExampleCorp-test-oidc-provider",
            "--trusted-token-issuer-type",
            "OIDC_JWT",
            "--trusted-token-issuer-configuration",
            &serde_json::json!({"OidcJwtConfiguration": {
                "IssuerUrl": idp.issuer, "ClaimAttributePath": "email",
                "IdentityStoreAttributePath": "emails.value",
                "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}})
            .to_string(),
        ])["TrustedTokenIssuerArn"]
            .as_str()
            .unwrap()
            .to_owned();
        idc.put_application_grant(
            &app,
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            &serde_json::json!({"JwtBearer": {"AuthorizedTokenIssuers": [
                {"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": ["example-cli"]}]}})
            .to_string(),
        );
        // Eve Blue joins the directory's Blue Project Group.
        let eve = idc.create_user(
            &store,
            "eve.blue",
            "Eve Blue",
            "GivenName=Eve,FamilyName=Blue",
            Some("Value=eve.blue@example.com,Type=work,Primary=true"),
        )["UserId"]
            .as_str()
            .unwrap()
            .to_owned();
        let groups = run(&[
            "identitystore",
            "list-groups",
            "--identity-store-id",
            &store,
            "--filters",
            "AttributePath=DisplayName,AttributeValue=Blue Project Group",
        ]);
        assert_eq!(groups["Groups"].as_array().unwrap().len(), 1, "{groups}");
        assert_eq!(groups["Groups"][0]["DisplayName"], "Blue Project Group");
        let blue = groups["Groups"][0]["GroupId"].as_str().unwrap().to_owned();
        idc.add_to_group(&store, &blue, &eve);

        // The IAM side, as tip prints and applies it, with the application account's root keys.
        let root = server.account(ROOT).clone();
        let endpoint = server.manifest.endpoint.clone();
        let region = server.manifest.region.clone();
        let script = ok(
            tip_in(
                &home,
                &["configure", "generate-setup", &idp.issuer, "example-cli"],
                &[],
            ),
            "generate-setup",
        );
        assert!(
            script.contains("aws iam create-open-id-connect-provider"),
            "{script}"
        );
        let applied = tip_in(
            &home,
            &[
                "configure",
                "generate-setup",
                &idp.issuer,
                "example-cli",
                "--apply",
                "--endpoint-url",
                &endpoint,
                "--region",
                &region,
                "--application-arn",
                &app,
                "--instance-arn",
                &instance,
                "--web-identity-role-name",
                WEB_IDENTITY_ROLE,
                "--identity-bearer-role-name",
                BEARER_ROLE,
            ],
            &[
                ("AWS_ACCESS_KEY_ID", &root.access_key_id),
                ("AWS_SECRET_ACCESS_KEY", &root.secret_access_key),
                ("AWS_CONFIG_FILE", "/dev/null"),
                ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ],
        );
        ok(applied, "generate-setup --apply");
        let wi_arn = format!("arn:aws:iam::{ROOT}:role/{WEB_IDENTITY_ROLE}");
        let bearer_arn = format!("arn:aws:iam::{ROOT}:role/{BEARER_ROLE}");
        // The Identity Center side: the web-identity role may exchange tokens.
        idc.put_iam_authentication_method(
            &app,
            &serde_json::json!({"Iam": {"ActorPolicy": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": wi_arn},
                "Action": "sso-oauth:CreateTokenWithIAM", "Resource": app}]}}})
            .to_string(),
        );
        ok(
            tip_in(
                &home,
                &[
                    "configure",
                    "idp",
                    "--issuer",
                    &idp.issuer,
                    "--client-id",
                    "example-cli",
                    "--loopback-port",
                    "0",
                    "--endpoint-url",
                    &endpoint,
                    "--region",
                    &region,
                    "--web-identity-role-arn",
                    &wi_arn,
                    "--application-arn",
                    &app,
                    "--identity-bearer-role-arn",
                    &bearer_arn,
                    "--account-id",
                    ROOT,
                    "--non-interactive",
                ],
                &[],
            ),
            "configure idp",
        );
        TipWorld {
            server,
            idp,
            home,
            _dir: dir,
        }
    }

    fn tip(&self, args: &[&str]) -> Output {
        tip_in(&self.home, args, &[])
    }

    /// `tip auth` with the browser played by `idp_signin.mjs` (HTTP requests, or Chromium);
    /// returns what the browser showed at the end.
    fn sign_in_with(&self, username: &str, password: &str, extra: &[&str]) -> (Output, String) {
        let out = self.home.join("browser.out");
        let _ = std::fs::remove_file(&out);
        let mut browser = format!(
            "node {}/idp_signin.mjs --username {username} --password {password} --out {}",
            browser_dir().display(),
            out.display()
        );
        for e in extra {
            browser.push(' ');
            browser.push_str(e);
        }
        browser.push_str(" --url");
        let o = tip_in(
            &self.home,
            &["auth", "--timeout", "60"],
            &[("BROWSER", &browser)],
        );
        // tip does not wait for its browser: give it a moment to write what it saw.
        let deadline = Instant::now() + Duration::from_secs(20);
        let seen = loop {
            if let Ok(s) = std::fs::read_to_string(&out)
                && s.ends_with('\n')
            {
                break s;
            }
            if Instant::now() > deadline {
                break String::new();
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (o, seen)
    }

    fn sign_in(&self, username: &str, password: &str) {
        let (o, seen) = self.sign_in_with(username, password, &[]);
        let err = stderr(&o);
        ok(o, &format!("tip auth as {username}"));
        assert!(err.contains("Signed in as"), "{err}");
        assert!(
            seen.starts_with("200 ") && seen.contains("Signed in as"),
            "{seen}"
        );
    }

    fn cache_dir(&self) -> PathBuf {
        self.home.join(".cache/tip/default")
    }

    /// Run the AWS CLI as this home's user (its ~/.aws/config, no keys in the environment).
    fn aws_cli(&self, args: &[&str]) -> (bool, String, String) {
        let o = Command::new(aws_cli())
            .args(args)
            .env("HOME", &self.home)
            .env("AWS_CONFIG_FILE", self.home.join(".aws/config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.join(".aws/credentials"),
            )
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("NO_COLOR", "1")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .output()
            .expect("run the AWS CLI");
        (o.status.success(), stdout(&o), stderr(&o))
    }

    fn records(&self, event: &str) -> Vec<serde_json::Value> {
        self.server
            .audit_records()
            .into_iter()
            .filter(|r| r["eventName"] == event)
            .collect()
    }
}

fn creds(out: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("credential_process JSON");
    assert_eq!(v["Version"], 1, "{v}");
    for k in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(v[k].as_str().is_some_and(|s| !s.is_empty()), "{k}: {v}");
    }
    assert!(
        chrono::DateTime::parse_from_rfc3339(v["Expiration"].as_str().unwrap()).is_ok(),
        "{v}"
    );
    v
}

fn key_of(out: &str) -> String {
    creds(out)["AccessKeyId"].as_str().unwrap().to_owned()
}

/// The month folder of the seeded data (this month, as `tessera dev` wrote it).
fn month(server: &DevServer) -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s3 = s3_client(server, server.account(ROOT)).await;
        let listed = s3
            .list_objects_v2()
            .bucket("example-bucket")
            .prefix("projects/red/tomatoes/")
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key()?.split('/').nth(3).map(str::to_owned))
            .max()
            .expect("seeded tomatoes")
    })
}

/// Seed 004's walk: sign in (headless Chromium at the real provider's form), then the AWS
/// CLI with `credential_process` profiles lists and reads Mateo's tomatoes and is refused the
/// blue data; aws-config's CredentialProcessProvider gets the same credentials; DuckDB reads
/// the tomato CSVs with credentials from tip; the other commands do what they say.
#[test]
fn tip_signs_in_and_the_aws_cli_and_duckdb_read_on_the_users_behalf() {
    let w = TipWorld::start();
    let chromium = chromium();
    let shot = screenshot_dir().join("tip-signed-in.png");
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let (o, seen) = w.sign_in_with(
        "mateo.jackson",
        "mateo-password",
        &[
            "--chromium",
            &chromium,
            "--screenshot",
            &shot.display().to_string(),
        ],
    );
    ok(o, "tip auth in Chromium");
    assert!(
        seen.contains("Signed in as Mateo Jackson"),
        "the browser's last page: {seen}"
    );

    // The identity-enhanced session, as credential_process output and as the AWS CLI sees it.
    let iam = key_of(&ok(
        w.tip(&["auth", "get-iam-credentials"]),
        "get-iam-credentials",
    ));
    ok(
        w.tip(&["auth", "set-aws-profile", "me"]),
        "set-aws-profile me",
    );
    let (done, out, err) = w.aws_cli(&["sts", "get-caller-identity", "--profile", "me"]);
    assert!(done, "{err}");
    assert!(
        json(&out)["Arn"]
            .as_str()
            .unwrap()
            .contains(&format!("assumed-role/{BEARER_ROLE}/tip-mateo.jackson")),
        "{out}"
    );

    // S3 Access Grants profiles: Red reads, Blue is refused.
    let m = month(&w.server);
    let cfg = w.home.join(".aws/config");
    std::fs::write(&cfg, "# mine\n[profile keep]\nregion = eu-west-1\n").unwrap();
    let o = w.tip(&[
        "auth",
        "set-aws-profile",
        "red",
        "--s3-target",
        RED,
        "--permission",
        "READ",
    ]);
    assert!(stderr(&o).contains("tip-backup"), "{}", stderr(&o));
    ok(o, "set-aws-profile red");
    ok(
        w.tip(&["auth", "set-aws-profile", "blue", "--s3-target", BLUE]),
        "set-aws-profile blue",
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.starts_with("# mine\n[profile keep]\nregion = eu-west-1\n"),
        "{text}"
    );
    assert!(
        text.contains("credential_process = ")
            && text.contains(
                "s3ag get-data-access 's3://example-bucket/projects/red/*' --permission READ"
            ),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(w.home.join(".aws/config.tip-backup"))
            .unwrap()
            .lines()
            .next(),
        Some("# mine")
    );
    let (done, out, err) = w.aws_cli(&[
        "s3",
        "ls",
        &format!("s3://example-bucket/projects/red/tomatoes/{m}/"),
        "--profile",
        "red",
    ]);
    assert!(done, "{err}");
    assert!(
        out.contains("roma.csv") && out.contains("heirloom.csv"),
        "{out}"
    );
    let (done, out, err) = w.aws_cli(&[
        "s3",
        "cp",
        &format!("s3://example-bucket/projects/red/tomatoes/{m}/roma.csv"),
        "-",
        "--profile",
        "red",
    ]);
    assert!(done, "{err}");
    assert!(
        out.starts_with("date,store,kilograms,revenue_usd\n"),
        "{out}"
    );
    let (done, out, err) = w.aws_cli(&[
        "s3",
        "ls",
        &format!("s3://example-bucket/projects/blue/blueberries/{m}/"),
        "--profile",
        "blue",
    ]);
    assert!(!done, "Mateo listed blue data: {out}");
    assert!(err.contains("AccessDenied"), "{err}");
    // Red's credentials do not reach blue data either.
    let (done, _, err) = w.aws_cli(&[
        "s3",
        "cp",
        &format!("s3://example-bucket/projects/blue/blueberries/{m}/highbush.csv"),
        "-",
        "--profile",
        "red",
    ]);
    assert!(
        !done && (err.contains("403") || err.contains("AccessDenied")),
        "{err}"
    );

    // aws-config's CredentialProcessProvider runs the same command and gets the same
    // (cached) credentials.
    let listed = json(&ok(
        w.tip(&["s3ag", "list-credentials", "--json"]),
        "list-credentials",
    ));
    let red_key = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["MatchedGrantTarget"] == RED)
        .expect("the red entry")["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let command = text
        .lines()
        .skip_while(|l| l.trim() != "[profile red]")
        .find_map(|l| l.strip_prefix("credential_process = "))
        .unwrap()
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let got = rt.block_on(async {
        use aws_credential_types::provider::ProvideCredentials;
        // The command runs under `sh -c` with this process's environment: point it at the
        // test's home.
        let cmd = format!("env HOME={} NO_COLOR=1 {command}", w.home.display());
        aws_config::credential_process::CredentialProcessProvider::new(cmd)
            .provide_credentials()
            .await
            .expect("CredentialProcessProvider")
    });
    assert_eq!(got.access_key_id(), red_key);
    assert!(got.session_token().is_some() && got.expiry().is_some());

    // DuckDB, with credentials from tip.
    let o = Command::new(python())
        .arg(fixture("tip_duckdb.py"))
        .args([
            tip_bin().display().to_string(),
            "default".into(),
            w.server.manifest.endpoint.clone(),
            w.server.manifest.region.clone(),
            m.clone(),
        ])
        .env("HOME", &w.home)
        .env("NO_COLOR", "1")
        .output()
        .expect("run python");
    assert!(o.status.success(), "DuckDB: {}", stderr(&o));
    let duck = json(&stdout(&o));
    let expect = rt.block_on(demo_expectations(&w.server));
    let total = expect["tomatoes"]["total"].as_str().unwrap();
    let cents = duck["revenue_cents"].as_u64().unwrap();
    assert_eq!(dollars(cents), total, "{duck}");
    assert_eq!(duck["by_variety"].as_object().unwrap().len(), 6, "{duck}");
    assert!(duck["rows"].as_u64().unwrap() >= 6, "{duck}");
    let blue = duck["blue_error"].as_str().unwrap_or("");
    assert!(
        blue.contains("403") || blue.contains("Forbidden") || blue.contains("AccessDenied"),
        "{duck}"
    );

    // The other commands.
    let table = ok(w.tip(&["s3ag", "list-credentials"]), "list-credentials");
    assert!(
        table.starts_with("GRANT TARGET") && table.contains(RED),
        "{table}"
    );
    let grants = ok(w.tip(&["s3ag", "list-grants"]), "list-grants");
    assert!(
        grants.contains("s3://example-bucket/projects/red/*") && grants.contains("READ"),
        "{grants}"
    );
    assert!(!grants.contains("projects/blue"), "{grants}");
    let o = w.tip(&["diag"]);
    let diag = stderr(&o);
    ok(o, "diag");
    assert!(diag.contains("Everything works."), "{diag}");
    let o = w.tip(&["s3ag", "clear-credentials"]);
    assert!(
        stderr(&o).contains("Removed 1 cache file"),
        "{}",
        stderr(&o)
    );
    let again = json(&ok(w.tip(&["s3ag", "list-credentials", "--json"]), "list"));
    assert_eq!(again, serde_json::json!([]));
    // The short aliases, and completions.
    assert_eq!(key_of(&ok(w.tip(&["credentials"]), "tip credentials")), iam);
    let bash = ok(w.tip(&["completions", "bash"]), "completions");
    assert!(bash.contains("get-data-access"), "completions");
    for cmd in [
        vec!["--help"],
        vec!["s3ag", "get-data-access", "--help"],
        vec!["auth", "--help"],
        vec!["configure", "generate-setup", "--help"],
    ] {
        let help = ok(w.tip(&cmd), "help");
        assert!(help.contains("Example"), "{cmd:?}: {help}");
    }
    // Sign out: tokens and credentials are gone, and tip says so without printing credentials.
    ok(w.tip(&["logout"]), "logout");
    let e = refused(w.tip(&["auth", "get-iam-credentials"]), "after logout");
    assert!(e.contains("nobody is signed in"), "{e}");
    assert!(!w.cache_dir().join("tokens.json").exists());
}

/// The defects of the public sample, each shown absent: caches keyed by user (a second user
/// on the machine never gets the first one's credentials), refreshed before expiry, a
/// re-exchange that uses the new role credentials, a broad request that never gets narrower
/// cached credentials, 16 concurrent credential_process runs that make one exchange, errors
/// on stderr only, owner-only files.
#[test]
fn tip_caches_are_keyed_locked_refreshed_and_private() {
    let w = TipWorld::start();
    w.sign_in("mateo.jackson", "mateo-password");
    let bearer_arn = format!("arn:aws:iam::{ROOT}:role/{BEARER_ROLE}");

    // 16 concurrent credential_process runs, nothing cached yet: one exchange.
    let before = w.records("CreateTokenWithIAM").len();
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let home = w.home.clone();
            std::thread::spawn(move || tip_in(&home, &["auth", "get-iam-credentials"], &[]))
        })
        .collect();
    let keys: Vec<String> = handles
        .into_iter()
        .map(|h| key_of(&ok(h.join().unwrap(), "concurrent get-iam-credentials")))
        .collect();
    assert!(keys.iter().all(|k| k == &keys[0]), "{keys:?}");
    assert_eq!(
        w.records("CreateTokenWithIAM").len() - before,
        1,
        "16 concurrent runs made more than one exchange"
    );
    let web = w.records("AssumeRoleWithWebIdentity");
    assert_eq!(web.len(), 1, "{web:?}");
    let bearer: Vec<_> = w
        .records("AssumeRole")
        .into_iter()
        .filter(|r| r["requestParameters"]["roleArn"] == bearer_arn.as_str())
        .collect();
    assert_eq!(bearer.len(), 1);
    assert_eq!(
        bearer[0]["responseElements"]["credentials"]["accessKeyId"],
        keys[0].as_str()
    );

    // Owner-only files in an owner-only directory.
    {
        use std::os::unix::fs::PermissionsExt;
        for d in [w.home.join(".cache/tip"), w.cache_dir()] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
        let mut files = 0;
        for e in std::fs::read_dir(w.cache_dir()).unwrap() {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", e.path().display());
            files += 1;
        }
        assert!(files >= 3, "tokens, chain cache and lock");
        let config = w.home.join(".config/tip/config.toml");
        assert_eq!(
            std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A cache file others can read is refused, not used.
        let tokens = w.cache_dir().join("tokens.json");
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = refused(
            w.tip(&["auth", "get-iam-credentials"]),
            "world-readable tokens",
        );
        assert!(e.contains("readable or writable by other users"), "{e}");
        std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // Cached credentials are served while fresh...
    let red = key_of(&ok(w.tip(&["s3ag", "get-data-access", RED]), "red"));
    let gda = w.records("GetDataAccess").len();
    assert_eq!(
        key_of(&ok(w.tip(&["s3ag", "get-data-access", RED]), "red")),
        red
    );
    // ...and a narrower request is served by the broader grant's credentials...
    let narrow = "s3://example-bucket/projects/red/tomatoes/*";
    assert_eq!(
        key_of(&ok(w.tip(&["s3ag", "get-data-access", narrow]), "narrow")),
        red
    );
    assert_eq!(
        w.records("GetDataAccess").len(),
        gda,
        "served from the cache"
    );
    // ...but a broader one never is: it is asked for, and refused (no grant covers it).
    let e = refused(
        w.tip(&["s3ag", "get-data-access", "s3://example-bucket/projects/*"]),
        "a broader target",
    );
    assert!(e.contains("AccessDenied"), "{e}");
    let asked = w.records("GetDataAccess");
    assert_eq!(asked.len(), gda + 1);
    let last = asked.last().unwrap();
    assert_eq!(last["errorCode"], "AccessDenied", "{last}");
    assert_eq!(
        last["additionalEventData"]["authorizationDecisions"][0]["target"],
        "s3://example-bucket/projects/*",
        "{last}"
    );
    // Neither is WRITE, another account or another duration served by the READ entry.
    let e = refused(
        w.tip(&["s3ag", "get-data-access", RED, "--permission", "WRITE"]),
        "WRITE",
    );
    assert!(e.contains("AccessDenied"), "{e}");
    let long = key_of(&ok(
        w.tip(&["s3ag", "get-data-access", RED, "--duration-seconds", "1800"]),
        "another duration",
    ));
    assert_ne!(long, red);
    // A refusal is remembered briefly: the same request again does not call the service.
    let n = w.records("GetDataAccess").len();
    let e = refused(
        w.tip(&["s3ag", "get-data-access", "s3://example-bucket/projects/*"]),
        "refused again",
    );
    assert!(e.contains("asks again after"), "{e}");
    assert_eq!(w.records("GetDataAccess").len(), n);

    // Refreshed before expiry: with a margin longer than the credentials' whole life,
    // every stage is renewed — the identity provider's token by its refresh token, the
    // web-identity session, Identity Center's token and the bearer session — and the new
    // bearer session is assumed with the new web-identity credentials.
    let id_token = |w: &TipWorld| -> String {
        let t: serde_json::Value =
            serde_json::from_slice(&std::fs::read(w.cache_dir().join("tokens.json")).unwrap())
                .unwrap();
        t["id_token"].as_str().unwrap().to_owned()
    };
    let old_token = id_token(&w);
    ok(
        w.tip(&[
            "configure",
            "idp",
            "--refresh-margin-seconds",
            "7200",
            "--non-interactive",
        ]),
        "margin",
    );
    let renewed = key_of(&ok(w.tip(&["auth", "get-iam-credentials"]), "renewed"));
    assert_ne!(
        renewed, keys[0],
        "credentials within the margin were not renewed"
    );
    assert_ne!(id_token(&w), old_token, "the ID token was not refreshed");
    let web = w.records("AssumeRoleWithWebIdentity");
    assert_eq!(web.len(), 2);
    let new_web_key = web[1]["responseElements"]["credentials"]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    // The newest AssumeRole of the bearer role.
    let newest_bearer = || {
        w.records("AssumeRole")
            .into_iter()
            .rfind(|r| r["requestParameters"]["roleArn"] == bearer_arn.as_str())
            .unwrap()
    };
    let newest = newest_bearer();
    assert_eq!(
        newest["userIdentity"]["accessKeyId"],
        new_web_key.as_str(),
        "the re-exchange was signed with stale web-identity credentials"
    );
    assert_eq!(
        newest["responseElements"]["credentials"]["accessKeyId"],
        renewed.as_str()
    );
    // Grant credentials are renewed too, and asked for with the bearer session of that moment
    // (with this margin every run renews it).
    let red2 = key_of(&ok(w.tip(&["s3ag", "get-data-access", RED]), "red renewed"));
    assert_ne!(red2, red);
    let last = w.records("GetDataAccess").pop().unwrap();
    assert_eq!(
        last["userIdentity"]["accessKeyId"],
        newest_bearer()["responseElements"]["credentials"]["accessKeyId"],
        "GetDataAccess was signed with stale bearer credentials"
    );
    ok(
        w.tip(&[
            "configure",
            "idp",
            "--refresh-margin-seconds",
            "300",
            "--non-interactive",
        ]),
        "margin back",
    );

    // A second user on the same machine and profile never gets Mateo's credentials.
    let mateo_iam = key_of(&ok(w.tip(&["auth", "get-iam-credentials"]), "mateo"));
    let mateo_red = key_of(&ok(w.tip(&["s3ag", "get-data-access", RED]), "mateo red"));
    w.sign_in("eve.blue", "eve-password");
    let eve_iam = key_of(&ok(w.tip(&["auth", "get-iam-credentials"]), "eve"));
    assert_ne!(eve_iam, mateo_iam);
    let e = refused(w.tip(&["s3ag", "get-data-access", RED]), "Eve asks for red");
    assert!(e.contains("AccessDenied") && e.contains("Eve Blue"), "{e}");
    let eve_blue = key_of(&ok(w.tip(&["s3ag", "get-data-access", BLUE]), "eve blue"));
    assert_ne!(eve_blue, mateo_red);
    let who = w
        .records("GetDataAccess")
        .into_iter()
        .rfind(|r| r["requestParameters"]["target"] == BLUE)
        .unwrap();
    assert!(
        who["userIdentity"]["onBehalfOf"]["userId"].is_string(),
        "{who}"
    );
    // Mateo again: his own cache, untouched by Eve's session.
    w.sign_in("mateo.jackson", "mateo-password");
    let n = w.records("GetDataAccess").len();
    assert_eq!(
        key_of(&ok(w.tip(&["s3ag", "get-data-access", RED]), "mateo again")),
        mateo_red
    );
    assert_eq!(w.records("GetDataAccess").len(), n);

    // Errors: non-zero, nothing on stdout, the reason on stderr.
    let e = refused(
        w.tip(&["--profile", "nope", "auth", "get-iam-credentials"]),
        "no profile",
    );
    assert!(e.contains("no tip profile \"nope\""), "{e}");
    let e = refused(
        w.tip(&["s3ag", "get-data-access", "example-bucket/projects/red/x"]),
        "not a URI",
    );
    assert!(e.contains("must start with s3://"), "{e}");
    let e = refused(
        w.tip(&["s3ag", "get-data-access", RED, "--permission", "ALL"]),
        "bad permission",
    );
    assert!(e.contains("READ, WRITE or READWRITE"), "{e}");
    let bad = w.home.join("bad.toml");
    std::fs::write(&bad, "[profiles.default\nissuer = 1\n").unwrap();
    let e = refused(
        tip_in(
            &w.home,
            &["auth", "get-iam-credentials"],
            &[("TIP_CONFIG", bad.to_str().unwrap())],
        ),
        "a corrupt config",
    );
    assert!(e.contains("is not a valid tip config"), "{e}");
    // Mateo's grant cache (Eve has one too): the file that names his subject.
    let chain = std::fs::read_dir(w.cache_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("s3ag-"))
                && std::fs::read_to_string(p)
                    .unwrap()
                    .contains("0b4e7a0e-5b8c-4f62-9a51-3f1b2c6d7e01")
        })
        .unwrap();
    let saved = std::fs::read(&chain).unwrap();
    std::fs::write(&chain, b"{ not json").unwrap();
    let e = refused(w.tip(&["s3ag", "get-data-access", RED]), "a damaged cache");
    assert!(e.contains("is damaged"), "{e}");
    std::fs::write(&chain, saved).unwrap();
}

/// A sign-in that is not what tip asked for changes nothing: a forged state, an ID token for
/// another sign-in (its nonce), a callback for another port, a sign-in that never comes back.
#[test]
fn tip_refuses_forged_sign_ins() {
    let w = TipWorld::start();
    let tokens = w.cache_dir().join("tokens.json");

    // The callback delivered by hand, tampered with: run tip, read the address it prints,
    // sign in without following the last redirect, then send the callback.
    let deliver = |tamper: &dyn Fn(&str, u16) -> (String, String)| -> String {
        let mut child = Command::new(tip_bin())
            .args(["auth", "--no-browser", "--timeout", "30"])
            .env("HOME", &w.home)
            .env("NO_COLOR", "1")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("BROWSER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::BufRead;
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let url = loop {
            line.clear();
            assert!(
                err.read_line(&mut line).unwrap() > 0,
                "tip printed no address"
            );
            if let Some(u) = line
                .trim()
                .strip_prefix("Sign in at your identity provider: ")
            {
                break u.to_owned();
            }
        };
        let o = Command::new("node")
            .arg(browser_dir().join("idp_signin.mjs"))
            .args([
                "--username",
                "mateo.jackson",
                "--password",
                "mateo-password",
                "--print-callback",
                "--url",
                &url,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let callback = stdout(&o).trim().to_owned();
        let port: u16 = callback
            .trim_start_matches("http://127.0.0.1:")
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (host, path) = tamper(&callback, port);
        {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut page = String::new();
            let _ = s.read_to_string(&mut page);
        }
        let mut rest = String::new();
        use std::io::Read;
        let _ = err.read_to_string(&mut rest);
        let status = child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(!status.success(), "the tampered sign-in succeeded: {rest}");
        assert!(out.is_empty(), "stdout: {out}");
        rest
    };
    let path_of = |cb: &str| cb.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap();
    let e = deliver(&|cb, port| {
        let p = path_of(cb);
        let forged = p
            .split('&')
            .map(|kv| {
                if kv.starts_with("state=") {
                    "state=forged".to_owned()
                } else {
                    kv.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        (format!("127.0.0.1:{port}"), forged)
    });
    assert!(e.contains("state this sign-in did not send"), "{e}");
    assert!(!tokens.exists(), "a forged sign-in was saved");
    let e = deliver(&|cb, _| ("127.0.0.1:1".into(), path_of(cb)));
    assert!(e.contains("not for http://127.0.0.1:"), "{e}");
    assert!(!tokens.exists());

    // An ID token for another sign-in: the browser asks the provider with another nonce.
    let (o, seen) = w.sign_in_with(
        "mateo.jackson",
        "mateo-password",
        &["--set", "nonce=not-the-one-tip-sent"],
    );
    let e = refused(o, "a token with another nonce");
    assert!(e.contains("nonce"), "{e}");
    assert!(seen.contains("Sign-in failed"), "{seen}");
    assert!(!tokens.exists());

    // A wrong password: the provider never redirects back; tip gives up and says where it
    // waited.
    let o = tip_in(
        &w.home,
        &["auth", "--timeout", "5"],
        &[(
            "BROWSER",
            &format!(
                "node {}/idp_signin.mjs --username mateo.jackson --password wrong --url",
                browser_dir().display()
            ),
        )],
    );
    let e = refused(o, "no callback");
    assert!(e.contains("no sign-in arrived"), "{e}");
    assert!(!tokens.exists());

    // And the real thing still works afterwards.
    w.sign_in("mateo.jackson", "mateo-password");
    assert!(tokens.exists());
    let _ = &w.idp;
}

/// `tessera dev` prints a ready `tip configure idp …` line for its development provider; with
/// it, tip signs Mateo in, and an aws-sdk-s3 client with the Access Grants credentials provider
/// reads his tomatoes, is refused blue data, and 200 concurrent GETs under one grant make one
/// GetDataAccess call.
#[test]
fn dev_world_tip_line_and_the_rust_credentials_provider() {
    let dir = tempfile::tempdir().unwrap();
    let server = DevServer::start_demo(dir.path());
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let line = server.manifest.tip_configure.clone().expect("tip line");
    let mut words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    assert_eq!(words.remove(0), "tip");
    words.extend([
        "--loopback-port".into(),
        "0".into(),
        "--non-interactive".into(),
    ]);
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    ok(tip_in(&home, &args, &[]), "the banner's tip line");
    let idp = server.manifest.idp.clone().unwrap();
    let mateo = idp
        .users
        .iter()
        .find(|u| u.username == "mateo.jackson")
        .unwrap();
    let browser = format!(
        "node {}/idp_signin.mjs --username mateo.jackson --password {} --url",
        browser_dir().display(),
        mateo.password
    );
    ok(
        tip_in(
            &home,
            &["--profile", "tessera-dev", "auth", "--timeout", "60"],
            &[("BROWSER", &browser)],
        ),
        "tip auth at the development provider",
    );
    let bearer = creds(&ok(
        tip_in(
            &home,
            &["--profile", "tessera-dev", "auth", "get-iam-credentials"],
            &[],
        ),
        "get-iam-credentials",
    ));
    let m = month(&server);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use tessera_s3ag_credentials::{AccessGrants, s3control_client};
        // 200 connections at once from one address are more than Tessera's per-client cap
        // (128), which closes the rest at once. The SDK's standard retries reopen them, but its
        // default retry quota (500 tokens, 14 a retry) runs dry after ~35 retries, so this
        // client gets a larger budget: what is under test is the provider's single flight,
        // not the connection cap.
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&server.manifest.endpoint)
            .region(aws_config::Region::new(server.manifest.region.clone()))
            .credentials_provider(aws_credential_types::Credentials::new(
                bearer["AccessKeyId"].as_str().unwrap(),
                bearer["SecretAccessKey"].as_str().unwrap(),
                bearer["SessionToken"].as_str().map(str::to_owned),
                None,
                "tip",
            ))
            .load()
            .await;
        // An S3 client configuration with a new Access Grants provider (its cache empty).
        let with_grants = || {
            let grants = AccessGrants::builder()
                .s3control(s3control_client(&config))
                .account_id(ROOT)
                .build()
                .unwrap();
            grants
                .configure(aws_sdk_s3::config::Builder::from(&config))
                .force_path_style(true)
        };
        let s3 = aws_sdk_s3::Client::from_conf(with_grants().build());
        let prefix = format!("projects/red/tomatoes/{m}/");
        let listed = s3
            .list_objects_v2()
            .bucket("example-bucket")
            .prefix(&prefix)
            .send()
            .await
            .expect("list Mateo's tomatoes");
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        assert_eq!(keys.len(), 6, "{keys:?}");
        let body = s3
            .get_object()
            .bucket("example-bucket")
            .key(&keys[0])
            .send()
            .await
            .expect("read a tomato CSV")
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert!(body.starts_with(b"date,store,kilograms,revenue_usd\n"));
        let blue = s3
            .get_object()
            .bucket("example-bucket")
            .key(format!("projects/blue/blueberries/{m}/highbush.csv"))
            .send()
            .await
            .expect_err("blue data");
        let why = format!("{}", aws_sdk_s3::error::DisplayErrorContext(&blue));
        assert!(why.contains("AccessDenied"), "{why}");

        // A fresh provider (empty cache): 200 concurrent GETs under the Red grant.
        let before = server
            .audit_records()
            .iter()
            .filter(|r| r["eventName"] == "GetDataAccess")
            .count();
        let s3 = aws_sdk_s3::Client::from_conf(
            with_grants()
                .retry_config(
                    aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(6),
                )
                .retry_partition(
                    aws_sdk_s3::config::retry::RetryPartition::custom("tip-e2e-200")
                        .token_bucket(aws_sdk_s3::config::retry::TokenBucket::unlimited())
                        .build(),
                )
                .build(),
        );
        let mut tasks = Vec::new();
        for i in 0..200 {
            let s3 = s3.clone();
            let key = keys[i % keys.len()].clone();
            tasks.push(tokio::spawn(async move {
                s3.get_object()
                    .bucket("example-bucket")
                    .key(key)
                    .send()
                    .await
                    .map(|_| ())
            }));
        }
        for t in tasks {
            t.await.unwrap().expect("a concurrent GET");
        }
        let records = server.audit_records();
        let calls: Vec<_> = records
            .iter()
            .filter(|r| r["eventName"] == "GetDataAccess")
            .skip(before)
            .collect();
        assert_eq!(
            calls.len(),
            1,
            "200 concurrent GETs made {} GetDataAccess calls",
            calls.len()
        );
        assert_eq!(calls[0]["requestParameters"]["permission"], "READ");
        let reads = records
            .iter()
            .filter(|r| {
                r["eventName"] == "GetObject"
                    && r["errorCode"].is_null()
                    && r["additionalEventData"]["accessGrants"]["getDataAccessRequestId"]
                        == calls[0]["requestID"]
            })
            .count();
        assert_eq!(
            reads, 200,
            "every GET was signed with the one grant's credentials"
        );
    });
}
