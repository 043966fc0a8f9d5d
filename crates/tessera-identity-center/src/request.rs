//! What every Identity Center operation does with its request: take the signed caller and the
//! JSON document, read string members, ask the kernel's authoriser.

use crate::IdentityCenterError;
use serde_json::Value;
use tessera_authz::{Access, Authorizer};
use tessera_core::{Caller, RequestMeta};
use tessera_policy::ContextKeys;
use tessera_service::Ctx;

type R<T> = Result<T, IdentityCenterError>;

/// The caller and the request document (an object; `{}` for an empty body).
pub(crate) fn signed_document<'a>(ctx: &Ctx<'a>, service: &str) -> R<(&'a Caller, &'a Value)> {
    static EMPTY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let caller = ctx.caller().ok_or_else(|| {
        IdentityCenterError::AccessDenied(format!("{service} requests must be signed."))
    })?;
    let doc = ctx
        .input
        .json
        .unwrap_or_else(|| EMPTY.get_or_init(|| Value::Object(Default::default())));
    if !doc.is_object() {
        return Err(IdentityCenterError::Validation(
            "The request body must be a JSON object.".into(),
        ));
    }
    Ok((caller, doc))
}

/// An optional string member of a request document.
pub(crate) fn string<'a>(doc: &'a Value, member: &str) -> R<Option<&'a str>> {
    match doc.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IdentityCenterError::Validation(format!(
            "Member {member} must be a string"
        ))),
    }
}

/// May `caller` perform `action` on `resource` of its own account?
pub(crate) fn allow(
    authz: &Authorizer,
    caller: &Caller,
    meta: &RequestMeta,
    action: &str,
    resource: &str,
) -> R<()> {
    let access = Access {
        action,
        resource,
        resource_account: caller.account.as_str(),
        resource_policy: None,
        extra: ContextKeys::new(),
    };
    authz
        .check(caller, meta, access)
        .map_err(|d| IdentityCenterError::AccessDenied(d.message))
}
