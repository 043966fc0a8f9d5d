//! The S3 data plane. So far only its protocol layer ([`codec`]): the decision recorded in
//! `ARCHITECTURE.md` ("S3 protocol layer") that keeps S3 requests authenticated once, by
//! Tessera's one SigV4 verifier, with exactly one audit record, while the `s3s` crate parses
//! operations and renders responses. The operations, backends and grant enforcement come with
//! the S3 issue.

pub mod codec;

pub use codec::{Authenticated, S3Codec, strip_signature};
