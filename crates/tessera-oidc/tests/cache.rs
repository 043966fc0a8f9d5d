//! The per-issuer JWKS cache: refetch on unknown kid, cooldown, TTL, rotation, failures.
//! Tokio's clock is paused, so the cache's notion of time moves only with `tokio::time::advance`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tessera_oidc::{FetchError, OidcError, OidcVerifier, VerifierConfig, discovery_url};
use tokio::time::advance;

fn token_with_kid(kid: &str) -> String {
    sign_raw(
        &json!({"alg": "RS256", "kid": kid}),
        &claims(),
        &RSA_A.encoding,
        Algorithm::RS256,
    )
}

fn rsa_b_token() -> String {
    sign_raw(
        &json!({"alg": "RS256", "kid": RSA_B.kid}),
        &claims(),
        &RSA_B.encoding,
        Algorithm::RS256,
    )
}

#[tokio::test(start_paused = true)]
async fn keys_are_cached() {
    let (fetch, verifier) = setup();
    for _ in 0..5 {
        verifier
            .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
            .await
            .unwrap();
    }
    assert_eq!(fetch.calls(&discovery_url(ISSUER)), 1);
    assert_eq!(fetch.calls(JWKS_URL), 1);
}

#[tokio::test(start_paused = true)]
async fn unknown_kid_refetches_once_then_cooldown_applies() {
    let (fetch, verifier) = setup();
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 1);

    // Cooldown counts from the last fetch: wait it out so the first unknown kid may refetch.
    advance(Duration::from_secs(61)).await;

    // Unknown kid: exactly one refetch.
    let err = verifier
        .verify(&token_with_kid("unknown-1"), ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::UnknownKey(_)), "{err:?}");
    assert_eq!(fetch.calls(JWKS_URL), 2);
    assert_eq!(fetch.calls(&discovery_url(ISSUER)), 2);

    // A second unknown kid within the cooldown: no refetch.
    advance(Duration::from_secs(30)).await;
    let err = verifier
        .verify(&token_with_kid("unknown-2"), ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::UnknownKey(m) if m.contains("less than")),
        "{err:?}"
    );
    assert_eq!(fetch.calls(JWKS_URL), 2);

    // Known keys keep working meanwhile.
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 2);

    // After the cooldown, an unknown kid refetches again.
    advance(Duration::from_secs(31)).await;
    assert!(matches!(
        verifier
            .verify(&token_with_kid("unknown-3"), ISSUER, &audiences(), NOW)
            .await,
        Err(OidcError::UnknownKey(_))
    ));
    assert_eq!(fetch.calls(JWKS_URL), 3);
}

#[tokio::test(start_paused = true)]
async fn first_fetch_with_unknown_kid_does_not_fetch_twice() {
    let (fetch, verifier) = setup();
    assert!(matches!(
        verifier
            .verify(&token_with_kid("nope"), ISSUER, &audiences(), NOW)
            .await,
        Err(OidcError::UnknownKey(_))
    ));
    assert_eq!(fetch.calls(JWKS_URL), 1);
}

#[tokio::test(start_paused = true)]
async fn ttl_expiry_refetches() {
    let (fetch, verifier) = setup();
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    advance(Duration::from_secs(3599)).await;
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 1);
    advance(Duration::from_secs(2)).await;
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 2);
    assert_eq!(fetch.calls(&discovery_url(ISSUER)), 2);
}

#[tokio::test(start_paused = true)]
async fn removed_key_stops_working_after_ttl() {
    let (fetch, verifier) = setup();
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    set_jwks(&fetch, &[RSA_B.jwk()]);
    // Still cached.
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    advance(Duration::from_secs(3601)).await;
    assert!(matches!(
        verifier
            .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
            .await,
        Err(OidcError::UnknownKey(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn key_rotation_is_picked_up() {
    let (fetch, verifier) = setup();
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    advance(Duration::from_secs(120)).await;
    // The IdP rotates: new key rsa-b is published (old one kept for overlap).
    set_jwks(&fetch, &[RSA_B.jwk(), RSA_A.jwk()]);
    let v = verifier
        .verify(&rsa_b_token(), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(v.subject, "user-1");
    assert_eq!(fetch.calls(JWKS_URL), 2);
    // Both keys now work without more fetches.
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    verifier
        .verify(&rsa_b_token(), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 2);
}

#[tokio::test(start_paused = true)]
async fn rotation_within_cooldown_waits_for_cooldown() {
    let (fetch, verifier) = setup();
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    set_jwks(&fetch, &[RSA_B.jwk()]);
    advance(Duration::from_secs(10)).await;
    assert!(matches!(
        verifier
            .verify(&rsa_b_token(), ISSUER, &audiences(), NOW)
            .await,
        Err(OidcError::UnknownKey(_))
    ));
    assert_eq!(fetch.calls(JWKS_URL), 1);
    advance(Duration::from_secs(60)).await;
    verifier
        .verify(&rsa_b_token(), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 2);
}

#[tokio::test(start_paused = true)]
async fn fetch_failures_are_idp_communication_errors_and_respect_cooldown() {
    let (fetch, verifier) = setup();
    fetch.set_error(discovery_url(ISSUER), FetchError::Timeout);
    let err = verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::Fetch(m) if m.contains("timed out")),
        "{err:?}"
    );
    assert_eq!(err.sts_error_code(), "IDPCommunicationError");
    assert_eq!(fetch.calls(&discovery_url(ISSUER)), 1);

    // Within the cooldown: no new attempt.
    serve_idp(&fetch, &[RSA_A.jwk()]);
    advance(Duration::from_secs(5)).await;
    assert!(matches!(
        verifier
            .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
            .await,
        Err(OidcError::Fetch(_))
    ));
    assert_eq!(fetch.calls(&discovery_url(ISSUER)), 1);

    // After it: recovered.
    advance(Duration::from_secs(60)).await;
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(&discovery_url(ISSUER)), 2);
}

#[tokio::test(start_paused = true)]
async fn failed_refetch_keeps_fresh_keys() {
    let (fetch, verifier) = setup();
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    advance(Duration::from_secs(61)).await;
    fetch.set_error(JWKS_URL, FetchError::Status(503));
    assert!(matches!(
        verifier
            .verify(&token_with_kid("unknown"), ISSUER, &audiences(), NOW)
            .await,
        Err(OidcError::Fetch(_))
    ));
    // The keys fetched before are still within their TTL and keep working.
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn bad_documents_are_fetch_errors() {
    for (discovery, jwks) in [
        ("not json", r#"{"keys": []}"#),
        (
            r#"{"jwks_uri": "https://idp.example.com/jwks"}"#,
            r#"{"keys": []}"#,
        ),
        (
            r#"{"issuer": "https://idp.example.com"}"#,
            r#"{"keys": []}"#,
        ),
        (
            r#"{"issuer": "https://idp.example.com", "jwks_uri": "https://idp.example.com/jwks"}"#,
            r#"{"nokeys": []}"#,
        ),
        (
            r#"{"issuer": "https://idp.example.com", "jwks_uri": "https://idp.example.com/jwks"}"#,
            "[1,2,3]",
        ),
    ] {
        let fetch = Arc::new(tessera_oidc::MemoryFetch::new());
        fetch.set(discovery_url(ISSUER), discovery);
        fetch.set(JWKS_URL, jwks);
        let verifier = OidcVerifier::new(fetch, VerifierConfig::default());
        let err = verifier
            .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, OidcError::Fetch(_)),
            "{discovery} {jwks}: {err:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn issuers_are_cached_separately() {
    let other = "https://other.example.com";
    let other_jwks = "https://other.example.com/keys";
    let (fetch, verifier) = setup();
    fetch.set(
        discovery_url(other),
        json!({"issuer": other, "jwks_uri": other_jwks}).to_string(),
    );
    fetch.set(other_jwks, json!({"keys": [RSA_B.jwk()]}).to_string());
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    let mut c = claims();
    c["iss"] = json!(other);
    let token = sign_raw(
        &json!({"alg": "RS256", "kid": RSA_B.kid}),
        &c,
        &RSA_B.encoding,
        Algorithm::RS256,
    );
    verifier
        .verify(&token, other, &audiences(), NOW)
        .await
        .unwrap();
    // RSA_A's token is not accepted for the other issuer even with its iss changed.
    let mut c = claims();
    c["iss"] = json!(other);
    assert!(
        verifier
            .verify(&rs256(&c), other, &audiences(), NOW)
            .await
            .is_err()
    );
    assert_eq!(fetch.calls(JWKS_URL), 1);

    // forget_issuer drops the cache (and the cooldown) for one issuer.
    verifier.forget_issuer(ISSUER);
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_first_use_fetches_once() {
    let (fetch, verifier) = setup();
    let verifier = Arc::new(verifier);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let v = verifier.clone();
        tasks.push(tokio::spawn(async move {
            v.verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
                .await
                .map(|t| t.subject)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "user-1");
    }
    assert_eq!(fetch.calls(JWKS_URL), 1);
}

#[tokio::test(start_paused = true)]
async fn ttl_shorter_than_cooldown_keeps_serving_keys() {
    let (fetch, verifier) = setup_with(
        &[RSA_A.jwk()],
        VerifierConfig {
            jwks_ttl: Duration::from_secs(10),
            refresh_cooldown: Duration::from_secs(60),
            ..VerifierConfig::default()
        },
    );
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    advance(Duration::from_secs(20)).await;
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 1);
    advance(Duration::from_secs(50)).await;
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls(JWKS_URL), 2);
}
