//! Parsing and validation of a policy document: its size, characters, elements and
//! statements, with their patterns, ARNs and conditions compiled once.

use super::{Effect, Policy, PolicyKind, PolicyVersion, Statement, policy_size};
use crate::condition::parse_conditions;
use crate::error::{PolicyError, PolicyErrorKind};
use crate::json::Json;
use crate::pattern::{ArnPattern, Pattern};
use crate::principal::PrincipalSpec;

fn err(kind: PolicyErrorKind, msg: impl Into<String>) -> PolicyError {
    PolicyError::new(kind, msg)
}

fn check_characters(doc: &str) -> Result<(), PolicyError> {
    if let Some(bad) = doc
        .chars()
        .find(|c| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}'))
    {
        return Err(err(
            PolicyErrorKind::InvalidCharacters,
            format!(
                "Policy document contains the invalid character U+{:04X}; only tab, line feed, carriage return and U+0020 through U+00FF are allowed.",
                u32::from(bad)
            ),
        ));
    }
    Ok(())
}

/// A string or a non-empty array of strings.
fn string_list<'a>(field: &str, v: &'a Json) -> Result<Vec<&'a str>, PolicyError> {
    let type_err = || {
        err(
            PolicyErrorKind::InvalidType,
            format!("{field} must be a string or an array of strings."),
        )
    };
    match v {
        Json::String(s) => Ok(vec![s.as_str()]),
        Json::Array(items) => items
            .iter()
            .map(|i| match i {
                Json::String(s) => Ok(s.as_str()),
                _ => Err(type_err()),
            })
            .collect(),
        _ => Err(type_err()),
    }
}

fn compile_action(a: &str) -> Result<Pattern, PolicyError> {
    if a == "*" {
        return Ok(Pattern::compile(a, true, false));
    }
    let valid = a.split_once(':').is_some_and(|(service, name)| {
        !service.is_empty()
            && !name.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*' | '?'))
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '?'))
    });
    if !valid {
        return Err(err(
            PolicyErrorKind::InvalidAction,
            format!("Action \"{a}\" must be in the form service:action, e.g., iam:CreateRole."),
        ));
    }
    Ok(Pattern::compile(a, true, false))
}

fn compile_resource(r: &str, variables: bool) -> Result<ArnPattern, PolicyError> {
    let valid = r == "*" || (r.starts_with("arn:") && r.splitn(6, ':').count() == 6);
    if !valid {
        return Err(err(
            PolicyErrorKind::InvalidResource,
            format!("Resource {r} must be in ARN format or \"*\"."),
        ));
    }
    Ok(ArnPattern::compile(r, variables))
}

fn pick<'a>(
    entries: &'a [(String, Json)],
    a: &str,
    b: &str,
    kind: PolicyErrorKind,
) -> Result<Option<(bool, &'a Json)>, PolicyError> {
    let find = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    match (find(a), find(b)) {
        (Some(_), Some(_)) => Err(err(
            kind,
            format!("Policy statement must not contain both {a} and {b}."),
        )),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

const STATEMENT_FIELDS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn parse_statement(
    json: &Json,
    kind: PolicyKind,
    variables: bool,
) -> Result<Statement, PolicyError> {
    let Json::Object(entries) = json else {
        return Err(err(
            PolicyErrorKind::InvalidType,
            "Each policy statement must be an object.",
        ));
    };
    if let Some(dup) = Json::duplicate_key(entries) {
        return Err(err(
            PolicyErrorKind::DuplicateKey,
            format!("Duplicate field {dup} in policy statement."),
        ));
    }
    if let Some((unknown, _)) = entries
        .iter()
        .find(|(k, _)| !STATEMENT_FIELDS.contains(&k.as_str()))
    {
        return Err(err(
            PolicyErrorKind::UnknownField,
            format!("Unknown field {unknown}"),
        ));
    }
    let field = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| v);

    let sid = match field("Sid") {
        None => None,
        Some(Json::String(s)) => {
            let strict = !kind.requires_principal();
            if strict && !s.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(err(
                    PolicyErrorKind::InvalidSid,
                    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
                ));
            }
            Some(s.clone())
        }
        Some(_) => return Err(err(PolicyErrorKind::InvalidType, "Sid must be a string.")),
    };

    let effect = match field("Effect") {
        Some(Json::String(s)) if s == "Allow" => Effect::Allow,
        Some(Json::String(s)) if s == "Deny" => Effect::Deny,
        Some(Json::String(s)) => {
            return Err(err(
                PolicyErrorKind::InvalidEffect,
                format!("Invalid effect: {s}"),
            ));
        }
        Some(other) => {
            return Err(err(
                PolicyErrorKind::InvalidEffect,
                format!("Invalid effect: {}", other.type_name()),
            ));
        }
        None => {
            return Err(err(
                PolicyErrorKind::InvalidEffect,
                "Missing required field Effect",
            ));
        }
    };

    let no_actions = || {
        err(
            PolicyErrorKind::InvalidAction,
            "Policy statement must contain actions.",
        )
    };
    let (not_action, action_json) = pick(
        entries,
        "Action",
        "NotAction",
        PolicyErrorKind::InvalidAction,
    )?
    .ok_or_else(no_actions)?;
    let action_list = string_list(if not_action { "NotAction" } else { "Action" }, action_json)?;
    if action_list.is_empty() {
        return Err(no_actions());
    }
    let actions = action_list
        .into_iter()
        .map(compile_action)
        .collect::<Result<Vec<_>, _>>()?;

    let no_resources = || {
        err(
            PolicyErrorKind::InvalidResource,
            "Policy statement must contain resources.",
        )
    };
    let resources = match pick(
        entries,
        "Resource",
        "NotResource",
        PolicyErrorKind::InvalidResource,
    )? {
        // A role trust policy's resource is the role itself: IAM refuses the element.
        Some((negated, _)) if kind == PolicyKind::Trust => {
            return Err(err(
                PolicyErrorKind::InvalidResource,
                format!(
                    "Has prohibited field {}",
                    if negated { "NotResource" } else { "Resource" }
                ),
            ));
        }
        Some((negated, json)) => {
            let list = string_list(if negated { "NotResource" } else { "Resource" }, json)?;
            if list.is_empty() {
                return Err(no_resources());
            }
            let pats = list
                .into_iter()
                .map(|r| compile_resource(r, variables))
                .collect::<Result<Vec<_>, _>>()?;
            Some((negated, pats))
        }
        None if kind.requires_resource() => return Err(no_resources()),
        None => None,
    };

    let principal = match pick(
        entries,
        "Principal",
        "NotPrincipal",
        PolicyErrorKind::InvalidPrincipal,
    )? {
        Some(_) if !kind.requires_principal() => {
            return Err(err(
                PolicyErrorKind::PrincipalNotAllowed,
                "Policy document should not specify a principal.",
            ));
        }
        Some((true, _)) if kind == PolicyKind::Trust && effect == Effect::Allow => {
            // AWS strongly advises against Allow + NotPrincipal; in a role trust policy it
            // can only widen who may assume the role, so it is refused outright.
            return Err(err(
                PolicyErrorKind::InvalidPrincipal,
                "NotPrincipal with \"Effect\": \"Allow\" is not supported in role trust policies; name the trusted principals in Principal instead.",
            ));
        }
        Some((negated, json)) => Some((negated, PrincipalSpec::parse(json)?)),
        None if kind.requires_principal() => {
            return Err(err(
                PolicyErrorKind::MissingPrincipal,
                "Missing required field Principal",
            ));
        }
        None => None,
    };

    let conditions = match field("Condition") {
        Some(c) => parse_conditions(c, variables)?,
        None => Vec::new(),
    };

    Ok(Statement {
        sid,
        effect,
        not_action,
        actions,
        resources,
        principal,
        conditions,
    })
}

impl Policy {
    /// Parses and validates a JSON policy document of the given kind,
    /// enforcing the kind's size quota ([`PolicyKind::max_size`]).
    pub fn parse(doc: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        Self::parse_with_limit(doc, kind, Some(kind.max_size()))
    }

    /// Like [`Policy::parse`] with an explicit size quota (`None` = no size
    /// check), e.g. [`ROLE_INLINE_AGGREGATE_MAX`] for an inline role policy,
    /// whose single document may exceed the managed-policy quota.
    pub fn parse_with_limit(
        doc: &str,
        kind: PolicyKind,
        max_size: Option<usize>,
    ) -> Result<Policy, PolicyError> {
        check_characters(doc)?;
        if let Some(max) = max_size {
            let size = policy_size(doc);
            if size > max {
                return Err(err(
                    PolicyErrorKind::TooLarge,
                    format!(
                        "Policy document length {size} exceeds the maximum of {max} characters"
                    ),
                ));
            }
        }
        let Some(Json::Object(top)) = Json::parse(doc) else {
            return Err(PolicyError::syntax());
        };
        if let Some(dup) = Json::duplicate_key(&top) {
            return Err(err(
                PolicyErrorKind::DuplicateKey,
                format!("Duplicate field {dup} in policy document."),
            ));
        }
        let mut version = PolicyVersion::V2008_10_17;
        let mut id = None;
        let mut statement_json = None;
        for (key, value) in &top {
            match (key.as_str(), value) {
                ("Version", Json::String(v)) if v == "2012-10-17" => {
                    version = PolicyVersion::V2012_10_17;
                }
                ("Version", Json::String(v)) if v == "2008-10-17" => {
                    version = PolicyVersion::V2008_10_17;
                }
                ("Version", other) => {
                    let shown = match other {
                        Json::String(s) => s.clone(),
                        other => other.type_name().to_owned(),
                    };
                    return Err(err(
                        PolicyErrorKind::InvalidVersion,
                        format!(
                            "The policy failed legacy parsing: invalid Version {shown}; use \"2012-10-17\" or \"2008-10-17\"."
                        ),
                    ));
                }
                ("Id", Json::String(s)) => id = Some(s.clone()),
                ("Id", _) => return Err(err(PolicyErrorKind::InvalidType, "Id must be a string.")),
                ("Statement", v) => statement_json = Some(v),
                (other, _) => {
                    return Err(err(
                        PolicyErrorKind::UnknownField,
                        format!("Unknown field {other}"),
                    ));
                }
            }
        }
        let variables = version == PolicyVersion::V2012_10_17;
        let statements = match statement_json {
            None => {
                return Err(err(
                    PolicyErrorKind::MissingStatement,
                    "Missing required field Statement",
                ));
            }
            Some(obj @ Json::Object(_)) => vec![parse_statement(obj, kind, variables)?],
            Some(Json::Array(items)) if items.is_empty() => {
                return Err(err(
                    PolicyErrorKind::MissingStatement,
                    "Policy must contain at least one statement.",
                ));
            }
            Some(Json::Array(items)) => items
                .iter()
                .map(|s| parse_statement(s, kind, variables))
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(err(
                    PolicyErrorKind::InvalidType,
                    "Statement must be an object or an array of objects.",
                ));
            }
        };
        Ok(Policy {
            kind,
            version,
            id,
            statements,
        })
    }
}
