//! The durable audit trail over the store: the audit queue's sink that hash-chains each
//! batch onto the store's head ([`StoreSink`]), the signing keys and signed digests that seal
//! it, its verification, the operator's queries and explanations ([`trail`]), and the export
//! for SIEMs that follows the store ([`export`]). Records are shaped by `tessera-audit`
//! (`tessera_audit::shape`); this crate keeps them.

pub mod export;
pub mod trail;

pub use export::{EXPORT_INTERVAL, Exporter};
pub use trail::{
    DIGEST_INTERVAL, LogReport, Query, StoreSink, append, explain, query, rotate_signing_key, seal,
    seal_with_newest_key, signing_key, since, table, verify, verify_log,
};

/// What the trail's operations fail with.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
    /// A batch could not be appended to the chain.
    #[error("writing the audit record: {0}")]
    Append(tessera_audit::AuditError),
    /// No signing key could be loaded, unsealed or made.
    #[error("{0}")]
    Key(String),
    /// Something stored is not what it should be (a digest, the head's hash, the export's
    /// position file).
    #[error("{0}")]
    Corrupt(String),
    /// An operator's argument (a `--since` value) is not valid.
    #[error("{0}")]
    Argument(String),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The export's files.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A result of the trail's operations.
pub type Result<T, E = TrailError> = std::result::Result<T, E>;
