//! Optional check against the real IdP in `shared/tools/oidc-idp` (oidc-provider), run by hand:
//!
//! ```sh
//! node idp.mjs --port 0 --config example-config.json      # prints the issuer
//! node login.mjs --issuer "$ISSUER" --client-id example-cli \
//!   --redirect-uri http://127.0.0.1:8090/callback --username mateo.jackson --password mateo-password
//! TESSERA_OIDC_IDP_ISSUER="$ISSUER" TESSERA_OIDC_IDP_ID_TOKEN="$ID_TOKEN" \
//!   cargo test -p tessera-oidc --test real_idp -- --ignored
//! ```

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tessera_oidc::{OidcError, OidcVerifier, ReqwestFetch, VerifierConfig};

#[tokio::test]
#[ignore = "needs a running oidc-idp and an id_token in the environment"]
async fn verifies_a_real_oidc_provider_id_token() {
    let issuer = std::env::var("TESSERA_OIDC_IDP_ISSUER").expect("TESSERA_OIDC_IDP_ISSUER");
    let token = std::env::var("TESSERA_OIDC_IDP_ID_TOKEN").expect("TESSERA_OIDC_IDP_ID_TOKEN");
    let audience =
        std::env::var("TESSERA_OIDC_IDP_AUDIENCE").unwrap_or_else(|_| "example-cli".to_owned());
    let now = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();

    assert_eq!(OidcVerifier::unverified_issuer(&token).unwrap(), issuer);
    let verifier = OidcVerifier::new(
        Arc::new(ReqwestFetch::new(tessera_oidc::FetchPolicy::dev()).unwrap()),
        VerifierConfig {
            require_jti: true,
            ..VerifierConfig::default()
        },
    );
    let v = verifier
        .verify(&token, &issuer, std::slice::from_ref(&audience), now)
        .await
        .unwrap();
    assert_eq!(v.issuer, issuer);
    assert_eq!(v.matched_audience.as_deref(), Some(audience.as_str()));
    assert!(!v.subject.is_empty());
    assert!(v.jti.is_some());
    assert_eq!(
        verifier
            .verify(&token, &issuer, &["someone-else".to_owned()], now)
            .await
            .unwrap_err(),
        OidcError::AudienceMismatch
    );
    assert_eq!(
        verifier
            .verify(&token, &issuer, &[audience], v.expires_at + 61)
            .await
            .unwrap_err(),
        OidcError::Expired
    );
}
