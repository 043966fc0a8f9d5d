//! OpenID Connect ID-token verification for Tessera.
//!
//! This crate verifies JSON Web Tokens issued by external OpenID Connect providers. Tessera uses it for
//! STS `AssumeRoleWithWebIdentity` now and for Identity Center trusted token issuers later.
//!
//! What it does:
//!
//! * **Discovery**: `{issuer}/.well-known/openid-configuration` is fetched (a trailing `/` on the issuer is
//!   dropped first, as OpenID Connect Discovery 1.0 §4 says). Its `issuer` must equal the configured issuer
//!   exactly and its `jwks_uri` names the key set.
//! * **A JWKS cache per issuer** ([`OidcVerifier`]): keys are reused for [`VerifierConfig::jwks_ttl`] and then
//!   fetched again on the next use; there is no background task. A token whose `kid` is not in the cached
//!   set triggers one refetch (this is how key rotation at the IdP is picked up). At most one fetch per
//!   issuer happens per [`VerifierConfig::refresh_cooldown`], whatever triggered it, so a stream of tokens
//!   with made-up `kid`s cannot make Tessera hammer the IdP. Fetches for one issuer are single-flight.
//! * **All network IO goes through the [`HttpFetch`] port.** [`ReqwestFetch`] is the production
//!   implementation (HTTPS only, plain HTTP to loopback in dev mode, timeouts, a 1 MiB body cap, no
//!   redirects, and only public addresses unless a [`FetchPolicy`] allows more: discovery and
//!   `jwks_uri` can never be pointed at the operator's private network, loopback or a cloud metadata
//!   service, checked on the resolved address actually connected to); [`MemoryFetch`] is an in-memory
//!   implementation for tests.
//!
//! Security rules enforced by [`OidcVerifier::verify`] (RFC 7519, RFC 7515, RFC 8725):
//!
//! * Length cap ([`VerifierConfig::max_token_len`], STS: 20,000 characters).
//! * Compact JWS only: exactly three base64url parts (unpadded, canonical), a JSON-object header and a
//!   JSON-object payload, no duplicate members. JWE (5 parts, or an `enc`/`zip` header), JSON
//!   serialization and `crit` extensions are rejected.
//! * The header `alg` must be in the allow-list, compared exactly and case-sensitively. `none` and the
//!   HMAC algorithms (`HS*`) are never accepted, even if configured, so a public key can never be used
//!   as an HMAC secret (CVE-2015-9235).
//! * Keys come only from the configured issuer's JWKS. The header `jku`, `x5u`, `jwk` and `x5c` are
//!   ignored; `kid` is only a lookup key. A JWK's `alg` (when present) must equal the header `alg`, its
//!   `use` (when present) must be `sig` and its `key_ops` (when present) must contain `verify`. The key
//!   type must fit the algorithm (RSA for `RS*`/`PS*`, P-256 for `ES256`, P-384 for `ES384`, Ed25519
//!   for `EdDSA`). RSA moduli must have at least 2048 bits. Symmetric (`oct`) keys are never used.
//! * The signature is checked with the `aws-lc-rs` backend of `jsonwebtoken` (which also rejects
//!   degenerate ECDSA signatures such as r = s = 0).
//! * `iss` must equal the expected issuer exactly (no normalisation); `aud` (a string or an array of
//!   strings) must contain one of the accepted audiences; `sub` is required.
//! * `exp` is required; `exp`, `nbf` and `iat` must be JSON numbers when present: a wrongly typed time
//!   claim is an error, never ignored. Leeway is at most 60 s. `iat` may not lie further in the future
//!   than the leeway, and `exp` may not lie more than [`VerifierConfig::max_lifetime_secs`] after `iat`
//!   (or after now when there is no `iat`), which also bounds how old an accepted `iat` can be.
//! * The current time is passed in by the caller, so verification is deterministic.
//! * Error messages never echo the token.
//!
//! `issuer` passed to [`OidcVerifier::verify`] must come from Tessera's own configuration (the registered
//! identity provider), never straight from the token: use [`OidcVerifier::unverified_issuer`] only to look
//! the provider up.

mod error;
mod fetch;
mod jwks;
mod token;
mod verifier;

pub use error::OidcError;
pub use fetch::{
    FetchError, FetchPolicy, HttpFetch, MemoryFetch, ReqwestFetch, check_fetch_target,
    check_fetch_url, is_loopback_host, is_restricted,
};
pub use ipnet::IpNet;
pub use verifier::{MAX_LEEWAY_SECS, OidcVerifier, VerifiedToken, VerifierConfig, discovery_url};

/// The signature algorithm type used in [`VerifierConfig::algorithms`] (re-exported from `jsonwebtoken`,
/// so callers need not depend on it directly).
pub use jsonwebtoken::Algorithm;

/// Hard upper bound for any token this crate parses, whatever [`VerifierConfig::max_token_len`] says.
pub const HARD_MAX_TOKEN_LEN: usize = 65_536;
