//! The STS service, spoken over awsQuery (signing name `sts`, version `2011-06-15`).
//!
//! - `AssumeRole`: the role's trust policy and the caller's identity policies (both, across
//!   accounts), duration rules and role chaining, session policies (inline and managed), source
//!   identity, session tags with transitive keys, `ProvidedContexts` validation.
//! - `AssumeRoleWithWebIdentity` (unsigned): the token's issuer must be an IAM OIDC provider of
//!   the role's account; the token is verified through `tessera-oidc`.
//! - `GetCallerIdentity` for every kind of caller.
//!
//! Sessions are stateless: the claims are sealed into the session token with the key ring
//! (`tessera-crypto::session`) and nothing is stored.

mod error;
mod validate;

pub use error::StsError;

use async_trait::async_trait;
use serde_json::{Value, json};
use std::sync::Arc;
use tessera_audit::{EventDetails, HIDDEN, Resource};
use tessera_authz::principals::RoleEntry;
use tessera_authz::{Access, Authorizer, DirectoryView, KeyRingView, RevocationView};
use tessera_core::session::IdentityContext;
use tessera_core::{Caller, Deployment, RequestMeta, SessionClaims, WebIdentity};
use tessera_crypto::session::session_access_key_id;
use tessera_crypto::token::{ContextError, ContextSealer};
use tessera_oidc::OidcVerifier;
use tessera_policy::{ContextKeys, Policy, PolicyKind, PrincipalRef};
use tessera_service::{Body, Ctx, Operation, Reply, Routing, Service, ServiceSpec};
use tessera_store::IamStore;
use tessera_wire::CommonError;
use tessera_wire::query::QueryParams;
use tessera_wire::xml::Writer;
use tessera_wire::{Protocol, STS_NAMESPACE};

pub const VERSION: &str = "2011-06-15";

tessera_service::operations! {
    /// Every STS action AWS defines (so the router can tell STS requests from IAM ones):
    /// `[missing]` ones Tessera does not implement; `[unsigned]` ones carry their own token.
    #[derive(Copy)]
    pub enum StsAction {
        AssumeRole,
        AssumeRoleWithSAML [unsigned, missing],
        AssumeRoleWithWebIdentity [unsigned],
        AssumeRoot [missing],
        DecodeAuthorizationMessage [missing],
        GetAccessKeyInfo [missing],
        GetCallerIdentity,
        GetDelegatedAccessToken [missing],
        GetFederationToken [missing],
        GetSessionToken [missing],
    }
}

/// The STS service's declaration.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "sts",
    signing_names: &["sts"],
    protocol: Protocol::Query {
        namespace: STS_NAMESPACE,
    },
    event_source: "sts.amazonaws.com",
    routing: Routing::Query { version: VERSION },
};

/// The Identity Center context provider (`ProvidedContexts`).
pub const IDENTITY_CENTER_PROVIDER: &str = "arn:aws:iam::aws:contextProvider/IdentityCenter";

/// Chained role sessions last at most one hour.
const CHAIN_MAX_SECS: i64 = 3600;
/// Session policies and tags share this packed size budget.
const PACKED_MAX: usize = 2048;

#[derive(Debug)]
pub struct Outcome {
    pub result_xml: String,
    pub details: EventDetails,
}

type R<T> = Result<T, StsError>;

#[derive(Debug, Clone)]
pub struct StsService {
    deployment: Deployment,
    authz: Authorizer,
    ring: Arc<KeyRingView>,
    store: Arc<dyn IamStore>,
    oidc: Arc<OidcVerifier>,
    /// Issuer URL schemes accepted for OIDC providers (`https`, plus `http` in dev mode).
    allow_http_issuers: bool,
    /// Identity Center context assertions (`ProvidedContexts`): how they are opened, and which
    /// users are revoked. Without it, a provided context is refused.
    contexts: Option<(ContextSealer, Arc<RevocationView>, Arc<DirectoryView>)>,
}

#[async_trait]
impl Service for StsService {
    type Op = StsAction;
    type Error = StsError;

    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }

    async fn call(&self, op: StsAction, ctx: &Ctx<'_>) -> R<Reply> {
        let o = self.run(op, ctx.caller(), ctx.meta, ctx.params()).await?;
        Ok(Reply {
            body: Body::QueryResult(o.result_xml),
            details: o.details,
        })
    }

    fn to_aws(&self, e: &StsError) -> tessera_wire::AwsError {
        e.to_aws()
    }
}

/// What the session being issued will be.
struct NewSession<'a> {
    role: &'a RoleEntry,
    session_name: String,
    duration: i64,
    source_identity: Option<String>,
    policy: Option<String>,
    policy_arns: Vec<String>,
    tags: Vec<(String, String)>,
    transitive: Vec<String>,
    chain_depth: u8,
    web_identity: Option<WebIdentity>,
    identity_context: Option<IdentityContext>,
}

/// The condition keys a verified web identity token contributes, prefixed with the provider's
/// name (its URL without the scheme, path included: `dev-12345678.okta.com/oauth2/default:aud`),
/// as AWS documents them: `:sub`; `:amr` when the token has one; `:aud` is the token's
/// authorized party (`azp`) when it names one and the accepted audience otherwise; when `azp`
/// is present, `:azp` carries it and `:oaud` the accepted audience (the `aud` claim).
fn web_identity_context(
    provider: &str,
    token: &tessera_oidc::VerifiedToken,
    audience: &str,
) -> ContextKeys {
    let mut ctx = ContextKeys::new();
    ctx.insert(format!("{provider}:sub"), token.subject.clone());
    match &token.authorized_party {
        Some(azp) => {
            ctx.insert(format!("{provider}:aud"), azp.clone());
            ctx.insert(format!("{provider}:azp"), azp.clone());
            ctx.insert(format!("{provider}:oaud"), audience.to_owned());
        }
        None => {
            ctx.insert(format!("{provider}:aud"), audience.to_owned());
        }
    }
    if !token.amr.is_empty() {
        ctx.insert_multi(format!("{provider}:amr"), token.amr.iter().cloned());
    }
    ctx
}

impl StsService {
    pub fn new(
        deployment: Deployment,
        authz: Authorizer,
        ring: Arc<KeyRingView>,
        store: Arc<dyn IamStore>,
        oidc: Arc<OidcVerifier>,
        allow_http_issuers: bool,
    ) -> StsService {
        StsService {
            deployment,
            authz,
            ring,
            store,
            oidc,
            allow_http_issuers,
            contexts: None,
        }
    }

    /// Accept Identity Center context assertions sealed by `sealer`, refusing revoked users
    /// and users no longer in their identity store (deleted or deactivated, as by SCIM).
    pub fn with_identity_contexts(
        mut self,
        sealer: ContextSealer,
        revocations: Arc<RevocationView>,
        directory: Arc<DirectoryView>,
    ) -> StsService {
        self.contexts = Some((sealer, revocations, directory));
        self
    }

    /// The identity context an assertion carries, checked: sealed here, unchanged, unexpired,
    /// its user not revoked since its token was issued.
    fn open_context(&self, assertion: &str, now: i64) -> R<IdentityContext> {
        let Some((sealer, revocations, directory)) = &self.contexts else {
            return Err(StsError::Common(CommonError::Validation(format!(
                "ProvidedContexts: the {IDENTITY_CENTER_PROVIDER} context provider is not configured on this server."
            ))));
        };
        let ctx = sealer.open(assertion, now).map_err(|e| match e {
            ContextError::Expired => {
                StsError::ExpiredToken("The provided context assertion has expired.".into())
            }
            ContextError::Invalid => StsError::Common(CommonError::Validation(
                "The provided context assertion is not valid.".into(),
            )),
        })?;
        if revocations
            .get()
            .is_revoked(&ctx.user_id, ctx.token_issued_at)
        {
            return Err(StsError::Common(CommonError::AccessDenied(
                "The provided context's user has been revoked.".into(),
            )));
        }
        let store = ctx
            .identity_store_arn
            .rsplit('/')
            .next()
            .unwrap_or_default();
        if directory.get().active_user(store, &ctx.user_id).is_none() {
            return Err(StsError::Common(CommonError::AccessDenied(
                "The provided context's user is no longer an active user of its identity store."
                    .into(),
            )));
        }
        Ok(ctx)
    }

    /// Run one STS action. `caller` is the authenticated caller of a signed action and
    /// `None` for the unsigned ones ([`Operation::signed`]).
    pub async fn run(
        &self,
        op: StsAction,
        caller: Option<&Caller>,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        match (op, caller) {
            (StsAction::GetCallerIdentity, Some(c)) => Ok(self.get_caller_identity(c)),
            (StsAction::AssumeRole, Some(c)) => self.assume_role(c, meta, p).await,
            (StsAction::AssumeRoleWithWebIdentity, _) => {
                self.assume_role_with_web_identity(meta, p).await
            }
            (op, _) if !op.implemented() => Err(StsError::Common(CommonError::UnknownOperation(
                format!("The operation {op} is not available on this server yet."),
            ))),
            (op, None) => Err(StsError::Common(CommonError::AccessDenied(format!(
                "The operation {op} must be signed."
            )))),
            (op, Some(_)) => Err(StsError::Common(CommonError::UnknownOperation(format!(
                "Could not find operation {op} for version {VERSION}"
            )))),
        }
    }

    /// `GetCallerIdentity` needs no permission (AWS: even an explicit deny does not stop it).
    fn get_caller_identity(&self, caller: &Caller) -> Outcome {
        let mut w = Writer::new();
        w.elem("Arn", &caller.arn(&self.deployment.partition));
        w.elem("UserId", &caller.user_id());
        w.elem("Account", caller.account.as_str());
        Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                read_only: true,
                ..EventDetails::default()
            },
        }
    }

    /// Find the role an ARN names: `arn:{partition}:iam::{account}:role{path}{name}`.
    fn role_from_arn(&self, role_arn: &str) -> R<Option<Arc<RoleEntry>>> {
        let (account, path, name) = validate::role_arn(role_arn, &self.deployment.partition)?;
        Ok(self
            .authz
            .principals()
            .role(&account, &name)
            .filter(|r| r.record.path == path))
    }

    fn role_arn(&self, r: &RoleEntry) -> String {
        tessera_core::Arn::iam(
            &self.deployment.partition,
            &r.record.account_id,
            format!("role{}{}", r.record.path, r.record.name),
        )
        .to_string()
    }

    /// Session policies: the inline document and managed policy ARNs, checked, with the
    /// packed size of policies and tags (as a percentage of the budget).
    fn session_policies(
        &self,
        p: &QueryParams,
        role_account: &str,
        tags: &[(String, String)],
    ) -> R<(Option<String>, Vec<String>, usize)> {
        let policy = p.get("Policy").map(str::to_owned);
        if let Some(doc) = &policy {
            validate::session_policy_text(doc)?;
            Policy::parse(doc, PolicyKind::Session)?;
        }
        // Seal the policy without its white space, so the token stays small.
        let policy = policy.map(|doc| {
            serde_json::from_str::<Value>(&doc)
                .map(|v| v.to_string())
                .unwrap_or(doc)
        });
        let mut arns = Vec::new();
        for m in p.struct_list("PolicyArns")? {
            let arn = m.get("arn").or_else(|| m.get("Arn")).ok_or_else(|| {
                StsError::Common(CommonError::MissingParameter(
                    "PolicyArns.member.N.arn is required".into(),
                ))
            })?;
            validate::length("policyArns.member.arn", arn, 20, 2048)?;
            let found = self
                .authz
                .principals()
                .managed_policy(arn)
                .filter(|mp| mp.0.account_id == role_account);
            if found.is_none() {
                return Err(StsError::Common(CommonError::Validation(format!(
                    "Policy {arn} does not exist or is not attachable."
                ))));
            }
            arns.push(arn.clone());
        }
        if arns.len() > 10 {
            return Err(StsError::Common(CommonError::Validation(
                "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10".into(),
            )));
        }
        let used = policy
            .as_deref()
            .map(tessera_policy::policy_size)
            .unwrap_or(0)
            + arns.iter().map(String::len).sum::<usize>()
            + tags.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        let percent = (used * 100).div_ceil(PACKED_MAX);
        if percent > 100 {
            return Err(StsError::PackedPolicyTooLarge(format!(
                "Packed policy consumes {percent}% of allotted space, please use smaller policy."
            )));
        }
        Ok((policy, arns, percent))
    }

    fn duration(p: &QueryParams, role_max: i64, chained: bool) -> R<i64> {
        let requested = match p.get("DurationSeconds") {
            None => None,
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (900..=43200).contains(&n) => Some(n),
                _ => {
                    return Err(StsError::Common(CommonError::Validation(format!(
                        "1 validation error detected: Value '{s}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 900"
                    ))));
                }
            },
        };
        let max = if chained { CHAIN_MAX_SECS } else { role_max };
        match requested {
            Some(n) if n > max && chained => Err(StsError::Common(CommonError::Validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
            ))),
            Some(n) if n > max => Err(StsError::Common(CommonError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into(),
            ))),
            Some(n) => Ok(n),
            None => Ok(3600.min(max)),
        }
    }

    fn issue(&self, meta: &RequestMeta, s: NewSession<'_>) -> (SessionClaims, String, String) {
        let now = meta.now.timestamp();
        let claims = SessionClaims {
            access_key_id: session_access_key_id(),
            account: s.role.record.account_id.clone(),
            role_name: s.role.record.name.clone(),
            role_id: s.role.record.role_id.clone(),
            role_path: s.role.record.path.clone(),
            session_name: s.session_name,
            issued_at: now,
            expires_at: now + s.duration,
            source_identity: s.source_identity,
            policy: s.policy,
            policy_arns: s.policy_arns,
            tags: s.tags,
            transitive_tag_keys: s.transitive,
            chain_depth: s.chain_depth,
            web_identity: s.web_identity,
            identity_context: s.identity_context,
            grant: None,
        };
        let (token, secret) = self.ring.get().issue(&claims);
        (claims, token, secret)
    }

    fn render_credentials(
        &self,
        w: &mut Writer,
        claims: &SessionClaims,
        token: &str,
        secret: &str,
    ) -> Value {
        let expiration = tessera_core::iso8601(claims.expires_at);
        w.open("Credentials");
        w.elem("AccessKeyId", &claims.access_key_id);
        w.elem("SecretAccessKey", secret);
        w.elem("SessionToken", token);
        w.elem("Expiration", &expiration);
        w.close("Credentials");
        let arn = format!(
            "arn:{}:sts::{}:assumed-role/{}/{}",
            self.deployment.partition, claims.account, claims.role_name, claims.session_name
        );
        let id = format!("{}:{}", claims.role_id, claims.session_name);
        w.open("AssumedRoleUser");
        w.elem("AssumedRoleId", &id);
        w.elem("Arn", &arn);
        w.close("AssumedRoleUser");
        json!({
            "credentials": {"accessKeyId": claims.access_key_id, "sessionToken": HIDDEN, "expiration": expiration},
            "assumedRoleUser": {"assumedRoleId": id, "arn": arn},
            "sourceIdentity": claims.source_identity,
        })
    }

    async fn assume_role(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let role_arn = p.require("RoleArn")?;
        validate::length("roleArn", role_arn, 20, 2048)?;
        let session_name = p.require("RoleSessionName")?;
        validate::session_name("roleSessionName", session_name)?;
        let external_id = p.get("ExternalId");
        if let Some(e) = external_id {
            validate::external_id(e)?;
        }
        let requested_source = p.get("SourceIdentity");
        if let Some(s) = requested_source {
            validate::source_identity(s)?;
        }
        if let Some(sn) = p.get("SerialNumber") {
            validate::length("serialNumber", sn, 9, 256)?;
        }
        if let Some(tc) = p.get("TokenCode") {
            if tc.len() != 6 || !tc.bytes().all(|b| b.is_ascii_digit()) {
                return Err(StsError::Common(CommonError::Validation(
                    "1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*".into(),
                )));
            }
            return Err(StsError::Common(CommonError::AccessDenied(
                "MultiFactorAuthentication failed: MFA devices are not supported by this server."
                    .into(),
            )));
        }
        let new_tags = validate::tags(p)?;
        let transitive = validate::transitive_keys(p, &new_tags)?;
        let assertion = validate::provided_contexts(p)?;
        let provided_context = assertion
            .as_deref()
            .map(|a| self.open_context(a, meta.now.timestamp()))
            .transpose()?;

        let denied = || {
            StsError::Common(CommonError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn(&self.deployment.partition)
            )))
        };
        // As in AWS, the account root cannot assume roles.
        if caller.is_root() {
            return Err(StsError::Common(CommonError::AccessDenied(
                "Roles may not be assumed by root accounts.".into(),
            )));
        }
        // A role that does not exist is refused like one the caller may not assume.
        let role = self.role_from_arn(role_arn)?.ok_or_else(denied)?;
        let role_account = role.record.account_id.clone();

        // Role chaining: the parent's source identity, identity context and transitive tags
        // carry over. An inherited context needs the target's trust policy to allow
        // `sts:SetContext` as a provided one does (as an inherited source identity needs
        // `sts:SetSourceIdentity`): otherwise the chained call is refused, so a user's
        // context never reaches a role that did not agree to carry it, and revoking the user
        // still reaches every session that does.
        let parent = caller.session.as_deref();
        let chained = parent.is_some();
        let identity_context =
            provided_context.or_else(|| parent.and_then(|s| s.identity_context.clone()));
        let source_identity = match (
            parent.and_then(|s| s.source_identity.clone()),
            requested_source,
        ) {
            (Some(inherited), Some(asked)) if inherited != asked => {
                return Err(StsError::Common(CommonError::AccessDenied(format!(
                    "The source identity {inherited} of the calling session cannot be changed."
                ))));
            }
            (Some(inherited), _) => Some(inherited),
            (None, asked) => asked.map(str::to_owned),
        };
        let mut tags: Vec<(String, String)> = Vec::new();
        let mut transitive_keys: Vec<String> = Vec::new();
        if let Some(s) = parent {
            for (k, v) in &s.tags {
                if s.transitive_tag_keys
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(k))
                {
                    if new_tags.iter().any(|(nk, _)| nk.eq_ignore_ascii_case(k)) {
                        return Err(StsError::Common(CommonError::Validation(format!(
                            "The session tag key {k} is inherited as a transitive tag and cannot be set again."
                        ))));
                    }
                    tags.push((k.clone(), v.clone()));
                    transitive_keys.push(k.clone());
                }
            }
        }
        tags.extend(new_tags.iter().cloned());
        transitive_keys.extend(transitive.iter().cloned());
        if tags.len() > 50 {
            return Err(StsError::Common(CommonError::Validation(
                "A session may carry at most 50 tags.".into(),
            )));
        }

        // Authorise: the trust policy (resource policy of the role) and the caller's identity
        // policies, for each permission the request needs.
        let trust = role.trust.as_ref().ok_or_else(denied)?;
        let canonical_arn = self.role_arn(&role);
        let mut actions = vec!["sts:AssumeRole"];
        if !new_tags.is_empty() {
            actions.push("sts:TagSession");
        }
        if source_identity.is_some() {
            actions.push("sts:SetSourceIdentity");
        }
        if identity_context.is_some() {
            actions.push("sts:SetContext");
        }
        let mut extra = ContextKeys::new();
        if let Some(ic) = &identity_context {
            extra.insert_multi(
                "sts:RequestContextProviders",
                [IDENTITY_CENTER_PROVIDER.to_owned()],
            );
            for (k, v) in ic.condition_keys() {
                extra.insert(format!("sts:RequestContext/{k}"), v);
            }
        }
        extra.insert("sts:RoleSessionName", session_name);
        if let Some(e) = external_id {
            extra.insert("sts:ExternalId", e);
        }
        if let Some(s) = &source_identity {
            extra.insert("sts:SourceIdentity", s.clone());
        }
        for (k, v) in &new_tags {
            extra.insert(format!("aws:RequestTag/{k}"), v.clone());
        }
        if !new_tags.is_empty() {
            extra.insert_multi("aws:TagKeys", new_tags.iter().map(|(k, _)| k.clone()));
        }
        if !transitive.is_empty() {
            extra.insert_multi("sts:TransitiveTagKeys", transitive.iter().cloned());
        }
        for action in actions {
            let access = Access {
                action,
                resource: &canonical_arn,
                resource_account: &role_account,
                resource_policy: Some(trust),
                extra: extra.clone(),
            };
            if let Err(d) = self.authz.check(caller, meta, access) {
                let why = if action == "sts:AssumeRole" {
                    denied().to_string()
                } else {
                    format!(
                        "{} (the role's trust policy and the caller's policies must allow {action})",
                        d.message
                    )
                };
                return Err(StsError::Common(CommonError::AccessDenied(why)));
            }
        }

        // Only now, so a caller who may not assume the role learns nothing about it (its
        // maximum session duration, the managed policies of its account).
        let duration = Self::duration(p, role.record.max_session_duration, chained)?;
        let (policy, policy_arns, packed) = self.session_policies(p, &role_account, &tags)?;
        let chain_depth = parent.map(|s| s.chain_depth.saturating_add(1)).unwrap_or(0);
        let (claims, token, secret) = self.issue(
            meta,
            NewSession {
                role: &role,
                session_name: session_name.to_owned(),
                duration,
                source_identity,
                policy: policy.clone(),
                policy_arns: policy_arns.clone(),
                tags: tags.clone(),
                transitive: transitive_keys,
                chain_depth,
                web_identity: None,
                // Provided, or inherited from the calling session (allowed above).
                identity_context: identity_context.clone(),
            },
        );
        let mut w = Writer::new();
        let response = self.render_credentials(&mut w, &claims, &token, &secret);
        if policy.is_some() || !policy_arns.is_empty() || !tags.is_empty() {
            w.elem("PackedPolicySize", &packed.to_string());
        }
        w.opt("SourceIdentity", claims.source_identity.as_deref());
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: json!({
                    "roleArn": role_arn, "roleSessionName": session_name, "durationSeconds": duration,
                    "externalId": external_id, "sourceIdentity": requested_source,
                    "policy": policy, "policyArns": policy_arns,
                    "tags": new_tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
                    "transitiveTagKeys": transitive,
                    "providedContexts": assertion.as_ref().map(|_| json!([{
                        "providerArn": IDENTITY_CENTER_PROVIDER,
                        "contextAssertion": HIDDEN,
                    }])),
                }),
                response_elements: response,
                resources: vec![Resource {
                    account_id: Some(role_account),
                    kind: "AWS::IAM::Role".into(),
                    arn: canonical_arn,
                }],
                read_only: true,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }

    async fn assume_role_with_web_identity(
        &self,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let role_arn = p.require("RoleArn")?;
        validate::length("roleArn", role_arn, 20, 2048)?;
        let session_name = p.require("RoleSessionName")?;
        validate::session_name("roleSessionName", session_name)?;
        let token = p.require("WebIdentityToken")?;
        validate::length("webIdentityToken", token, 4, 20000)?;
        if let Some(pid) = p.get("ProviderId") {
            validate::length("providerId", pid, 4, 2048)?;
        }
        let (role_account, _, _) = validate::role_arn(role_arn, &self.deployment.partition)?;

        // The issuer must be an OIDC provider registered in the role's account. The provider
        // is named by the issuer URL without its scheme; one trailing slash more or less still
        // names it (`https://idp.example.com` and `https://idp.example.com/`).
        let issuer = OidcVerifier::unverified_issuer(token)?;
        let no_provider = || {
            StsError::InvalidIdentityToken(format!(
                "No OpenIDConnect provider found in your account for {issuer}"
            ))
        };
        let name = tessera_core::names::oidc_issuer_host_path(&issuer, self.allow_http_issuers)
            .ok_or_else(|| {
                StsError::InvalidIdentityToken(format!(
                    "The issuer {issuer} is not a valid OpenID Connect provider URL."
                ))
            })?;
        let toggled = match name.strip_suffix('/') {
            Some(bare) => bare.to_owned(),
            None => format!("{name}/"),
        };
        let arn_of = |n: &str| {
            format!(
                "arn:{}:iam::{role_account}:oidc-provider/{n}",
                self.deployment.partition
            )
        };
        let provider = match self.store.get_oidc_provider(&arn_of(&name)).await? {
            Some(p) => p,
            None => self
                .store
                .get_oidc_provider(&arn_of(&toggled))
                .await?
                .ok_or_else(no_provider)?,
        };
        let provider_arn = provider.arn.clone();
        // Condition keys and the response name the provider as it was registered.
        let provider_url = provider.url.clone();
        // The token's issuer must be the provider's URL exactly (one trailing slash allowed),
        // so variants of one issuer cannot each start a key fetch.
        let scheme = if issuer.starts_with("https://") {
            "https"
        } else {
            "http"
        };
        let canonical = format!("{scheme}://{}", provider.url.trim_end_matches('/'));
        if issuer != canonical && issuer != format!("{canonical}/") {
            return Err(no_provider());
        }
        // A provider without client ids accepts no audience (never "any").
        if provider.client_ids.is_empty() {
            return Err(StsError::InvalidIdentityToken(
                "Incorrect token audience".into(),
            ));
        }
        let verified = self
            .oidc
            .verify(token, &issuer, &provider.client_ids, meta.now.timestamp())
            .await?;
        let audience = verified
            .matched_audience
            .clone()
            .or_else(|| verified.audiences.first().cloned())
            .unwrap_or_default();

        let role = self.role_from_arn(role_arn)?;
        let denied = || {
            StsError::Common(CommonError::AccessDenied(
                "Not authorized to perform sts:AssumeRoleWithWebIdentity".into(),
            ))
        };
        let role = role.ok_or_else(denied)?;
        let trust = role.trust.as_ref().ok_or_else(denied)?;

        let mut ctx = web_identity_context(&provider_url, &verified, &audience);
        ctx.insert("sts:RoleSessionName", session_name);
        ctx.insert("aws:FederatedProvider", provider_arn.clone());
        let canonical_arn = self.role_arn(&role);
        let principal = PrincipalRef::federated(provider_arn.clone());
        let access = Access {
            action: "sts:AssumeRoleWithWebIdentity",
            resource: &canonical_arn,
            resource_account: &role_account,
            resource_policy: Some(trust),
            extra: ctx,
        };
        self.authz
            .check_federated(principal, meta, access)
            .map_err(|_| denied())?;
        // Only now, so a caller who may not assume the role learns nothing about it.
        let (policy, policy_arns, packed) = self.session_policies(p, &role_account, &[])?;
        let duration = Self::duration(p, role.record.max_session_duration, false)?;

        let (claims, token_out, secret) = self.issue(
            meta,
            NewSession {
                role: &role,
                session_name: session_name.to_owned(),
                duration,
                source_identity: None,
                policy: policy.clone(),
                policy_arns: policy_arns.clone(),
                tags: Vec::new(),
                transitive: Vec::new(),
                chain_depth: 0,
                web_identity: Some(WebIdentity {
                    provider_arn: provider_arn.clone(),
                    subject: verified.subject.clone(),
                    audience: audience.clone(),
                }),
                identity_context: None,
            },
        );
        let mut w = Writer::new();
        let mut response = self.render_credentials(&mut w, &claims, &token_out, &secret);
        w.elem("SubjectFromWebIdentityToken", &verified.subject);
        w.elem("Audience", &audience);
        w.elem("Provider", &provider_url);
        if policy.is_some() || !policy_arns.is_empty() {
            w.elem("PackedPolicySize", &packed.to_string());
        }
        response["subjectFromWebIdentityToken"] = json!(verified.subject);
        response["audience"] = json!(audience);
        response["provider"] = json!(provider_url);
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: Some(json!({
                    "type": "WebIdentityUser",
                    "principalId": format!("{provider_url}:{audience}:{}", verified.subject),
                    "userName": verified.subject,
                    "identityProvider": provider_url,
                })),
                request_parameters: json!({
                    "roleArn": role_arn, "roleSessionName": session_name, "durationSeconds": duration,
                    "policy": policy, "policyArns": policy_arns,
                }),
                response_elements: response,
                resources: vec![
                    Resource {
                        account_id: Some(role_account.clone()),
                        kind: "AWS::IAM::Role".into(),
                        arn: canonical_arn,
                    },
                    Resource {
                        account_id: Some(role_account),
                        kind: "AWS::IAM::OIDCProvider".into(),
                        arn: provider_arn,
                    },
                ],
                read_only: true,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_oidc::VerifiedToken;
    use tessera_policy::ContextValue;

    fn token(azp: Option<&str>, amr: &[&str]) -> VerifiedToken {
        VerifiedToken {
            issuer: "https://dev-12345678.okta.com/oauth2/default".into(),
            subject: "00u1abcd".into(),
            audiences: vec!["aBc12345dBe6789FgH0".into()],
            matched_audience: Some("aBc12345dBe6789FgH0".into()),
            expires_at: 0,
            issued_at: None,
            not_before: None,
            jti: None,
            amr: amr.iter().map(|s| (*s).to_owned()).collect(),
            authorized_party: azp.map(str::to_owned),
            claims: Default::default(),
        }
    }

    fn value(ctx: &ContextKeys, key: &str) -> Option<Vec<String>> {
        ctx.get(key).map(|vs| {
            vs.iter()
                .map(|v| ContextValue::as_string(v).into_owned())
                .collect()
        })
    }

    #[test]
    fn web_identity_keys_carry_the_provider_path() {
        let p = "dev-12345678.okta.com/oauth2/default";
        let ctx = web_identity_context(p, &token(None, &[]), "aBc12345dBe6789FgH0");
        assert_eq!(
            value(&ctx, &format!("{p}:aud")),
            Some(vec!["aBc12345dBe6789FgH0".to_owned()])
        );
        assert_eq!(
            value(&ctx, &format!("{p}:sub")),
            Some(vec!["00u1abcd".to_owned()])
        );
        assert_eq!(value(&ctx, &format!("{p}:amr")), None);
        assert_eq!(value(&ctx, &format!("{p}:oaud")), None);
        assert_eq!(value(&ctx, &format!("{p}:azp")), None);
        // With an authorized party, :aud is azp and :oaud the token's audience.
        let ctx = web_identity_context(
            p,
            &token(Some("other-client"), &["pwd", "mfa"]),
            "aBc12345dBe6789FgH0",
        );
        assert_eq!(
            value(&ctx, &format!("{p}:aud")),
            Some(vec!["other-client".to_owned()])
        );
        assert_eq!(
            value(&ctx, &format!("{p}:azp")),
            Some(vec!["other-client".to_owned()])
        );
        assert_eq!(
            value(&ctx, &format!("{p}:oaud")),
            Some(vec!["aBc12345dBe6789FgH0".to_owned()])
        );
        assert_eq!(
            value(&ctx, &format!("{p}:amr")),
            Some(vec!["pwd".to_owned(), "mfa".to_owned()])
        );
    }
}
