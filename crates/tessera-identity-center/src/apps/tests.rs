//! Unit tests of the request patterns and grant validation.

use super::settings::*;
use super::*;
#[test]
fn patterns() {
    assert!(APPLICATION_ARN.is_match(
        "arn:aws:sso::111111111111:application/ssoins-1234567890abcdef/apl-1234567890abcdef"
    ));
    assert!(
        !APPLICATION_ARN
            .is_match("arn:aws:sso::111111111111:application/ssoins-1234567890abcdef/apl-123")
    );
    assert!(ISSUER_ARN.is_match("arn:aws:sso::111111111111:trustedTokenIssuer/ssoins-1234567890abcdef/tti-01234567-89ab-cdef-0123-456789abcdef"));
    assert!(CLAIM_PATH.is_match("preferred_username"));
    assert!(CLAIM_PATH.is_match("email"));
    assert!(!CLAIM_PATH.is_match("a.b.c.d"));
    assert!(STORE_PATH.is_match("emails.value"));
    assert!(!STORE_PATH.is_match("emails_value"));
    assert!(SCOPE.is_match("s3:access_grants:read_write"));
    assert!(!SCOPE.is_match("a:b:c:d"));
    assert!(ISSUER_URL.is_match("https://login.example.com/tenant/v2.0"));
    assert!(!ISSUER_URL.is_match("ftp://x"));
}

#[test]
fn grants_must_match_their_type() {
    let jwt = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let tti = "arn:aws:sso::111111111111:trustedTokenIssuer/ssoins-1234567890abcdef/tti-01234567-89ab-cdef-0123-456789abcdef";
    let ok = json!({"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": ["aud"]}]}}});
    assert!(grant(&ok, jwt).is_ok());
    assert!(grant(&json!({"Grant": {"RefreshToken": {}}}), jwt).is_err());
    assert!(grant(&json!({"Grant": {"RefreshToken": {}}}), "refresh_token").is_ok());
    assert!(
        grant(
            &json!({"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": []}}}),
            jwt
        )
        .is_err()
    );
    let no_aud = json!({"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": []}]}}});
    assert!(grant(&no_aud, jwt).is_err());
    assert!(
        grant(
            &json!({"Grant": {"AuthorizationCode": {"RedirectUris": ["https://a/cb"]}}}),
            "authorization_code"
        )
        .is_ok()
    );
}
