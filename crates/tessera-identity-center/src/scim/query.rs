//! What a SCIM request's query string asks for: the `filter` (`attr eq "v"` terms), paging
//! (`startIndex` / `count`) and the list response it shapes, and the
//! `attributes` / `excludedAttributes` projection of a document.

use super::{LIST, MAX_PAGE, R, ScimError, USER_SCHEMA};
use serde_json::{Map, Value, json};

pub(super) fn query_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub(super) fn filter_of(q: &[(String, String)]) -> R<Option<Vec<Term>>> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("filter"))
        .map(|(_, f)| parse_filter(f))
        .transpose()
}

/// One `attr eq "value"` term of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Term {
    pub(super) attr: String,
    pub(super) value: String,
}

/// `attr eq "value"` terms joined by `and`, at most two (Identity Center's subset).
pub(super) fn parse_filter(f: &str) -> R<Vec<Term>> {
    let invalid = |m: &str| ScimError::bad("invalidFilter", format!("Invalid filter: {m}"));
    if f.len() > 1024 {
        return Err(invalid("too long"));
    }
    let mut terms = Vec::new();
    let mut rest = f.trim();
    loop {
        let (attr, after) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("expected `attribute eq \"value\"`"))?;
        let after = after.trim_start();
        let (op, after) = after
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("expected an operator"))?;
        if !op.eq_ignore_ascii_case("eq") {
            return Err(invalid("only the eq operator is supported"));
        }
        let after = after.trim_start();
        let body = after
            .strip_prefix('"')
            .ok_or_else(|| invalid("the value must be a quoted string"))?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => value.push(e),
                    None => return Err(invalid("unterminated escape")),
                },
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end.ok_or_else(|| invalid("unterminated string"))?;
        if attr.contains(['(', ')', '[', ']']) || attr.is_empty() {
            return Err(invalid("grouping and value filters are not supported"));
        }
        terms.push(Term {
            attr: attr.to_owned(),
            value,
        });
        rest = body[end..].trim_start();
        if rest.is_empty() {
            break;
        }
        let (joiner, after) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| invalid("expected `and`"))?;
        if !joiner.eq_ignore_ascii_case("and") {
            return Err(invalid("only `and` may join terms"));
        }
        rest = after.trim_start();
        if terms.len() >= 2 {
            return Err(invalid("at most two terms joined by `and`"));
        }
    }
    Ok(terms)
}

/// `startIndex` (1-based) and `count` (≤ 100).
pub(super) fn paging(q: &[(String, String)]) -> R<(usize, usize)> {
    let num = |k: &str| -> R<Option<i64>> {
        q.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| {
                v.parse::<i64>()
                    .map_err(|_| ScimError::bad("invalidValue", format!("{k} must be an integer.")))
            })
            .transpose()
    };
    let start = num("startIndex")?.unwrap_or(1).max(1) as usize;
    let count = num("count")?
        .unwrap_or(MAX_PAGE as i64)
        .clamp(0, MAX_PAGE as i64) as usize;
    Ok((start, count))
}

pub(super) fn list_response(items: Vec<Value>, start: usize, count: usize) -> Value {
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start - 1).take(count).collect();
    json!({"schemas": [LIST], "totalResults": total, "itemsPerPage": page.len(), "startIndex": start, "Resources": page})
}

/// `attributes` / `excludedAttributes` (top-level names, or `name.sub`).
pub(super) fn project(mut v: Value, q: &[(String, String)]) -> Value {
    let list = |k: &str| -> Option<Vec<String>> {
        q.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
    };
    let Some(o) = v.as_object_mut() else {
        return v;
    };
    let always = ["id", "schemas", "meta"];
    if let Some(keep) = list("attributes") {
        let mut out = Map::new();
        for (k, val) in o.iter() {
            if always.contains(&k.as_str()) {
                out.insert(k.clone(), val.clone());
                continue;
            }
            for a in &keep {
                let a = a.strip_prefix(&format!("{USER_SCHEMA}:")).unwrap_or(a);
                let (top, sub) = match a.split_once('.') {
                    Some((t, s)) => (t, Some(s)),
                    None => (a, None),
                };
                if !top.eq_ignore_ascii_case(k) {
                    continue;
                }
                match (sub, val) {
                    (None, _) => {
                        out.insert(k.clone(), val.clone());
                    }
                    (Some(s), Value::Object(inner)) => {
                        if let Some((sk, sv)) =
                            inner.iter().find(|(x, _)| x.eq_ignore_ascii_case(s))
                        {
                            let e = out.entry(k.clone()).or_insert_with(|| json!({}));
                            e[sk] = sv.clone();
                        }
                    }
                    (Some(_), _) => {}
                }
            }
        }
        *o = out;
    }
    if let Some(drop) = list("excludedAttributes") {
        for a in drop {
            let a = a
                .strip_prefix(&format!("{USER_SCHEMA}:"))
                .unwrap_or(&a)
                .to_owned();
            match a.split_once('.') {
                Some((t, s)) => {
                    if let Some(Value::Object(inner)) = o
                        .iter_mut()
                        .find(|(k, _)| k.eq_ignore_ascii_case(t))
                        .map(|(_, v)| v)
                    {
                        inner.retain(|k, _| !k.eq_ignore_ascii_case(s));
                    }
                }
                None if !always.iter().any(|x| x.eq_ignore_ascii_case(&a)) => {
                    o.retain(|k, _| !k.eq_ignore_ascii_case(&a));
                }
                None => {}
            }
        }
    }
    v
}
