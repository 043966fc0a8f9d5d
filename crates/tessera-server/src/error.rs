//! What start-up and the operator actions fail with: a typed error carrying what was being
//! done and why (the binary reports it, with its causes).

/// A failed start-up step or operator action.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A step failed: what it was, and (as the source) why.
    #[error("{what}")]
    Step {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The configuration, the data directory or an operator's argument is not valid.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
    #[error(transparent)]
    Trail(#[from] tessera_audit_trail::TrailError),
    #[error(transparent)]
    Account(#[from] tessera_core::InvalidAccountId),
    #[error(transparent)]
    KeyRing(#[from] tessera_authz::keyring::RingError),
    #[error("a stored secret is not text: {0}")]
    NotText(#[from] std::string::FromUtf8Error),
}

/// A result of start-up or an operator action.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// Name the step an error happened in.
pub(crate) trait Step<T> {
    fn step(self, what: &str) -> Result<T>;
    fn step_with(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Step<T> for std::result::Result<T, E> {
    fn step(self, what: &str) -> Result<T> {
        self.step_with(|| what.to_owned())
    }

    fn step_with(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| ServerError::Step {
            what: what(),
            source: Box::new(e),
        })
    }
}
