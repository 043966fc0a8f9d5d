//! Rewriting the `AWS` principals of a policy document's text, for display.

use crate::json::Json;

/// Rewrites the `AWS` values of every `Principal` / `NotPrincipal` element of a policy
/// document: `replace` gets each value and returns its replacement, or `None` to keep it.
/// Returns the rewritten document (compact JSON, key order kept), or `None` when nothing
/// changed or the text is not a JSON object. IAM uses it to show the unique id in place of
/// the ARN of a principal that no longer exists.
pub fn rewrite_aws_principals(
    doc: &str,
    mut replace: impl FnMut(&str) -> Option<String>,
) -> Option<String> {
    let mut json = Json::parse(doc)?;
    let Json::Object(top) = &mut json else {
        return None;
    };
    let mut changed = false;
    let mut rewrite_value = |v: &mut Json| {
        if let Json::String(s) = v
            && let Some(new) = replace(s)
        {
            *s = new;
            changed = true;
        }
    };
    let mut statements: Vec<&mut Json> = Vec::new();
    for (k, v) in top.iter_mut() {
        if k == "Statement" {
            match v {
                Json::Array(items) => statements.extend(items.iter_mut()),
                other => statements.push(other),
            }
        }
    }
    for st in statements {
        let Json::Object(fields) = st else { continue };
        for (k, v) in fields.iter_mut() {
            if k != "Principal" && k != "NotPrincipal" {
                continue;
            }
            let Json::Object(kinds) = v else { continue };
            for (kind, vals) in kinds.iter_mut() {
                if kind != "AWS" {
                    continue;
                }
                match vals {
                    Json::Array(items) => items.iter_mut().for_each(&mut rewrite_value),
                    other => rewrite_value(other),
                }
            }
        }
    }
    changed.then(|| json.to_compact_string())
}
