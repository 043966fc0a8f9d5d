use tessera_wire::query::QueryError;
use tessera_wire::{AwsError, CommonError};

/// Every way an IAM call can fail, mapped to the AWS wire in one place ([`IamError::to_aws`]).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    ServiceFailure(String),
    /// The errors every service shares.
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl IamError {
    pub fn to_aws(&self) -> AwsError {
        // The errors every service shares are rendered by `CommonError`, once.
        let protocol = crate::SPEC.protocol;
        match self {
            IamError::NoSuchEntity(m) => AwsError::new(404, "NoSuchEntity", m.clone()),
            IamError::EntityAlreadyExists(m) => {
                AwsError::new(409, "EntityAlreadyExists", m.clone())
            }
            IamError::MalformedPolicyDocument(m) => {
                AwsError::new(400, "MalformedPolicyDocument", m.clone())
            }
            IamError::InvalidInput(m) => AwsError::new(400, "InvalidInput", m.clone()),
            IamError::LimitExceeded(m) => AwsError::new(409, "LimitExceeded", m.clone()),
            IamError::DeleteConflict(m) => AwsError::new(409, "DeleteConflict", m.clone()),
            IamError::ServiceFailure(m) => AwsError::new(500, "ServiceFailure", m.clone()),
            IamError::Common(c) => c.to_aws(protocol),
        }
    }
}

impl From<QueryError> for IamError {
    fn from(e: QueryError) -> Self {
        IamError::Common(e.into())
    }
}

impl From<tessera_store::StoreError> for IamError {
    fn from(e: tessera_store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        IamError::ServiceFailure("An internal error occurred in the store.".into())
    }
}

impl From<tessera_policy::PolicyError> for IamError {
    fn from(e: tessera_policy::PolicyError) -> Self {
        let m = e.message().to_owned();
        match e.aws_error_code() {
            "LimitExceeded" => IamError::LimitExceeded(m),
            "ValidationError" => IamError::Common(CommonError::Validation(m)),
            _ => IamError::MalformedPolicyDocument(m),
        }
    }
}
