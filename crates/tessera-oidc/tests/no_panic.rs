//! Parser fuzzing for the JWT and JWKS parsers: `unverified_issuer` and `verify` never panic
//! and never hang (nextest's slow-test timeout ends a hung case), whatever the token, the
//! discovery document or the key set; every rejection is a typed [`OidcError`] whose message
//! never echoes the token.

mod common;

use std::sync::LazyLock;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use tessera_oidc::{MemoryFetch, OidcError, OidcVerifier, VerifierConfig, discovery_url};

/// How many cases each fuzz test runs: `TESSERA_FUZZ_CASES`, default 1,000 (the closing notes
/// report runs with 100,000).
fn fuzz_cases() -> u32 {
    std::env::var("TESSERA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

fn typed(token: &str, e: &OidcError) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(!m.is_empty());
    prop_assert!(
        [
            "ExpiredTokenException",
            "IDPCommunicationError",
            "InvalidIdentityToken"
        ]
        .contains(&e.sts_error_code())
    );
    if token.len() >= 24 {
        prop_assert!(!m.contains(token), "the token was echoed: {m}");
    }
    Ok(())
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

static VERIFIER: LazyLock<OidcVerifier> = LazyLock::new(|| setup().1);

fn check(token: &str, now: i64) -> Result<(), TestCaseError> {
    if let Err(e) = OidcVerifier::unverified_issuer(token) {
        typed(token, &e)?;
    }
    for auds in [audiences(), Vec::new()] {
        if let Err(e) = RUNTIME.block_on(VERIFIER.verify(token, ISSUER, &auds, now)) {
            typed(token, &e)?;
        }
    }
    Ok(())
}

/// A JWK with arbitrary (or almost right) members.
fn jwk() -> impl Strategy<Value = serde_json::Value> {
    let field = |good: &'static str| prop_oneof![Just(json!(good)), json_value()];
    (
        prop_oneof![Just(json!("RSA")), Just(json!("EC")), Just(json!("OKP")), Just(json!("oct")), json_value()],
        prop_oneof![Just(json!(RSA_A.kid.clone())), Just(json!(EC_A.kid.clone())), json_value()],
        prop_oneof![Just(json!(b64(&RSA_A.n))), "[A-Za-z0-9_-]{0,400}".prop_map(|s| json!(s)), json_value()],
        prop_oneof![Just(json!(b64(&RSA_A.e))), "[A-Za-z0-9_-]{0,8}".prop_map(|s| json!(s)), json_value()],
        field("P-256"),
        prop_oneof![Just(json!(b64(&EC_A.x))), "[A-Za-z0-9_-]{0,60}".prop_map(|s| json!(s))],
        prop_oneof![Just(json!(b64(&EC_A.y))), "[A-Za-z0-9_-]{0,60}".prop_map(|s| json!(s))],
        field("RS256"),
        field("sig"),
        prop_oneof![Just(json!(["verify"])), json_value()],
        any::<u8>(),
    )
        .prop_map(|(kty, kid, n, e, crv, x, y, alg, use_, ops, drop)| {
            let mut k = json!({"kty": kty, "kid": kid, "n": n, "e": e, "crv": crv, "x": x, "y": y, "alg": alg, "use": use_, "key_ops": ops});
            // Leave some members out.
            for (i, name) in ["n", "e", "crv", "x", "y", "alg", "use", "key_ops"].iter().enumerate() {
                if drop & (1 << i) != 0 {
                    k.as_object_mut().unwrap().remove(*name);
                }
            }
            k
        })
}

/// JSON-ish fragments that exercise claim parsing.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|u| json!(u)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,20}".prop_map(|s| json!(s)),
        Just(json!(ISSUER)),
        Just(json!(AUDIENCE)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::hash_map(".{0,6}", inner, 0..4).prop_map(|m| json!(m)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(s in ".{0,400}", now in any::<i64>()) {
        check(&s, now)?;
    }

    #[test]
    fn arbitrary_dotted_parts(parts in prop::collection::vec("[A-Za-z0-9_=+/-]{0,60}", 0..7)) {
        check(&parts.join("."), NOW)?;
    }

    #[test]
    fn arbitrary_json_parts(
        header in prop::collection::hash_map(
            prop_oneof![Just("alg".to_owned()), Just("kid".to_owned()), Just("crit".to_owned()), ".{0,4}".prop_map(|s| s)],
            json_value(),
            0..4,
        ),
        claims in prop::collection::hash_map(
            prop_oneof![
                Just("iss".to_owned()), Just("sub".to_owned()), Just("aud".to_owned()),
                Just("exp".to_owned()), Just("nbf".to_owned()), Just("iat".to_owned()),
                Just("amr".to_owned()), Just("jti".to_owned())
            ],
            json_value(),
            0..8,
        ),
        sig in prop::collection::vec(any::<u8>(), 0..300),
        now in any::<i64>(),
    ) {
        let token = format!(
            "{}.{}.{}",
            b64(json!(header).to_string().as_bytes()),
            b64(json!(claims).to_string().as_bytes()),
            b64(&sig)
        );
        check(&token, now)?;
    }

    #[test]
    fn validly_signed_tokens_with_arbitrary_claims(
        exp in any::<i64>(),
        iat in proptest::option::of(any::<i64>()),
        nbf in proptest::option::of(any::<i64>()),
        now in any::<i64>(),
    ) {
        let mut c = claims();
        c["exp"] = json!(exp);
        if let Some(iat) = iat { c["iat"] = json!(iat); }
        if let Some(nbf) = nbf { c["nbf"] = json!(nbf); }
        check(&rs256(&c), now)?;
    }

    /// Whatever key set (or discovery document) the identity provider serves, verifying a
    /// well-formed token ends in a verdict, never a panic.
    #[test]
    fn arbitrary_key_sets(
        keys in prop::collection::vec(jwk(), 0..4),
        wrap in prop_oneof![Just(0u8), Just(1u8), Just(2u8), Just(3u8)],
        garbage in prop::collection::vec(any::<u8>(), 0..200),
        discovery in prop_oneof![
            Just(None),
            json_value().prop_map(Some),
        ],
        ec in any::<bool>(),
    ) {
        let fetch = std::sync::Arc::new(MemoryFetch::new());
        serve_idp(&fetch, &[]);
        let body = match wrap {
            0 => json!({ "keys": keys }).to_string().into_bytes(),
            1 => json!(keys).to_string().into_bytes(),
            2 => garbage,
            _ => json!({ "keys": keys, "extra": {"nested": [1, 2, 3]} }).to_string().into_bytes(),
        };
        fetch.set(JWKS_URL, body);
        if let Some(d) = discovery {
            fetch.set(discovery_url(ISSUER), d.to_string());
        }
        let verifier = OidcVerifier::new(fetch, VerifierConfig::default());
        let token = if ec {
            sign_raw(&json!({"alg": "ES256", "kid": EC_A.kid}), &claims(), &EC_A.encoding, jsonwebtoken::Algorithm::ES256)
        } else {
            rs256(&claims())
        };
        match RUNTIME.block_on(verifier.verify(&token, ISSUER, &audiences(), NOW)) {
            Ok(v) => prop_assert_eq!(v.subject, "user-1"),
            Err(e) => typed(&token, &e)?,
        }
    }
}
