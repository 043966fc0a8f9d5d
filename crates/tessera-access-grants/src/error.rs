//! The one place Access Grants errors meet the wire (S3 API Reference, Access Grants error
//! codes; restXml with `<ErrorResponse>`).

use tessera_store::StoreError;
use tessera_wire::{AwsError, CommonError};

#[derive(Debug, thiserror::Error)]
pub enum AgError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    MalformedXml(String),
    #[error("Access Grants Instance already exists")]
    InstanceExists,
    #[error("Access Grants Instance does not exist")]
    InstanceNotExists,
    #[error("{0}")]
    InstanceNotEmpty(String),
    #[error("Access Grants Instance Resource Policy does not exist")]
    PolicyNotExists,
    #[error("{0}")]
    LocationExists(String),
    #[error("The specified Access Grants location was not found: {0}")]
    NoSuchLocation(String),
    #[error("The Access Grants location {0} still has grants and cannot be deleted")]
    LocationNotEmpty(String),
    #[error("The Access Grants instance already has {0} locations, the most it may have")]
    LocationsQuota(i64),
    #[error(
        "An access grant with the same scope, grantee, permission and application already exists"
    )]
    GrantExists,
    #[error("The specified access grant was not found: {0}")]
    NoSuchGrant(String),
    #[error("The Access Grants instance already has {0} grants, the most it may have")]
    GrantsQuota(i64),
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    InvalidLocation(String),
    #[error("{0}")]
    InvalidIamRole(String),
    #[error("{0}")]
    InvalidIdentityCenter(String),
    #[error("{0}")]
    InvalidResourcePolicy(String),
    #[error("{0}")]
    InvalidTag(String),
    #[error("The number of tags exceeds the limit of 50 tags")]
    TooManyTags,
    #[error("{0}")]
    StsNotAuthorized(String),
    #[error("{0}")]
    StsValidation(String),
    /// The errors every service shares.
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl From<StoreError> for AgError {
    fn from(e: StoreError) -> AgError {
        tracing::error!(error = %e, "access grants store failure");
        AgError::Common(CommonError::InternalFailure)
    }
}

impl AgError {
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            AgError::Common(c) => return c.to_aws(crate::SPEC.protocol),
            AgError::InvalidRequest(_) => (400, "InvalidRequest"),
            AgError::MalformedXml(_) => (400, "MalformedXML"),
            AgError::InstanceExists => (409, "AccessGrantsInstanceAlreadyExists"),
            AgError::InstanceNotExists => (404, "AccessGrantsInstanceNotExistsError"),
            AgError::InstanceNotEmpty(_) => (400, "AccessGrantsInstanceNotEmptyError"),
            AgError::PolicyNotExists => (404, "AccessGrantsInstanceResourcePolicyNotExists"),
            AgError::LocationExists(_) => (409, "AccessGrantsLocationAlreadyExistsError"),
            AgError::NoSuchLocation(_) => (404, "NoSuchAccessGrantsLocationError"),
            AgError::LocationNotEmpty(_) => (400, "AccessGrantsLocationNotEmptyError"),
            AgError::LocationsQuota(_) => (409, "AccessGrantsLocationsQuotaExceededError"),
            AgError::GrantExists => (409, "AccessGrantAlreadyExists"),
            AgError::NoSuchGrant(_) => (404, "NoSuchAccessGrantError"),
            AgError::GrantsQuota(_) => (409, "AccessGrantsQuotaExceededError"),
            AgError::InvalidGrant(_) => (400, "InvalidAccessGrant"),
            AgError::InvalidLocation(_) => (400, "InvalidAccessGrantsLocation"),
            AgError::InvalidIamRole(_) => (400, "InvalidIamRole"),
            AgError::InvalidIdentityCenter(_) => (400, "InvalidIdentityCenterInstance"),
            AgError::InvalidResourcePolicy(_) => (400, "InvalidResourcePolicy"),
            AgError::InvalidTag(_) => (400, "InvalidTag"),
            AgError::TooManyTags => (400, "TooManyTags"),
            AgError::StsNotAuthorized(_) => (403, "StsNotAuthorizedError"),
            AgError::StsValidation(_) => (400, "StsValidationError"),
        };
        AwsError::new(status, code, self.to_string())
    }
}
