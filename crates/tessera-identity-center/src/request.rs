//! What every Identity Center operation does with its request: take the signed caller and the
//! JSON document, read string members, ask the kernel's authoriser.

use crate::IdentityCenterError;
use serde_json::{Value, json};
use tessera_authz::{Access, Authorizer};
use tessera_core::{Caller, RequestMeta};
use tessera_policy::ContextKeys;
use tessera_service::Ctx;
use tessera_wire::CommonError;

type R<T> = Result<T, IdentityCenterError>;

/// The caller and the request document (an object; `{}` for an empty body).
pub(crate) fn signed_document<'a>(ctx: &Ctx<'a>, service: &str) -> R<(&'a Caller, &'a Value)> {
    static EMPTY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let caller = ctx.caller().ok_or_else(|| {
        IdentityCenterError::Common(CommonError::AccessDenied(format!(
            "{service} requests must be signed."
        )))
    })?;
    let doc = ctx
        .input
        .json
        .unwrap_or_else(|| EMPTY.get_or_init(|| Value::Object(Default::default())));
    if !doc.is_object() {
        return Err(IdentityCenterError::Common(CommonError::Validation(
            "The request body must be a JSON object.".into(),
        )));
    }
    Ok((caller, doc))
}

/// An optional string member of a request document.
pub(crate) fn string<'a>(doc: &'a Value, member: &str) -> R<Option<&'a str>> {
    match doc.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IdentityCenterError::Common(CommonError::Validation(
            format!("Member {member} must be a string"),
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
        .map_err(|d| IdentityCenterError::Common(CommonError::AccessDenied(d.message)))
}

/// `MaxResults` (1–100) and `NextToken` (the id the next page starts at).
pub(crate) struct Paging<'a> {
    max: usize,
    next: Option<&'a str>,
}

impl<'a> Paging<'a> {
    pub(crate) fn parse(doc: &'a Value) -> R<Paging<'a>> {
        let invalid = |field: &str, constraint: &str| {
            IdentityCenterError::Common(CommonError::Validation(format!(
                "1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"
            )))
        };
        let max = match doc.get("MaxResults") {
            None | Some(Value::Null) => 100,
            Some(v) => match v.as_i64() {
                Some(n @ 1..=100) => n as usize,
                _ => {
                    return Err(invalid(
                        "maxResults",
                        "Member must have value between 1 and 100",
                    ));
                }
            },
        };
        let next = string(doc, "NextToken")?;
        if next.is_some_and(|t| t.is_empty() || t.chars().count() > 65535) {
            return Err(invalid(
                "nextToken",
                "Member must have length between 1 and 65535",
            ));
        }
        Ok(Paging { max, next })
    }

    /// One page of `all` (ordered by `id`) under `member`, with `NextToken` when more follow.
    pub(crate) fn page<T>(
        &self,
        all: &[T],
        member: &str,
        id: impl Fn(&T) -> &String,
        show: impl Fn(&T) -> Value,
    ) -> R<Value> {
        let start = match self.next {
            None => 0,
            Some(t) => all.iter().position(|x| id(x) == t).ok_or_else(|| {
                IdentityCenterError::Common(CommonError::Validation("Invalid NextToken.".into()))
            })?,
        };
        let page: Vec<Value> = all.iter().skip(start).take(self.max).map(show).collect();
        let mut body = json!({ member: page });
        if let Some(n) = all.get(start + self.max) {
            body["NextToken"] = json!(id(n));
        }
        Ok(body)
    }
}
