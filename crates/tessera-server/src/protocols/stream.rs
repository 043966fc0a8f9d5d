//! The fallback's streaming requests ([`tessera_service::Routing::Fallback`]): authenticate
//! with S3 canonicalisation and the payload deferred, pace the body, and hand both to the
//! [`Streaming`] service, which verifies the body as it streams and names the operation.

use crate::app::App;
use crate::auth::{self, AuthRequest};
use crate::config::BodyPace;
use crate::pipeline::{Handled, Target};
use bytes::Bytes;
use futures::StreamExt;
use tessera_core::RequestMeta;
use tessera_service::{ByteStream, Signature, StreamCall, Streaming};
use tessera_sigv4::{Canonicalization, SigV4Error};
use tessera_wire::CommonError;

/// A streamed request's own deadline does not cut transfers short (objects may be
/// gigabytes); a body that falls behind its pace ([`BodyPace`]) is cut off instead.
pub(crate) const STREAM_DEADLINE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// The request body as a stream that must keep `pace` (no long gap, and at least the
/// minimum rate on average): bodies of any size may take as long as they need at a decent
/// pace, while a trickle is cut off with `RequestTimeout`.
fn paced<B>(body: B, pace: BodyPace) -> ByteStream
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let data = http_body_util::BodyDataStream::new(body);
    let start = std::time::Instant::now();
    let s = futures::stream::unfold(Some((Box::pin(data), 0u64, start)), move |st| async move {
        let (mut st, received, last) = st?;
        let deadline = pace.deadline(start, received, last);
        match tokio::time::timeout_at(deadline.into(), st.next()).await {
            Err(_) => Some((
                Err(Box::new(CommonError::RequestTimeout) as tessera_service::stream::StdError),
                None,
            )),
            Ok(None) => None,
            Ok(Some(Ok(b))) => {
                let received = received + b.len() as u64;
                Some((Ok(b), Some((st, received, std::time::Instant::now()))))
            }
            Ok(Some(Err(e))) => Some((Err(e.into()), None)),
        }
    });
    Box::pin(s)
}

/// Serve one request for the streaming `service`.
pub(crate) async fn serve<B>(
    app: &App,
    service: &dyn Streaming,
    parts: &http::request::Parts,
    body: B,
    meta: &RequestMeta,
) -> Handled
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let spec = service.spec();
    let t = Target::of(spec);
    let rid = &meta.request_id;
    let parsed = auth::parse(parts);
    let h = Handled {
        access_key_id: parsed.as_ref().ok().map(|a| a.access_key_id.clone()),
        ..t.handled("Unknown")
    };
    let fail = |h: Handled, e: tessera_wire::AwsError| Handled {
        response: e.render(t.protocol, rid),
        error: Some(e),
        data_event: true,
        ..h
    };
    let parsed = match parsed {
        Ok(a) => a,
        Err(SigV4Error::MissingAuthentication) => return fail(h, service.unsigned(parts)),
        Err(e) => return fail(h, auth::sig_error(&e, Canonicalization::S3)),
    };
    let authed = auth::authenticate_keyed(
        app,
        &AuthRequest {
            parts,
            payload: tessera_sigv4::Payload::Deferred,
            auth: &parsed,
            canon: Canonicalization::S3,
            services: spec.signing_names,
            now: meta.now,
            protocol: spec.protocol,
        },
    )
    .await;
    let (caller, key) = match authed {
        Ok(x) => x,
        Err(e) => return fail(h, e),
    };
    let reply = service
        .serve(StreamCall {
            caller: caller.clone(),
            signature: Signature { key, auth: parsed },
            meta: meta.clone(),
            parts: parts.clone(),
            body: paced(body, app.limits.body_pace()),
        })
        .await;
    let (response, stream) = reply.response.into_parts();
    Handled {
        action: reply.operation,
        caller: Some(caller),
        details: Some(reply.details),
        error: reply.error,
        response: http::Response::from_parts(response, Bytes::new()),
        stream: Some(stream),
        data_event: reply.data_event,
        ..h
    }
}
