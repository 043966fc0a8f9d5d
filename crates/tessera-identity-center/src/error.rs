use tessera_wire::{AwsError, CommonError, Protocol};

/// Every way an Identity Center call can fail, mapped to the awsJson1.1 wire in one place
/// ([`IdentityCenterError::to_aws`]).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum IdentityCenterError {
    #[error("{0}")]
    ResourceNotFound(String),
    /// Not found, with the identitystore error's `ResourceType` (`USER`, `GROUP`,
    /// `GROUP_MEMBERSHIP`, `IDENTITY_STORE`) and `ResourceId`.
    #[error("{message}")]
    NotFound {
        message: String,
        resource_type: &'static str,
        resource_id: Option<String>,
    },
    /// A duplicate name (`Reason: UNIQUENESS_CONSTRAINT_VIOLATION`).
    #[error("{0}")]
    Uniqueness(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    ServiceQuotaExceeded(String),
    /// The errors every service shares.
    #[error(transparent)]
    Common(#[from] CommonError),
}

impl IdentityCenterError {
    pub fn to_aws(&self) -> AwsError {
        let p = Protocol::Json11;
        match self {
            IdentityCenterError::Common(c) => c.to_aws(p),
            IdentityCenterError::ResourceNotFound(m) => {
                AwsError::new(400, "ResourceNotFoundException", m.clone())
            }
            IdentityCenterError::Conflict(m) => AwsError::new(400, "ConflictException", m.clone()),
            IdentityCenterError::NotFound {
                message,
                resource_type,
                resource_id,
            } => {
                let e = AwsError::new(400, "ResourceNotFoundException", message.clone())
                    .with_field("ResourceType", *resource_type);
                match resource_id {
                    Some(id) => e.with_field("ResourceId", id.clone()),
                    None => e,
                }
            }
            IdentityCenterError::Uniqueness(m) => {
                AwsError::new(400, "ConflictException", m.clone())
                    .with_field("Reason", "UNIQUENESS_CONSTRAINT_VIOLATION")
            }
            IdentityCenterError::ServiceQuotaExceeded(m) => {
                AwsError::new(400, "ServiceQuotaExceededException", m.clone())
            }
        }
    }
}

impl From<tessera_store::StoreError> for IdentityCenterError {
    fn from(e: tessera_store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        IdentityCenterError::Common(CommonError::InternalFailure)
    }
}
