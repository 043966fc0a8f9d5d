//! The S3 data plane, registered as the server's fallback service ([`service`]): the protocol layer ([`codec`]: `s3s` behind Tessera's one
//! authentication layer, see `ARCHITECTURE.md`, "S3 protocol layer"), the operations and their
//! authorisation by policy or Access Grants scope ([`handler`]), request bodies verified while
//! they stream ([`body`]), and the object store port ([`backend`]) with its local
//! filesystem implementation ([`fs`]) and the S3-compatible upstream ([`upstream`]).

pub mod backend;
pub mod body;
pub mod codec;
pub mod fs;
pub mod handler;
pub mod meta;
pub mod service;
pub mod upstream;
pub mod xml_body;

pub use backend::Backend;
pub use codec::{S3Codec, strip_signature};
pub use fs::FsBackend;
pub use handler::{Authenticated, S3Event, S3Handler};
/// The body type requests and responses of the codec carry.
pub use s3s::Body;
pub use service::S3Service;
pub use upstream::{UpstreamBackend, UpstreamConfig};
