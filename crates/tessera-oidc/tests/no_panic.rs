//! Property tests: `unverified_issuer` and `verify` never panic, whatever the input.

mod common;

use std::sync::LazyLock;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use tessera_oidc::OidcVerifier;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});

static VERIFIER: LazyLock<OidcVerifier> = LazyLock::new(|| setup().1);

fn check(token: &str, now: i64) {
    let _ = OidcVerifier::unverified_issuer(token);
    let _ = RUNTIME.block_on(VERIFIER.verify(token, ISSUER, &audiences(), now));
    let _ = RUNTIME.block_on(VERIFIER.verify(token, ISSUER, &[], now));
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
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings(s in ".{0,400}", now in any::<i64>()) {
        check(&s, now);
    }

    #[test]
    fn arbitrary_dotted_parts(parts in prop::collection::vec("[A-Za-z0-9_=+/-]{0,60}", 0..7)) {
        check(&parts.join("."), NOW);
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
        check(&token, now);
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
        check(&rs256(&c), now);
    }
}
