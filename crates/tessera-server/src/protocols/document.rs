//! Services that shape their own responses: bearer-token APIs (SCIM; the service checks the
//! token) and unsigned documents (a token issuer's discovery and keys). No SigV4.

use super::{Call, failed, finish, request_id_header};
use crate::pipeline::{Handled, Target, internal_failure};
use tessera_service::{Body, Ctx, Input, Routing};

pub(crate) async fn serve(c: Call<'_>) -> Handled {
    let t = Target::of(c.service.spec());
    let mut h = t.handled(c.op.name);
    let bearer = match c.service.spec().routing {
        Routing::Bearer { .. } => tessera_service::bearer_token(c.parts),
        _ => None,
    };
    let ctx = Ctx {
        caller: None,
        meta: c.meta,
        input: Input {
            parts: c.parts,
            body: &c.body,
            params: None,
            json: None,
            bearer,
        },
    };
    let result = match c.service.dispatch(c.op.name, &ctx).await {
        Ok(r) => match r.body {
            Body::Http(mut resp) => {
                request_id_header(&mut resp, "x-amzn-requestid", &c.meta.request_id);
                Ok((resp, r.details))
            }
            _ => {
                tracing::error!("a document service returned another protocol's body");
                Err(internal_failure(t.protocol))
            }
        },
        Err(f) => Err(failed(&mut h, f)),
    };
    finish(&mut h, result, t.protocol, &c.meta.request_id);
    h
}
