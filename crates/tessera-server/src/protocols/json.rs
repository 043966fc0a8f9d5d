//! awsJson1.1 (`X-Amz-Target`) and restJson1 (fixed routes): decode the JSON body,
//! authenticate unless the operation is unsigned, dispatch, render.

use super::{Call, authenticate_signed, failed, finish, request_id_header};
use crate::auth;
use crate::pipeline::{Handled, Target};
use bytes::Bytes;
use http::Response;
use serde_json::{Value, json};
use tessera_service::{Body, Ctx, Input};
use tessera_wire::{CommonError, Protocol};

pub(crate) async fn serve(c: Call<'_>) -> Handled {
    let t = Target::of(c.service.spec());
    let parsed_auth = auth::parse(c.parts);
    let mut h = Handled {
        access_key_id: parsed_auth.as_ref().ok().map(|a| a.access_key_id.clone()),
        ..t.handled(c.op.name)
    };
    let result = async {
        let spec = c.service.spec();
        let doc: Value = if c.body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(&c.body).map_err(|e| {
                CommonError::Serialization(format!("The request body is not valid JSON: {e}"))
                    .to_aws(t.protocol)
            })?
        };
        let caller = if c.op.signed {
            let caller =
                authenticate_signed(c.app, c.parts, &c.body, parsed_auth, spec, c.meta).await?;
            h.caller = Some(caller.clone());
            Some(caller)
        } else {
            None
        };
        let ctx = Ctx {
            caller: caller.as_ref(),
            meta: c.meta,
            input: Input {
                parts: c.parts,
                body: &c.body,
                params: None,
                json: Some(&doc),
                bearer: None,
            },
        };
        let r = match c.service.dispatch(c.op.name, &ctx).await {
            Ok(r) => r,
            Err(f) => return Err(failed(&mut h, f)),
        };
        let doc = match r.body {
            Body::Json(v) => v,
            _ => {
                tracing::error!("a JSON service returned another protocol's body");
                json!({})
            }
        };
        let mut resp = Response::new(Bytes::from(doc.to_string()));
        let ctype = if t.protocol == Protocol::RestJson {
            "application/json"
        } else {
            "application/x-amz-json-1.1"
        };
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(ctype),
        );
        request_id_header(&mut resp, "x-amzn-requestid", &c.meta.request_id);
        Ok((resp, r.details))
    }
    .await;
    finish(&mut h, result, t.protocol, &c.meta.request_id);
    h
}
