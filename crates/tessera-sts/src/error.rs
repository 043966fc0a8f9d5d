use tessera_wire::query::QueryError;
use tessera_wire::{AwsError, CommonError};

/// Every way an STS call can fail, mapped to the AWS wire in one place ([`StsError::to_aws`]).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StsError {
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
    /// The errors every service shares.
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl StsError {
    pub fn to_aws(&self) -> AwsError {
        // The errors every service shares are rendered by `CommonError`, once.
        let protocol = crate::SPEC.protocol;
        match self {
            StsError::MalformedPolicyDocument(m) => {
                AwsError::new(400, "MalformedPolicyDocument", m.clone())
            }
            StsError::PackedPolicyTooLarge(m) => {
                AwsError::new(400, "PackedPolicyTooLarge", m.clone())
            }
            StsError::InvalidIdentityToken(m) => {
                AwsError::new(400, "InvalidIdentityToken", m.clone())
            }
            StsError::ExpiredToken(m) => AwsError::new(400, "ExpiredTokenException", m.clone()),
            StsError::IdpRejectedClaim(m) => AwsError::new(403, "IDPRejectedClaim", m.clone()),
            StsError::IdpCommunicationError(m) => {
                AwsError::new(400, "IDPCommunicationError", m.clone())
            }
            StsError::ServiceFailure(m) => AwsError::new(500, "InternalFailure", m.clone()),
            StsError::Common(c) => c.to_aws(protocol),
        }
    }
}

impl From<QueryError> for StsError {
    fn from(e: QueryError) -> Self {
        StsError::Common(e.into())
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
