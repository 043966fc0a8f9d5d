use tessera_wire::AwsError;
use tessera_wire::query::QueryError;

/// Every way an STS call can fail, mapped to the AWS wire in one place ([`StsError::to_aws`]).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StsError {
    #[error("{0}")]
    InvalidAction(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error("{0}")]
    MalformedQueryString(String),
    #[error("{0}")]
    ValidationError(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    #[error("{0}")]
    InvalidIdentityToken(String),
    #[error("{0}")]
    ExpiredToken(String),
    #[error("{0}")]
    IdpRejectedClaim(String),
    #[error("{0}")]
    IdpCommunicationError(String),
    #[error("{0}")]
    ServiceFailure(String),
}

impl StsError {
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            StsError::InvalidAction(_) => (400, "InvalidAction"),
            StsError::MissingParameter(_) => (400, "MissingParameter"),
            StsError::MalformedQueryString(_) => (400, "MalformedQueryString"),
            StsError::ValidationError(_) => (400, "ValidationError"),
            StsError::AccessDenied(_) => (403, "AccessDenied"),
            StsError::MalformedPolicyDocument(_) => (400, "MalformedPolicyDocument"),
            StsError::PackedPolicyTooLarge(_) => (400, "PackedPolicyTooLarge"),
            StsError::InvalidIdentityToken(_) => (400, "InvalidIdentityToken"),
            StsError::ExpiredToken(_) => (400, "ExpiredTokenException"),
            StsError::IdpRejectedClaim(_) => (403, "IDPRejectedClaim"),
            StsError::IdpCommunicationError(_) => (400, "IDPCommunicationError"),
            StsError::ServiceFailure(_) => (500, "InternalFailure"),
        };
        AwsError::new(status, code, self.to_string())
    }
}

impl From<QueryError> for StsError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Missing(_) => StsError::MissingParameter(e.to_string()),
            QueryError::BadIndex(_) => StsError::ValidationError(e.to_string()),
            _ => StsError::MalformedQueryString(e.to_string()),
        }
    }
}

impl From<tessera_store::StoreError> for StsError {
    fn from(e: tessera_store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        StsError::ServiceFailure(
            "The request processing has failed because of an unknown error.".into(),
        )
    }
}

impl From<tessera_policy::PolicyError> for StsError {
    fn from(e: tessera_policy::PolicyError) -> Self {
        match e.aws_error_code() {
            "LimitExceeded" => StsError::PackedPolicyTooLarge(format!(
                "Packed policy consumes more than 100% of allotted space: {}",
                e.message()
            )),
            _ => StsError::MalformedPolicyDocument(e.message().to_owned()),
        }
    }
}

/// What callers of `AssumeRoleWithWebIdentity` are told when the identity provider's keys
/// could not be fetched (AWS's wording). The reason (which host, which address, which
/// status) goes to the log only: the caller is unauthenticated, and the detail would make
/// the endpoint a probe into the operator's network.
pub const IDP_COMMUNICATION_MESSAGE: &str = "Couldn't retrieve verification key from your identity provider, please reference AssumeRoleWithWebIdentity documentation for requirements";

impl From<tessera_oidc::OidcError> for StsError {
    fn from(e: tessera_oidc::OidcError) -> Self {
        let m = e.to_string();
        match e.sts_error_code() {
            "ExpiredTokenException" => StsError::ExpiredToken(format!("Token expired: {m}")),
            "IDPCommunicationError" => {
                tracing::warn!(error = %m, "AssumeRoleWithWebIdentity: identity provider unreachable");
                StsError::IdpCommunicationError(IDP_COMMUNICATION_MESSAGE.into())
            }
            _ => StsError::InvalidIdentityToken(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_failures_do_not_leak_their_reason() {
        let e = StsError::from(tessera_oidc::OidcError::Fetch(
            "discovery document: connection failed: 10.0.0.7:8443 refused".into(),
        ));
        let aws = e.to_aws();
        assert_eq!(aws.code, "IDPCommunicationError");
        assert_eq!(aws.message, IDP_COMMUNICATION_MESSAGE);
        assert!(!aws.message.contains("10.0.0.7"));
    }
}
