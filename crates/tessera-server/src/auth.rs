//! The authentication layer: the one place that reads `Authorization` headers and presigned
//! query parameters. It yields a [`Caller`] or an AWS error for the request's protocol.

use crate::app::App;
use http::request::Parts;
use tessera_authz::credentials::{CachedKey, CachedSession, SigningKeySlot};
use tessera_core::{AccountId, Caller, Principal};
use tessera_crypto::session::SessionError;
use tessera_sigv4::{
    Canonicalization, ParsedAuth, Payload, RequestParts, SigV4Error, VerifyOptions,
};
use tessera_wire::{AwsError, CommonError, Protocol};

/// Allowed clock skew for header-signed requests.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

fn invalid_token(protocol: Protocol) -> AwsError {
    CommonError::InvalidClientToken.to_aws(protocol)
}

pub fn sig_error(e: &SigV4Error, canon: Canonicalization) -> AwsError {
    AwsError::new(e.http_status(), e.aws_error_code(canon), e.to_string())
}

/// Phase 1 only: find the signature data (no secret needed).
pub fn parse(parts: &Parts) -> Result<ParsedAuth, SigV4Error> {
    tessera_sigv4::parse(&RequestParts::from_http_parts(parts))
}

/// One request to authenticate: what it carries and what it may be signed for.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    pub parts: &'a Parts,
    /// The body, or [`Payload::Deferred`] for an S3 body the caller checks while it streams.
    pub payload: Payload<'a>,
    pub auth: &'a ParsedAuth,
    pub canon: Canonicalization,
    /// The credential-scope service names the target service accepts.
    pub services: &'a [&'a str],
    pub now: chrono::DateTime<chrono::Utc>,
    /// The target service's protocol (for errors that are not signature errors).
    pub protocol: Protocol,
}

/// Verify the request's signature and resolve the caller.
pub async fn authenticate(app: &App, r: &AuthRequest<'_>) -> Result<Caller, AwsError> {
    authenticate_keyed(app, r).await.map(|(c, _)| c)
}

/// [`authenticate`], also yielding the request's SigV4 signing key (for verifying the chunk
/// signatures of an `aws-chunked` body that follows).
pub async fn authenticate_keyed(
    app: &App,
    r: &AuthRequest<'_>,
) -> Result<(Caller, [u8; 32]), AwsError> {
    if r.auth.access_key_id.starts_with("ASIA") {
        return authenticate_session(app, r);
    }
    // A long-term key must not carry a session token.
    if r.auth.security_token.is_some() {
        return Err(invalid_token(r.protocol));
    }
    let cache = &app.credentials;
    let key = match cache.key(&r.auth.access_key_id) {
        Some(k) => k,
        None => {
            let key = app
                .store
                .get_access_key(&r.auth.access_key_id)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "store failure while authenticating");
                    crate::pipeline::internal_failure(r.protocol)
                })?
                .filter(|k| k.status == "Active")
                .ok_or_else(|| invalid_token(r.protocol))?;
            let secret = app
                .master
                .open(&key.secret_sealed, key.access_key_id.as_bytes())
                .map_err(|e| {
                    tracing::error!(error = %e, key = %key.access_key_id, "cannot unseal stored secret");
                    invalid_token(r.protocol)
                })?;
            let secret = String::from_utf8(secret).map_err(|_| invalid_token(r.protocol))?;
            cache.remember_key(
                &key.access_key_id,
                CachedKey {
                    account_id: key.account_id,
                    user_name_key: key.user_name_key,
                    secret,
                    signing: SigningKeySlot::default(),
                },
            )
        }
    };
    let signing_key = verify_signature(app, r, &key.secret, &key.signing)?;
    let account = AccountId::parse(&key.account_id).map_err(|_| invalid_token(r.protocol))?;
    let principal = match &key.user_name_key {
        None => Principal::Root,
        Some(name) => {
            // The principal view has every user (updated on each IAM write here); the store is
            // asked only for a user another replica created in the last second.
            let user = match app.principals.user(account.as_str(), name) {
                Some(u) => u.record.clone(),
                None => app
                    .store
                    .get_user(account.as_str(), name)
                    .await
                    .map_err(|_| crate::pipeline::internal_failure(r.protocol))?
                    .ok_or_else(|| invalid_token(r.protocol))?,
            };
            Principal::User {
                name: user.name,
                user_id: user.user_id,
                path: user.path,
            }
        }
    };
    Ok((
        Caller {
            account,
            principal,
            access_key_id: r.auth.access_key_id.clone(),
            session: None,
        },
        signing_key,
    ))
}

/// Check the signature with the signing key derived from `secret` for the request's scope
/// (kept in `slot`, so a client signing one scope all day derives it once).
fn verify_signature(
    app: &App,
    r: &AuthRequest<'_>,
    secret: &str,
    slot: &SigningKeySlot,
) -> Result<[u8; 32], AwsError> {
    // IAM is a global service: SDKs sign it for us-east-1 whatever the configured region.
    let region = if r.services.contains(&"iam") && r.auth.region == "us-east-1" {
        "us-east-1"
    } else {
        app.deployment.region.as_str()
    };
    let opts = VerifyOptions {
        now: r.now,
        region,
        services: r.services,
        canonicalization: r.canon,
        max_skew_secs: MAX_SKEW_SECS,
        payload: r.payload,
    };
    let a = r.auth;
    let key = slot.get_or_derive(&a.scope_date, &a.region, &a.service, || {
        tessera_sigv4::signing_key(secret, &a.scope_date, &a.region, &a.service)
    });
    tessera_sigv4::verify_with_key(&RequestParts::from_http_parts(r.parts), r.auth, &key, &opts)
        .map_err(|e| sig_error(&e, r.canon))?;
    Ok(key)
}

/// Temporary credentials: the session token is opened with the in-memory key ring, bound to
/// the access key id, checked for expiry, and yields the secret to verify the signature with.
/// No store access; a token already opened is taken from the cache, its binding and expiry
/// checked again.
fn authenticate_session(app: &App, r: &AuthRequest<'_>) -> Result<(Caller, [u8; 32]), AwsError> {
    let canon = r.canon;
    let token = r
        .auth
        .security_token
        .as_deref()
        .ok_or_else(|| invalid_token(r.protocol))?;
    let cache = &app.credentials;
    let session = match cache.session(token) {
        Some(s) => {
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                s.claims.access_key_id.as_bytes(),
                r.auth.access_key_id.as_bytes(),
            )) {
                return Err(invalid_token(r.protocol));
            }
            if r.now.timestamp() >= s.claims.expires_at {
                return Err(expired_token(r.protocol));
            }
            s
        }
        None => {
            let (claims, secret) = app
                .ring
                .get()
                .verify(token, &r.auth.access_key_id, r.now.timestamp())
                .map_err(|e| match e {
                    SessionError::Expired => expired_token(r.protocol),
                    _ => invalid_token(r.protocol),
                })?;
            cache.remember_session(
                token,
                CachedSession {
                    claims: std::sync::Arc::new(claims),
                    secret,
                    signing: SigningKeySlot::default(),
                },
            )
        }
    };
    let signing_key = verify_signature(app, r, &session.secret, &session.signing)?;
    let claims = &session.claims;
    // A session that carries a directory user revoked since its token was issued is void
    // (`tessera sessions revoke --user`), checked in memory.
    if let Some(ic) = &claims.identity_context
        && app
            .revocations
            .get()
            .is_revoked(&ic.user_id, ic.token_issued_at)
    {
        return Err(match canon {
            // S3 refuses the revoked credentials outright.
            Canonicalization::S3 => AwsError::new(
                403,
                "AccessDenied",
                "Access Denied: the sessions of the directory user these credentials act for were revoked",
            ),
            Canonicalization::Standard => expired_token(r.protocol),
        });
    }
    let account = AccountId::parse(&claims.account).map_err(|_| invalid_token(r.protocol))?;
    let caller = Caller {
        account,
        principal: Principal::AssumedRole {
            role_name: claims.role_name.clone(),
            role_id: claims.role_id.clone(),
            role_path: claims.role_path.clone(),
            session_name: claims.session_name.clone(),
        },
        access_key_id: r.auth.access_key_id.clone(),
        session: Some(claims.clone()),
    };
    Ok((caller, signing_key))
}

fn expired_token(protocol: Protocol) -> AwsError {
    CommonError::ExpiredToken.to_aws(protocol)
}
