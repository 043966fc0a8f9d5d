//! `tip`: sign in as yourself at your company's identity provider and use the AWS CLI, the SDKs
//! and analytics engines on your own behalf, through trusted identity propagation and S3 Access
//! Grants. Works against Tessera (`endpoint_url` in the profile) and against AWS.
//!
//! Every error goes to stderr with a non-zero exit and nothing on stdout, so a
//! `credential_process` consumer never reads an error as credentials.

mod aws;
mod aws_profile;
mod config;
mod diag;
mod files;
mod oidc;
mod s3ag;
mod session;
mod setup;
mod ui;

use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory, Parser, Subcommand};
use std::time::Duration;
use tessera_s3ag_credentials::{Ask, Permission, Privilege, S3Target};

#[derive(Parser)]
#[command(
    name = "tip",
    version,
    about = "Sign in with your workforce identity and use AWS (or Tessera) on your own behalf",
    long_about = "Sign in with your workforce identity provider and use the AWS CLI, the SDKs and analytics engines on your own behalf: tip exchanges your ID token for an identity-enhanced IAM session (trusted identity propagation) and for S3 Access Grants credentials, and caches them correctly.",
    after_help = "Examples:\n  tip configure idp                      # set up a profile (asks for what is missing)\n  tip auth                               # sign in through the browser\n  tip auth get-iam-credentials           # credential_process output for the AWS CLI\n  tip s3ag get-data-access 's3://example-bucket/projects/red/*' --permission READ\n  tip diag                               # which step of the chain fails, and why"
)]
struct Cli {
    /// The tip profile to use.
    #[arg(long, global = true, env = "TIP_PROFILE", default_value = "default")]
    profile: String,
    /// Say what tip does (to stderr).
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Set up profiles and the IAM roles the flow needs.
    #[command(subcommand)]
    Configure(ConfigureCmd),
    /// Sign in through the browser (and the sign-in's other commands).
    Auth(AuthArgs),
    /// S3 Access Grants credentials for the signed-in user.
    #[command(subcommand)]
    S3ag(S3agCmd),
    /// Walk the whole chain and name the first step that fails, and why.
    #[command(after_help = "Example:\n  tip --profile dev diag")]
    Diag,
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  tip completions bash > ~/.local/share/bash-completion/completions/tip\n  tip completions zsh > ~/.zfunc/_tip\n  tip completions fish > ~/.config/fish/completions/tip.fish"
    )]
    Completions { shell: clap_complete::Shell },
    /// Short for `tip auth`.
    #[command(after_help = "Example:\n  tip login --no-browser")]
    Login(LoginArgs),
    /// Short for `tip auth logout`.
    #[command(after_help = "Example:\n  tip logout")]
    Logout,
    /// Short for `tip auth get-iam-credentials`.
    #[command(after_help = "Example:\n  tip credentials")]
    Credentials(IamCredentialsArgs),
}

#[derive(Subcommand)]
enum ConfigureCmd {
    /// Create or change a profile: flags for scripts, questions on a terminal for what is missing.
    #[command(
        after_help = "Examples:\n  tip configure idp\n  tip --profile dev configure idp --issuer https://login.example.com/oauth2/default \\\n      --client-id 0oa1b2c3 --endpoint-url http://127.0.0.1:4566 --region us-east-1 \\\n      --web-identity-role-arn arn:aws:iam::111111111111:role/TipWebIdentityRole \\\n      --application-arn arn:aws:sso::222222222222:application/ssoins-1/apl-1 \\\n      --identity-bearer-role-arn arn:aws:iam::111111111111:role/TipIdentityBearerRole \\\n      --account-id 111111111111"
    )]
    Idp(IdpArgs),
    /// Show a profile.
    #[command(after_help = "Example:\n  tip --profile dev configure show")]
    Show,
    /// Print the IAM setup the flow needs as a reviewable script of AWS CLI commands.
    #[command(
        after_help = "Examples:\n  tip configure generate-setup https://login.example.com/oauth2/default 0oa1b2c3 > tip-setup.sh\n  tip configure generate-setup http://127.0.0.1:9000 example-cli --apply --endpoint-url http://127.0.0.1:4566"
    )]
    GenerateSetup(SetupArgs),
    /// Print the same setup as a CloudFormation template.
    #[command(
        after_help = "Example:\n  tip configure generate-cfn-template https://login.example.com/oauth2/default 0oa1b2c3 > tip-roles.json\n  aws cloudformation deploy --template-file tip-roles.json --stack-name tip --capabilities CAPABILITY_NAMED_IAM"
    )]
    GenerateCfnTemplate(SetupArgs),
}

#[derive(Args, Default)]
struct IdpArgs {
    /// The identity provider's issuer URL.
    #[arg(long)]
    issuer: Option<String>,
    /// tip's client id at the identity provider (a public, native client).
    #[arg(long)]
    client_id: Option<String>,
    /// Scopes to ask for, space-separated (default "openid profile email offline_access").
    #[arg(long)]
    scopes: Option<String>,
    /// The loopback port the sign-in returns to (default 8090; 0 for any free port).
    #[arg(long)]
    loopback_port: Option<u16>,
    /// Tessera's endpoint (leave out for AWS).
    #[arg(long)]
    endpoint_url: Option<String>,
    #[arg(long)]
    region: Option<String>,
    /// The role assumed with the ID token (AssumeRoleWithWebIdentity).
    #[arg(long)]
    web_identity_role_arn: Option<String>,
    /// The Identity Center customer managed application.
    #[arg(long)]
    application_arn: Option<String>,
    /// The role whose sessions carry your identity.
    #[arg(long)]
    identity_bearer_role_arn: Option<String>,
    /// The account whose S3 Access Grants instance to ask by default.
    #[arg(long)]
    account_id: Option<String>,
    /// How long identity-enhanced sessions last (900–43,200 s).
    #[arg(long)]
    session_duration_seconds: Option<i32>,
    /// Renew tokens and credentials when less than this many seconds are left (default 300).
    #[arg(long)]
    refresh_margin_seconds: Option<i64>,
    /// Never ask; fail if something is missing.
    #[arg(long)]
    non_interactive: bool,
}

#[derive(Args)]
struct SetupArgs {
    /// The identity provider's issuer URL.
    issuer_url: String,
    /// tip's client id at the identity provider.
    client_id: String,
    #[arg(long, default_value = "TipWebIdentityRole")]
    web_identity_role_name: String,
    #[arg(long, default_value = "TipIdentityBearerRole")]
    identity_bearer_role_name: String,
    /// The Identity Center application (the web-identity role may then exchange tokens with it only).
    #[arg(long)]
    application_arn: Option<String>,
    /// The Identity Center instance whose identity contexts the bearer role accepts.
    #[arg(long)]
    instance_arn: Option<String>,
    /// The roles' maximum session duration.
    #[arg(long, default_value_t = 3600)]
    max_session_duration: i32,
    /// Perform the setup now with your own (administrator) AWS credentials.
    #[arg(long)]
    apply: bool,
    /// With --apply: where IAM is (Tessera's endpoint; AWS when absent).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// With --apply: the region.
    #[arg(long)]
    region: Option<String>,
}

#[derive(Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  tip auth                     # opens the browser\n  tip auth --no-browser        # prints the address to open\n  tip auth get-iam-credentials\n  tip auth set-aws-profile my-tip-profile\n  tip auth logout"
)]
struct AuthArgs {
    #[command(subcommand)]
    command: Option<AuthCmd>,
    #[command(flatten)]
    login: LoginArgs,
}

#[derive(Args)]
struct LoginArgs {
    /// Print the sign-in address instead of opening a browser.
    #[arg(long)]
    no_browser: bool,
    /// Give up when the sign-in has not come back after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

#[derive(Subcommand)]
enum AuthCmd {
    /// Use the refresh token now.
    #[command(after_help = "Example:\n  tip auth refresh-token")]
    RefreshToken,
    /// Forget the signed-in user's tokens and credentials.
    #[command(after_help = "Example:\n  tip auth logout")]
    Logout,
    /// Identity-enhanced IAM credentials, as the AWS CLI's credential_process reads them.
    #[command(
        after_help = "Examples:\n  tip auth get-iam-credentials\n  # ~/.aws/config:\n  # [profile me]\n  # credential_process = tip --profile dev auth get-iam-credentials"
    )]
    GetIamCredentials(IamCredentialsArgs),
    /// Write a credential_process profile into ~/.aws/config (the old file is kept as config.tip-backup).
    #[command(
        after_help = "Examples:\n  tip auth set-aws-profile me\n  tip auth set-aws-profile red-data --s3-target 's3://example-bucket/projects/red/*' --permission READ\n  aws s3 ls s3://example-bucket/projects/red/ --profile red-data"
    )]
    SetAwsProfile(SetAwsProfileArgs),
}

#[derive(Args)]
struct IamCredentialsArgs {
    /// Do the whole exchange again, whatever is cached.
    #[arg(long)]
    force_new_creds: bool,
}

#[derive(Args)]
struct SetAwsProfileArgs {
    /// The AWS CLI profile to write.
    name: String,
    /// Make the profile use S3 Access Grants credentials for this target instead.
    #[arg(long)]
    s3_target: Option<String>,
    #[arg(long, default_value = "READ")]
    permission: String,
}

#[derive(Subcommand)]
enum S3agCmd {
    /// Credentials from S3 Access Grants for an S3 target (credential_process output).
    #[command(
        after_help = "Examples:\n  tip s3ag get-data-access 's3://example-bucket/projects/red/*' --permission READ\n  tip s3ag get-data-access s3://example-bucket/projects/red/2026/tomatoes.csv --target-type Object --privilege Minimal\n  # ~/.aws/config:\n  # [profile red]\n  # credential_process = tip s3ag get-data-access 's3://example-bucket/projects/red/*' --permission READ"
    )]
    GetDataAccess(GetDataAccessArgs),
    /// The cached grant credentials of the signed-in user.
    #[command(
        after_help = "Examples:\n  tip s3ag list-credentials\n  tip s3ag list-credentials --json"
    )]
    ListCredentials {
        #[arg(long)]
        json: bool,
    },
    /// Forget cached grant credentials.
    #[command(
        after_help = "Examples:\n  tip s3ag clear-credentials\n  tip s3ag clear-credentials --all-users"
    )]
    ClearCredentials {
        /// Every user's of this profile, not only the signed-in user's.
        #[arg(long)]
        all_users: bool,
    },
    /// The grants that apply to the signed-in user (ListCallerAccessGrants).
    #[command(
        after_help = "Examples:\n  tip s3ag list-grants\n  tip s3ag list-grants --grant-scope 's3://example-bucket/projects/*' --json"
    )]
    ListGrants {
        #[arg(long)]
        account_id: Option<String>,
        /// Only grants within this scope.
        #[arg(long)]
        grant_scope: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct GetDataAccessArgs {
    /// s3://bucket/key, or s3://bucket/prefix* for everything under a prefix.
    s3_uri: String,
    /// READ, WRITE or READWRITE.
    #[arg(long, default_value = "READ")]
    permission: String,
    /// Default (credentials for the whole matched grant) or Minimal (for the target only).
    #[arg(long, default_value = "Default")]
    privilege: String,
    /// How long the credentials last (900–43,200 s; the service's default is one hour).
    #[arg(long)]
    duration_seconds: Option<i32>,
    /// Object: the target names one object.
    #[arg(long)]
    target_type: Option<String>,
    /// The account whose Access Grants instance to ask (default: the profile's).
    #[arg(long)]
    account_id: Option<String>,
    /// Ask again, whatever is cached.
    #[arg(long)]
    force_new_creds: bool,
}

fn print_stdout(s: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())?;
    if !s.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn ask_line(question: &str, current: Option<&str>) -> Result<Option<String>> {
    use std::io::{BufRead, Write};
    match current {
        Some(c) => eprint!("{question} [{c}]: "),
        None => eprint!("{question}: "),
    }
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let t = line.trim();
    Ok((!t.is_empty()).then(|| t.to_owned()))
}

fn configure_idp(name: &str, a: IdpArgs) -> Result<()> {
    use std::io::IsTerminal;
    config::check_profile_name(name)?;
    let path = files::config_path()?;
    let mut file = config::ConfigFile::load(&path)?;
    let mut p = file.profiles.get(name).cloned().unwrap_or_default();
    p.merge(config::Profile {
        issuer: a.issuer,
        client_id: a.client_id,
        scopes: a
            .scopes
            .map(|s| s.split_whitespace().map(str::to_owned).collect()),
        loopback_port: a.loopback_port,
        endpoint_url: a.endpoint_url,
        region: a.region,
        web_identity_role_arn: a.web_identity_role_arn,
        application_arn: a.application_arn,
        identity_bearer_role_arn: a.identity_bearer_role_arn,
        account_id: a.account_id,
        session_duration_seconds: a.session_duration_seconds,
        refresh_margin_seconds: a.refresh_margin_seconds,
    });
    let interactive = !a.non_interactive && std::io::stdin().is_terminal();
    if interactive {
        macro_rules! ask {
            ($f:ident, $q:expr) => {
                if p.$f.is_none() {
                    p.$f = ask_line($q, None)?;
                }
            };
        }
        ask!(issuer, "Identity provider issuer URL");
        ask!(client_id, "Client id at the identity provider");
        ask!(web_identity_role_arn, "Web-identity role ARN");
        ask!(application_arn, "Identity Center application ARN");
        ask!(identity_bearer_role_arn, "Identity-bearer role ARN");
        ask!(account_id, "Default S3 Access Grants account id");
        if p.endpoint_url.is_none() {
            p.endpoint_url = ask_line("Endpoint URL (empty for AWS)", None)?;
        }
        if p.region.is_none() {
            p.region = ask_line("Region", Some(config::DEFAULT_REGION))?;
        }
    }
    p.validate()?;
    if p.issuer.is_none() || p.client_id.is_none() {
        bail!(
            "a profile needs at least --issuer and --client-id (the other values can follow: tip names what is missing when it needs it)"
        );
    }
    file.profiles.insert(name.to_owned(), p);
    file.save(&path)?;
    eprintln!("Saved profile {name:?} in {}.", path.display());
    Ok(())
}

fn setup_of(a: &SetupArgs) -> setup::Setup {
    setup::Setup {
        issuer: a.issuer_url.clone(),
        client_id: a.client_id.clone(),
        web_identity_role: a.web_identity_role_name.clone(),
        bearer_role: a.identity_bearer_role_name.clone(),
        application_arn: a.application_arn.clone(),
        instance_arn: a.instance_arn.clone(),
        max_session_seconds: a.max_session_duration,
    }
}

async fn generate_setup(a: SetupArgs) -> Result<()> {
    let s = setup_of(&a);
    s.validate()?;
    if !a.apply {
        return print_stdout(&s.script());
    }
    if let Some(e) = &a.endpoint_url {
        config::check_url("the endpoint URL", e)?;
    }
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(e) = &a.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    if let Some(r) = &a.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    let conf = loader.load().await;
    if conf.region().is_none() {
        bail!("no region: pass --region or set AWS_REGION");
    }
    let applied = {
        let _s = ui::Spinner::start("Applying the IAM setup");
        setup::apply(
            &s,
            &aws_sdk_iam::Client::new(&conf),
            &aws_sdk_sts::Client::new(&conf),
        )
        .await?
    };
    eprintln!(
        "Done in account {}:\n  OIDC provider          {}\n  web-identity role      {}\n  identity-bearer role   {}",
        applied.account,
        applied.provider_arn,
        applied.web_identity_role_arn,
        applied.bearer_role_arn
    );
    eprintln!(
        "Next, in the Identity Center account: let {} call CreateTokenWithIAM for the application (its ActorPolicy) and trust {} for audience {:?}; then\n  tip configure idp --issuer {} --client-id {} --web-identity-role-arn {} --identity-bearer-role-arn {} --application-arn <APP_ARN> --account-id {}",
        applied.web_identity_role_arn,
        s.issuer,
        s.client_id,
        s.issuer,
        s.client_id,
        applied.web_identity_role_arn,
        applied.bearer_role_arn,
        applied.account
    );
    Ok(())
}

async fn set_aws_profile(profile: &str, a: SetAwsProfileArgs) -> Result<()> {
    let ctx = session::Ctx::load(profile)?;
    let exe = std::env::current_exe().context("cannot tell where tip is installed")?;
    let exe = exe.to_string_lossy().into_owned();
    let mut words = vec![exe, "--profile".to_owned(), profile.to_owned()];
    match &a.s3_target {
        Some(t) => {
            S3Target::parse(t)?;
            Permission::parse(&a.permission)?;
            words.extend([
                "s3ag".into(),
                "get-data-access".into(),
                t.clone(),
                "--permission".into(),
                a.permission.to_ascii_uppercase(),
            ]);
        }
        None => words.extend(["auth".into(), "get-iam-credentials".into()]),
    }
    let command = words
        .iter()
        .map(|w| aws_profile::quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let mut body = vec![("credential_process".to_owned(), command)];
    body.push(("region".to_owned(), ctx.profile.region()));
    if let Some(e) = &ctx.profile.endpoint_url {
        body.push(("endpoint_url".to_owned(), e.clone()));
    }
    let path = aws_profile::config_file()?;
    let backup = aws_profile::write(&path, &a.name, &body)?;
    eprintln!(
        "Wrote profile {:?} to {}{}.\nTry: aws sts get-caller-identity --profile {}",
        a.name,
        path.display(),
        backup
            .map(|b| format!(" (the old file is {})", b.display()))
            .unwrap_or_default(),
        a.name
    );
    Ok(())
}

async fn get_data_access(profile: &str, a: GetDataAccessArgs) -> Result<()> {
    let ctx = session::Ctx::load(profile)?;
    let target = S3Target::parse(&a.s3_uri)?;
    let permission = Permission::parse(&a.permission)?;
    let privilege = Privilege::parse(&a.privilege)?;
    let object = match a.target_type.as_deref() {
        None => false,
        Some(t) if t.eq_ignore_ascii_case("object") => {
            if target.wildcard {
                bail!("--target-type Object names one object; the target may not end with *");
            }
            true
        }
        Some(t) => bail!("--target-type must be Object, not {t:?}"),
    };
    if let Some(d) = a.duration_seconds
        && !(900..=43_200).contains(&d)
    {
        bail!("--duration-seconds {d} is outside 900 to 43,200");
    }
    let ask = Ask {
        account_id: s3ag::account(&ctx, a.account_id.as_deref())?,
        target,
        permission,
        privilege,
        duration_seconds: a.duration_seconds,
        object,
    };
    let keys = s3ag::get_data_access(&ctx, &ask, a.force_new_creds).await?;
    print_stdout(&keys.process_json())
}

async fn list_grants(
    profile: &str,
    account: Option<String>,
    scope: Option<String>,
    json: bool,
) -> Result<()> {
    let ctx = session::Ctx::load(profile)?;
    let account = s3ag::account(&ctx, account.as_deref())?;
    let (_, bearer) = session::bearer_credentials(&ctx, false).await?;
    let out = aws::s3control(&ctx.profile, Some(bearer.credentials()))
        .list_caller_access_grants()
        .account_id(&account)
        .set_grant_scope(scope)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("ListCallerAccessGrants: {}", aws::message_of(&e)))?;
    let grants = out.caller_access_grants_list();
    if json {
        let v: Vec<serde_json::Value> = grants
            .iter()
            .map(|g| {
                serde_json::json!({
                    "GrantScope": g.grant_scope(),
                    "Permission": g.permission().map(|p| p.as_str()),
                    "ApplicationArn": g.application_arn(),
                })
            })
            .collect();
        return print_stdout(&serde_json::to_string_pretty(&v)?);
    }
    let rows: Vec<Vec<String>> = grants
        .iter()
        .map(|g| {
            vec![
                g.grant_scope().unwrap_or("").to_owned(),
                g.permission().map(|p| p.as_str()).unwrap_or("").to_owned(),
                g.application_arn().unwrap_or("-").to_owned(),
            ]
        })
        .collect();
    print_stdout(&ui::table(
        &["GRANT SCOPE", "PERMISSION", "APPLICATION"],
        &rows,
    ))
}

async fn list_credentials(profile: &str, json: bool) -> Result<()> {
    let ctx = session::Ctx::load(profile)?;
    let (user, cache) = s3ag::list(&ctx).await?;
    if json {
        let v: Vec<serde_json::Value> = cache
            .grants
            .iter()
            .map(|g| {
                serde_json::json!({
                    "MatchedGrantTarget": g.matched_target.to_string(),
                    "Permission": g.permission.as_str(),
                    "Privilege": g.privilege.as_str(),
                    "AccountId": g.account_id,
                    "DurationSeconds": g.duration_seconds,
                    "AccessKeyId": g.credentials.access_key_id,
                    "Expiration": chrono::DateTime::from_timestamp(g.credentials.expiration, 0)
                        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                })
            })
            .collect();
        return print_stdout(&serde_json::to_string_pretty(&v)?);
    }
    let now = session::now();
    let rows: Vec<Vec<String>> = cache
        .grants
        .iter()
        .map(|g| {
            vec![
                g.matched_target.to_string(),
                g.permission.as_str().to_owned(),
                g.privilege.as_str().to_owned(),
                g.account_id.clone(),
                ui::relative(g.credentials.expiration, now),
                g.credentials.access_key_id.clone(),
            ]
        })
        .collect();
    eprintln!(
        "S3 Access Grants credentials cached for {}:",
        user.display()
    );
    print_stdout(&ui::table(
        &[
            "GRANT TARGET",
            "PERMISSION",
            "PRIVILEGE",
            "ACCOUNT",
            "EXPIRES",
            "ACCESS KEY",
        ],
        &rows,
    ))
}

async fn run(cli: Cli) -> Result<()> {
    let profile = cli.profile.clone();
    match cli.command {
        Command::Configure(ConfigureCmd::Idp(a)) => configure_idp(&profile, a),
        Command::Configure(ConfigureCmd::Show) => {
            let ctx = session::Ctx::load(&profile)?;
            let mut file = config::ConfigFile::default();
            file.profiles.insert(profile.clone(), ctx.profile);
            print_stdout(&toml::to_string_pretty(&file)?)
        }
        Command::Configure(ConfigureCmd::GenerateSetup(a)) => generate_setup(a).await,
        Command::Configure(ConfigureCmd::GenerateCfnTemplate(a)) => {
            if a.apply {
                bail!(
                    "--apply belongs to generate-setup; deploy the template with `aws cloudformation deploy`"
                );
            }
            let s = setup_of(&a);
            s.validate()?;
            print_stdout(&s.cloudformation())
        }
        Command::Auth(AuthArgs {
            command: None,
            login,
        })
        | Command::Login(login) => {
            let ctx = session::Ctx::load(&profile)?;
            let user =
                session::sign_in(&ctx, !login.no_browser, Duration::from_secs(login.timeout))
                    .await?;
            eprintln!("{} Signed in as {}.", ui::green("✓"), user.display());
            Ok(())
        }
        Command::Auth(AuthArgs {
            command: Some(AuthCmd::RefreshToken),
            ..
        }) => {
            let ctx = session::Ctx::load(&profile)?;
            let _lock = ctx.lock().await?;
            let t = session::Tokens::load(&ctx)?.ok_or_else(|| {
                anyhow::anyhow!("nobody is signed in for profile {profile:?}: run `tip auth`")
            })?;
            let rt = t.refresh_token.clone().ok_or_else(|| {
                anyhow::anyhow!("the identity provider gave no refresh token: run `tip auth`")
            })?;
            let n = session::refresh_tokens(&ctx, &t, &rt).await?;
            eprintln!(
                "Refreshed {}'s sign-in; the ID token expires {}.",
                n.user.display(),
                ui::relative(n.expires_at, session::now())
            );
            Ok(())
        }
        Command::Auth(AuthArgs {
            command: Some(AuthCmd::Logout),
            ..
        })
        | Command::Logout => {
            let ctx = session::Ctx::load(&profile)?;
            match session::sign_out(&ctx).await? {
                Some(u) => eprintln!(
                    "Signed {} out; their tokens and credentials are gone.",
                    u.display()
                ),
                None => eprintln!("Nobody was signed in for profile {profile:?}."),
            }
            Ok(())
        }
        Command::Auth(AuthArgs {
            command: Some(AuthCmd::GetIamCredentials(a)),
            ..
        })
        | Command::Credentials(a) => {
            let ctx = session::Ctx::load(&profile)?;
            let (_, keys) = session::bearer_credentials(&ctx, a.force_new_creds).await?;
            print_stdout(&keys.process_json())
        }
        Command::Auth(AuthArgs {
            command: Some(AuthCmd::SetAwsProfile(a)),
            ..
        }) => set_aws_profile(&profile, a).await,
        Command::S3ag(S3agCmd::GetDataAccess(a)) => get_data_access(&profile, a).await,
        Command::S3ag(S3agCmd::ListCredentials { json }) => list_credentials(&profile, json).await,
        Command::S3ag(S3agCmd::ClearCredentials { all_users }) => {
            let ctx = session::Ctx::load(&profile)?;
            let n = s3ag::clear(&ctx, all_users).await?;
            eprintln!("Removed {n} cache file{}.", if n == 1 { "" } else { "s" });
            Ok(())
        }
        Command::S3ag(S3agCmd::ListGrants {
            account_id,
            grant_scope,
            json,
        }) => list_grants(&profile, account_id, grant_scope, json).await,
        Command::Diag => {
            let ctx = session::Ctx::load(&profile)?;
            diag::run(&ctx).await
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tip", &mut out);
            print_stdout(&String::from_utf8_lossy(&out))
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = if cli.verbose {
        "tip=debug,tessera_s3ag_credentials=debug,warn"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(ui::colour())
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tip: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{} {e:#}", ui::red("tip: error:"));
            std::process::ExitCode::FAILURE
        }
    }
}
