//! Errors every service can return, defined once and rendered in each protocol's vocabulary
//! (`AccessDenied` on awsQuery and restXml, `AccessDeniedException` on awsJson1.1 and
//! restJson1, …). Service error enums wrap or map to these for the errors they share.

use crate::query::QueryError;
use crate::{AwsError, Protocol};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommonError {
    /// The caller may not do this (403).
    #[error("{0}")]
    AccessDenied(String),
    /// A parameter fails a constraint (400).
    #[error("{0}")]
    Validation(String),
    /// A required parameter is absent (400).
    #[error("{0}")]
    MissingParameter(String),
    /// The awsQuery parameters cannot be decoded (400).
    #[error("{0}")]
    MalformedQueryString(String),
    /// No `Action` parameter (400).
    #[error("Could not find operation: the request must contain the parameter Action.")]
    MissingAction,
    /// The service has no such operation, or not in this version (400).
    #[error("{0}")]
    UnknownOperation(String),
    /// Not signed, and the operation needs a signature (403).
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// Something failed on our side; the detail is logged, never sent (500).
    #[error("The request processing has failed because of an unknown error.")]
    InternalFailure,
    /// The request could not be finished in time (503).
    #[error("The request could not be completed in time. Please retry.")]
    ServiceUnavailable,
    /// The body was not sent in time (400).
    #[error(
        "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."
    )]
    RequestTimeout,
    /// The body is larger than the server accepts (413).
    #[error("Request body must be no larger than {0} bytes.")]
    BodyTooLarge(usize),
    /// The header section is larger than the server accepts (400).
    #[error("{0}")]
    HeadersTooLarge(usize),
    /// The body could not be read (400).
    #[error("The request body could not be read: {0}")]
    IncompleteBody(String),
    /// The body is not a document of the protocol (invalid JSON) (400).
    #[error("{0}")]
    Serialization(String),
    /// The access key or session token is not one Tessera issued, or no longer valid (403).
    #[error("The security token included in the request is invalid.")]
    InvalidClientToken,
    /// The session token has expired (or its directory user's sessions were revoked).
    #[error("The security token included in the request is expired")]
    ExpiredToken,
}

impl CommonError {
    /// This error as `protocol`'s clients expect it.
    pub fn to_aws(&self, protocol: Protocol) -> AwsError {
        use Protocol::*;
        let json = matches!(protocol, Json11 | RestJson | Scim);
        let (status, code): (u16, &str) = match self {
            CommonError::AccessDenied(_) if json => (403, "AccessDeniedException"),
            CommonError::AccessDenied(_) => (403, "AccessDenied"),
            CommonError::Validation(_) | CommonError::MissingParameter(_) if json => {
                (400, "ValidationException")
            }
            CommonError::Validation(_) if protocol.is_rest_xml() => (400, "InvalidArgument"),
            CommonError::Validation(_) => (400, "ValidationError"),
            CommonError::MissingParameter(_) if protocol.is_rest_xml() => (400, "InvalidRequest"),
            CommonError::MissingParameter(_) => (400, "MissingParameter"),
            CommonError::MalformedQueryString(_) => (400, "MalformedQueryString"),
            CommonError::MissingAction => (400, "MissingAction"),
            CommonError::UnknownOperation(_) if json => (400, "UnknownOperationException"),
            CommonError::UnknownOperation(_) if protocol.is_rest_xml() => (501, "NotImplemented"),
            CommonError::UnknownOperation(_) => (400, "InvalidAction"),
            CommonError::MissingAuthenticationToken if json => {
                (403, "MissingAuthenticationTokenException")
            }
            CommonError::MissingAuthenticationToken => (403, "MissingAuthenticationToken"),
            CommonError::InternalFailure if json => (500, "InternalServerException"),
            CommonError::InternalFailure if protocol.is_rest_xml() => (500, "InternalError"),
            CommonError::InternalFailure => (500, "InternalFailure"),
            CommonError::ServiceUnavailable => (503, "ServiceUnavailable"),
            CommonError::RequestTimeout => (400, "RequestTimeout"),
            CommonError::BodyTooLarge(_) => (413, "RequestEntityTooLarge"),
            CommonError::HeadersTooLarge(_) if protocol.is_rest_xml() => {
                (400, "RequestHeaderSectionTooLarge")
            }
            CommonError::HeadersTooLarge(_) => (400, "ValidationError"),
            CommonError::IncompleteBody(_) => (400, "IncompleteBody"),
            CommonError::Serialization(_) if json => (400, "SerializationException"),
            CommonError::Serialization(_) if protocol.is_rest_xml() => (400, "MalformedXML"),
            CommonError::Serialization(_) => (400, "MalformedInput"),
            CommonError::InvalidClientToken if protocol.is_rest_xml() => {
                (403, "InvalidAccessKeyId")
            }
            CommonError::InvalidClientToken => (403, "InvalidClientTokenId"),
            CommonError::ExpiredToken if protocol.is_rest_xml() => (400, "ExpiredToken"),
            CommonError::ExpiredToken => (403, "ExpiredToken"),
        };
        let message = match self {
            CommonError::HeadersTooLarge(limit) if protocol.is_rest_xml() => format!(
                "Your request header section exceeds the maximum allowed size of {limit} bytes."
            ),
            CommonError::HeadersTooLarge(limit) => {
                format!("Request header section exceeds the maximum allowed size of {limit} bytes.")
            }
            // S3's own words (and s3control's).
            CommonError::InvalidClientToken if protocol.is_rest_xml() => {
                "The AWS Access Key Id you provided does not exist in our records.".to_owned()
            }
            CommonError::ExpiredToken if protocol.is_rest_xml() => {
                "The provided token has expired.".to_owned()
            }
            CommonError::InternalFailure if protocol.is_rest_xml() => {
                "We encountered an internal error. Please try again.".to_owned()
            }
            other => other.to_string(),
        };
        AwsError::new(status, code, message)
    }
}

impl From<QueryError> for CommonError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Missing(_) => CommonError::MissingParameter(e.to_string()),
            QueryError::BadIndex(_) => CommonError::Validation(e.to_string()),
            _ => CommonError::MalformedQueryString(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_protocol() {
        let q = Protocol::Query {
            namespace: crate::IAM_NAMESPACE,
        };
        let denied = CommonError::AccessDenied("no".into());
        assert_eq!(denied.to_aws(q).code, "AccessDenied");
        assert_eq!(denied.to_aws(Protocol::RestXml).code, "AccessDenied");
        assert_eq!(
            denied.to_aws(Protocol::Json11).code,
            "AccessDeniedException"
        );
        assert_eq!(denied.to_aws(Protocol::Json11).status, 403);
        let v = CommonError::Validation("bad".into());
        assert_eq!(v.to_aws(q).code, "ValidationError");
        assert_eq!(v.to_aws(Protocol::Json11).code, "ValidationException");
        assert_eq!(CommonError::InternalFailure.to_aws(q).status, 500);
        assert_eq!(
            CommonError::InternalFailure.to_aws(Protocol::RestXml).code,
            "InternalError"
        );
        let h = CommonError::HeadersTooLarge(10).to_aws(Protocol::RestXml);
        assert_eq!(h.code, "RequestHeaderSectionTooLarge");
        assert!(h.message.contains("10 bytes"));
        assert_eq!(
            CommonError::from(QueryError::Missing("RoleName".into()))
                .to_aws(q)
                .code,
            "MissingParameter"
        );
    }
}
