//! Parsing a `Condition` block: operator names, condition keys, and each operator family's
//! values compiled once (patterns, ARNs, numbers, dates, booleans, CIDRs, binary).

use super::*;

pub(super) fn cond_err(msg: impl Into<String>) -> PolicyError {
    PolicyError::new(PolicyErrorKind::InvalidCondition, msg)
}

/// The scalar values of a condition entry, as strings.
pub(super) fn scalar_strings(
    op_name: &str,
    key: &str,
    v: &Json,
) -> Result<Vec<String>, PolicyError> {
    fn scalar(op_name: &str, key: &str, v: &Json) -> Result<String, PolicyError> {
        match v {
            Json::String(s) => Ok(s.clone()),
            Json::Number(n) => Ok(n.clone()),
            Json::Bool(b) => Ok(b.to_string()),
            other => Err(cond_err(format!(
                "Condition value for {op_name} {key} must be a string, number or boolean, not {}.",
                other.type_name()
            ))),
        }
    }
    match v {
        Json::Array(items) => items.iter().map(|i| scalar(op_name, key, i)).collect(),
        other => Ok(vec![scalar(op_name, key, other)?]),
    }
}

pub(super) fn bad_value(op_name: &str, key: &str, value: &str) -> PolicyError {
    cond_err(format!(
        "Invalid value \"{value}\" for condition operator {op_name} and key {key}."
    ))
}

pub(super) fn vendor_chars_ok(vendor: &str) -> bool {
    !vendor.is_empty()
        && vendor
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Validates a condition key name. Two shapes are accepted:
///
/// * `vendor:name`, the vendor made of `[A-Za-z0-9._-]` (`aws:SourceIp`, `s3:prefix`,
///   `sts:RequestContext/identitycenter:InstanceArn`, `accounts.google.com:aud`,
///   `cognito-identity.amazonaws.com:amr`, `127.0.0.1:9000:aud`);
/// * an OIDC provider's URL without its scheme, path included, then `:claim`
///   (`dev-12345678.okta.com/oauth2/default:aud`, `sts.windows.net/TENANT/:aud`,
///   `oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub`): a host (optionally with a port),
///   `/` and path segments, then the claim name after the last `:`.
pub(super) fn check_key(key: &str) -> Result<(), PolicyError> {
    let no_space = !key.chars().any(|c| c.is_whitespace() || c.is_control());
    let ok = no_space
        && match key.split_once(':') {
            Some((vendor, name)) if !vendor.contains('/') => {
                vendor_chars_ok(vendor) && !name.is_empty()
            }
            Some(_) => key.rsplit_once(':').is_some_and(|(provider, claim)| {
                let (host, path) = provider.split_once('/').unwrap_or((provider, ""));
                vendor_chars_ok(host)
                    && !claim.is_empty()
                    && claim
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
                    && path
                        .chars()
                        .all(|c| c.is_ascii_graphic() && !matches!(c, '?' | '#' | '"' | '\\' | '*'))
                    && !provider.contains("//")
            }),
            None => false,
        };
    if ok {
        Ok(())
    } else {
        Err(cond_err(format!(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. (invalid condition key \"{key}\")"
        )))
    }
}

/// Parses the `Condition` element of a statement.
pub(crate) fn parse_conditions(
    json: &Json,
    variables: bool,
) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(ops) = json else {
        return Err(PolicyError::new(
            PolicyErrorKind::InvalidType,
            "Condition must be an object.",
        ));
    };
    if let Some(dup) = Json::duplicate_key(ops) {
        return Err(PolicyError::new(
            PolicyErrorKind::DuplicateKey,
            format!("Duplicate condition operator {dup}."),
        ));
    }
    let mut out = Vec::new();
    for (op_name, block) in ops {
        let op = parse_operator(op_name)
            .ok_or_else(|| cond_err(format!("Invalid Condition type : {op_name}.")))?;
        let Json::Object(entries) = block else {
            return Err(PolicyError::new(
                PolicyErrorKind::InvalidType,
                format!("Condition operator {op_name} must map condition keys to values."),
            ));
        };
        if let Some(dup) = Json::duplicate_key(entries) {
            return Err(PolicyError::new(
                PolicyErrorKind::DuplicateKey,
                format!("Duplicate condition key {dup} in {op_name}."),
            ));
        }
        for (key, value) in entries {
            check_key(key)?;
            let raw = scalar_strings(op_name, key, value)?;
            let values = compile_values(op, op_name, key, &raw, variables)?;
            out.push(Condition {
                op,
                key: normalize_key(key),
                values,
            });
        }
    }
    Ok(out)
}

pub(super) fn collect<T>(
    raw: &[String],
    op_name: &str,
    key: &str,
    f: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, PolicyError> {
    raw.iter()
        .map(|s| f(s).ok_or_else(|| bad_value(op_name, key, s)))
        .collect()
}

pub(super) fn compile_values(
    op: Operator,
    op_name: &str,
    key: &str,
    raw: &[String],
    variables: bool,
) -> Result<Values, PolicyError> {
    Ok(match op.family {
        Family::String { .. } => Values::Str(
            raw.iter()
                .map(|s| Pattern::compile(s, false, variables))
                .collect(),
        ),
        Family::StringLike => Values::Str(
            raw.iter()
                .map(|s| Pattern::compile(s, true, variables))
                .collect(),
        ),
        Family::Arn => Values::Arn(
            raw.iter()
                .map(|s| ArnPattern::compile(s, variables))
                .collect(),
        ),
        Family::Numeric(_) => Values::Num(collect(raw, op_name, key, parse_number)?),
        Family::Date(_) => Values::Date(collect(raw, op_name, key, parse_date)?),
        Family::Bool => Values::Bool(collect(raw, op_name, key, parse_bool)?),
        Family::Null => Values::Null(collect(raw, op_name, key, parse_bool)?),
        Family::Binary => Values::Binary(collect(raw, op_name, key, base64_decode)?),
        Family::Ip => Values::Ip(collect(raw, op_name, key, parse_cidr)?),
    })
}
