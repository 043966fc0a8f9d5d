//! Token verification with real RSA-2048 and P-256 keys against a fake IdP.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tessera_oidc::{OidcError, OidcVerifier, VerifierConfig};

#[tokio::test]
async fn valid_rs256_token_via_jsonwebtoken_encode() {
    let (_, verifier) = setup();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(RSA_A.kid.clone());
    let token = jsonwebtoken::encode(&header, &claims(), &RSA_A.encoding).unwrap();
    let v = verifier
        .verify(&token, ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(v.issuer, ISSUER);
    assert_eq!(v.subject, "user-1");
    assert_eq!(v.audiences, vec![AUDIENCE.to_owned()]);
    assert_eq!(v.matched_audience.as_deref(), Some(AUDIENCE));
    assert_eq!(v.expires_at, NOW + 3600);
    assert_eq!(v.issued_at, Some(NOW - 10));
    assert_eq!(v.not_before, None);
    assert_eq!(v.jti.as_deref(), Some("jti-1"));
    assert!(v.amr.is_empty());
    assert_eq!(v.claims["email"], json!("user@example.com"));
}

#[tokio::test]
async fn valid_es256_token() {
    let (_, verifier) = setup();
    let mut c = claims();
    c["aud"] = json!(["other", AUDIENCE]);
    c["amr"] = json!(["pwd", "mfa"]);
    c["nbf"] = json!(NOW - 5);
    let token = sign_raw(
        &json!({"alg": "ES256", "kid": EC_A.kid}),
        &c,
        &EC_A.encoding,
        Algorithm::ES256,
    );
    let v = verifier
        .verify(&token, ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(v.audiences, vec!["other".to_owned(), AUDIENCE.to_owned()]);
    assert_eq!(v.matched_audience.as_deref(), Some(AUDIENCE));
    assert_eq!(v.amr, vec!["pwd".to_owned(), "mfa".to_owned()]);
    assert_eq!(v.not_before, Some(NOW - 5));
}

#[tokio::test]
async fn rs384_and_rs512_with_unpinned_jwk() {
    let (_, verifier) = setup_with(&[RSA_A.jwk_without_alg()], VerifierConfig::default());
    for (alg, name) in [(Algorithm::RS384, "RS384"), (Algorithm::RS512, "RS512")] {
        let token = sign_raw(
            &json!({"alg": name, "kid": RSA_A.kid}),
            &claims(),
            &RSA_A.encoding,
            alg,
        );
        verifier
            .verify(&token, ISSUER, &audiences(), NOW)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn ps256_only_when_allowed() {
    let token = sign_raw(
        &json!({"alg": "PS256", "kid": RSA_A.kid}),
        &claims(),
        &RSA_A.encoding,
        Algorithm::PS256,
    );
    let (_, verifier) = setup_with(&[RSA_A.jwk_without_alg()], VerifierConfig::default());
    assert!(matches!(
        verifier.verify(&token, ISSUER, &audiences(), NOW).await,
        Err(OidcError::UnsupportedAlgorithm(_))
    ));
    // Per-issuer allow-list.
    verifier
        .verify_with_algorithms(&token, ISSUER, &audiences(), &[Algorithm::PS256], NOW)
        .await
        .unwrap();
    // And the other way round: RS256 is refused when the issuer's list has PS256 only.
    let rs = sign_raw(
        &json!({"alg": "RS256", "kid": RSA_A.kid}),
        &claims(),
        &RSA_A.encoding,
        Algorithm::RS256,
    );
    assert!(matches!(
        verifier
            .verify_with_algorithms(&rs, ISSUER, &audiences(), &[Algorithm::PS256], NOW)
            .await,
        Err(OidcError::UnsupportedAlgorithm(_))
    ));
}

#[tokio::test]
async fn jwk_alg_pins_the_algorithm() {
    // RSA_A.jwk() says alg RS256; an RS512 signature by the same key is refused.
    let (_, verifier) = setup();
    let token = sign_raw(
        &json!({"alg": "RS512", "kid": RSA_A.kid}),
        &claims(),
        &RSA_A.encoding,
        Algorithm::RS512,
    );
    assert!(matches!(
        verifier.verify(&token, ISSUER, &audiences(), NOW).await,
        Err(OidcError::UnknownKey(_))
    ));
}

#[tokio::test]
async fn wrong_audience() {
    let (_, verifier) = setup();
    let token = rs256(&claims());
    let err = verifier
        .verify(&token, ISSUER, &["someone-else".to_owned()], NOW)
        .await
        .unwrap_err();
    assert_eq!(err, OidcError::AudienceMismatch);
    assert_eq!(err.sts_error_code(), "InvalidIdentityToken");

    let mut c = claims();
    c["aud"] = json!([]);
    assert_eq!(
        verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::AudienceMismatch
    );
}

#[tokio::test]
async fn audience_check_skipped_when_no_audiences_given() {
    let (_, verifier) = setup();
    let v = verifier
        .verify(&rs256(&claims()), ISSUER, &[], NOW)
        .await
        .unwrap();
    assert_eq!(v.matched_audience, None);
    assert_eq!(v.audiences, vec![AUDIENCE.to_owned()]);

    let mut c = claims();
    c.as_object_mut().unwrap().remove("aud");
    let v = verifier.verify(&rs256(&c), ISSUER, &[], NOW).await.unwrap();
    assert!(v.audiences.is_empty());
    // But a missing aud fails when an audience is required.
    assert_eq!(
        verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::MissingClaim("aud".into())
    );
}

#[tokio::test]
async fn expiry_and_leeway() {
    let (_, verifier) = setup();
    // Expired 30 s ago: within the 60 s leeway, accepted.
    let mut c = claims();
    c["exp"] = json!(NOW - 30);
    c["iat"] = json!(NOW - 3000);
    verifier
        .verify(&rs256(&c), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    // Exactly at the edge of the leeway: accepted.
    c["exp"] = json!(NOW - 60);
    verifier
        .verify(&rs256(&c), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    // Beyond the leeway: expired.
    c["exp"] = json!(NOW - 61);
    let err = verifier
        .verify(&rs256(&c), ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert_eq!(err, OidcError::Expired);
    assert_eq!(err.sts_error_code(), "ExpiredTokenException");
}

#[tokio::test]
async fn leeway_is_capped_at_60_seconds() {
    let (_, verifier) = setup_with(
        &[RSA_A.jwk()],
        VerifierConfig {
            leeway_secs: 10_000,
            ..VerifierConfig::default()
        },
    );
    let mut c = claims();
    c["exp"] = json!(NOW - 120);
    c["iat"] = json!(NOW - 3000);
    assert_eq!(
        verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::Expired
    );
}

#[tokio::test]
async fn not_before_and_issued_at_in_the_future() {
    let (_, verifier) = setup();
    let mut c = claims();
    c["nbf"] = json!(NOW + 600);
    assert_eq!(
        verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::NotYetValid
    );
    let mut c = claims();
    c["nbf"] = json!(NOW + 30); // within leeway
    verifier
        .verify(&rs256(&c), ISSUER, &audiences(), NOW)
        .await
        .unwrap();

    let mut c = claims();
    c["iat"] = json!(NOW + 600);
    assert_eq!(
        verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::NotYetValid
    );
    c["iat"] = json!(NOW + 30); // within leeway
    verifier
        .verify(&rs256(&c), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
}

#[tokio::test]
async fn lifetime_too_long() {
    let (_, verifier) = setup();
    let mut c = claims();
    c["iat"] = json!(NOW);
    c["exp"] = json!(NOW + 86_400 + 1);
    assert!(matches!(
        verifier.verify(&rs256(&c), ISSUER, &audiences(), NOW).await,
        Err(OidcError::Malformed(m)) if m.contains("lifetime")
    ));
    // Without iat the lifetime counts from now.
    c.as_object_mut().unwrap().remove("iat");
    assert!(matches!(
        verifier.verify(&rs256(&c), ISSUER, &audiences(), NOW).await,
        Err(OidcError::Malformed(_))
    ));
    c["exp"] = json!(NOW + 86_400);
    verifier
        .verify(&rs256(&c), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_issuer_does_not_fetch() {
    let (fetch, verifier) = setup();
    let mut c = claims();
    c["iss"] = json!("https://evil.example.com");
    let err = verifier
        .verify(&rs256(&c), ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OidcError::WrongIssuer {
            expected: ISSUER.into(),
            got: "https://evil.example.com".into()
        }
    );
    assert_eq!(fetch.total_calls(), 0);
    // No normalisation: a trailing slash is a different issuer.
    c["iss"] = json!(format!("{ISSUER}/"));
    assert!(matches!(
        verifier.verify(&rs256(&c), ISSUER, &audiences(), NOW).await,
        Err(OidcError::WrongIssuer { .. })
    ));
}

#[tokio::test]
async fn discovery_issuer_mismatch() {
    let (fetch, verifier) = setup();
    fetch.set(
        tessera_oidc::discovery_url(ISSUER),
        json!({"issuer": "https://other.example.com", "jwks_uri": JWKS_URL}).to_string(),
    );
    let err = verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::Fetch(m) if m.contains("issuer")),
        "{err}"
    );
    assert_eq!(err.sts_error_code(), "IDPCommunicationError");
    assert_eq!(fetch.calls(JWKS_URL), 0);
}

#[tokio::test]
async fn tampered_payload_and_signature() {
    let (_, verifier) = setup();
    let token = rs256(&claims());
    let mut c = claims();
    c["sub"] = json!("admin");
    assert_eq!(
        verifier
            .verify(&with_payload(&token, &c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::BadSignature
    );

    // Flip one bit in the signature.
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    raw[10] ^= 1;
    let tampered = format!("{head}.{}", b64(&raw));
    assert_eq!(
        verifier
            .verify(&tampered, ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::BadSignature
    );
    // Truncated signature.
    let truncated = format!("{head}.{}", b64(&raw[..100]));
    assert_eq!(
        verifier
            .verify(&truncated, ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::BadSignature
    );
}

#[tokio::test]
async fn signature_by_another_key_with_the_same_kid() {
    let (_, verifier) = setup();
    let forged = sign_raw(
        &json!({"alg": "RS256", "kid": RSA_A.kid}),
        &claims(),
        &RSA_B.encoding,
        Algorithm::RS256,
    );
    assert_eq!(
        verifier
            .verify(&forged, ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::BadSignature
    );
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let (fetch, verifier) = setup();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = json!({"alg": alg, "kid": RSA_A.kid});
        let token = format!(
            "{}.{}.",
            b64(h.to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        assert!(matches!(
            verifier.verify(&token, ISSUER, &audiences(), NOW).await,
            Err(OidcError::Malformed(_) | OidcError::UnsupportedAlgorithm(_))
        ));
        // Even with some signature bytes attached.
        let token = format!("{token}AAAA");
        assert!(matches!(
            verifier.verify(&token, ISSUER, &audiences(), NOW).await,
            Err(OidcError::UnsupportedAlgorithm(_))
        ));
    }
    assert_eq!(fetch.total_calls(), 0);
}

#[tokio::test]
async fn hs256_with_the_rsa_public_key_as_secret_is_rejected() {
    // CVE-2015-9235: an attacker signs with HMAC using the published public key as the secret.
    let (_, verifier) = setup();
    for secret in [
        RSA_A.n.clone(),
        RSA_A.jwk().to_string().into_bytes(),
        common::b64(&RSA_A.n).into_bytes(),
    ] {
        let token = sign_raw(
            &json!({"alg": "HS256", "kid": RSA_A.kid}),
            &claims(),
            &EncodingKey::from_secret(&secret),
            Algorithm::HS256,
        );
        assert!(matches!(
            verifier.verify(&token, ISSUER, &audiences(), NOW).await,
            Err(OidcError::UnsupportedAlgorithm(_))
        ));
    }
    // Even if someone puts HS256 into the allow-list.
    let (_, verifier) = setup_with(
        &[RSA_A.jwk()],
        VerifierConfig {
            algorithms: vec![Algorithm::HS256, Algorithm::RS256],
            ..VerifierConfig::default()
        },
    );
    let token = sign_raw(
        &json!({"alg": "HS256", "kid": RSA_A.kid}),
        &claims(),
        &EncodingKey::from_secret(&RSA_A.n),
        Algorithm::HS256,
    );
    assert!(matches!(
        verifier.verify(&token, ISSUER, &audiences(), NOW).await,
        Err(OidcError::UnsupportedAlgorithm(_))
    ));
    assert!(matches!(
        verifier
            .verify_with_algorithms(&token, ISSUER, &audiences(), &[Algorithm::HS256], NOW)
            .await,
        Err(OidcError::UnsupportedAlgorithm(_))
    ));
}

#[tokio::test]
async fn ecdsa_zero_signature_is_rejected() {
    let (_, verifier) = setup();
    let h = json!({"alg": "ES256", "kid": EC_A.kid});
    let token = format!(
        "{}.{}.{}",
        b64(h.to_string().as_bytes()),
        b64(claims().to_string().as_bytes()),
        b64(&[0u8; 64])
    );
    assert_eq!(
        verifier
            .verify(&token, ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::BadSignature
    );
    // r = s = n would be as bad; also a DER-encoded signature instead of the fixed form.
    let valid = sign_raw(&h, &claims(), &EC_A.encoding, Algorithm::ES256);
    let sig = valid.rsplit('.').next().unwrap();
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
            .unwrap()
            .len(),
        64
    );
    verifier
        .verify(&valid, ISSUER, &audiences(), NOW)
        .await
        .unwrap();
}

#[tokio::test]
async fn rsa_1024_key_in_jwks_is_rejected() {
    // A 1024-bit modulus published under the token's kid. aws-lc-rs will not even generate such a key,
    // so the JWK carries a made-up 1024-bit modulus; the size check alone must reject it.
    let mut n = vec![0xd3u8; 128];
    n[127] |= 1;
    let weak = json!({"kty": "RSA", "kid": "weak", "n": b64(&n), "e": "AQAB"});
    let (fetch, verifier) = setup_with(&[weak, RSA_A.jwk()], VerifierConfig::default());
    let token = sign_raw(
        &json!({"alg": "RS256", "kid": "weak"}),
        &claims(),
        &RSA_A.encoding,
        Algorithm::RS256,
    );
    let err = verifier
        .verify(&token, ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OidcError::UnknownKey(m) if m.contains("2048")),
        "{err}"
    );
    // The weak key is known, so no refetch happened.
    assert_eq!(fetch.calls(JWKS_URL), 1);
}

#[tokio::test]
async fn exp_as_string_is_malformed() {
    let (_, verifier) = setup();
    for (claim, value) in [
        ("exp", json!("1750003600")),
        ("exp", json!(null)),
        ("exp", json!(true)),
        ("exp", json!([NOW + 10])),
        ("nbf", json!("0")),
        ("iat", json!("0")),
        ("iat", json!({})),
        ("sub", json!(42)),
        ("aud", json!(42)),
        ("aud", json!([AUDIENCE, 7])),
        ("jti", json!(1)),
        ("amr", json!([1])),
        ("iss", json!([ISSUER])),
    ] {
        let mut c = claims();
        c[claim] = value.clone();
        let err = verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(err, OidcError::Malformed(_)),
            "{claim}={value}: {err:?}"
        );
    }
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::MissingClaim("exp".into())
    );
    let mut c = claims();
    c.as_object_mut().unwrap().remove("sub");
    assert_eq!(
        verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::MissingClaim("sub".into())
    );
    // amr as a single string is fine; fractional times are rounded down.
    let mut c = claims();
    c["amr"] = json!("pwd");
    c["exp"] = json!((NOW + 100) as f64 + 0.5);
    let v = verifier
        .verify(&rs256(&c), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(v.amr, vec!["pwd".to_owned()]);
    assert_eq!(v.expires_at, NOW + 100);
}

#[tokio::test]
async fn jwe_and_other_shapes_are_malformed() {
    let (fetch, verifier) = setup();
    let jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn";
    assert!(matches!(
        verifier.verify(jwe, ISSUER, &audiences(), NOW).await,
        Err(OidcError::Malformed(m)) if m.contains("JWE")
    ));
    assert!(matches!(
        OidcVerifier::unverified_issuer(jwe),
        Err(OidcError::Malformed(_))
    ));
    let token = rs256(&claims());
    for bad in [
        format!("{token}.x"),
        token.replacen('.', "", 1),
        format!("{token}\n"),
        String::new(),
        "....".to_owned(),
    ] {
        assert!(matches!(
            verifier.verify(&bad, ISSUER, &audiences(), NOW).await,
            Err(OidcError::Malformed(_))
        ));
    }
    // A duplicated claim name is ambiguous and rejected.
    let header = b64(json!({"alg": "RS256", "kid": RSA_A.kid})
        .to_string()
        .as_bytes());
    let payload = format!(
        r#"{{"iss":"{ISSUER}","sub":"a","aud":"{AUDIENCE}","exp":{},"sub":"admin"}}"#,
        NOW + 100
    );
    let message = format!("{header}.{}", b64(payload.as_bytes()));
    let sig =
        jsonwebtoken::crypto::sign(message.as_bytes(), &RSA_A.encoding, Algorithm::RS256).unwrap();
    assert!(matches!(
        verifier
            .verify(&format!("{message}.{sig}"), ISSUER, &audiences(), NOW)
            .await,
        Err(OidcError::Malformed(_))
    ));
    assert_eq!(fetch.total_calls(), 0);
}

#[tokio::test]
async fn token_longer_than_max_is_malformed() {
    let (fetch, verifier) = setup();
    let mut c = claims();
    c["padding"] = json!("x".repeat(20_000));
    let token = rs256(&c);
    assert!(token.len() > 20_000);
    let err = verifier
        .verify(&token, ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(matches!(&err, OidcError::Malformed(m) if m.contains("longer")));
    assert_eq!(fetch.total_calls(), 0);
    // A larger configured cap accepts it.
    let (_, verifier) = setup_with(
        &[RSA_A.jwk()],
        VerifierConfig {
            max_token_len: 30_000,
            ..VerifierConfig::default()
        },
    );
    verifier
        .verify(&token, ISSUER, &audiences(), NOW)
        .await
        .unwrap();
}

#[tokio::test]
async fn jku_x5u_jwk_headers_are_ignored() {
    let (fetch, verifier) = setup();
    // The attacker's key is embedded in / pointed to by the header; it must not be used.
    let header = json!({
        "alg": "RS256",
        "kid": RSA_B.kid,
        "jku": "https://evil.example.com/jwks",
        "x5u": "https://evil.example.com/cert.pem",
        "jwk": RSA_B.jwk(),
    });
    let token = sign_raw(&header, &claims(), &RSA_B.encoding, Algorithm::RS256);
    let err = verifier
        .verify(&token, ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::UnknownKey(_)), "{err:?}");
    assert_eq!(fetch.calls("https://evil.example.com/jwks"), 0);
    assert_eq!(fetch.calls("https://evil.example.com/cert.pem"), 0);

    // A legitimate token carrying a jku header still verifies with the issuer's key.
    let header = json!({"alg": "RS256", "kid": RSA_A.kid, "jku": "https://evil.example.com/jwks"});
    let token = sign_raw(&header, &claims(), &RSA_A.encoding, Algorithm::RS256);
    verifier
        .verify(&token, ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    assert_eq!(fetch.calls("https://evil.example.com/jwks"), 0);
}

#[tokio::test]
async fn jwk_with_use_enc_is_not_used() {
    let mut enc = RSA_A.jwk();
    enc["use"] = json!("enc");
    let (_, verifier) = setup_with(&[enc], VerifierConfig::default());
    let err = verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, OidcError::UnknownKey(_)), "{err:?}");
    // Without a kid, the enc key is skipped too.
    let token = sign_raw(
        &json!({"alg": "RS256"}),
        &claims(),
        &RSA_A.encoding,
        Algorithm::RS256,
    );
    assert!(matches!(
        verifier.verify(&token, ISSUER, &audiences(), NOW).await,
        Err(OidcError::UnknownKey(_))
    ));
}

#[tokio::test]
async fn token_without_kid_uses_the_only_fitting_key() {
    // JWKS: one RSA key and one EC key. A kid-less RS256 token uses the RSA key.
    let (_, verifier) = setup();
    let token = sign_raw(
        &json!({"alg": "RS256"}),
        &claims(),
        &RSA_A.encoding,
        Algorithm::RS256,
    );
    verifier
        .verify(&token, ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    // Two RSA keys: ambiguous.
    let (_, verifier) = setup_with(&[RSA_A.jwk(), RSA_B.jwk()], VerifierConfig::default());
    assert!(matches!(
        verifier.verify(&token, ISSUER, &audiences(), NOW).await,
        Err(OidcError::UnknownKey(_))
    ));
}

#[tokio::test]
async fn es256_header_with_rsa_kid_is_rejected() {
    // Algorithm confusion between key types: ES256 header naming an RSA key.
    let (_, verifier) = setup();
    let token = sign_raw(
        &json!({"alg": "ES256", "kid": RSA_A.kid}),
        &claims(),
        &EC_A.encoding,
        Algorithm::ES256,
    );
    assert!(matches!(
        verifier.verify(&token, ISSUER, &audiences(), NOW).await,
        Err(OidcError::UnknownKey(_))
    ));
}

#[tokio::test]
async fn require_jti() {
    let (_, verifier) = setup_with(
        &[RSA_A.jwk()],
        VerifierConfig {
            require_jti: true,
            ..VerifierConfig::default()
        },
    );
    verifier
        .verify(&rs256(&claims()), ISSUER, &audiences(), NOW)
        .await
        .unwrap();
    let mut c = claims();
    c.as_object_mut().unwrap().remove("jti");
    assert_eq!(
        verifier
            .verify(&rs256(&c), ISSUER, &audiences(), NOW)
            .await
            .unwrap_err(),
        OidcError::MissingClaim("jti".into())
    );
}

#[tokio::test]
async fn errors_do_not_echo_the_token() {
    let (_, verifier) = setup();
    let mut c = claims();
    c["exp"] = json!("SECRET-MARKER");
    let token = rs256(&c);
    let cases = [
        token.clone(),
        with_payload(&token, &json!({"iss": ISSUER, "sub": "SECRET-MARKER"})),
        format!("{token}.SECRET-MARKER"),
    ];
    for t in cases {
        let err = verifier
            .verify(&t, ISSUER, &audiences(), NOW)
            .await
            .unwrap_err();
        let msg = format!("{err} {err:?}");
        assert!(!msg.contains("SECRET-MARKER"), "{msg}");
        assert!(!msg.contains(&token[..40]), "{msg}");
    }
}

#[test]
fn unverified_issuer() {
    let token = rs256(&claims());
    assert_eq!(OidcVerifier::unverified_issuer(&token).unwrap(), ISSUER);
    let mut c = claims();
    c.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        OidcVerifier::unverified_issuer(&rs256(&c)),
        Err(OidcError::MissingClaim("iss".into()))
    );
    c["iss"] = json!(5);
    assert!(matches!(
        OidcVerifier::unverified_issuer(&rs256(&c)),
        Err(OidcError::Malformed(_))
    ));
    assert!(matches!(
        OidcVerifier::unverified_issuer("a.b"),
        Err(OidcError::Malformed(_))
    ));
    assert!(matches!(
        OidcVerifier::unverified_issuer("e30.e30.e30.e30.e30"),
        Err(OidcError::Malformed(_))
    ));
}

#[tokio::test]
async fn verify_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let (_, verifier) = setup();
    let token = rs256(&claims());
    let aud = audiences();
    let fut = verifier.verify(&token, ISSUER, &aud, NOW);
    assert_send(&fut);
    fut.await.unwrap();
}
