//! SCIM PATCH (RFC 7644 §3.5.2): the operations of a PatchOp body, their paths (with value
//! filters and sub-attributes) and their application to a user document. Groups apply their
//! operations in `groups`.

use super::documents::{ENTERPRISE_TEXT, MULTI, canonical_user_attr};
use super::query::{Term, parse_filter};
use super::{
    ENTERPRISE, GROUP_SCHEMA, MAX_OPERATIONS, PATCH_OP, R, ScimError, USER_SCHEMA, get_ci,
};
use serde_json::{Map, Value, json};

/// A PATCH path: attribute (with the schema URN it may carry), optional value filter,
/// optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PatchPath {
    /// `None`: the core schema; `Some`: the enterprise extension object.
    pub(super) extension: bool,
    pub(super) attr: String,
    pub(super) filter: Option<Term>,
    pub(super) sub: Option<String>,
}

pub(super) fn parse_path(p: &str) -> R<PatchPath> {
    let bad = || {
        ScimError::bad(
            "invalidPath",
            format!("Invalid path {:?}", p.chars().take(200).collect::<String>()),
        )
    };
    let mut rest = p.trim();
    let mut extension = false;
    if let Some(r) = strip_ci(rest, ENTERPRISE) {
        extension = true;
        rest = r.strip_prefix(':').unwrap_or(r);
        if rest.is_empty() {
            return Ok(PatchPath {
                extension,
                attr: String::new(),
                filter: None,
                sub: None,
            });
        }
    } else if let Some(r) = strip_ci(rest, &format!("{USER_SCHEMA}:"))
        .or_else(|| strip_ci(rest, &format!("{GROUP_SCHEMA}:")))
    {
        rest = r;
    }
    let (attr, filter, after) = match rest.find('[') {
        Some(i) => {
            let close = rest.rfind(']').ok_or_else(bad)?;
            if close < i {
                return Err(bad());
            }
            let terms = parse_filter(&rest[i + 1..close])?;
            let [t] = <[Term; 1]>::try_from(terms).map_err(|_| bad())?;
            (&rest[..i], Some(t), &rest[close + 1..])
        }
        None => match rest.split_once('.') {
            Some((a, s)) => (a, None, &rest[a.len()..][..s.len() + 1]),
            None => (rest, None, ""),
        },
    };
    let sub = match after {
        "" => None,
        s => Some(s.strip_prefix('.').ok_or_else(bad)?.to_owned()),
    };
    if attr.is_empty()
        || !attr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '$' || c == '_')
    {
        return Err(bad());
    }
    Ok(PatchPath {
        extension,
        attr: attr.to_owned(),
        filter,
        sub,
    })
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // `get` (not indexing): the cut may fall inside a multi-byte character.
    s.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

/// The key of `o` matching `name` without regard to case, or `name` itself.
fn key_of(o: &Map<String, Value>, name: &str) -> String {
    o.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

fn matches_term(v: &Value, t: &Term) -> bool {
    v.as_object()
        .and_then(|o| get_ci(o, &t.attr))
        .is_some_and(|x| match x {
            Value::String(s) => s.eq_ignore_ascii_case(&t.value),
            Value::Bool(b) => b.to_string() == t.value.to_ascii_lowercase(),
            Value::Number(n) => n.to_string() == t.value,
            _ => false,
        })
}

/// Apply one PATCH operation to a SCIM user document (RFC 7644 §3.5.2).
pub(super) fn patch_user(
    doc: &mut Value,
    op: &str,
    path: Option<&str>,
    value: Option<&Value>,
) -> R<()> {
    let Some(path) = path else {
        // No path: the value is an object of attributes (possibly with dotted or URN-qualified
        // names) to add or replace; Okta and Entra ID send this.
        if op == "remove" {
            return Err(ScimError::bad(
                "noTarget",
                "A remove operation needs a path.",
            ));
        }
        let obj = value.and_then(Value::as_object).ok_or_else(|| {
            ScimError::bad(
                "invalidValue",
                "Without a path, the value must be an object.",
            )
        })?;
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("id")
                || k.eq_ignore_ascii_case("schemas")
                || k.eq_ignore_ascii_case("meta")
            {
                continue;
            }
            if k.eq_ignore_ascii_case(ENTERPRISE) && v.is_object() {
                for (ek, ev) in v.as_object().into_iter().flatten() {
                    patch_user(doc, op, Some(&format!("{ENTERPRISE}:{ek}")), Some(ev))?;
                }
                continue;
            }
            if op == "add" && k.eq_ignore_ascii_case("name") && v.is_object() {
                for (nk, nv) in v.as_object().into_iter().flatten() {
                    patch_user(doc, op, Some(&format!("name.{nk}")), Some(nv))?;
                }
                continue;
            }
            patch_user(doc, op, Some(k), Some(v))?;
        }
        return Ok(());
    };
    let p = parse_path(path)?;
    let root = doc.as_object_mut().expect("a user document is an object");
    let target: &mut Map<String, Value> = if p.extension {
        let k = key_of(root, ENTERPRISE);
        let e = root.entry(k).or_insert_with(|| json!({}));
        if !e.is_object() {
            *e = json!({});
        }
        e.as_object_mut().expect("an object")
    } else {
        root
    };
    if p.attr.is_empty() {
        // The whole extension.
        match (op, value) {
            ("remove", _) => target.clear(),
            (_, Some(Value::Object(v))) => {
                for (k, x) in v {
                    target.insert(k.clone(), x.clone());
                }
            }
            _ => {
                return Err(ScimError::bad(
                    "invalidValue",
                    "The extension value must be an object.",
                ));
            }
        }
        return Ok(());
    }
    let attr = if p.extension {
        ENTERPRISE_TEXT
            .iter()
            .chain(["manager"].iter())
            .find(|a| a.eq_ignore_ascii_case(&p.attr))
            .map(|a| (*a).to_owned())
            .ok_or_else(|| ScimError::bad("invalidPath", format!("Unknown attribute {}", p.attr)))?
    } else {
        let a = canonical_user_attr(&p.attr).ok_or_else(|| {
            ScimError::bad("invalidPath", format!("Unknown attribute {}", p.attr))
        })?;
        if ["id", "meta", "schemas", "groups"].contains(&a) {
            return Err(ScimError::bad(
                "mutability",
                format!("{a} cannot be changed."),
            ));
        }
        a.to_owned()
    };
    let key = key_of(target, &attr);
    let multi = MULTI.iter().any(|(m, _)| *m == attr);
    match (&p.filter, &p.sub) {
        (None, None) => match op {
            "remove" => {
                target.remove(&key);
            }
            "add" if multi => {
                let v =
                    value.ok_or_else(|| ScimError::bad("invalidValue", "add needs a value."))?;
                let list = target.entry(key).or_insert_with(|| json!([]));
                if !list.is_array() {
                    *list = json!([]);
                }
                let l = list.as_array_mut().expect("an array");
                match v {
                    Value::Array(items) => l.extend(items.iter().cloned()),
                    other => l.push(other.clone()),
                }
            }
            "add" if attr == "name" => {
                let v = value
                    .and_then(Value::as_object)
                    .ok_or_else(|| ScimError::bad("invalidValue", "name must be an object."))?;
                let n = target.entry(key).or_insert_with(|| json!({}));
                for (k, x) in v {
                    n[k] = x.clone();
                }
            }
            _ => {
                let v = value.ok_or_else(|| {
                    ScimError::bad("invalidValue", "The operation needs a value.")
                })?;
                target.insert(key, v.clone());
            }
        },
        (None, Some(sub)) => {
            // `name.givenName`, `manager.value`.
            let o = target.entry(key).or_insert_with(|| json!({}));
            if !o.is_object() {
                *o = json!({});
            }
            let o = o.as_object_mut().expect("an object");
            let sk = key_of(o, sub);
            if op == "remove" {
                o.remove(&sk);
            } else {
                let v = value.ok_or_else(|| {
                    ScimError::bad("invalidValue", "The operation needs a value.")
                })?;
                o.insert(sk, v.clone());
            }
        }
        (Some(term), sub) => {
            if !multi {
                return Err(ScimError::bad(
                    "invalidPath",
                    format!("{attr} is not multi-valued."),
                ));
            }
            let list = target.entry(key).or_insert_with(|| json!([]));
            if !list.is_array() {
                *list = json!([]);
            }
            let l = list.as_array_mut().expect("an array");
            let hit = l.iter().position(|e| matches_term(e, term));
            match (op, sub, hit) {
                ("remove", None, _) => l.retain(|e| !matches_term(e, term)),
                ("remove", Some(s), Some(i)) => {
                    if let Some(o) = l[i].as_object_mut() {
                        let k = key_of(o, s);
                        o.remove(&k);
                    }
                }
                ("remove", Some(_), None) => {}
                (_, Some(s), Some(i)) => {
                    let v = value.ok_or_else(|| {
                        ScimError::bad("invalidValue", "The operation needs a value.")
                    })?;
                    if let Some(o) = l[i].as_object_mut() {
                        let k = key_of(o, s);
                        o.insert(k, v.clone());
                    }
                }
                (_, Some(s), None) => {
                    // Entra ID: `emails[type eq "work"].value` on a user without one adds it.
                    let v = value.ok_or_else(|| {
                        ScimError::bad("invalidValue", "The operation needs a value.")
                    })?;
                    let mut o = Map::new();
                    o.insert(term.attr.clone(), json!(term.value));
                    o.insert(s.clone(), v.clone());
                    if attr == "emails" {
                        o.insert("primary".into(), json!(true));
                    }
                    l.push(Value::Object(o));
                }
                (_, None, hit) => {
                    let v = value.ok_or_else(|| {
                        ScimError::bad("invalidValue", "The operation needs a value.")
                    })?;
                    match hit {
                        Some(i) => l[i] = v.clone(),
                        None => l.push(v.clone()),
                    }
                }
            }
        }
    }
    Ok(())
}

/// One PATCH operation: (lower-case op, path, value).
pub(super) type PatchOperation = (String, Option<String>, Option<Value>);

/// The operations of a PATCH body: (lower-case op, path, value).
pub(super) fn operations(body: &Value) -> R<Vec<PatchOperation>> {
    let o = body
        .as_object()
        .ok_or_else(|| ScimError::bad("invalidSyntax", "The body must be a JSON object."))?;
    if let Some(s) = get_ci(o, "schemas")
        && !s
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == PATCH_OP))
    {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("A PATCH body's schemas must include {PATCH_OP}."),
        ));
    }
    let ops = get_ci(o, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::bad("invalidSyntax", "A PATCH body needs an Operations list."))?;
    if ops.is_empty() || ops.len() > MAX_OPERATIONS {
        return Err(ScimError::bad(
            "tooMany",
            format!("A PATCH carries 1 to {MAX_OPERATIONS} operations."),
        ));
    }
    ops.iter()
        .map(|op| {
            let m = op.as_object().ok_or_else(|| {
                ScimError::bad("invalidSyntax", "Each operation must be an object.")
            })?;
            let name = get_ci(m, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .filter(|n| ["add", "replace", "remove"].contains(&n.as_str()))
                .ok_or_else(|| {
                    ScimError::bad("invalidSyntax", "op must be add, replace or remove.")
                })?;
            let path = match get_ci(m, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(ScimError::bad("invalidPath", "path must be a string.")),
            };
            Ok((name, path, get_ci(m, "value").cloned()))
        })
        .collect()
}
