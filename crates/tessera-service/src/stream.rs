//! The streaming port: a service whose requests and responses are byte streams of any size
//! (S3's REST API, [`Routing::Fallback`](crate::Routing::Fallback)). The server authenticates
//! the request (SigV4, S3 canonicalisation, the payload deferred) and hands the service the
//! caller, the request's signature and its body as a paced stream; the service verifies the
//! body as it streams, names the operation, and says what the audit record holds.

use async_trait::async_trait;
use bytes::Bytes;
use std::fmt::Debug;
use std::pin::Pin;
use tessera_audit::EventDetails;
use tessera_core::{Caller, RequestMeta};
use tessera_wire::AwsError;

use crate::ServiceSpec;

/// An error inside a body stream. A stream the server paces fails with a boxed
/// [`tessera_wire::CommonError`] (`RequestTimeout`) when the client falls behind.
pub type StdError = Box<dyn std::error::Error + Send + Sync>;

/// A request body as a stream of chunks.
pub type ByteStream = Pin<Box<dyn futures_core::Stream<Item = Result<Bytes, StdError>> + Send>>;

/// A response body of any size.
pub type StreamBody = http_body_util::combinators::UnsyncBoxBody<Bytes, StdError>;

/// The request's SigV4 signature, for a body whose chunks are signed with it (`aws-chunked`).
#[derive(Debug, Clone)]
pub struct Signature {
    /// The SigV4 signing key the request was verified with.
    pub key: [u8; 32],
    pub auth: tessera_sigv4::ParsedAuth,
}

/// One authenticated request for a streaming service.
pub struct StreamCall {
    pub caller: Caller,
    pub signature: Signature,
    pub meta: RequestMeta,
    /// The request as received (the signature is still in it).
    pub parts: http::request::Parts,
    /// The body, as the client sends it (not yet verified against the signature).
    pub body: ByteStream,
}

/// What a streaming service answers: the response, and what the pipeline meters and audits.
pub struct StreamReply {
    pub response: http::Response<StreamBody>,
    /// The operation's wire name (`GetObject`), or `Unknown` if the request named none.
    pub operation: String,
    /// The error the response carries, for metrics and the audit record.
    pub error: Option<AwsError>,
    pub details: EventDetails,
    /// Whether the audit record is a data event (object reads and writes) rather than a
    /// management event.
    pub data_event: bool,
}

/// A service that serves streams: registered with
/// [`Registry::register_stream`](crate::Registry::register_stream).
#[async_trait]
pub trait Streaming: Send + Sync + Debug {
    /// Its declaration; its routing is [`Routing::Fallback`](crate::Routing::Fallback).
    fn spec(&self) -> &'static ServiceSpec;
    /// The answer to a request that carries no SigV4 signature at all.
    fn unsigned(&self, parts: &http::request::Parts) -> AwsError;
    /// Serve one authenticated request.
    async fn serve(&self, call: StreamCall) -> StreamReply;
}
