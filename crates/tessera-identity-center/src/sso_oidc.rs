//! sso-oidc `CreateTokenWithIAM` (restJson1, `POST /token?aws_iam=t`, signing name
//! `sso-oauth`): an application, signed in as its IAM role, exchanges a trusted token
//! issuer's JWT (grant `jwt-bearer`) or a refresh token (`refresh_token`, rotated on every
//! use; a reused one revokes its family) for Identity Center tokens of the directory user.
//! The `idToken` is signed by Tessera's issuer key ([`crate::issuer`]) and carries the
//! `sts:identity_context` assertion STS accepts in `ProvidedContexts`.

use crate::issuer::TokenIssuer;
use crate::jti::JtiLog;
use crate::model::{AppSetting, Kind};
use crate::view::{Config, IdentityCenterView};
use async_trait::async_trait;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tessera_audit::{EventDetails, HIDDEN, Resource};
use tessera_authz::directory::is_active;
use tessera_authz::{Access, Authorizer, DirectoryView, RevocationView};
use tessera_core::session::IdentityContext;
use tessera_core::{Caller, RequestMeta};
use tessera_crypto::MasterKey;
use tessera_crypto::token::{ContextSealer, opaque_token, token_digest};
use tessera_oidc::{OidcError, OidcVerifier};
use tessera_service::{Body, Ctx, Reply, Routing, Service, ServiceSpec};
use tessera_store::{
    IdentityUserRecord, InstanceRecord, RefreshTokenRecord, RefreshUse, SsoObjectRecord, TokenStore,
};
use tessera_wire::{AwsError, Protocol};

tessera_service::operations! {
    /// The sso-oidc operations Tessera implements.
    #[derive(Copy)]
    pub enum SsoOidcOp {
        CreateTokenWithIAM,
    }
}

pub static SPEC: ServiceSpec = ServiceSpec {
    name: "sso-oidc",
    signing_names: &["sso-oauth"],
    protocol: Protocol::RestJson,
    event_source: "sso-oauth.amazonaws.com",
    routing: Routing::RestJson {
        routes: &[tessera_service::RestRoute {
            method: "POST",
            path: "/token",
            query_flag: Some("aws_iam"),
            operation: "CreateTokenWithIAM",
        }],
    },
};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const REFRESH_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:refresh_token";
/// Scopes every application has.
const DEFAULT_SCOPES: [&str; 3] = ["openid", "aws", "sts:identity_context"];
/// Application tokens (and the context assertion) last one hour.
const TOKEN_SECS: i64 = 3600;
/// A refresh-token family lives as long as the user's session: 8 hours (the default).
const SESSION_SECS: i64 = 8 * 3600;
/// Longest assertion looked at (the largest token `tessera-oidc` parses).
const MAX_ASSERTION: usize = tessera_oidc::HARD_MAX_TOKEN_LEN;
/// How long an assertion id is kept after its `exp`, by the store's clock: the verifier's
/// 60 s of leeway plus up to an hour of clock skew between a replica and the store.
const JTI_KEEP_AFTER_EXPIRY_SECS: i64 = 60 + 3600;

/// Every way `CreateTokenWithIAM` fails, mapped to the sso-oidc error shapes in one place.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidClient(String),
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    #[error("{0}")]
    InvalidScope(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("An internal error occurred.")]
    Internal,
}

impl TokenError {
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            TokenError::InvalidRequest(_) => (400, "InvalidRequestException"),
            TokenError::InvalidClient(_) => (401, "InvalidClientException"),
            TokenError::InvalidGrant(_) => (400, "InvalidGrantException"),
            TokenError::UnauthorizedClient(_) => (400, "UnauthorizedClientException"),
            TokenError::UnsupportedGrantType(_) => (400, "UnsupportedGrantTypeException"),
            TokenError::InvalidScope(_) => (400, "InvalidScopeException"),
            TokenError::AccessDenied(_) => (400, "AccessDeniedException"),
            TokenError::Internal => (500, "InternalServerException"),
        };
        AwsError::new(status, code, self.to_string())
    }
}

impl From<tessera_store::StoreError> for TokenError {
    fn from(e: tessera_store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        TokenError::Internal
    }
}

type R<T> = Result<T, TokenError>;

#[derive(Debug)]
pub struct SsoOidcService {
    /// Identity-store users and memberships, in memory.
    directory: Arc<DirectoryView>,
    /// sso-admin configuration (applications, issuers, settings), in memory.
    view: Arc<IdentityCenterView>,
    tokens: Arc<dyn TokenStore>,
    /// The replay check's group-committing writer.
    jtis: JtiLog,
    authz: Authorizer,
    oidc: Arc<OidcVerifier>,
    issuer: Arc<TokenIssuer>,
    contexts: ContextSealer,
    access_tokens: ContextSealer,
    revocations: Arc<RevocationView>,
    partition: String,
    /// When expired assertion ids were last pruned (unix seconds).
    last_prune: AtomicI64,
}

#[async_trait]
impl Service for SsoOidcService {
    type Op = SsoOidcOp;
    type Error = TokenError;

    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    async fn call(&self, op: SsoOidcOp, ctx: &Ctx<'_>) -> R<Reply> {
        let caller = ctx
            .caller()
            .ok_or_else(|| TokenError::AccessDenied("CreateTokenWithIAM must be signed.".into()))?;
        let doc = ctx.input.json.filter(|d| d.is_object()).ok_or_else(|| {
            TokenError::InvalidRequest("The request body must be a JSON object.".into())
        })?;
        match op {
            SsoOidcOp::CreateTokenWithIAM => {
                self.create_token_with_iam(caller, ctx.meta, doc).await
            }
        }
    }

    fn to_aws(&self, e: &TokenError) -> AwsError {
        e.to_aws()
    }
}

fn member<'a>(doc: &'a Value, name: &str) -> R<Option<&'a str>> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TokenError::InvalidRequest(format!(
            "{name} must be a string."
        ))),
    }
}

/// The claim at a `ClaimAttributePath` (`email`, `preferred_username`, `a.b`), as a string.
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    let mut parts = path.split('.');
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.get(p)?;
    }
    v.as_str()
}

/// Does a user's AWS-shaped attribute document hold `value` at an identity-store attribute
/// path (`externalIds.id`, `name.givenName`, …)? Path segments name members by their
/// camel-case form; arrays match when any element does. Compared without regard to case.
fn attribute_matches(attrs: &Value, path: &str, value: &str) -> bool {
    fn walk(v: &Value, segs: &[&str], value: &str) -> bool {
        match v {
            Value::Array(a) => a.iter().any(|x| walk(x, segs, value)),
            _ => match segs.split_first() {
                None => v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(value)),
                Some((seg, rest)) => v.as_object().is_some_and(|o| {
                    o.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(seg))
                        .is_some_and(|(_, x)| walk(x, rest, value))
                }),
            },
        }
    }
    let segs: Vec<&str> = path.split('.').collect();
    walk(attrs, &segs, value)
}

/// What a refresh-token family carries (its `document`).
fn family_document(
    app: &str,
    instance: &InstanceRecord,
    scopes: &[String],
    actor: Option<&str>,
    family_start: i64,
) -> Value {
    json!({"app": app, "instance": instance.instance_arn, "store": instance.identity_store_id,
        "scopes": scopes, "actor": actor, "start": family_start})
}

/// Whom a token is being issued for, and how.
struct Issue<'a> {
    app: &'a SsoObjectRecord,
    instance: &'a InstanceRecord,
    user: &'a IdentityUserRecord,
    scopes: Vec<String>,
    /// The trusted token issuer of a jwt-bearer exchange (`act.sub`).
    actor: Option<String>,
    /// When the user authenticated (the assertion's `iat`, or the family's start).
    auth_time: i64,
    /// A refresh-token family continued, with its start, or `None` to start one.
    family: Option<(String, i64)>,
    /// The refresh token being rotated (its hash): used in the same transaction that stores
    /// its successor.
    rotate: Option<String>,
    /// No token (and no context) outlives this (unix seconds): a token exchange's subject.
    expires_cap: Option<i64>,
    refresh: bool,
    /// Add the legacy `sts:audit_context` (not after a token exchange, as in AWS).
    audit_context: bool,
}

impl SsoOidcService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        directory: Arc<DirectoryView>,
        view: Arc<IdentityCenterView>,
        tokens: Arc<dyn TokenStore>,
        authz: Authorizer,
        oidc: Arc<OidcVerifier>,
        issuer: Arc<TokenIssuer>,
        master: &MasterKey,
        revocations: Arc<RevocationView>,
    ) -> SsoOidcService {
        SsoOidcService {
            jtis: JtiLog::new(tokens.clone()),
            directory,
            view,
            tokens,
            partition: authz.deployment().partition.clone(),
            authz,
            oidc,
            issuer,
            contexts: ContextSealer::new(master),
            access_tokens: ContextSealer::for_purpose(master, "identity-center-access-token"),
            revocations,
            last_prune: AtomicI64::new(0),
        }
    }

    /// The application named by `clientId`, with its instance (from the view).
    fn application(
        &self,
        config: &Config,
        client_id: &str,
    ) -> R<(SsoObjectRecord, InstanceRecord)> {
        let unknown = || {
            TokenError::InvalidClient(format!(
                "The client {client_id} is not a known application."
            ))
        };
        let object = config
            .object(client_id, Kind::Application)
            .ok_or_else(unknown)?;
        if object.document["Status"] == "DISABLED" {
            return Err(TokenError::InvalidClient(format!(
                "The application {client_id} is disabled."
            )));
        }
        let app = object.record.clone();
        let instance = config
            .instance(&app.instance_arn)
            .ok_or_else(unknown)?
            .clone();
        Ok((app, instance))
    }

    /// The caller must be allowed by its own identity policies and by the application's
    /// authentication-method ActorPolicy.
    fn authorise(
        &self,
        config: &Config,
        caller: &Caller,
        meta: &RequestMeta,
        app: &SsoObjectRecord,
    ) -> R<()> {
        let action = "sso-oauth:CreateTokenWithIAM";
        let app_account = app.arn.split(':').nth(4).unwrap_or("");
        let identity = Access {
            action,
            resource: &app.arn,
            resource_account: caller.account.as_str(),
            resource_policy: None,
            extra: Default::default(),
        };
        self.authz
            .check(caller, meta, identity)
            .map_err(|d| TokenError::AccessDenied(d.message))?;
        let policy = config.actor_policy(&app.arn).ok_or_else(|| {
            TokenError::AccessDenied(
                "The application has no IAM authentication method that allows this caller.".into(),
            )
        })?;
        let actor = Access {
            action,
            resource: &app.arn,
            resource_account: app_account,
            resource_policy: Some(policy),
            extra: Default::default(),
        };
        self.authz
            .check_resource_required(caller, meta, actor)
            .map_err(|_| {
                TokenError::AccessDenied(format!(
                    "User: {} is not authorized to perform: {action} on resource: {} because the application's ActorPolicy does not allow it",
                    caller.arn(&self.partition),
                    app.arn
                ))
            })
    }

    /// Requested scopes, checked against the application's, or all of them.
    fn scopes(config: &Config, app: &str, doc: &Value) -> R<Vec<String>> {
        let mut allowed: Vec<String> = DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
        for (key, _) in config.settings(app, AppSetting::Scope) {
            allowed.push(key.clone());
        }
        match doc.get("scope") {
            None | Some(Value::Null) => Ok(allowed),
            Some(Value::Array(a)) => {
                let mut out = Vec::new();
                for s in a {
                    let s = s.as_str().ok_or_else(|| {
                        TokenError::InvalidRequest("scope must be a list of strings.".into())
                    })?;
                    if !allowed.iter().any(|x| x == s) {
                        return Err(TokenError::InvalidScope(format!(
                            "The scope {s} is not configured for the application."
                        )));
                    }
                    if !out.iter().any(|x: &String| x == s) {
                        out.push(s.to_owned());
                    }
                }
                Ok(out)
            }
            Some(_) => Err(TokenError::InvalidRequest(
                "scope must be a list of strings.".into(),
            )),
        }
    }

    /// Is the user (or one of its groups) assigned, when the application requires it?
    fn check_assignment(&self, config: &Config, app: &str, user: &IdentityUserRecord) -> R<()> {
        let required = config
            .setting(app, AppSetting::AssignmentConfiguration, "")
            .and_then(|c| c["AssignmentRequired"].as_bool())
            .unwrap_or(true);
        if !required {
            return Ok(());
        }
        let assigned: Vec<&String> = config
            .settings(app, AppSetting::Assignment)
            .map(|(k, _)| k)
            .collect();
        if assigned.contains(&&format!("USER:{}", user.user_id)) {
            return Ok(());
        }
        let dir = self.directory.get();
        if dir
            .groups_of(&user.user_id)
            .any(|g| assigned.contains(&&format!("GROUP:{g}")))
        {
            return Ok(());
        }
        Err(TokenError::AccessDenied(
            "The user is not assigned to the application.".into(),
        ))
    }

    async fn create_token_with_iam(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let client_id = member(doc, "clientId")?
            .ok_or_else(|| TokenError::InvalidRequest("clientId is required.".into()))?;
        let grant_type = member(doc, "grantType")?
            .ok_or_else(|| TokenError::InvalidRequest("grantType is required.".into()))?;
        let known = [
            "authorization_code",
            REFRESH_TOKEN,
            JWT_BEARER,
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ];
        if !known.contains(&grant_type) {
            return Err(TokenError::UnsupportedGrantType(format!(
                "The grant type {} is not supported.",
                grant_type.chars().take(100).collect::<String>()
            )));
        }
        let config = self.view.get();
        let (app, instance) = self.application(&config, client_id)?;
        self.authorise(&config, caller, meta, &app)?;
        let configured = config
            .setting(&app.arn, AppSetting::Grant, grant_type)
            .cloned();
        let Some(grant) = configured else {
            return Err(TokenError::UnauthorizedClient(format!(
                "The application has no {grant_type} grant."
            )));
        };
        let (mut issued, params, user_id) = match grant_type {
            JWT_BEARER => {
                self.jwt_bearer(&config, meta, doc, &app, &instance, &grant)
                    .await?
            }
            REFRESH_TOKEN => self.refresh(&config, meta, doc, &app, &instance).await?,
            TOKEN_EXCHANGE => {
                self.token_exchange(&config, meta, doc, &app, &instance)
                    .await?
            }
            other => {
                return Err(TokenError::UnsupportedGrantType(format!(
                    "The grant type {other} is not available on this server yet."
                )));
            }
        };
        let store_arn = crate::sso_admin::identity_store_arn(&self.partition, &instance);
        let credential_id = issued
            .as_object_mut()
            .and_then(|m| m.remove("_credential_id"))
            .unwrap_or(Value::Null);
        let mut response = json!({
            "accessToken": HIDDEN, "tokenType": "Bearer", "expiresIn": TOKEN_SECS,
            "issuedTokenType": issued["issuedTokenType"], "scope": issued["scope"],
            "idToken": HIDDEN,
        });
        if issued.get("refreshToken").is_some() {
            response["refreshToken"] = json!(HIDDEN);
        }
        Ok(Reply {
            body: Body::Json(issued),
            details: EventDetails {
                user_identity: None,
                request_parameters: params,
                response_elements: response,
                resources: vec![Resource {
                    account_id: Some(instance.owner_account_id.clone()),
                    kind: "AWS::SSO::Application".into(),
                    arn: app.arn.clone(),
                }],
                read_only: false,
                additional_event_data: json!({
                    "identitystore:UserId": user_id,
                    "identitystore:IdentityStoreArn": store_arn,
                    "identitycenter:CredentialId": credential_id,
                }),
            },
        })
    }

    /// `jwt-bearer`: verify the assertion against the grant's issuers and map it to one user.
    async fn jwt_bearer(
        &self,
        config: &Config,
        meta: &RequestMeta,
        doc: &Value,
        app: &SsoObjectRecord,
        instance: &InstanceRecord,
        grant: &Value,
    ) -> R<(Value, Value, String)> {
        let assertion = member(doc, "assertion")?.ok_or_else(|| {
            TokenError::InvalidRequest("assertion is required for the jwt-bearer grant.".into())
        })?;
        if assertion.len() > MAX_ASSERTION {
            return Err(TokenError::InvalidGrant(
                "The assertion is too long.".into(),
            ));
        }
        let scopes = Self::scopes(config, &app.arn, doc)?;
        let params = json!({"clientId": app.arn, "grantType": JWT_BEARER, "scope": doc.get("scope"), "assertion": HIDDEN});
        let bad =
            |e: OidcError| TokenError::InvalidGrant(format!("The assertion is not valid: {e}"));
        let iss = OidcVerifier::unverified_issuer(assertion).map_err(bad)?;
        // The grant's issuers whose IssuerUrl is the token's `iss`, exactly.
        let mut matched = None;
        for i in grant["JwtBearer"]["AuthorizedTokenIssuers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let arn = i["TrustedTokenIssuerArn"].as_str().unwrap_or("");
            let Some(tti) = config.object(arn, Kind::TrustedTokenIssuer) else {
                continue;
            };
            let conf =
                tti.document["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"].clone();
            if conf["IssuerUrl"].as_str() == Some(iss.as_str()) {
                let auds: Vec<String> = i["AuthorizedAudiences"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect();
                matched = Some((tti.record.arn.clone(), conf, auds));
                break;
            }
        }
        let Some((tti_arn, conf, audiences)) = matched else {
            return Err(TokenError::InvalidGrant(
                "The assertion's issuer is not a trusted token issuer of this application's grant."
                    .into(),
            ));
        };
        if audiences.is_empty() {
            return Err(TokenError::InvalidGrant(
                "The grant authorizes no audience.".into(),
            ));
        }
        let now = meta.now.timestamp();
        let verified = self
            .oidc
            .verify(assertion, &iss, &audiences, now)
            .await
            .map_err(bad)?;
        // The time the IdP issued the assertion decides whether a user revocation voids it:
        // an assertion without one could not be dated, so it is refused rather than taken
        // as issued now (which would let it outlive a revocation).
        let Some(issued_at) = verified.issued_at else {
            return Err(TokenError::InvalidGrant(
                "The assertion has no iat claim.".into(),
            ));
        };
        let jti = verified
            .jti
            .as_deref()
            .filter(|j| !j.is_empty())
            .ok_or_else(|| TokenError::InvalidGrant("The assertion has no jti claim.".into()))?;
        if jti.len() > 256 {
            return Err(TokenError::InvalidGrant(
                "The assertion's jti is too long.".into(),
            ));
        }
        // The user first: an assertion for nobody must not use up its jti.
        let claim_path = conf["ClaimAttributePath"].as_str().unwrap_or("");
        let store_path = conf["IdentityStoreAttributePath"].as_str().unwrap_or("");
        let value = claim_at(&verified.claims, claim_path).ok_or_else(|| {
            TokenError::InvalidGrant(format!("The assertion has no string claim {claim_path}."))
        })?;
        let user = self.one_user(&instance.identity_store_id, store_path, value)?;
        self.check_assignment(config, &app.arn, &user)?;
        // A user revoked after the IdP issued this assertion may not exchange it.
        if self.revocations.get().is_revoked(&user.user_id, issued_at) {
            return Err(TokenError::InvalidGrant(
                "The assertion's user has been revoked since it was issued.".into(),
            ));
        }
        // The replay check is per issuer (`iss`: JWT ids are unique per issuer), whichever
        // trusted token issuer of whichever instance names it.
        if !self.jtis.record(&iss, jti, verified.expires_at).await? {
            return Err(TokenError::InvalidGrant(
                "The assertion has already been used (its jti was seen before).".into(),
            ));
        }
        self.prune(now).await;
        let refresh = config
            .setting(&app.arn, AppSetting::Grant, REFRESH_TOKEN)
            .is_some();
        let issued = self
            .issue(
                meta,
                Issue {
                    app,
                    instance,
                    user: &user,
                    scopes,
                    actor: Some(tti_arn),
                    auth_time: issued_at,
                    family: None,
                    rotate: None,
                    expires_cap: None,
                    refresh,
                    audit_context: true,
                },
            )
            .await?;
        Ok((issued, params, user.user_id))
    }

    /// `token-exchange`: an access token Identity Center issued to another application of the
    /// instance, whose access scope names this application (or the instance) among its
    /// `AuthorizedTargets`, becomes this application's token for the same user.
    async fn token_exchange(
        &self,
        config: &Config,
        meta: &RequestMeta,
        doc: &Value,
        app: &SsoObjectRecord,
        instance: &InstanceRecord,
    ) -> R<(Value, Value, String)> {
        const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
        let now = meta.now.timestamp();
        let subject = member(doc, "subjectToken")?.ok_or_else(|| {
            TokenError::InvalidRequest("subjectToken is required for token exchange.".into())
        })?;
        match member(doc, "subjectTokenType")? {
            Some(ACCESS) => {}
            _ => {
                return Err(TokenError::InvalidRequest(format!(
                    "subjectTokenType must be {ACCESS}."
                )));
            }
        }
        match member(doc, "requestedTokenType")? {
            None | Some(ACCESS) => {}
            Some(REFRESH_TOKEN_TYPE) => {
                return Err(TokenError::InvalidRequest(
                    "Token exchange issues access tokens only on this server.".into(),
                ));
            }
            Some(_) => {
                return Err(TokenError::InvalidRequest(
                    "requestedTokenType must be an access or refresh token type.".into(),
                ));
            }
        }
        let params = json!({"clientId": app.arn, "grantType": TOKEN_EXCHANGE, "scope": doc.get("scope"),
            "subjectToken": HIDDEN, "subjectTokenType": ACCESS});
        let invalid = || TokenError::InvalidGrant("The subject token is not valid.".into());
        let sealed = subject
            .strip_prefix("aoa")
            .filter(|t| t.len() <= 4096)
            .ok_or_else(invalid)?;
        let ctx = self.access_tokens.open(sealed, now).map_err(|e| match e {
            tessera_crypto::token::ContextError::Expired => {
                TokenError::InvalidGrant("The subject token has expired.".into())
            }
            tessera_crypto::token::ContextError::Invalid => invalid(),
        })?;
        if ctx.instance_arn != instance.instance_arn || ctx.application_arn == app.arn {
            return Err(invalid());
        }
        if self
            .revocations
            .get()
            .is_revoked(&ctx.user_id, ctx.token_issued_at)
        {
            return Err(invalid());
        }
        // The source application must name this one (or the instance) as a target of one of
        // its access scopes.
        let targeted = config
            .settings(&ctx.application_arn, AppSetting::Scope)
            .any(|(_, s)| {
                s["AuthorizedTargets"].as_array().is_some_and(|t| {
                    t.iter().any(|x| {
                        x.as_str() == Some(app.arn.as_str())
                            || x.as_str() == Some(instance.instance_arn.as_str())
                    })
                })
            });
        if !targeted {
            return Err(TokenError::InvalidGrant(
                "The subject token's application does not authorize this application as a target."
                    .into(),
            ));
        }
        let user = self
            .directory
            .get()
            .active_user(&instance.identity_store_id, &ctx.user_id)
            .cloned()
            .ok_or_else(invalid)?;
        self.check_assignment(config, &app.arn, &user)?;
        let scopes = Self::scopes(config, &app.arn, doc)?;
        let issued = self
            .issue(
                meta,
                Issue {
                    app,
                    instance,
                    user: &user,
                    scopes,
                    actor: None,
                    auth_time: ctx.token_issued_at,
                    family: None,
                    rotate: None,
                    // An exchanged token lives no longer than its subject, so exchanges back
                    // and forth cannot extend a session.
                    expires_cap: Some(ctx.expires_at),
                    refresh: false,
                    audit_context: false,
                },
            )
            .await?;
        Ok((issued, params, user.user_id))
    }

    /// Exactly one user whose attribute at `path` is `value`.
    fn one_user(&self, store: &str, path: &str, value: &str) -> R<IdentityUserRecord> {
        let dir = self.directory.get();
        let found: Vec<IdentityUserRecord> = match path {
            "userName" => dir
                .user_by_name(store, value)
                .into_iter()
                .cloned()
                .collect(),
            "emails.value" => dir
                .users_by_email(store, value)
                .into_iter()
                .cloned()
                .collect(),
            // Other paths are not indexed: the store's users are scanned in memory.
            _ => dir
                .users(store)
                .filter(|u| {
                    let attrs: Value = serde_json::from_str(&u.attributes).unwrap_or(Value::Null);
                    attribute_matches(&attrs, path, value)
                })
                .cloned()
                .collect(),
        };
        match <[IdentityUserRecord; 1]>::try_from(found) {
            // A user provisioned as inactive (SCIM `active: false`) may not sign in.
            Ok([u]) if !is_active(&u) => Err(TokenError::InvalidGrant(
                "The assertion's user is disabled.".into(),
            )),
            Ok([u]) => Ok(u),
            Err(v) if v.is_empty() => Err(TokenError::InvalidGrant(
                "The assertion's user matches no user of the identity store.".into(),
            )),
            Err(_) => Err(TokenError::InvalidGrant(
                "The assertion's user matches more than one user of the identity store.".into(),
            )),
        }
    }

    /// Forget expired assertion ids, at most once a minute.
    async fn prune(&self, now: i64) {
        // `now` only paces pruning (once a minute per replica); what is old enough to go is
        // decided by the store's clock.
        let last = self.last_prune.load(Ordering::Relaxed);
        if now - last < 60
            || self
                .last_prune
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // Pruned by the store's clock, keeping ids well past expiry: the verifier's minute of
        // leeway, plus room for replicas whose clocks run behind the store's.
        if let Err(e) = self.tokens.prune_jtis(JTI_KEEP_AFTER_EXPIRY_SECS).await {
            tracing::warn!(error = %e, "pruning expired assertion ids failed");
        }
    }

    /// `refresh_token`: rotate; a reused token revokes its whole family.
    async fn refresh(
        &self,
        config: &Config,
        meta: &RequestMeta,
        doc: &Value,
        app: &SsoObjectRecord,
        instance: &InstanceRecord,
    ) -> R<(Value, Value, String)> {
        let now = meta.now.timestamp();
        let token = member(doc, "refreshToken")?.ok_or_else(|| {
            TokenError::InvalidRequest(
                "refreshToken is required for the refresh_token grant.".into(),
            )
        })?;
        let params = json!({"clientId": app.arn, "grantType": REFRESH_TOKEN, "scope": doc.get("scope"), "refreshToken": HIDDEN});
        let invalid = || TokenError::InvalidGrant("The refresh token is not valid.".into());
        if token.len() > 256 {
            return Err(invalid());
        }
        // Look it up first and check everything; it is used (and its successor stored) only
        // in `issue`, in one transaction, so a refused request leaves it usable.
        let rec = match self.tokens.get_refresh_token(&token_digest(token)).await? {
            RefreshUse::Fresh(r) => r,
            RefreshUse::Reused { family_id } => {
                self.tokens.revoke_refresh_family(&family_id, now).await?;
                tracing::warn!(
                    "a rotated refresh token was presented again; its family is revoked"
                );
                return Err(TokenError::InvalidGrant(
                    "The refresh token was already used; every token of its family is now revoked."
                        .into(),
                ));
            }
            RefreshUse::Unknown => return Err(invalid()),
        };
        let fam: Value = serde_json::from_str(&rec.document).map_err(|_| TokenError::Internal)?;
        if fam["app"].as_str() != Some(app.arn.as_str())
            || rec.expires_at <= now
            || self
                .revocations
                .get()
                .is_revoked(&rec.user_id, rec.issued_at)
        {
            return Err(invalid());
        }
        let user = self
            .directory
            .get()
            .active_user(&instance.identity_store_id, &rec.user_id)
            .cloned()
            .ok_or_else(invalid)?;
        self.check_assignment(config, &app.arn, &user)?;
        let family_scopes: Vec<String> = fam["scopes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        // A refresh may narrow the scopes, never widen them.
        let scopes = match doc.get("scope") {
            None | Some(Value::Null) => family_scopes,
            Some(_) => {
                let asked = Self::scopes(config, &app.arn, doc)?;
                if let Some(s) = asked.iter().find(|s| !family_scopes.contains(s)) {
                    return Err(TokenError::InvalidScope(format!(
                        "The scope {s} was not granted to this refresh token."
                    )));
                }
                asked
            }
        };
        let start = fam["start"].as_i64().unwrap_or(rec.issued_at);
        let issued = self
            .issue(
                meta,
                Issue {
                    app,
                    instance,
                    user: &user,
                    scopes,
                    actor: fam["actor"].as_str().map(str::to_owned),
                    auth_time: start,
                    family: Some((rec.family_id.clone(), start)),
                    rotate: Some(rec.token_hash.clone()),
                    expires_cap: None,
                    refresh: true,
                    audit_context: true,
                },
            )
            .await?;
        Ok((issued, params, user.user_id))
    }

    async fn issue(&self, meta: &RequestMeta, i: Issue<'_>) -> R<Value> {
        let now = meta.now.timestamp();
        let expires_at = i
            .expires_cap
            .map_or(now + TOKEN_SECS, |c| c.min(now + TOKEN_SECS));
        let store_arn = crate::sso_admin::identity_store_arn(&self.partition, i.instance);
        let credential_id = uuid::Uuid::new_v4().simple().to_string();
        let ctx = IdentityContext {
            user_id: i.user.user_id.clone(),
            identity_store_arn: store_arn.clone(),
            instance_arn: i.instance.instance_arn.clone(),
            application_arn: i.app.arn.clone(),
            credential_id: credential_id.clone(),
            token_issued_at: now,
            expires_at,
        };
        let identity_context = self.contexts.seal(&ctx);
        let mut claims = json!({
            "iss": self.issuer.issuer_url(&i.instance.instance_arn),
            "sub": i.user.user_id,
            "aud": i.app.arn,
            "iat": now,
            "exp": expires_at,
            "auth_time": tessera_core::iso8601(i.auth_time),
            "jti": uuid::Uuid::new_v4().to_string(),
            "sts:identity_context": identity_context,
            "aws:identity_store_id": i.instance.identity_store_id,
            "aws:identity_store_arn": store_arn,
            "aws:instance_arn": i.instance.instance_arn,
            "aws:instance_account": i.instance.owner_account_id,
            "aws:application_arn": i.app.arn,
            "aws:credential_id": credential_id,
        });
        if let Some(a) = &i.actor {
            claims["act"] = json!({"sub": a});
        }
        if i.audit_context {
            claims["sts:audit_context"] = json!(self.contexts.seal(&ctx));
        }
        let mut out = json!({
            "accessToken": format!("aoa{}", self.access_tokens.seal(&ctx)),
            "tokenType": "Bearer",
            "expiresIn": expires_at - now,
            "idToken": self.issuer.signer().sign(&claims),
            "issuedTokenType": ACCESS_TOKEN_TYPE,
            "scope": i.scopes,
            "awsAdditionalDetails": {"identityContext": identity_context},
            "_credential_id": credential_id,
        });
        if i.refresh {
            let (family, start) = i
                .family
                .unwrap_or_else(|| (uuid::Uuid::new_v4().to_string(), now));
            let token = opaque_token("aor");
            let next = RefreshTokenRecord {
                token_hash: token_digest(&token),
                family_id: family,
                user_id: i.user.user_id.clone(),
                document: family_document(
                    &i.app.arn,
                    i.instance,
                    &i.scopes,
                    i.actor.as_deref(),
                    start,
                )
                .to_string(),
                issued_at: now,
                expires_at: start + SESSION_SECS,
                used: false,
            };
            match &i.rotate {
                None => self.tokens.add_refresh_token(&next).await?,
                Some(old) => match self.tokens.rotate_refresh_token(old, &next).await? {
                    RefreshUse::Fresh(_) => {}
                    // Used by a concurrent request: a replay, which revokes the family.
                    RefreshUse::Reused { family_id } => {
                        self.tokens.revoke_refresh_family(&family_id, now).await?;
                        return Err(TokenError::InvalidGrant(
                            "The refresh token was already used; every token of its family is now revoked."
                                .into(),
                        ));
                    }
                    RefreshUse::Unknown => {
                        return Err(TokenError::InvalidGrant(
                            "The refresh token is not valid.".into(),
                        ));
                    }
                },
            }
            out["refreshToken"] = json!(token);
            out["issuedTokenType"] = json!(REFRESH_TOKEN_TYPE);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_and_attributes() {
        let c: Map<String, Value> =
            serde_json::from_value(json!({"email": "a@x", "n": {"m": "v"}, "k": 1})).unwrap();
        assert_eq!(claim_at(&c, "email"), Some("a@x"));
        assert_eq!(claim_at(&c, "n.m"), Some("v"));
        assert_eq!(claim_at(&c, "k"), None);
        assert_eq!(claim_at(&c, "missing"), None);
        let attrs =
            json!({"ExternalIds": [{"Issuer": "i", "Id": "E-1"}], "Name": {"GivenName": "Mateo"}});
        assert!(attribute_matches(&attrs, "externalIds.id", "e-1"));
        assert!(attribute_matches(&attrs, "name.givenName", "Mateo"));
        assert!(!attribute_matches(&attrs, "name.familyName", "Mateo"));
        assert!(!attribute_matches(&attrs, "externalIds.id", "E-2"));
    }

    #[test]
    fn error_shapes() {
        let e = TokenError::InvalidClient("x".into()).to_aws();
        assert_eq!((e.status, e.code.as_str()), (401, "InvalidClientException"));
        assert_eq!(TokenError::AccessDenied("x".into()).to_aws().status, 400);
        assert_eq!(TokenError::Internal.to_aws().status, 500);
    }
}
