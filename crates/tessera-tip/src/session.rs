//! A profile's sign-in and the exchange chain that turns it into AWS credentials:
//!
//! 1. the identity provider's ID token (refreshed with the refresh token shortly before it
//!    expires);
//! 2. `AssumeRoleWithWebIdentity` into the web-identity role with that token;
//! 3. `CreateTokenWithIAM` with the role's credentials: Identity Center's token for the user,
//!    whose `sts:identity_context` claim names them;
//! 4. `AssumeRole` into the identity-bearer role with that context (`ProvidedContexts`),
//!    signed with the web-identity role's credentials of that moment: an identity-enhanced
//!    session.
//!
//! Each stage is cached until shortly before it expires, in files keyed by profile and by user
//! (issuer and subject) that also record whose they are; the whole exchange runs under the
//! profile's lock, so concurrent invocations make one exchange between them.

use crate::aws;
use crate::config::{ConfigFile, Profile};
use crate::files;
use crate::oidc::{self, User};
use anyhow::{Context, Result, anyhow, bail};
use aws_credential_types::Credentials;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

pub const IDENTITY_CENTER_CONTEXT_PROVIDER: &str =
    "arn:aws:iam::aws:contextProvider/IdentityCenter";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// One profile, ready to use.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub name: String,
    pub profile: Profile,
}

impl Ctx {
    pub fn load(name: &str) -> Result<Ctx> {
        crate::config::check_profile_name(name)?;
        let path = files::config_path()?;
        let config = ConfigFile::load(&path)?;
        let profile = config.profile(name)?.clone();
        Ok(Ctx {
            name: name.to_owned(),
            profile,
        })
    }

    /// The profile's private cache directory (made on first use).
    pub fn dir(&self) -> Result<PathBuf> {
        let root = files::cache_root()?;
        files::private_dir(&root)?;
        let d = root.join(&self.name);
        files::private_dir(&d)?;
        Ok(d)
    }

    pub fn issuer(&self) -> Result<&str> {
        self.profile
            .need(&self.profile.issuer, "issuer", &self.name)
    }

    pub fn client_id(&self) -> Result<&str> {
        self.profile
            .need(&self.profile.client_id, "client-id", &self.name)
    }

    pub fn margin(&self) -> i64 {
        self.profile.margin()
    }

    pub async fn lock(&self) -> Result<files::Lock> {
        files::lock(&self.dir()?.join("lock")).await
    }
}

/// The file-name part that keys caches by profile and user: a digest of both.
pub fn user_key(profile: &str, user: &User) -> String {
    let mut h = Sha256::new();
    for part in [profile, &user.issuer, &user.subject] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

/// The identity provider's tokens for the signed-in user of a profile.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub user: User,
    pub client_id: String,
    pub id_token: String,
    /// Unix seconds: the ID token's `exp`.
    pub expires_at: i64,
    #[serde(default)]
    pub refresh_token: Option<String>,
    pub obtained_at: i64,
    /// The ID token was exchanged at Identity Center already: CreateTokenWithIAM refuses a
    /// token twice (its `jti`), so the next exchange needs a new one.
    #[serde(default)]
    pub exchanged: bool,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("user", &self.user)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &std::path::Path) -> Result<Option<T>> {
    match files::read_private(path)? {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b).map(Some).map_err(|_| {
            anyhow!(
                "{} is damaged (not the JSON tip writes); remove it and try again",
                path.display()
            )
        }),
    }
}

fn write_json<T: Serialize>(path: &std::path::Path, v: &T) -> Result<()> {
    files::write_private(path, &serde_json::to_vec_pretty(v)?)
}

impl Tokens {
    pub fn path(ctx: &Ctx) -> Result<PathBuf> {
        Ok(ctx.dir()?.join("tokens.json"))
    }

    pub fn load(ctx: &Ctx) -> Result<Option<Tokens>> {
        read_json(&Self::path(ctx)?)
    }

    pub fn save(&self, ctx: &Ctx) -> Result<()> {
        write_json(&Self::path(ctx)?, self)
    }
}

/// The signed-in user's tokens, refreshed if they expire within the margin, or (with
/// `unexchanged`) if the ID token was exchanged at Identity Center already.
pub async fn fresh_tokens(ctx: &Ctx, unexchanged: bool) -> Result<Tokens> {
    let issuer = ctx.issuer()?.to_owned();
    let client_id = ctx.client_id()?.to_owned();
    let t = Tokens::load(ctx)?.ok_or_else(|| {
        anyhow!(
            "nobody is signed in for profile {:?}: run `tip --profile {} auth`",
            ctx.name,
            ctx.name
        )
    })?;
    if t.user.issuer != issuer || t.client_id != client_id {
        bail!(
            "the sign-in for profile {:?} is from another identity provider or client than its config names: run `tip --profile {} auth`",
            ctx.name,
            ctx.name
        );
    }
    let now = now();
    let spent = unexchanged && t.exchanged;
    if t.expires_at - ctx.margin() > now && !spent {
        return Ok(t);
    }
    let Some(rt) = t.refresh_token.clone() else {
        if t.expires_at > now + 30 && !spent {
            return Ok(t);
        }
        bail!(
            "{}'s sign-in has {} and the identity provider gave no refresh token: run `tip --profile {} auth`",
            t.user.display(),
            if spent {
                "been exchanged at Identity Center already (an ID token is exchanged once)"
            } else {
                "expired"
            },
            ctx.name
        );
    };
    match refresh_tokens(ctx, &t, &rt).await {
        Ok(n) => Ok(n),
        Err(e) if t.expires_at > now + 30 && !spent => {
            tracing::warn!("could not refresh the sign-in ({e:#}); using the current token");
            Ok(t)
        }
        Err(e) => Err(e.context(format!(
            "{}'s sign-in {} and could not be refreshed: run `tip --profile {} auth`",
            t.user.display(),
            if spent {
                "was exchanged at Identity Center already (an ID token is exchanged once)"
            } else {
                "has expired"
            },
            ctx.name
        ))),
    }
}

/// Use the refresh token; the new ID token must be for the same user.
pub async fn refresh_tokens(ctx: &Ctx, t: &Tokens, refresh_token: &str) -> Result<Tokens> {
    let http = oidc::http()?;
    let d = oidc::discover(&http, &t.user.issuer).await?;
    let r = oidc::refresh(&http, &d, &t.client_id, refresh_token).await?;
    let id_token = r
        .id_token
        .ok_or_else(|| anyhow!("the identity provider's refresh gave no ID token"))?;
    let (user, exp) = oidc::Verifier::new()?
        .verify(&id_token, &t.user.issuer, &t.client_id, None, now())
        .await?;
    if user.subject != t.user.subject {
        bail!("the refreshed ID token is for another user; run tip auth again");
    }
    let n = Tokens {
        user,
        client_id: t.client_id.clone(),
        id_token,
        expires_at: exp,
        // Providers that rotate refresh tokens send a new one; others keep the old one valid.
        refresh_token: r.refresh_token.or_else(|| Some(refresh_token.to_owned())),
        obtained_at: now(),
        exchanged: false,
    };
    n.save(ctx)?;
    Ok(n)
}

/// Note that the ID token has been exchanged at Identity Center.
pub fn mark_exchanged(ctx: &Ctx, t: &mut Tokens) -> Result<()> {
    t.exchanged = true;
    t.save(ctx)
}

/// Temporary AWS credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expiration: i64,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl Keys {
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            Some(self.session_token.clone()),
            u64::try_from(self.expiration)
                .ok()
                .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s)),
            "tip",
        )
    }

    pub fn fresh(&self, now: i64, margin: i64) -> bool {
        self.expiration - margin > now
    }

    fn from_sts(c: Option<&aws_sdk_sts::types::Credentials>) -> Result<Keys> {
        let c = c.ok_or_else(|| anyhow!("STS answered without credentials"))?;
        Ok(Keys {
            access_key_id: c.access_key_id().to_owned(),
            secret_access_key: c.secret_access_key().to_owned(),
            session_token: c.session_token().to_owned(),
            expiration: c.expiration().secs(),
        })
    }

    /// The AWS CLI's `credential_process` output.
    pub fn process_json(&self) -> String {
        let exp = chrono::DateTime::from_timestamp(self.expiration, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        serde_json::json!({
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": exp,
        })
        .to_string()
    }
}

/// A stage's credentials and the role they are for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleKeys {
    pub role_arn: String,
    pub keys: Keys,
}

/// Identity Center's answer for the user: the identity context to assume the bearer role with.
#[derive(Clone, Serialize, Deserialize)]
pub struct IdentityContext {
    pub application_arn: String,
    pub assertion: String,
    pub expires_at: i64,
}

impl std::fmt::Debug for IdentityContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityContext")
            .field("application_arn", &self.application_arn)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The exchange chain's cache for one profile and user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chain {
    pub profile: String,
    pub issuer: String,
    pub subject: String,
    #[serde(default)]
    pub web_identity: Option<RoleKeys>,
    #[serde(default)]
    pub context: Option<IdentityContext>,
    #[serde(default)]
    pub bearer: Option<RoleKeys>,
}

impl Chain {
    pub fn path(ctx: &Ctx, user: &User) -> Result<PathBuf> {
        Ok(ctx
            .dir()?
            .join(format!("iam-{}.json", user_key(&ctx.name, user))))
    }

    /// This user's chain; a file that names someone else is never used.
    pub fn load(ctx: &Ctx, user: &User) -> Result<Chain> {
        let path = Self::path(ctx, user)?;
        let empty = Chain {
            profile: ctx.name.clone(),
            issuer: user.issuer.clone(),
            subject: user.subject.clone(),
            web_identity: None,
            context: None,
            bearer: None,
        };
        match read_json::<Chain>(&path)? {
            Some(c)
                if c.profile == ctx.name
                    && c.issuer == user.issuer
                    && c.subject == user.subject =>
            {
                Ok(c)
            }
            Some(_) => {
                tracing::warn!(
                    "{} holds another user's credentials; ignoring it",
                    path.display()
                );
                Ok(empty)
            }
            None => Ok(empty),
        }
    }

    pub fn save(&self, ctx: &Ctx, user: &User) -> Result<()> {
        write_json(&Self::path(ctx, user)?, self)
    }
}

/// The identity-enhanced session's credentials for the signed-in user (the whole chain, each
/// stage from the cache while it is fresh). With `force`, every stage is done again.
pub async fn bearer_credentials(ctx: &Ctx, force: bool) -> Result<(User, Keys)> {
    let _lock = ctx.lock().await?;
    let mut tokens = fresh_tokens(ctx, false).await?;
    let user = tokens.user.clone();
    let mut chain = Chain::load(ctx, &user)?;
    let p = &ctx.profile;
    let bearer_arn = p
        .need(
            &p.identity_bearer_role_arn,
            "identity-bearer-role-arn",
            &ctx.name,
        )?
        .to_owned();
    let app_arn = p
        .need(&p.application_arn, "application-arn", &ctx.name)?
        .to_owned();
    let (now, margin) = (now(), ctx.margin());
    if !force
        && let Some(b) = &chain.bearer
        && b.role_arn == bearer_arn
        && b.keys.fresh(now, margin)
    {
        return Ok((user, b.keys.clone()));
    }
    if force {
        chain.web_identity = None;
        chain.context = None;
    }
    let context_fresh = chain
        .context
        .as_ref()
        .is_some_and(|c| c.application_arn == app_arn && c.expires_at - margin > now);
    // The web-identity credentials of this moment (renewed first if they were about to
    // expire): they sign both the exchange and the AssumeRole, never ones captured before a
    // re-exchange.
    let wi = web_identity(ctx, &tokens, &mut chain).await?;
    if !context_fresh {
        if tokens.exchanged {
            tokens = fresh_tokens(ctx, true).await?;
            if tokens.user.subject != user.subject {
                bail!("the refreshed sign-in is for another user; run tip auth again");
            }
        }
        let context = create_token_with_iam(ctx, &tokens, &wi, &app_arn).await;
        // Whatever the answer, Identity Center has seen this token now.
        mark_exchanged(ctx, &mut tokens)?;
        chain.context = Some(context?);
    }
    let context = chain.context.clone().expect("set above");
    let out = aws::sts(p, Some(wi.credentials()))
        .assume_role()
        .role_arn(&bearer_arn)
        .role_session_name(user.session_name())
        .set_duration_seconds(p.session_duration_seconds)
        .provided_contexts(
            aws_sdk_sts::types::ProvidedContext::builder()
                .provider_arn(IDENTITY_CENTER_CONTEXT_PROVIDER)
                .context_assertion(&context.assertion)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "assuming the identity-bearer role {bearer_arn} with {}'s identity context failed: {}",
                user.display(),
                aws::message_of(&e)
            )
        })?;
    let keys = Keys::from_sts(out.credentials())?;
    chain.bearer = Some(RoleKeys {
        role_arn: bearer_arn,
        keys: keys.clone(),
    });
    chain.save(ctx, &user)?;
    Ok((user, keys))
}

/// The web-identity role's credentials, from the cache or a new AssumeRoleWithWebIdentity.
async fn web_identity(ctx: &Ctx, tokens: &Tokens, chain: &mut Chain) -> Result<Keys> {
    let p = &ctx.profile;
    let arn = p
        .need(&p.web_identity_role_arn, "web-identity-role-arn", &ctx.name)?
        .to_owned();
    if let Some(w) = &chain.web_identity
        && w.role_arn == arn
        && w.keys.fresh(now(), ctx.margin())
    {
        return Ok(w.keys.clone());
    }
    let out = aws::sts(p, None)
        .assume_role_with_web_identity()
        .role_arn(&arn)
        .role_session_name(tokens.user.session_name())
        .web_identity_token(&tokens.id_token)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "AssumeRoleWithWebIdentity into {arn} with {}'s ID token failed: {}",
                tokens.user.display(),
                aws::message_of(&e)
            )
        })?;
    let keys = Keys::from_sts(out.credentials())?;
    chain.web_identity = Some(RoleKeys {
        role_arn: arn,
        keys: keys.clone(),
    });
    Ok(keys)
}

async fn create_token_with_iam(
    ctx: &Ctx,
    tokens: &Tokens,
    wi: &Keys,
    app_arn: &str,
) -> Result<IdentityContext> {
    let out = aws::sso_oidc(&ctx.profile, wi.credentials())
        .create_token_with_iam()
        .client_id(app_arn)
        .grant_type(JWT_BEARER)
        .assertion(&tokens.id_token)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "Identity Center's CreateTokenWithIAM for {} with application {app_arn} failed: {}",
                tokens.user.display(),
                aws::message_of(&e)
            )
        })?;
    let id_token = out
        .id_token()
        .ok_or_else(|| anyhow!("CreateTokenWithIAM answered without an ID token"))?;
    let claims = oidc::claims_unverified(id_token)
        .ok_or_else(|| anyhow!("Identity Center's ID token cannot be read"))?;
    let assertion = claims["sts:identity_context"]
        .as_str()
        .ok_or_else(|| anyhow!("Identity Center's ID token has no sts:identity_context claim"))?
        .to_owned();
    let expires_at = now() + i64::from(out.expires_in()).max(60);
    Ok(IdentityContext {
        application_arn: app_arn.to_owned(),
        assertion,
        expires_at,
    })
}

/// Sign in through the browser and keep the user's tokens.
pub async fn sign_in(ctx: &Ctx, open_browser: bool, timeout: std::time::Duration) -> Result<User> {
    let issuer = ctx.issuer()?.to_owned();
    let client_id = ctx.client_id()?.to_owned();
    let http = oidc::http()?;
    let d = {
        let _s = crate::ui::Spinner::start("Finding the identity provider");
        oidc::discover(&http, &issuer).await?
    };
    let wanted = ctx.profile.port();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", wanted))
        .await
        .with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{wanted} for the sign-in callback (is another tip auth running? set another port with `tip configure idp --loopback-port`)"
            )
        })?;
    let port = listener.local_addr()?.port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let req = oidc::authorization_request(&d, &client_id, &ctx.profile.scopes(), &redirect);
    eprintln!("Sign in at your identity provider: {}", req.url);
    if open_browser {
        crate::ui::open_browser(&req.url);
    }
    let (code, mut stream) = {
        let _s = crate::ui::Spinner::start("Waiting for the sign-in in your browser");
        oidc::receive_callback(&listener, port, &req.state, &issuer, timeout).await?
    };
    let result = async {
        let r = oidc::exchange_code(&http, &d, &client_id, &req, &code).await?;
        let id_token = r.id_token.ok_or_else(|| {
            anyhow!("the identity provider gave no ID token (is openid among the scopes?)")
        })?;
        let (user, exp) = oidc::Verifier::new()?
            .verify(&id_token, &issuer, &client_id, Some(&req.nonce), now())
            .await?;
        let t = Tokens {
            user: user.clone(),
            client_id: client_id.clone(),
            id_token,
            expires_at: exp,
            refresh_token: r.refresh_token,
            obtained_at: now(),
            exchanged: false,
        };
        let _lock = ctx.lock().await?;
        t.save(ctx)?;
        Ok::<User, anyhow::Error>(user)
    }
    .await;
    match &result {
        Ok(u) => {
            oidc::respond(
                &mut stream,
                "200 OK",
                "You are signed in",
                &format!(
                    "Signed in as {}. You can close this tab and go back to the terminal.",
                    u.display()
                ),
            )
            .await
        }
        Err(e) => {
            oidc::respond(
                &mut stream,
                "400 Bad Request",
                "Sign-in failed",
                &format!("{e:#}. Nothing was saved."),
            )
            .await
        }
    }
    result
}

/// Forget the signed-in user's tokens and cached credentials (and revoke the refresh token at
/// the provider when it offers revocation).
pub async fn sign_out(ctx: &Ctx) -> Result<Option<User>> {
    let _lock = ctx.lock().await?;
    let Some(t) = Tokens::load(ctx)? else {
        return Ok(None);
    };
    if let Some(rt) = &t.refresh_token
        && let Ok(http) = oidc::http()
        && let Ok(d) = oidc::discover(&http, &t.user.issuer).await
    {
        oidc::revoke(&http, &d, &t.client_id, rt).await;
    }
    files::remove(&Chain::path(ctx, &t.user)?)?;
    files::remove(&crate::s3ag::cache_path(ctx, &t.user)?)?;
    files::remove(&Tokens::path(ctx)?)?;
    Ok(Some(t.user))
}
