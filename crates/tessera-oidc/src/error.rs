//! Verification errors and their STS error codes.

/// Why a token was rejected. Messages never contain the token or any part of its signature.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum OidcError {
    /// Not a compact JWS, bad base64url or JSON, too long, or a claim of the wrong type.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header `alg` is not in the allow-list (or is `none`/HMAC, which never are).
    #[error("unsupported signing algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// No usable key for the token, even after a refetch (or a refetch was suppressed by the cooldown).
    #[error("no usable signing key: {0}")]
    UnknownKey(String),
    /// The signature does not verify with the issuer's key.
    #[error("invalid token signature")]
    BadSignature,
    /// The token's `iss` is not the expected issuer.
    #[error("token issuer {got:?} does not match the expected issuer {expected:?}")]
    WrongIssuer {
        /// The issuer the token had to come from.
        expected: String,
        /// The token's `iss` (shortened when very long).
        got: String,
    },
    /// None of the token's audiences is accepted.
    #[error("token audience does not match")]
    AudienceMismatch,
    /// `exp` + leeway is in the past.
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` lies in the future (beyond the leeway).
    #[error("token is not yet valid")]
    NotYetValid,
    /// The discovery document or the JWKS could not be fetched or parsed.
    #[error("could not get the identity provider's keys: {0}")]
    Fetch(String),
    /// A required claim is absent.
    #[error("token has no {0} claim")]
    MissingClaim(String),
}

impl OidcError {
    /// The STS error code for `AssumeRoleWithWebIdentity`:
    /// `ExpiredTokenException` for [`OidcError::Expired`], `IDPCommunicationError` for
    /// [`OidcError::Fetch`] and `InvalidIdentityToken` for everything else.
    pub fn sts_error_code(&self) -> &'static str {
        match self {
            OidcError::Expired => "ExpiredTokenException",
            OidcError::Fetch(_) => "IDPCommunicationError",
            OidcError::Malformed(_)
            | OidcError::UnsupportedAlgorithm(_)
            | OidcError::UnknownKey(_)
            | OidcError::BadSignature
            | OidcError::WrongIssuer { .. }
            | OidcError::AudienceMismatch
            | OidcError::NotYetValid
            | OidcError::MissingClaim(_) => "InvalidIdentityToken",
        }
    }

    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        OidcError::Malformed(msg.into())
    }
}

/// Shorten a value taken from a token or a remote document before it goes into an error message, and
/// keep only printable ASCII so that messages cannot carry control characters into logs.
pub(crate) fn sanitize_for_message(value: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i >= max_chars {
            out.push('…');
            break;
        }
        if c.is_ascii_graphic() || c == ' ' {
            out.push(c);
        } else {
            out.push('?');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_codes() {
        assert_eq!(OidcError::Expired.sts_error_code(), "ExpiredTokenException");
        assert_eq!(
            OidcError::Fetch("x".into()).sts_error_code(),
            "IDPCommunicationError"
        );
        for e in [
            OidcError::Malformed("x".into()),
            OidcError::UnsupportedAlgorithm("x".into()),
            OidcError::UnknownKey("x".into()),
            OidcError::BadSignature,
            OidcError::WrongIssuer {
                expected: "a".into(),
                got: "b".into(),
            },
            OidcError::AudienceMismatch,
            OidcError::NotYetValid,
            OidcError::MissingClaim("sub".into()),
        ] {
            assert_eq!(e.sts_error_code(), "InvalidIdentityToken", "{e:?}");
        }
    }

    #[test]
    fn sanitize() {
        assert_eq!(sanitize_for_message("abc", 10), "abc");
        assert_eq!(sanitize_for_message("abcdef", 3), "abc…");
        assert_eq!(sanitize_for_message("a\nb\u{7f}é", 10), "a?b??");
    }
}
