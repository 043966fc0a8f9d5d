//! The seeds' trusted identity propagation (seeds 001, 002 and 000) with the AWS CLI against
//! the real OIDC provider, on the local object store and on Garage. One long story, told in
//! named steps ([`Flow`]'s methods) that share what they set up; a failure names its step.
//!
//! - [`provision`]: Identity Center, the trusted token issuer, the application, IAM roles.
//! - [`tokens`]: the token exchange, refused assertions, the identity-enhanced session,
//!   token exchange between applications, refresh tokens, assignment.
//! - [`data`]: S3 Access Grants: the grants, Mateo's reads, explanations, escalation.
//! - [`revocation`]: group removal, revocation, SCIM deletion, and the audit trail's records.

mod data;
mod provision;
mod revocation;
mod tokens;

use crate::support::cli::{Ran, assume_role_args};
use crate::support::{Cli, Creds, ROOT, step};
use tessera_testkit::{DevServer, GarageNode, TestIdp, tessera_command};

/// What the account root writes to every object of the seeds' bucket.
const SEED_CSV: &str = "variety,colour\nroma,red\n";

/// Mateo's subject at the test OIDC provider.
const MATEO_SUB: &str = "0b4e7a0e-5b8c-4f62-9a51-3f1b2c6d7e01";

/// Seeds 001, 002 and 000 with the AWS CLI against the real OIDC provider: an instance, a
/// trusted token issuer pointing at the provider, an application with its grants, scope,
/// ActorPolicy and assignment configuration; a user signs in at the provider; the
/// application role exchanges the id_token (CreateTokenWithIAM), assumes the seed's
/// IdentityBearerRole with the identity context, and the user is then revoked.
#[test]
fn cli_trusted_identity_propagation() {
    trusted_identity_propagation(false);
}

/// The seed flow again with the objects in Garage (the upstream backend).
#[test]
fn cli_trusted_identity_propagation_on_garage() {
    trusted_identity_propagation(true);
}

fn trusted_identity_propagation(on_garage: bool) {
    let world = step("start the OIDC provider and tessera dev", || {
        World::start(on_garage)
    });
    let mut f = Flow::new(&world);
    let steps: [(&str, Phase); 23] = [
        (
            "Identity Center: an instance; Mateo through SCIM; two users with one email",
            Flow::provision_directory,
        ),
        (
            "seed 002: the trusted token issuer",
            Flow::register_trusted_token_issuer,
        ),
        (
            "seed 001, steps B-E: the application, its grants, scope and ActorPolicy",
            Flow::register_application,
        ),
        (
            "IAM: the application role, another role, IdentityBearerRole, a developer",
            Flow::create_roles,
        ),
        (
            "Mateo signs in; the application exchanges his id_token",
            Flow::exchange_mateos_token,
        ),
        (
            "assertions that are not what they must be are refused",
            Flow::refuse_bad_assertions,
        ),
        (
            "IdentityBearerRole admits the application role with Mateo's context",
            Flow::assume_role_with_context,
        ),
        (
            "token exchange to a second application, once it is an authorized target",
            Flow::exchange_for_another_application,
        ),
        (
            "refresh tokens rotate; a reused one revokes the family",
            Flow::refresh_tokens,
        ),
        (
            "assignment required: only assigned users exchange",
            Flow::require_assignment,
        ),
        (
            "seed 000: S3 Access Grants for the Red Project Group",
            Flow::set_up_access_grants,
        ),
        (
            "Mateo gets data access to the red data",
            Flow::get_data_access,
        ),
        (
            "seed step 5: Mateo reads the red data, and nothing else",
            Flow::read_red_data,
        ),
        (
            "the audit trail and tessera audit query show Mateo's reads",
            Flow::audit_mateos_reads,
        ),
        (
            "refusals, and what tessera audit explain says of them",
            Flow::explain_refusals,
        ),
        (
            "Mateo's escalation attempts with vended credentials are refused",
            Flow::refuse_escalation,
        ),
        (
            "a chained AssumeRole carries the context only with sts:SetContext",
            Flow::chain_with_context,
        ),
        (
            "grants: a user outside the group, the directory case, application scope",
            Flow::match_grants,
        ),
        (
            "removed from the Red group, Mateo is refused",
            Flow::remove_from_group,
        ),
        (
            "revoking Mateo ends his sessions and vended credentials only",
            Flow::revoke_mateo,
        ),
        (
            "a user deleted through SCIM exchanges no more",
            Flow::delete_through_scim,
        ),
        (
            "the exchange's audit record; userIdentity per principal type",
            Flow::audit_identities,
        ),
        (
            "nothing secret of the run reached the audit trail",
            Flow::audit_holds_no_secret,
        ),
    ];
    for (name, phase) in steps {
        f.run(name, phase);
    }
}

/// A step of the flow: it reads what earlier steps left in the [`Flow`], and adds to it.
type Phase<'w> = fn(&mut Flow<'w>);

/// The processes of the flow: `tessera dev` (its objects on the local disk or in Garage) and
/// the test OIDC provider, in a directory of their own. Dropped server first, directory last.
struct World {
    server: DevServer,
    _garage: Option<GarageNode>,
    idp: TestIdp,
    dir: tempfile::TempDir,
}

impl World {
    fn start(on_garage: bool) -> World {
        let dir = tempfile::tempdir().unwrap();
        let idp = TestIdp::start(dir.path());
        let garage = on_garage.then(|| GarageNode::start(dir.path()));
        let server = match &garage {
            Some(g) => DevServer::start_upstream(&dir.path().join("tessera"), g),
            None => DevServer::start(dir.path()),
        };
        World {
            server,
            _garage: garage,
            idp,
            dir,
        }
    }
}

/// What the flow has made so far: identifiers.
#[derive(Default)]
struct Ids {
    instance: String,
    store_id: String,
    scim_token: String,
    /// Mateo's user id in the identity store.
    mateo: String,
    tti: String,
    app: String,
    analytics: String,
    red: String,
    red_membership: String,
    red_grant: String,
}

/// What the flow has made so far: role sessions (key id, secret, session token).
#[derive(Default)]
struct Sessions {
    app: Creds,
    other: Creds,
    bearer: Creds,
    zoe_bearer: Creds,
    vended: Creds,
    zoe_vended: Creds,
    with_context: Creds,
}

/// What the flow has made so far: tokens and identity contexts.
#[derive(Default)]
struct Tokens {
    id_token: String,
    /// CreateTokenWithIAM's answer for Mateo's first sign-in.
    first: serde_json::Value,
    context: String,
    access: String,
    exchanged: serde_json::Value,
    refresh: String,
    rotated_refresh: String,
    zoe: serde_json::Value,
    fresh: serde_json::Value,
    fresh_context: String,
    again: String,
}

/// The flow's shared state: the world, the account root, the developer user, and what the
/// steps before made.
struct Flow<'w> {
    w: &'w World,
    root: Cli<'w>,
    dev: Option<Cli<'w>>,
    ids: Ids,
    sessions: Sessions,
    tokens: Tokens,
    /// The audit trail as the last steps read it.
    records: Vec<serde_json::Value>,
}

impl<'w> Flow<'w> {
    fn new(w: &'w World) -> Flow<'w> {
        Flow {
            w,
            root: Cli::root(&w.server),
            dev: None,
            ids: Ids::default(),
            sessions: Sessions::default(),
            tokens: Tokens::default(),
            records: Vec::new(),
        }
    }

    /// Run `phase` as the step `name`.
    fn run(&mut self, name: &str, phase: Phase<'w>) {
        step(name, || phase(self));
    }

    fn server(&self) -> &'w DevServer {
        &self.w.server
    }

    /// The developer user, who assumes the roles (the account root may not).
    fn dev(&self) -> &Cli<'w> {
        self.dev.as_ref().expect("the developer user")
    }

    fn session(&self, c: &Creds) -> Cli<'w> {
        Cli::session(self.server(), c)
    }

    /// Write `v` to `name` in the flow's directory; `file://…` of it, for the AWS CLI.
    fn file(&self, name: &str, v: &serde_json::Value) -> String {
        let p = self.w.dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        format!("file://{}", p.display())
    }

    /// The file the account root uploads as every seeded object.
    fn seed_file(&self) -> String {
        self.w
            .dir
            .path()
            .join("seed-object.csv")
            .display()
            .to_string()
    }

    /// AssumeRole of `role` in [`ROOT`] as the session `s1`: by the developer, or by the
    /// session `c`.
    fn assume(&self, c: Option<&Creds>, role: &str, extra: &[&str]) -> Ran {
        let arn = format!("arn:aws:iam::{ROOT}:role/{role}");
        let args = assume_role_args(&arn, "s1", extra);
        match c {
            None => self.dev().call(&args),
            Some(c) => self.session(c).call(&args),
        }
    }

    /// AssumeRole of IdentityBearerRole by the application role, with `context` as its
    /// Identity Center context.
    fn assume_bearer_with(&self, context: &str) -> Ran {
        let pc = format!(
            "ProviderArn=arn:aws:iam::aws:contextProvider/IdentityCenter,ContextAssertion={context}"
        );
        self.assume(
            Some(&self.sessions.app),
            "IdentityBearerRole",
            &["--provided-contexts", &pc],
        )
    }

    /// CreateTokenWithIAM by the session `c` for the application `client` with the grant
    /// `grant_type`, then `rest`.
    fn create_token(&self, c: &Creds, client: &str, grant_type: &str, rest: &[&str]) -> Ran {
        let mut args = vec![
            "sso-oidc",
            "create-token-with-iam",
            "--client-id",
            client,
            "--grant-type",
            grant_type,
        ];
        args.extend_from_slice(rest);
        self.session(c).call(&args)
    }

    /// CreateTokenWithIAM for the application with the JWT bearer grant, by the session `c`.
    fn exchange(&self, c: &Creds, assertion: &str) -> Ran {
        self.create_token(
            c,
            &self.ids.app,
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            &["--assertion", assertion],
        )
    }

    /// CreateTokenWithIAM for the application with a refresh token, by the session `c`.
    fn refresh(&self, c: &Creds, token: &str) -> Ran {
        self.create_token(
            c,
            &self.ids.app,
            "refresh_token",
            &["--refresh-token", token],
        )
    }

    /// GetDataAccess in [`ROOT`] of `target` for READ, by the session `c`.
    fn gda(&self, c: &Creds, target: &str, extra: &[&str]) -> Ran {
        self.session(c)
            .s3control(ROOT)
            .get_data_access(target, "READ", extra)
    }

    /// A READ grant of `s3://{sub}` on the default location to `kind` `who`.
    fn grant_to(&self, kind: &str, who: &str, sub: &str, extra: &[&str]) -> serde_json::Value {
        self.root
            .s3control(ROOT)
            .grant("default", sub, (kind, who), "READ", extra)
            .ok()
    }

    /// The session `c` runs `args`, which go beyond a READ grant: refused.
    fn refused_beyond_the_grant(&self, c: &Creds, args: &[&str]) {
        let (done, out, err) = self.session(c).run(args);
        assert!(!done, "{args:?} went beyond the READ grant: {out}");
        // `cp` starts with HeadObject, whose 403 has no body to carry the code.
        assert!(
            err.contains("AccessDenied") || err.contains("(403) when calling the HeadObject"),
            "{args:?}: {err}"
        );
    }

    /// `tessera audit query --json args` on the server's data directory.
    fn query(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let data = self.server().data_dir.display().to_string();
        let mut all = vec!["audit", "query", "--data-dir", data.as_str(), "--json"];
        all.extend_from_slice(args);
        tessera_command(&all)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `tessera audit explain` of Mateo's newest `event`, which must have been refused.
    fn explain_newest(&self, event: &str) -> String {
        let newest = self.query(&["--user", "mateo.jackson", "--event", event, "--limit", "1"]);
        assert_eq!(newest[0]["errorCode"], "AccessDenied", "{}", newest[0]);
        tessera_command(&[
            "audit",
            "explain",
            newest[0]["requestID"].as_str().unwrap(),
            "--data-dir",
            &self.server().data_dir.display().to_string(),
        ])
    }
}
