//! `tip diag`: walk the whole chain with fresh calls and name the first step that fails, and
//! why. Nothing is cached; only the sign-in is written when it had to be refreshed (a rotated
//! refresh token must not be lost) and noted as exchanged.

use crate::aws::{self, code_of, message_of};
use crate::oidc;
use crate::session::{self, Ctx, IDENTITY_CENTER_CONTEXT_PROVIDER, Keys};
use crate::ui;
use anyhow::{Result, anyhow};

fn ok(step: &str, detail: &str) {
    eprintln!("{} {step}: {detail}", ui::green("✓"));
}

fn fail(step: &str, why: String) -> anyhow::Error {
    eprintln!("{} {step}: {why}", ui::red("✗"));
    anyhow!("{step} failed: {why}")
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let p = &ctx.profile;
    // 1. The profile.
    let mut missing = Vec::new();
    for (v, flag) in [
        (&p.issuer, "issuer"),
        (&p.client_id, "client-id"),
        (&p.web_identity_role_arn, "web-identity-role-arn"),
        (&p.application_arn, "application-arn"),
        (&p.identity_bearer_role_arn, "identity-bearer-role-arn"),
        (&p.account_id, "account-id"),
    ] {
        if v.is_none() {
            missing.push(format!("--{flag}"));
        }
    }
    if !missing.is_empty() {
        return Err(fail(
            "profile",
            format!(
                "{:?} lacks {}: run `tip --profile {} configure idp` with them",
                ctx.name,
                missing.join(", "),
                ctx.name
            ),
        ));
    }
    ok(
        "profile",
        &format!(
            "{:?}, endpoint {}, region {}",
            ctx.name,
            p.endpoint_url.as_deref().unwrap_or("AWS"),
            p.region()
        ),
    );

    // 2. The identity provider.
    let issuer = ctx.issuer()?.to_owned();
    let http = oidc::http()?;
    match oidc::discover(&http, &issuer).await {
        Ok(_) => ok(
            "identity provider",
            &format!("{issuer} answers OpenID discovery"),
        ),
        Err(e) => return Err(fail("identity provider", format!("{e:#}"))),
    }

    // Other tip runs wait while the sign-in may be refreshed and exchanged.
    let _lock = ctx.lock().await?;
    // 3. The sign-in (refreshed if its ID token was exchanged already: Identity Center takes
    // an ID token once).
    let mut tokens = match session::fresh_tokens(ctx, true).await {
        Ok(t) => t,
        Err(e) => return Err(fail("sign-in", format!("{e:#}"))),
    };
    match oidc::Verifier::new()?
        .verify(
            &tokens.id_token,
            &issuer,
            ctx.client_id()?,
            None,
            session::now(),
        )
        .await
    {
        Ok((u, exp)) => ok(
            "sign-in",
            &format!(
                "{} (ID token valid, expires {})",
                u.display(),
                ui::relative(exp, session::now())
            ),
        ),
        Err(e) => return Err(fail("sign-in", format!("{e:#}: run `tip auth`"))),
    }

    // 4. The web-identity role.
    let wi_arn = p.web_identity_role_arn.clone().unwrap_or_default();
    let wi = match aws::sts(p, None)
        .assume_role_with_web_identity()
        .role_arn(&wi_arn)
        .role_session_name(tokens.user.session_name())
        .web_identity_token(&tokens.id_token)
        .send()
        .await
    {
        Ok(o) => {
            let c = o.credentials().ok_or_else(|| anyhow!("no credentials"))?;
            Keys {
                access_key_id: c.access_key_id().to_owned(),
                secret_access_key: c.secret_access_key().to_owned(),
                session_token: c.session_token().to_owned(),
                expiration: c.expiration().secs(),
            }
        }
        Err(e) => {
            let why = match code_of(&e).as_deref() {
                Some("AccessDenied") => format!(
                    "{wi_arn}'s trust policy does not let this identity provider's tokens in (check its Federated principal, the {}:aud condition and the OIDC provider's client ids)",
                    issuer.split_once("://").map_or(issuer.as_str(), |(_, r)| r)
                ),
                Some("InvalidIdentityToken") => format!(
                    "STS does not accept the token ({}): is there an IAM OIDC provider for {issuer} with client id {:?}?",
                    message_of(&e),
                    ctx.client_id()?
                ),
                _ => message_of(&e),
            };
            return Err(fail("web-identity role", why));
        }
    };
    ok("web-identity role", &format!("assumed {wi_arn}"));

    // 5. The application and its trusted token issuer.
    let app = p.application_arn.clone().unwrap_or_default();
    let exchanged = aws::sso_oidc(p, wi.credentials())
        .create_token_with_iam()
        .client_id(&app)
        .grant_type("urn:ietf:params:oauth:grant-type:jwt-bearer")
        .assertion(&tokens.id_token)
        .send()
        .await;
    session::mark_exchanged(ctx, &mut tokens)?;
    let context = match exchanged {
        Ok(o) => o
            .id_token()
            .and_then(oidc::claims_unverified)
            .and_then(|c| c["sts:identity_context"].as_str().map(str::to_owned))
            .ok_or_else(|| anyhow!("Identity Center's answer has no identity context"))?,
        Err(e) => {
            let why = match code_of(&e).as_deref() {
                Some("AccessDeniedException") => format!(
                    "{app} does not let {wi_arn} exchange tokens: its IAM authentication method (ActorPolicy) and the role's sso-oauth:CreateTokenWithIAM permission must both allow it ({})",
                    message_of(&e)
                ),
                Some("InvalidGrantException") => format!(
                    "{app} does not take this token: its JWT bearer grant must trust a token issuer for {issuer} with audience {:?}, the user must be in the directory, and the token may not have been exchanged before ({})",
                    ctx.client_id()?,
                    message_of(&e)
                ),
                Some("InvalidClientException") => {
                    format!("there is no application {app} ({})", message_of(&e))
                }
                _ => message_of(&e),
            };
            return Err(fail("application", why));
        }
    };
    ok("application", &format!("{app} exchanged the token"));

    // 6. The identity-bearer role.
    let br_arn = p.identity_bearer_role_arn.clone().unwrap_or_default();
    let bearer = match aws::sts(p, Some(wi.credentials()))
        .assume_role()
        .role_arn(&br_arn)
        .role_session_name(tokens.user.session_name())
        .provided_contexts(
            aws_sdk_sts::types::ProvidedContext::builder()
                .provider_arn(IDENTITY_CENTER_CONTEXT_PROVIDER)
                .context_assertion(&context)
                .build(),
        )
        .send()
        .await
    {
        Ok(o) => {
            let c = o.credentials().ok_or_else(|| anyhow!("no credentials"))?;
            Keys {
                access_key_id: c.access_key_id().to_owned(),
                secret_access_key: c.secret_access_key().to_owned(),
                session_token: c.session_token().to_owned(),
                expiration: c.expiration().secs(),
            }
        }
        Err(e) => {
            let why = match code_of(&e).as_deref() {
                Some("AccessDenied") => format!(
                    "{br_arn}'s trust policy must let {wi_arn} call sts:AssumeRole and sts:SetContext, and the web-identity role's own policy must allow both on it ({})",
                    message_of(&e)
                ),
                _ => message_of(&e),
            };
            return Err(fail("identity-bearer role", why));
        }
    };
    ok(
        "identity-bearer role",
        &format!("assumed {br_arn} as {}", tokens.user.display()),
    );

    // 7. The grants.
    let account = crate::s3ag::account(ctx, None)?;
    match aws::s3control(p, Some(bearer.credentials()))
        .list_caller_access_grants()
        .account_id(&account)
        .send()
        .await
    {
        Ok(o) => {
            let grants = o.caller_access_grants_list();
            if grants.is_empty() {
                return Err(fail(
                    "grants",
                    format!(
                        "{} has no S3 Access Grants in account {account} (a grant to the user or one of their groups is needed)",
                        tokens.user.display()
                    ),
                ));
            }
            let list: Vec<String> = grants
                .iter()
                .map(|g| {
                    format!(
                        "{} {}",
                        g.permission().map(|p| p.as_str()).unwrap_or("?"),
                        g.grant_scope().unwrap_or("?")
                    )
                })
                .collect();
            ok("grants", &list.join(", "));
        }
        Err(e) => {
            let why = match aws::code_of(&e).as_deref() {
                Some("AccessDenied") => format!(
                    "{br_arn} may not call s3:ListCallerAccessGrants on account {account}'s Access Grants instance ({})",
                    message_of(&e)
                ),
                _ => message_of(&e),
            };
            return Err(fail("grants", why));
        }
    }
    if ui::colour() {
        eprintln!("{}", ui::bold("Everything works."));
    } else {
        eprintln!("Everything works.");
    }
    Ok(())
}
