//! IAM tags on roles, users and OIDC providers.

use crate::prelude::*;
use tessera_wire::CommonError;

pub(crate) const MAX_TAGS: usize = 50;

pub(crate) fn parse_tags(p: &QueryParams) -> R<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in p.struct_list("Tags")? {
        let key = t.get("Key").ok_or_else(|| {
            IamError::Common(CommonError::MissingParameter(
                "Tags.member.N.Key is required".into(),
            ))
        })?;
        let value = t.get("Value").map(String::as_str).unwrap_or("");
        validation(names::tag(key, value))?;
        if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            return Err(IamError::InvalidInput(format!("Duplicate tag key '{key}'")));
        }
        out.push((key.clone(), value.to_owned()));
    }
    if out.len() > MAX_TAGS {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for TagsPerRole: {MAX_TAGS}"
        )));
    }
    Ok(out)
}

pub(crate) fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

/// `#[serde(serialize_with)]` for a request's tags: as [`tags_json`] writes them.
pub(crate) fn serialize_tags<S: serde::Serializer>(
    tags: &[(String, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    tags_json(tags).serialize(s)
}
