//! `MaxItems` / `Marker` paging, as every IAM List operation does it.

use crate::prelude::*;

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
                return Err(IamError::ValidationError(format!(
                    "1 validation error detected: Value '{s}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
                )));
            }
        },
    };
    let start = match p.get("Marker") {
        None => 0,
        Some(m) => items
            .iter()
            .position(|i| key(i) == m)
            .ok_or_else(|| IamError::ValidationError("Invalid Marker.".into()))?,
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
