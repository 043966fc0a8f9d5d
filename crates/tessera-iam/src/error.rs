use tessera_wire::AwsError;
use tessera_wire::query::QueryError;

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
    ValidationError(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidAction(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error("{0}")]
    MalformedQueryString(String),
    #[error("{0}")]
    ServiceFailure(String),
}

impl IamError {
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            IamError::NoSuchEntity(_) => (404, "NoSuchEntity"),
            IamError::EntityAlreadyExists(_) => (409, "EntityAlreadyExists"),
            IamError::MalformedPolicyDocument(_) => (400, "MalformedPolicyDocument"),
            IamError::ValidationError(_) => (400, "ValidationError"),
            IamError::InvalidInput(_) => (400, "InvalidInput"),
            IamError::LimitExceeded(_) => (409, "LimitExceeded"),
            IamError::DeleteConflict(_) => (409, "DeleteConflict"),
            IamError::AccessDenied(_) => (403, "AccessDenied"),
            IamError::InvalidAction(_) => (400, "InvalidAction"),
            IamError::MissingParameter(_) => (400, "MissingParameter"),
            IamError::MalformedQueryString(_) => (400, "MalformedQueryString"),
            IamError::ServiceFailure(_) => (500, "ServiceFailure"),
        };
        AwsError::new(status, code, self.to_string())
    }
}

impl From<QueryError> for IamError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Missing(_) => IamError::MissingParameter(e.to_string()),
            QueryError::BadIndex(_) => IamError::ValidationError(e.to_string()),
            _ => IamError::MalformedQueryString(e.to_string()),
        }
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
            "ValidationError" => IamError::ValidationError(m),
            _ => IamError::MalformedPolicyDocument(m),
        }
    }
}
