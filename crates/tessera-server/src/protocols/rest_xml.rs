//! restXml under a path prefix (s3control): authenticate with S3 canonicalisation against
//! the Host as received, dispatch, render.

use super::{Call, failed, finish};
use crate::auth::{self, AuthRequest};
use crate::pipeline::{Handled, Target, internal_failure};
use bytes::Bytes;
use http::Response;
use tessera_service::{Body, Ctx, Input};
use tessera_sigv4::{Canonicalization, SigV4Error};
use tessera_wire::CommonError;

pub(crate) async fn serve(c: Call<'_>) -> Handled {
    let t = Target::of(c.service.spec());
    let parsed_auth = auth::parse(c.parts);
    let mut h = Handled {
        access_key_id: parsed_auth.as_ref().ok().map(|a| a.access_key_id.clone()),
        ..t.handled(c.op.name)
    };
    let result = async {
        let spec = c.service.spec();
        let auth = match parsed_auth {
            Ok(a) => a,
            Err(SigV4Error::MissingAuthentication) => {
                return Err(CommonError::AccessDenied("Access Denied".into()).to_aws(t.protocol));
            }
            Err(e) => return Err(auth::sig_error(&e, Canonicalization::S3)),
        };
        let caller = auth::authenticate(
            c.app,
            &AuthRequest {
                parts: c.parts,
                payload: tessera_sigv4::Payload::Body(&c.body),
                auth: &auth,
                canon: Canonicalization::S3,
                services: spec.signing_names,
                now: c.meta.now,
                protocol: spec.protocol,
            },
        )
        .await?;
        h.caller = Some(caller.clone());
        let ctx = Ctx {
            caller: Some(&caller),
            meta: c.meta,
            input: Input {
                parts: c.parts,
                body: &c.body,
                params: None,
                json: None,
                bearer: None,
            },
        };
        let r = match c.service.dispatch(c.op.name, &ctx).await {
            Ok(r) => r,
            Err(f) => return Err(failed(&mut h, f)),
        };
        let mut resp = match r.body {
            Body::Xml(xml) => {
                let mut resp = Response::new(Bytes::from(xml));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/xml"),
                );
                resp
            }
            Body::NoContent => {
                let mut resp = Response::new(Bytes::new());
                *resp.status_mut() = http::StatusCode::NO_CONTENT;
                resp
            }
            _ => {
                tracing::error!("a restXml service returned another protocol's body");
                return Err(internal_failure(t.protocol));
            }
        };
        if let Ok(v) = http::HeaderValue::from_str(&c.meta.request_id) {
            resp.headers_mut().insert("x-amz-request-id", v.clone());
            resp.headers_mut().insert("x-amz-id-2", v);
        }
        Ok((resp, r.details))
    }
    .await;
    finish(&mut h, result, t.protocol, &c.meta.request_id);
    h
}
