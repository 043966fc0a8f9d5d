//! The verifier: configuration, the per-issuer JWKS cache and the checks.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::HARD_MAX_TOKEN_LEN;
use crate::error::{OidcError, sanitize_for_message};
use crate::fetch::HttpFetch;
use crate::jwks::{CachedKey, Lookup, parse_jwks, select};
use crate::token::{
    ParsedToken, numeric_date_claim, parse_compact, parse_strict_object, string_claim,
    string_or_array_claim,
};

/// Largest leeway ever applied, whatever the configuration says.
pub const MAX_LEEWAY_SECS: u64 = 60;

/// Verifier settings. See [`VerifierConfig::default`] for the defaults.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Accepted header `alg` values. Default: RS256, RS384, RS512, ES256, ES384 (the STS list minus ES512,
    /// which the backend lacks). PS256/PS384/PS512 and EdDSA may be added. HMAC algorithms are always
    /// dropped, even if listed.
    pub algorithms: Vec<Algorithm>,
    /// Clock-skew allowance for `exp`, `nbf` and `iat`. Default 60; values above 60 count as 60.
    pub leeway_secs: u64,
    /// Longest accepted token in bytes. Default 20,000 (the STS `WebIdentityToken` limit); never more
    /// than [`HARD_MAX_TOKEN_LEN`].
    pub max_token_len: usize,
    /// How long a fetched JWKS is used before it is fetched again (on the next use). Default 1 h.
    pub jwks_ttl: Duration,
    /// Smallest gap between two fetches for one issuer, whatever triggered them (unknown `kid`, expired
    /// TTL, an earlier failure). Default 60 s.
    pub refresh_cooldown: Duration,
    /// How far in the future `iat` may lie. Default 60; the effective value is at most the leeway.
    pub max_future_iat_secs: u64,
    /// Longest accepted token lifetime: `exp - iat` (or `exp - now` without `iat`). Default 86,400 (24 h);
    /// `u64::MAX` turns the check off. Together with `exp` this also bounds how old an `iat` can be.
    pub max_lifetime_secs: u64,
    /// Require a string `jti` claim (AWS requires one for trusted token issuers). Default false.
    pub require_jti: bool,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::ES256,
                Algorithm::ES384,
            ],
            leeway_secs: 60,
            max_token_len: 20_000,
            jwks_ttl: Duration::from_secs(3600),
            refresh_cooldown: Duration::from_secs(60),
            max_future_iat_secs: 60,
            max_lifetime_secs: 86_400,
            require_jti: false,
        }
    }
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// `iss` (equal to the expected issuer).
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `aud` as a list (empty when absent, which is only possible when no audience was required).
    pub audiences: Vec<String>,
    /// The first of the token's audiences that was accepted; `None` when the audience check was skipped.
    pub matched_audience: Option<String>,
    /// `exp`.
    pub expires_at: i64,
    /// `iat`, if present.
    pub issued_at: Option<i64>,
    /// `nbf`, if present.
    pub not_before: Option<i64>,
    /// `jti`, if present.
    pub jti: Option<String>,
    /// `amr` (an array of strings or a single string), empty if absent.
    pub amr: Vec<String>,
    /// `azp` (the authorized party), if present; a non-string `azp` is rejected.
    pub authorized_party: Option<String>,
    /// All claims, for later mapping (email, groups, …).
    pub claims: Map<String, Value>,
}

/// The discovery URL for an issuer: `{issuer}/.well-known/openid-configuration`, with one trailing `/`
/// of the issuer removed first (OpenID Connect Discovery 1.0 §4).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.strip_suffix('/').unwrap_or(issuer)
    )
}

/// The JWT name of an algorithm, for exact comparison with the header `alg`.
fn alg_name(alg: Algorithm) -> Option<&'static str> {
    Some(match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => return None,
    })
}

fn is_asymmetric(alg: Algorithm) -> bool {
    matches!(
        alg.family(),
        AlgorithmFamily::Rsa | AlgorithmFamily::Ec | AlgorithmFamily::Ed
    )
}

/// The cached state for one issuer.
#[derive(Debug, Default)]
struct IssuerCache {
    keys: Vec<CachedKey>,
    /// When `keys` were fetched (the last successful fetch).
    fetched_at: Option<Instant>,
    /// When the last fetch was attempted, successful or not.
    last_attempt: Option<Instant>,
    /// Did the last attempt fail?
    last_failed: bool,
}

impl IssuerCache {
    fn is_fresh(&self, ttl: Duration) -> bool {
        self.fetched_at
            .is_some_and(|t| Instant::now().saturating_duration_since(t) < ttl)
    }

    fn may_fetch(&self, cooldown: Duration) -> bool {
        self.last_attempt
            .is_none_or(|t| Instant::now().saturating_duration_since(t) >= cooldown)
    }
}

/// Verifies OIDC ID tokens against the issuers' published keys. `Send + Sync`; share it in an `Arc`.
pub struct OidcVerifier {
    fetch: Arc<dyn HttpFetch>,
    config: VerifierConfig,
    issuers: std::sync::Mutex<HashMap<String, Arc<Mutex<IssuerCache>>>>,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.issuers.lock().map(|m| m.len()).unwrap_or_default();
        f.debug_struct("OidcVerifier")
            .field("fetch", &self.fetch)
            .field("config", &self.config)
            .field("cached_issuers", &cached)
            .finish()
    }
}

impl OidcVerifier {
    /// A verifier that fetches through `fetch`. HMAC algorithms are removed from `config.algorithms`, the
    /// leeway is capped at 60 s and `max_token_len` at [`HARD_MAX_TOKEN_LEN`].
    pub fn new(fetch: Arc<dyn HttpFetch>, mut config: VerifierConfig) -> Self {
        let before = config.algorithms.len();
        config.algorithms.retain(|a| is_asymmetric(*a));
        if config.algorithms.len() != before {
            tracing::warn!("tessera-oidc: HMAC algorithms removed from the allow-list");
        }
        config.leeway_secs = config.leeway_secs.min(MAX_LEEWAY_SECS);
        config.max_token_len = config.max_token_len.min(HARD_MAX_TOKEN_LEN);
        OidcVerifier {
            fetch,
            config,
            issuers: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The effective configuration (after the caps applied by [`OidcVerifier::new`]).
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Read `iss` WITHOUT verifying anything, to find which provider to check against. Errors if the token
    /// is not a compact JWS (exactly 3 base64url parts, JSON-object header and payload) or has no string
    /// `iss`. Tokens longer than [`HARD_MAX_TOKEN_LEN`] are rejected.
    pub fn unverified_issuer(token: &str) -> Result<String, OidcError> {
        let parsed = parse_compact(token, HARD_MAX_TOKEN_LEN)?;
        string_claim(&parsed.claims, "iss")?
            .map(str::to_owned)
            .ok_or_else(|| OidcError::MissingClaim("iss".into()))
    }

    /// Drop the cached discovery/JWKS state of `issuer` (for example after its provider was reconfigured).
    /// The next verification fetches again, regardless of the cooldown.
    pub fn forget_issuer(&self, issuer: &str) {
        self.issuers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(issuer);
    }

    /// Verify `token` from `issuer` (the exact expected `iss`, from Tessera's configuration) against the
    /// configured algorithm allow-list. `audiences`: accepted `aud` values; empty skips the audience check
    /// (the caller decides). `now`: the current time in unix seconds.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[String],
        now: i64,
    ) -> Result<VerifiedToken, OidcError> {
        self.verify_with_algorithms(token, issuer, audiences, &self.config.algorithms, now)
            .await
    }

    /// Like [`OidcVerifier::verify`] with a per-issuer algorithm allow-list instead of the configured one.
    /// HMAC algorithms in `algorithms` are ignored.
    pub async fn verify_with_algorithms(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[String],
        algorithms: &[Algorithm],
        now: i64,
    ) -> Result<VerifiedToken, OidcError> {
        let parsed = parse_compact(token, self.config.max_token_len)?;

        // Algorithm: exact, case-sensitive match against the allow-list; never `none` or HMAC.
        let header_alg = parsed.alg();
        let alg = algorithms
            .iter()
            .copied()
            .filter(|a| is_asymmetric(*a))
            .find(|a| alg_name(*a) == Some(header_alg))
            .ok_or_else(|| {
                OidcError::UnsupportedAlgorithm(format!(
                    "{:?}",
                    sanitize_for_message(header_alg, 20)
                ))
            })?;

        // Issuer before any key lookup: a token from another issuer must not cause fetches.
        let token_iss = string_claim(&parsed.claims, "iss")?
            .ok_or_else(|| OidcError::MissingClaim("iss".into()))?;
        if token_iss != issuer {
            return Err(OidcError::WrongIssuer {
                expected: issuer.to_owned(),
                got: sanitize_for_message(token_iss, 200),
            });
        }

        let keys = self.keys_for(issuer, parsed.kid(), alg, header_alg).await?;
        if !verify_signature(&parsed, &keys, alg) {
            return Err(OidcError::BadSignature);
        }

        self.check_claims(parsed.claims, issuer, audiences, now)
    }

    fn check_claims(
        &self,
        claims: Map<String, Value>,
        issuer: &str,
        audiences: &[String],
        now: i64,
    ) -> Result<VerifiedToken, OidcError> {
        // Types first: a wrongly typed claim is an error, never ignored.
        let subject =
            string_claim(&claims, "sub")?.ok_or_else(|| OidcError::MissingClaim("sub".into()))?;
        if subject.is_empty() {
            return Err(OidcError::malformed("claim sub is empty"));
        }
        let subject = subject.to_owned();
        let token_audiences = string_or_array_claim(&claims, "aud")?;
        let expires_at = numeric_date_claim(&claims, "exp")?
            .ok_or_else(|| OidcError::MissingClaim("exp".into()))?;
        let not_before = numeric_date_claim(&claims, "nbf")?;
        let issued_at = numeric_date_claim(&claims, "iat")?;
        let jti = string_claim(&claims, "jti")?.map(str::to_owned);
        if self.config.require_jti && jti.is_none() {
            return Err(OidcError::MissingClaim("jti".into()));
        }
        let amr = string_or_array_claim(&claims, "amr")?.unwrap_or_default();
        let authorized_party = string_claim(&claims, "azp")?.map(str::to_owned);

        // Times, in i128 so that no claim value can overflow.
        let now = i128::from(now);
        let leeway = i128::from(self.config.leeway_secs.min(MAX_LEEWAY_SECS));
        if i128::from(expires_at) + leeway < now {
            return Err(OidcError::Expired);
        }
        if let Some(nbf) = not_before
            && i128::from(nbf) - leeway > now
        {
            return Err(OidcError::NotYetValid);
        }
        if let Some(iat) = issued_at {
            let future = leeway.min(i128::from(self.config.max_future_iat_secs));
            if i128::from(iat) - future > now {
                return Err(OidcError::NotYetValid);
            }
        }
        let lifetime_from = issued_at.map_or(now, i128::from);
        if i128::from(expires_at) - lifetime_from > i128::from(self.config.max_lifetime_secs) {
            return Err(OidcError::malformed(format!(
                "token lifetime exceeds {} seconds",
                self.config.max_lifetime_secs
            )));
        }

        // Audience.
        let token_audiences = match token_audiences {
            Some(a) => a,
            None if audiences.is_empty() => Vec::new(),
            None => return Err(OidcError::MissingClaim("aud".into())),
        };
        let matched_audience = if audiences.is_empty() {
            None
        } else {
            Some(
                token_audiences
                    .iter()
                    .find(|a| audiences.contains(a))
                    .cloned()
                    .ok_or(OidcError::AudienceMismatch)?,
            )
        };

        Ok(VerifiedToken {
            issuer: issuer.to_owned(),
            subject,
            audiences: token_audiences,
            matched_audience,
            expires_at,
            issued_at,
            not_before,
            jti,
            amr,
            authorized_party,
            claims,
        })
    }

    fn issuer_entry(&self, issuer: &str) -> Arc<Mutex<IssuerCache>> {
        let mut map = self.issuers.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(issuer.to_owned()).or_default().clone()
    }

    /// Find the key(s) for a token, fetching discovery and JWKS as the cache rules allow. Holding the
    /// issuer's lock across the fetch makes fetches single-flight per issuer.
    async fn keys_for(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Algorithm,
        alg_name: &str,
    ) -> Result<Vec<DecodingKey>, OidcError> {
        let entry = self.issuer_entry(issuer);
        let mut cache = entry.lock().await;
        let mut fetched = false;
        if !cache.is_fresh(self.config.jwks_ttl) {
            if cache.may_fetch(self.config.refresh_cooldown) {
                self.refresh(issuer, &mut cache).await?;
                fetched = true;
            } else if cache.last_failed || cache.fetched_at.is_none() {
                return Err(OidcError::Fetch(
                    "the identity provider's keys are not available; the last fetch failed recently"
                        .into(),
                ));
            }
            // Otherwise the TTL is shorter than the cooldown: keep the keys of the last (successful)
            // fetch until the cooldown allows another one.
        }
        match select(&cache.keys, kid, alg, alg_name) {
            Lookup::Found(keys) => return Ok(keys),
            Lookup::Unusable(reason) => return Err(OidcError::UnknownKey(reason)),
            Lookup::NotFound if fetched => return Err(not_found(kid)),
            Lookup::NotFound => {}
        }
        // Unknown kid: one refetch, unless one happened within the cooldown.
        if !cache.may_fetch(self.config.refresh_cooldown) {
            return Err(OidcError::UnknownKey(format!(
                "{}; keys were fetched less than {} s ago",
                not_found_reason(kid),
                self.config.refresh_cooldown.as_secs()
            )));
        }
        self.refresh(issuer, &mut cache).await?;
        match select(&cache.keys, kid, alg, alg_name) {
            Lookup::Found(keys) => Ok(keys),
            Lookup::Unusable(reason) => Err(OidcError::UnknownKey(reason)),
            Lookup::NotFound => Err(not_found(kid)),
        }
    }

    /// Fetch discovery and JWKS for `issuer` into `cache`. On failure the old keys stay as they were.
    async fn refresh(&self, issuer: &str, cache: &mut IssuerCache) -> Result<(), OidcError> {
        cache.last_attempt = Some(Instant::now());
        match self.fetch_keys(issuer).await {
            Ok(keys) => {
                tracing::debug!(issuer, keys = keys.len(), "fetched JWKS");
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
                cache.last_failed = false;
                Ok(())
            }
            Err(e) => {
                cache.last_failed = true;
                tracing::warn!(issuer, error = %e, "could not fetch the identity provider's keys");
                Err(e)
            }
        }
    }

    async fn fetch_keys(&self, issuer: &str) -> Result<Vec<CachedKey>, OidcError> {
        let body = self
            .fetch
            .get(&discovery_url(issuer))
            .await
            .map_err(|e| OidcError::Fetch(format!("discovery document: {e}")))?;
        let doc = parse_strict_object(&body, "discovery document").map_err(OidcError::Fetch)?;
        match doc.get("issuer") {
            Some(Value::String(s)) if s == issuer => {}
            Some(Value::String(_)) => {
                return Err(OidcError::Fetch(
                    "discovery document issuer does not match the configured issuer".into(),
                ));
            }
            _ => {
                return Err(OidcError::Fetch(
                    "discovery document has no issuer string".into(),
                ));
            }
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| OidcError::Fetch("discovery document has no jwks_uri string".into()))?;
        let body = self
            .fetch
            .get(jwks_uri)
            .await
            .map_err(|e| OidcError::Fetch(format!("JWKS: {e}")))?;
        parse_jwks(&body).map_err(OidcError::Fetch)
    }
}

fn not_found_reason(kid: Option<&str>) -> String {
    match kid {
        Some(kid) => format!(
            "no key with kid {:?} in the issuer's JWKS",
            sanitize_for_message(kid, 64)
        ),
        None => "the token has no kid and no key of its type is in the issuer's JWKS".into(),
    }
}

fn not_found(kid: Option<&str>) -> OidcError {
    OidcError::UnknownKey(not_found_reason(kid))
}

/// Check the signature with the aws-lc-rs backend, called directly so that the process-wide
/// `jsonwebtoken` provider (which another crate could set) does not matter.
fn verify_signature(parsed: &ParsedToken<'_>, keys: &[DecodingKey], alg: Algorithm) -> bool {
    keys.iter().any(|key| {
        (DEFAULT_PROVIDER.verifier_factory)(&alg, key).is_ok_and(|verifier| {
            verifier
                .verify(parsed.signing_input.as_bytes(), &parsed.signature)
                .is_ok()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_urls() {
        assert_eq!(
            discovery_url("https://idp.example.com"),
            "https://idp.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://idp.example.com/realms/x/"),
            "https://idp.example.com/realms/x/.well-known/openid-configuration"
        );
    }

    #[test]
    fn config_is_sanitised() {
        let fetch = Arc::new(crate::MemoryFetch::new());
        let v = OidcVerifier::new(
            fetch,
            VerifierConfig {
                algorithms: vec![Algorithm::HS256, Algorithm::RS256, Algorithm::HS512],
                leeway_secs: 3600,
                max_token_len: usize::MAX,
                ..VerifierConfig::default()
            },
        );
        assert_eq!(v.config().algorithms, vec![Algorithm::RS256]);
        assert_eq!(v.config().leeway_secs, 60);
        assert_eq!(v.config().max_token_len, HARD_MAX_TOKEN_LEN);
    }

    #[test]
    fn alg_names_round_trip() {
        for a in [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::HS256,
        ] {
            let name = alg_name(a).unwrap();
            assert_eq!(name.parse::<Algorithm>().unwrap(), a);
        }
    }

    #[test]
    fn verifier_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<OidcVerifier>();
        assert_send_sync::<VerifiedToken>();
    }
}
