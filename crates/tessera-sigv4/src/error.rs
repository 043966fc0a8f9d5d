//! The verifier's error type and its suggested mapping onto AWS error codes.

use crate::Canonicalization;

/// Why a request failed Signature Version 4 verification.
///
/// Messages follow AWS's wording where AWS has a well-known one, so they can be passed to clients
/// as the error `Message`. Strings taken from the request are cut to a bounded length first.
/// [`SigV4Error::aws_error_code`] and [`SigV4Error::http_status`] give the suggested wire mapping;
/// the server is free to choose differently (e.g. `MissingAuthenticationToken` vs `AccessDenied`).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization` header and no `X-Amz-Algorithm` query parameter.
    #[error(
        "Request is missing Authentication Token: no Authorization header and no X-Amz-Algorithm query parameter"
    )]
    MissingAuthentication,

    /// The `Authorization` header or the presigned query parameters are malformed or incomplete
    /// (missing `Credential` / `SignedHeaders` / `Signature`, bad credential scope form, duplicate
    /// or unknown components, a signature that is not 64 hex digits, …).
    #[error("{0}")]
    IncompleteSignature(String),

    /// The algorithm is not `AWS4-HMAC-SHA256` (SigV2, SigV4a, …). Carries the algorithm given.
    #[error("Unsupported AWS 'algorithm': '{0}'. Only AWS4-HMAC-SHA256 is supported.")]
    UnsupportedAlgorithm(String),

    /// Both an `Authorization` header and presigned query parameters were sent.
    #[error(
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified"
    )]
    MultipleAuthMechanisms,

    /// No `X-Amz-Date` (header or query) and, for header auth, no `Date` header either.
    #[error(
        "Authorization requires existence of either a 'X-Amz-Date' or a 'Date' header (or, presigned, the X-Amz-Date query parameter)"
    )]
    MissingDate,

    /// The request date could not be parsed (or was given more than once).
    #[error("Invalid request date: {0}")]
    InvalidDate(String),

    /// A header that must be signed is present but not listed in `SignedHeaders`. Carries the
    /// lower-case header name.
    #[error("There were headers present in the request which were not signed: {0}")]
    UnsignedHeader(String),

    /// `SignedHeaders` lists a header that the request does not carry. Carries the header name.
    #[error("Header '{0}' is listed in SignedHeaders but is not present in the request")]
    SignedHeaderMissing(String),

    /// Credential scope does not match: wrong date, region, service or terminator.
    #[error("{0}")]
    ScopeMismatch(String),

    /// Header auth outside the allowed clock skew. Both times are ISO-8601 basic
    /// (`YYYYMMDDTHHMMSSZ`).
    #[error(
        "The difference between the request time and the current time is too large. RequestTime: {request}, ServerTime: {server}"
    )]
    RequestTimeTooSkewed {
        /// The request's signing time.
        request: String,
        /// The server's time.
        server: String,
    },

    /// Presigned request used after `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired")]
    PresignedExpired,

    /// Presigned request whose `X-Amz-Date` lies further in the future than the allowed skew.
    #[error("Request is not yet valid: X-Amz-Date is in the future")]
    PresignedNotYetValid,

    /// `X-Amz-Expires` missing, not an integer, negative, or over 604800.
    #[error("{0}")]
    InvalidExpires(String),

    /// `x-amz-content-sha256` is not a hex SHA-256, `UNSIGNED-PAYLOAD` or a known `STREAMING-*`
    /// value, appears more than once, is missing where S3 requires it, or cannot be used with the
    /// endpoint's canonicalisation.
    #[error(
        "x-amz-content-sha256 must be present (S3 header auth) and be a 64-digit hex SHA-256, UNSIGNED-PAYLOAD or a supported STREAMING-* value"
    )]
    InvalidContentSha256,

    /// The hash in `x-amz-content-sha256` differs from the hash of the body received.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,

    /// `UNSIGNED-PAYLOAD` (or an unsigned streaming payload) for a service other than S3.
    #[error("UNSIGNED-PAYLOAD is not allowed for this service; the payload must be signed")]
    UnsignedPayloadNotAllowed,

    /// The signature we computed differs from the one sent.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
    )]
    SignatureDoesNotMatch,
}

impl SigV4Error {
    /// Suggested AWS error code for this failure. `Canonicalization::S3` selects S3's codes
    /// (restXml services: S3 and s3control); `Standard` selects the codes query/JSON services
    /// (STS, IAM, sso, …) send.
    pub fn aws_error_code(&self, canonicalization: Canonicalization) -> &'static str {
        let s3 = canonicalization == Canonicalization::S3;
        match self {
            SigV4Error::MissingAuthentication if s3 => "AccessDenied",
            SigV4Error::MissingAuthentication => "MissingAuthenticationToken",
            SigV4Error::IncompleteSignature(_) if s3 => "AuthorizationHeaderMalformed",
            SigV4Error::IncompleteSignature(_) => "IncompleteSignature",
            SigV4Error::UnsupportedAlgorithm(_) if s3 => "InvalidArgument",
            SigV4Error::UnsupportedAlgorithm(_) => "IncompleteSignature",
            SigV4Error::MultipleAuthMechanisms if s3 => "InvalidArgument",
            SigV4Error::MultipleAuthMechanisms => "IncompleteSignature",
            SigV4Error::MissingDate | SigV4Error::InvalidDate(_) if s3 => "AccessDenied",
            SigV4Error::MissingDate | SigV4Error::InvalidDate(_) => "IncompleteSignature",
            SigV4Error::UnsignedHeader(_) | SigV4Error::SignedHeaderMissing(_) => "AccessDenied",
            SigV4Error::ScopeMismatch(_) if s3 => "AuthorizationHeaderMalformed",
            SigV4Error::ScopeMismatch(_) => "SignatureDoesNotMatch",
            SigV4Error::RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            SigV4Error::PresignedExpired | SigV4Error::PresignedNotYetValid => "AccessDenied",
            SigV4Error::InvalidExpires(_) => "AuthorizationQueryParametersError",
            SigV4Error::InvalidContentSha256 => "InvalidArgument",
            SigV4Error::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            SigV4Error::UnsignedPayloadNotAllowed => "InvalidRequest",
            SigV4Error::SignatureDoesNotMatch => "SignatureDoesNotMatch",
        }
    }

    /// Suggested HTTP status: 400 for malformed requests, 403 for authentication failures.
    pub fn http_status(&self) -> u16 {
        match self {
            SigV4Error::IncompleteSignature(_)
            | SigV4Error::UnsupportedAlgorithm(_)
            | SigV4Error::MultipleAuthMechanisms
            | SigV4Error::InvalidExpires(_)
            | SigV4Error::InvalidContentSha256
            | SigV4Error::ContentSha256Mismatch
            | SigV4Error::UnsignedPayloadNotAllowed => 400,
            SigV4Error::MissingAuthentication
            | SigV4Error::MissingDate
            | SigV4Error::InvalidDate(_)
            | SigV4Error::UnsignedHeader(_)
            | SigV4Error::SignedHeaderMissing(_)
            | SigV4Error::ScopeMismatch(_)
            | SigV4Error::RequestTimeTooSkewed { .. }
            | SigV4Error::PresignedExpired
            | SigV4Error::PresignedNotYetValid
            | SigV4Error::SignatureDoesNotMatch => 403,
        }
    }
}

/// Cut a client-supplied string for inclusion in an error message.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 128;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
