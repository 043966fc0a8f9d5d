//! `MaxItems` / `Marker` paging, as every IAM List operation does it.

use crate::prelude::*;
use tessera_wire::CommonError;

/// ListRoles and ListUsers: the path prefix to list under (`/` when absent). `MaxItems` and
/// `Marker` are read by [`paginate`], after authorisation, and are not audited.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PathPrefixRequest<'a> {
    pub(crate) path_prefix: &'a str,
}

impl<'a> PathPrefixRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(PathPrefixRequest {
            path_prefix: path_prefix(p)?,
        })
    }
}

/// The `PathPrefix` of a List operation (`/` when absent), with IAM's constraints: 1 to 512
/// characters matching `\u002F[\u0021-\u007F]*`.
pub(crate) fn path_prefix(p: &QueryParams) -> R<&str> {
    let Some(v) = p.get("PathPrefix") else {
        return Ok("/");
    };
    let fail = |constraint: &str| {
        IamError::Common(CommonError::Validation(format!(
            "1 validation error detected: Value '{v}' at 'pathPrefix' failed to satisfy constraint: {constraint}"
        )))
    };
    if v.is_empty() || v.chars().count() > 512 {
        return Err(fail(
            "Member must have length less than or equal to 512 and greater than or equal to 1",
        ));
    }
    if !v.starts_with('/') || !v.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c)) {
        return Err(fail(
            "Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*",
        ));
    }
    Ok(v)
}

/// `MaxItems` / `Marker` paging over an already-sorted list keyed by `key`.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    p: &QueryParams,
    key: impl Fn(&T) -> String,
) -> R<(Vec<T>, Option<String>)> {
    let max: usize = match p.get("MaxItems") {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(IamError::Common(CommonError::Validation(format!(
                    "1 validation error detected: Value '{s}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
                ))));
            }
        },
    };
    let start = match p.get("Marker") {
        None => 0,
        Some(m) => items
            .iter()
            .position(|i| key(i) == m)
            .ok_or_else(|| IamError::Common(CommonError::Validation("Invalid Marker.".into())))?,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let next = if rest.len() > max {
        Some(key(&rest[max]))
    } else {
        None
    };
    rest.truncate(max);
    Ok((rest, next))
}

pub(crate) fn page_footer(w: &mut Writer, next: Option<String>) {
    match next {
        Some(m) => {
            w.elem("IsTruncated", "true");
            w.elem("Marker", &m);
        }
        None => {
            w.elem("IsTruncated", "false");
        }
    }
}
