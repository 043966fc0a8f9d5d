//! The `Condition` element: operators, value parsing and evaluation.
//!
//! Semantics (as documented by AWS):
//! * several values for one key in one operator are OR'ed;
//! * several keys in one operator, and several operators, are AND'ed;
//! * negated operators (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …)
//!   hold when *no* policy value matches;
//! * a missing key makes positive operators false and negated operators
//!   true; `…IfExists` makes any operator true when the key is missing;
//! * `ForAnyValue:` holds if some request value satisfies the operator
//!   (false for a missing or empty key); `ForAllValues:` holds if every
//!   request value does (true for a missing or empty key);
//! * `Null` with `true` holds when the key is missing, with `false` when it
//!   is present.

use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ipnet::IpNet;

use crate::context::{ContextKeys, ContextValue, normalize_key};
use crate::error::{PolicyError, PolicyErrorKind};
use crate::json::Json;
use crate::pattern::{ArnPattern, Pattern};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn test<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String {
        ignore_case: bool,
    },
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    /// `ArnEquals` and `ArnLike` behave identically (both take wildcards).
    Arn,
    Null,
}

/// `ForAnyValue:` / `ForAllValues:` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    family: Family,
    negated: bool,
    if_exists: bool,
    qualifier: Qualifier,
}

fn base_operator(name: &str) -> Option<(Family, bool)> {
    use Cmp::*;
    Some(match name {
        "StringEquals" => (Family::String { ignore_case: false }, false),
        "StringNotEquals" => (Family::String { ignore_case: false }, true),
        "StringEqualsIgnoreCase" => (Family::String { ignore_case: true }, false),
        "StringNotEqualsIgnoreCase" => (Family::String { ignore_case: true }, true),
        "StringLike" => (Family::StringLike, false),
        "StringNotLike" => (Family::StringLike, true),
        "NumericEquals" => (Family::Numeric(Eq), false),
        "NumericNotEquals" => (Family::Numeric(Eq), true),
        "NumericLessThan" => (Family::Numeric(Lt), false),
        "NumericLessThanEquals" => (Family::Numeric(Le), false),
        "NumericGreaterThan" => (Family::Numeric(Gt), false),
        "NumericGreaterThanEquals" => (Family::Numeric(Ge), false),
        "DateEquals" => (Family::Date(Eq), false),
        "DateNotEquals" => (Family::Date(Eq), true),
        "DateLessThan" => (Family::Date(Lt), false),
        "DateLessThanEquals" => (Family::Date(Le), false),
        "DateGreaterThan" => (Family::Date(Gt), false),
        "DateGreaterThanEquals" => (Family::Date(Ge), false),
        "Bool" => (Family::Bool, false),
        "BinaryEquals" => (Family::Binary, false),
        "IpAddress" => (Family::Ip, false),
        "NotIpAddress" => (Family::Ip, true),
        "ArnEquals" | "ArnLike" => (Family::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Family::Arn, true),
        "Null" => (Family::Null, false),
        _ => return None,
    })
}

fn parse_operator(name: &str) -> Option<Operator> {
    let (qualifier, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Qualifier::ForAnyValue, r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Qualifier::ForAllValues, r)
    } else {
        (Qualifier::None, name)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    let (family, negated) = base_operator(base)?;
    if family == Family::Null && (if_exists || qualifier != Qualifier::None) {
        return None;
    }
    Some(Operator {
        family,
        negated,
        if_exists,
        qualifier,
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Values {
    Str(Vec<Pattern>),
    Arn(Vec<ArnPattern>),
    Num(Vec<f64>),
    Date(Vec<DateTime<Utc>>),
    Bool(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Ip(Vec<IpNet>),
    /// `true` = the key must be absent.
    Null(Vec<bool>),
}

/// One compiled `operator: { key: values }` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    op: Operator,
    /// Lower-cased key name.
    key: String,
    values: Values,
}

fn cond_err(msg: impl Into<String>) -> PolicyError {
    PolicyError::new(PolicyErrorKind::InvalidCondition, msg)
}

/// The scalar values of a condition entry, as strings.
fn scalar_strings(op_name: &str, key: &str, v: &Json) -> Result<Vec<String>, PolicyError> {
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

fn bad_value(op_name: &str, key: &str, value: &str) -> PolicyError {
    cond_err(format!(
        "Invalid value \"{value}\" for condition operator {op_name} and key {key}."
    ))
}

fn vendor_chars_ok(vendor: &str) -> bool {
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
fn check_key(key: &str) -> Result<(), PolicyError> {
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

fn collect<T>(
    raw: &[String],
    op_name: &str,
    key: &str,
    f: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, PolicyError> {
    raw.iter()
        .map(|s| f(s).ok_or_else(|| bad_value(op_name, key, s)))
        .collect()
}

fn compile_values(
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

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("nan") || s.to_ascii_lowercase().contains("inf") {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net.trunc());
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Parses the date formats AWS accepts in date conditions: ISO 8601 / RFC 3339
/// date-times (with `Z`, an offset, or no zone = UTC), plain dates, and epoch
/// seconds.
pub(crate) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit())
        || (s.starts_with('-') && s.len() > 1 && s[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        let secs: i64 = s.parse().ok()?;
        return Utc.timestamp_opt(secs, 0).single();
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%z",
        "%Y%m%dT%H%M%S%z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y%m%dT%H%M%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(d.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(naive, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    // Fractional epoch seconds.
    let f = parse_number(s)?;
    let secs = f.floor();
    let nanos = ((f - secs) * 1e9).round() as u32;
    Utc.timestamp_opt(secs as i64, nanos.min(999_999_999))
        .single()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (padding optional, whitespace not allowed).
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let trimmed = s.trim_end_matches('=');
    if s.len() - trimmed.len() > 2 || (s.len() != trimmed.len() && !s.len().is_multiple_of(4)) {
        return None;
    }
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in trimmed.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero for a canonical encoding.
    if acc != 0 {
        return None;
    }
    Some(out)
}

fn value_number(v: &ContextValue) -> Option<f64> {
    match v {
        ContextValue::Number(n) => Some(*n),
        ContextValue::String(s) => parse_number(s),
        _ => None,
    }
}

fn value_date(v: &ContextValue) -> Option<DateTime<Utc>> {
    match v {
        ContextValue::Date(d) => Some(*d),
        ContextValue::String(s) => parse_date(s),
        ContextValue::Number(n) => {
            let secs = n.floor();
            let nanos = ((n - secs) * 1e9).round() as u32;
            Utc.timestamp_opt(secs as i64, nanos.min(999_999_999))
                .single()
        }
        _ => None,
    }
}

fn value_bool(v: &ContextValue) -> Option<bool> {
    match v {
        ContextValue::Bool(b) => Some(*b),
        ContextValue::String(s) => parse_bool(s),
        _ => None,
    }
}

fn value_ip(v: &ContextValue) -> Option<IpAddr> {
    match v {
        ContextValue::Ip(ip) => Some(*ip),
        ContextValue::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Condition {
    /// Does any policy value match this single request value?
    fn value_matches(&self, cv: &ContextValue, ctx: &ContextKeys) -> bool {
        match (&self.values, self.op.family) {
            (Values::Str(pats), family) => {
                let ignore_case = matches!(family, Family::String { ignore_case: true });
                let s = cv.as_string();
                pats.iter().any(|p| p.matches(&s, ignore_case, ctx))
            }
            (Values::Arn(pats), _) => {
                let s = cv.as_string();
                pats.iter().any(|p| p.matches(&s, ctx))
            }
            (Values::Num(nums), Family::Numeric(cmp)) => {
                value_number(cv).is_some_and(|n| nums.iter().any(|&p| cmp.test(n, p)))
            }
            (Values::Date(dates), Family::Date(cmp)) => {
                value_date(cv).is_some_and(|d| dates.iter().any(|&p| cmp.test(d, p)))
            }
            (Values::Bool(bools), _) => value_bool(cv).is_some_and(|b| bools.contains(&b)),
            (Values::Binary(blobs), _) => match cv {
                ContextValue::Binary(bytes) => blobs.iter().any(|b| b == bytes),
                ContextValue::String(s) => {
                    base64_decode(s).is_some_and(|bytes| blobs.contains(&bytes))
                }
                _ => false,
            },
            (Values::Ip(nets), _) => {
                value_ip(cv).is_some_and(|ip| nets.iter().any(|n| n.contains(&ip)))
            }
            _ => false,
        }
    }

    /// Evaluates this condition against the request's keys.
    pub(crate) fn evaluate(&self, ctx: &ContextKeys) -> bool {
        let present = ctx.get_normalized(&self.key).filter(|v| !v.is_empty());
        if let Values::Null(expect_absent) = &self.values {
            let absent = present.is_none();
            return expect_absent.contains(&absent);
        }
        let Some(values) = present else {
            if self.op.if_exists {
                return true;
            }
            return match self.op.qualifier {
                Qualifier::ForAllValues => true,
                Qualifier::ForAnyValue => false,
                Qualifier::None => self.op.negated,
            };
        };
        let single = |cv: &ContextValue| self.value_matches(cv, ctx) != self.op.negated;
        match self.op.qualifier {
            Qualifier::ForAnyValue => values.iter().any(single),
            Qualifier::ForAllValues => values.iter().all(single),
            Qualifier::None if self.op.negated => values.iter().all(single),
            Qualifier::None => values.iter().any(single),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conds(json: &str) -> Result<Vec<Condition>, PolicyError> {
        parse_conditions(&Json::parse(json).unwrap(), true)
    }

    fn check(json: &str, ctx: &ContextKeys) -> bool {
        conds(json).unwrap().iter().all(|c| c.evaluate(ctx))
    }

    fn kv(k: &str, v: impl Into<ContextValue>) -> ContextKeys {
        ContextKeys::new().with(k, v)
    }

    #[test]
    fn operator_names() {
        assert!(parse_operator("StringEquals").is_some());
        assert!(parse_operator("ForAnyValue:StringLikeIfExists").is_some());
        assert!(parse_operator("ArnNotLikeIfExists").is_some());
        assert!(parse_operator("Null").is_some());
        assert!(parse_operator("NullIfExists").is_none());
        assert!(parse_operator("ForAllValues:Null").is_none());
        assert!(parse_operator("StringEqualz").is_none());
        assert!(parse_operator("stringequals").is_none());
        assert!(parse_operator("ForSomeValues:StringEquals").is_none());
        let e = conds(r#"{"StringEqualz":{"aws:x":"y"}}"#).unwrap_err();
        assert_eq!(e.message(), "Invalid Condition type : StringEqualz.");
        assert_eq!(e.kind(), PolicyErrorKind::InvalidCondition);
    }

    #[test]
    fn string_operators() {
        let c = kv("aws:username", "Alice");
        assert!(check(r#"{"StringEquals":{"aws:username":"Alice"}}"#, &c));
        assert!(!check(r#"{"StringEquals":{"aws:username":"alice"}}"#, &c));
        assert!(check(
            r#"{"StringEquals":{"AWS:USERNAME":["bob","Alice"]}}"#,
            &c
        ));
        assert!(check(r#"{"StringNotEquals":{"aws:username":"bob"}}"#, &c));
        assert!(!check(
            r#"{"StringNotEquals":{"aws:username":["bob","Alice"]}}"#,
            &c
        ));
        assert!(check(
            r#"{"StringEqualsIgnoreCase":{"aws:username":"ALICE"}}"#,
            &c
        ));
        assert!(!check(
            r#"{"StringNotEqualsIgnoreCase":{"aws:username":"alice"}}"#,
            &c
        ));
        assert!(check(
            r#"{"StringNotEqualsIgnoreCase":{"aws:username":"bob"}}"#,
            &c
        ));
        assert!(check(r#"{"StringLike":{"aws:username":"Al*"}}"#, &c));
        assert!(check(r#"{"StringLike":{"aws:username":"?lice"}}"#, &c));
        assert!(!check(r#"{"StringLike":{"aws:username":"al*"}}"#, &c));
        assert!(check(r#"{"StringNotLike":{"aws:username":"B*"}}"#, &c));
        assert!(!check(
            r#"{"StringNotLike":{"aws:username":["B*","A*"]}}"#,
            &c
        ));
        // StringEquals does not treat * as a wildcard.
        assert!(!check(r#"{"StringEquals":{"aws:username":"*"}}"#, &c));
        // Numbers and booleans in the policy are compared as text.
        assert!(check(
            r#"{"StringEquals":{"s3:max-keys":10}}"#,
            &kv("s3:max-keys", "10")
        ));
    }

    #[test]
    fn missing_key_semantics() {
        let empty = ContextKeys::new();
        assert!(!check(r#"{"StringEquals":{"aws:x":"a"}}"#, &empty));
        assert!(check(r#"{"StringNotEquals":{"aws:x":"a"}}"#, &empty));
        assert!(check(r#"{"StringEqualsIfExists":{"aws:x":"a"}}"#, &empty));
        assert!(check(
            r#"{"StringNotEqualsIfExists":{"aws:x":"a"}}"#,
            &empty
        ));
        assert!(!check(
            r#"{"StringEqualsIfExists":{"aws:x":"a"}}"#,
            &kv("aws:x", "b")
        ));
        assert!(check(
            r#"{"StringEqualsIfExists":{"aws:x":"a"}}"#,
            &kv("aws:x", "a")
        ));
        assert!(!check(r#"{"NumericLessThan":{"aws:n":5}}"#, &empty));
        assert!(check(r#"{"NumericLessThanIfExists":{"aws:n":5}}"#, &empty));
        assert!(check(
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &empty
        ));
        assert!(!check(
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &empty
        ));
        assert!(!check(r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &empty));
        assert!(check(
            r#"{"BoolIfExists":{"aws:SecureTransport":"true"}}"#,
            &empty
        ));
        // A key present with no values counts as missing.
        let no_values = ContextKeys::new().with_multi("aws:x", Vec::<String>::new());
        assert!(!check(r#"{"StringEquals":{"aws:x":"a"}}"#, &no_values));
    }

    #[test]
    fn keys_and_operators_are_anded() {
        let c = ContextKeys::new().with("aws:a", "1").with("aws:b", "2");
        assert!(check(r#"{"StringEquals":{"aws:a":"1","aws:b":"2"}}"#, &c));
        assert!(!check(r#"{"StringEquals":{"aws:a":"1","aws:b":"3"}}"#, &c));
        assert!(check(
            r#"{"StringEquals":{"aws:a":"1"},"StringLike":{"aws:b":"*"}}"#,
            &c
        ));
        assert!(!check(
            r#"{"StringEquals":{"aws:a":"1"},"StringLike":{"aws:b":"x*"}}"#,
            &c
        ));
    }

    #[test]
    fn numeric_operators() {
        let c = kv("s3:max-keys", 10i64);
        assert!(check(r#"{"NumericEquals":{"s3:max-keys":"10"}}"#, &c));
        assert!(check(r#"{"NumericEquals":{"s3:max-keys":10.0}}"#, &c));
        assert!(check(r#"{"NumericNotEquals":{"s3:max-keys":"11"}}"#, &c));
        assert!(!check(
            r#"{"NumericNotEquals":{"s3:max-keys":["11","10"]}}"#,
            &c
        ));
        assert!(check(r#"{"NumericLessThan":{"s3:max-keys":"11"}}"#, &c));
        assert!(!check(r#"{"NumericLessThan":{"s3:max-keys":"10"}}"#, &c));
        assert!(check(
            r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#,
            &c
        ));
        assert!(check(r#"{"NumericGreaterThan":{"s3:max-keys":"9.5"}}"#, &c));
        assert!(!check(r#"{"NumericGreaterThan":{"s3:max-keys":"10"}}"#, &c));
        assert!(check(
            r#"{"NumericGreaterThanEquals":{"s3:max-keys":"10"}}"#,
            &c
        ));
        // String context values are parsed; non-numeric ones never match.
        assert!(check(
            r#"{"NumericEquals":{"s3:max-keys":"10"}}"#,
            &kv("s3:max-keys", "10")
        ));
        assert!(!check(
            r#"{"NumericEquals":{"s3:max-keys":"10"}}"#,
            &kv("s3:max-keys", "ten")
        ));
        // Invalid policy values are rejected.
        let e = conds(r#"{"NumericEquals":{"s3:max-keys":"ten"}}"#).unwrap_err();
        assert!(e.message().contains("ten"), "{e}");
        assert!(conds(r#"{"NumericEquals":{"s3:max-keys":"NaN"}}"#).is_err());
    }

    #[test]
    fn date_operators() {
        let now = parse_date("2024-06-01T12:00:00Z").unwrap();
        let c = kv("aws:CurrentTime", now);
        assert!(check(
            r#"{"DateEquals":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}}"#,
            &c
        ));
        assert!(check(
            r#"{"DateEquals":{"aws:CurrentTime":"2024-06-01T14:00:00+02:00"}}"#,
            &c
        ));
        assert!(check(
            r#"{"DateEquals":{"aws:CurrentTime":1717243200}}"#,
            &c
        ));
        assert!(check(
            r#"{"DateNotEquals":{"aws:CurrentTime":"2024-06-01"}}"#,
            &c
        ));
        assert!(check(
            r#"{"DateLessThan":{"aws:CurrentTime":"2024-06-02"}}"#,
            &c
        ));
        assert!(!check(
            r#"{"DateLessThan":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}}"#,
            &c
        ));
        assert!(check(
            r#"{"DateLessThanEquals":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}}"#,
            &c
        ));
        assert!(check(
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2024-06-01T11:59:59.5Z"}}"#,
            &c
        ));
        assert!(check(
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"1717243200"}}"#,
            &c
        ));
        assert!(!check(
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00"}}"#,
            &c
        ));
        // Context dates given as strings or epoch numbers.
        assert!(check(
            r#"{"DateEquals":{"aws:CurrentTime":"2024-06-01T12:00:00Z"}}"#,
            &kv("aws:CurrentTime", "2024-06-01T12:00:00Z")
        ));
        assert!(check(
            r#"{"DateEquals":{"aws:EpochTime":"2024-06-01T12:00:00Z"}}"#,
            &kv("aws:EpochTime", 1_717_243_200i64)
        ));
        assert!(conds(r#"{"DateEquals":{"aws:CurrentTime":"yesterday"}}"#).is_err());
        for s in [
            "2024-06-01T12:00:00+0000",
            "20240601T120000Z",
            "2024-06-01T12:00Z",
            "2024-06-01T12:00:00.000Z",
            "2024-06-01T12:00:00",
        ] {
            assert_eq!(parse_date(s), Some(now), "{s}");
        }
        assert_eq!(parse_date("-1"), Some(Utc.timestamp_opt(-1, 0).unwrap()));
        assert_eq!(
            parse_date("1.5").map(|d| d.timestamp_subsec_millis()),
            Some(500)
        );
    }

    #[test]
    fn bool_operator() {
        assert!(check(
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            &kv("aws:SecureTransport", true)
        ));
        assert!(check(
            r#"{"Bool":{"aws:SecureTransport":true}}"#,
            &kv("aws:SecureTransport", "TRUE")
        ));
        assert!(!check(
            r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
            &kv("aws:SecureTransport", true)
        ));
        assert!(!check(
            r#"{"Bool":{"aws:SecureTransport":"false"}}"#,
            &kv("aws:SecureTransport", "maybe")
        ));
        assert!(conds(r#"{"Bool":{"aws:SecureTransport":"yes"}}"#).is_err());
    }

    #[test]
    fn binary_operator() {
        let c = kv("aws:x", b"hello".to_vec());
        assert!(check(r#"{"BinaryEquals":{"aws:x":"aGVsbG8="}}"#, &c));
        assert!(!check(r#"{"BinaryEquals":{"aws:x":"aGVsbG8h"}}"#, &c));
        assert!(check(
            r#"{"BinaryEquals":{"aws:x":"aGVsbG8"}}"#,
            &kv("aws:x", "aGVsbG8=")
        ));
        assert!(conds(r#"{"BinaryEquals":{"aws:x":"not base64!"}}"#).is_err());
        assert!(conds(r#"{"BinaryEqualsIfExists":{"aws:x":"aGk="}}"#).is_ok());
        for data in [&b""[..], b"a", b"ab", b"abc", b"abcd", &[0u8, 255, 128, 7]] {
            assert_eq!(base64_decode(&base64_encode(data)).as_deref(), Some(data));
        }
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("aGk===").is_none());
    }

    #[test]
    fn ip_operators() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        let c = kv("aws:SourceIp", v4);
        assert!(check(
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &c
        ));
        assert!(check(r#"{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}"#, &c));
        assert!(check(
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.99/24"}}"#,
            &c
        ));
        assert!(!check(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &c));
        assert!(check(
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &c
        ));
        assert!(!check(
            r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","203.0.0.0/16"]}}"#,
            &c
        ));
        let c6 = kv("aws:SourceIp", "2001:db8::1");
        assert!(check(
            r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
            &c6
        ));
        assert!(!check(
            r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
            &c6
        ));
        assert!(conds(r#"{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}"#).is_err());
        assert!(conds(r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#).is_err());
    }

    #[test]
    fn arn_operators() {
        let c = kv("aws:SourceArn", "arn:aws:sns:us-east-1:123456789012:topic");
        for op in ["ArnEquals", "ArnLike"] {
            assert!(check(
                &format!(r#"{{"{op}":{{"aws:SourceArn":"arn:aws:sns:*:123456789012:*"}}}}"#),
                &c
            ));
            assert!(!check(
                &format!(r#"{{"{op}":{{"aws:SourceArn":"arn:aws:sns:*:999999999999:*"}}}}"#),
                &c
            ));
        }
        for op in ["ArnNotEquals", "ArnNotLike"] {
            assert!(check(
                &format!(r#"{{"{op}":{{"aws:SourceArn":"arn:aws:sqs:*:*:*"}}}}"#),
                &c
            ));
            assert!(!check(
                &format!(
                    r#"{{"{op}":{{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:topic"}}}}"#
                ),
                &c
            ));
        }
        // Wildcards stay within a segment.
        assert!(!check(
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:topic"}}"#,
            &c
        ));
        // Not an ARN in the request.
        assert!(!check(
            r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}"#,
            &kv("aws:SourceArn", "topic")
        ));
    }

    #[test]
    fn null_operator() {
        let empty = ContextKeys::new();
        let c = kv("aws:TokenIssueTime", "2024-01-01T00:00:00Z");
        assert!(check(r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &empty));
        assert!(!check(r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &c));
        assert!(check(r#"{"Null":{"aws:TokenIssueTime":false}}"#, &c));
        assert!(!check(r#"{"Null":{"aws:TokenIssueTime":"false"}}"#, &empty));
        assert!(conds(r#"{"Null":{"aws:TokenIssueTime":"maybe"}}"#).is_err());
    }

    #[test]
    fn set_operators() {
        let tags = ContextKeys::new().with_multi("aws:TagKeys", ["env", "team"]);
        let empty = ContextKeys::new();
        // ForAllValues: every request value must be in the policy set.
        let all = r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team","cost"]}}"#;
        assert!(check(all, &tags));
        assert!(check(all, &empty), "ForAllValues is true for a missing key");
        assert!(check(
            all,
            &ContextKeys::new().with_multi("aws:TagKeys", Vec::<String>::new())
        ));
        assert!(!check(
            all,
            &ContextKeys::new().with_multi("aws:TagKeys", ["env", "owner"])
        ));
        // ForAnyValue: at least one request value must be in the policy set.
        let any = r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["team","x"]}}"#;
        assert!(check(any, &tags));
        assert!(
            !check(any, &empty),
            "ForAnyValue is false for a missing key"
        );
        assert!(!check(
            any,
            &ContextKeys::new().with_multi("aws:TagKeys", ["env"])
        ));
        assert!(check(
            r#"{"ForAnyValue:StringLike":{"aws:TagKeys":"te*"}}"#,
            &tags
        ));
        // Negated with qualifiers.
        assert!(check(
            r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":"env"}}"#,
            &tags
        ));
        assert!(!check(
            r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":"env"}}"#,
            &tags
        ));
        assert!(check(
            r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":"owner"}}"#,
            &tags
        ));
        // Unqualified operators over a multivalued key.
        assert!(check(r#"{"StringEquals":{"aws:TagKeys":"env"}}"#, &tags));
        assert!(!check(
            r#"{"StringNotEquals":{"aws:TagKeys":"env"}}"#,
            &tags
        ));
        // IfExists combined with a qualifier.
        assert!(check(
            r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"zzz"}}"#,
            &empty
        ));
    }

    #[test]
    fn variables_in_condition_values() {
        let c = ContextKeys::new()
            .with("aws:username", "alice")
            .with("aws:PrincipalTag/team", "red")
            .with("aws:ResourceTag/team", "red")
            .with("s3:prefix", "home/alice/docs");
        assert!(check(
            r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#,
            &c
        ));
        assert!(check(
            r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#,
            &c
        ));
        assert!(!check(
            r#"{"StringLike":{"s3:prefix":"home/${aws:userid}/*"}}"#,
            &c
        ));
        assert!(check(
            r#"{"StringLike":{"s3:prefix":"home/${aws:userid,'alice'}/*"}}"#,
            &c
        ));
        // Version 2008: no substitution.
        let lit = parse_conditions(
            &Json::parse(r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}"#)
                .unwrap(),
            false,
        )
        .unwrap();
        assert!(!lit[0].evaluate(&c));
    }

    #[test]
    fn malformed_blocks() {
        assert_eq!(
            conds(r#"[]"#).unwrap_err().kind(),
            PolicyErrorKind::InvalidType
        );
        assert_eq!(
            conds(r#"{"StringEquals":"x"}"#).unwrap_err().kind(),
            PolicyErrorKind::InvalidType
        );
        assert_eq!(
            conds(r#"{"StringEquals":{"aws:x":"a"},"StringEquals":{"aws:y":"b"}}"#)
                .unwrap_err()
                .kind(),
            PolicyErrorKind::DuplicateKey
        );
        assert_eq!(
            conds(r#"{"StringEquals":{"aws:x":"a","aws:x":"b"}}"#)
                .unwrap_err()
                .kind(),
            PolicyErrorKind::DuplicateKey
        );
        assert!(conds(r#"{"StringEquals":{"aws:x":null}}"#).is_err());
        assert!(conds(r#"{"StringEquals":{"aws:x":{"a":1}}}"#).is_err());
        assert!(conds(r#"{"StringEquals":{"aws:x":[["a"]]}}"#).is_err());
        let e = conds(r#"{"StringEquals":{"username":"a"}}"#).unwrap_err();
        assert!(
            e.message()
                .starts_with("Actions/Conditions must be prefaced by a vendor"),
            "{e}"
        );
        assert!(conds(r#"{"StringEquals":{":x":"a"}}"#).is_err());
    }

    #[test]
    fn provider_prefixed_keys_with_paths() {
        // OIDC providers whose URL has a path: the prefix is the URL without its scheme.
        for key in [
            "dev-12345678.okta.com/oauth2/default:aud",
            "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E:sub",
            "login.microsoftonline.com/8f9e2b5c-1d3a-4b6f-9c0e-7a1b2c3d4e5f/v2.0:aud",
            "sts.windows.net/8f9e2b5c-1d3a-4b6f-9c0e-7a1b2c3d4e5f/:aud",
            "keycloak.example.com/realms/demo:sub",
            "keycloak.example.com:8443/realms/demo:sub",
            "cognito-identity.amazonaws.com:amr",
            "accounts.google.com:oaud",
            "127.0.0.1:9000/idp:azp",
            "sts:RequestContext/identitycenter:InstanceArn",
            "aws:RequestTag/team",
        ] {
            let doc = format!(r#"{{"StringEquals":{{"{key}":"a"}}}}"#);
            let c = conds(&doc).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert!(check(&doc, &kv(key, "a")), "{key}");
            assert_eq!(c.len(), 1);
        }
        for key in [
            "/oauth2/default:aud",
            "idp.example.com/oauth2/default:",
            "idp.example.com/a b:aud",
            "idp.example.com//x:aud",
            "idp.example.com/x?y:aud",
            "idp.example.com/x:a/b",
            "idp.example.com/x:a*",
            "id*p.example.com/x:aud",
        ] {
            let doc = format!(r#"{{"StringEquals":{{"{key}":"a"}}}}"#);
            assert_eq!(
                conds(&doc).map(|_| ()).unwrap_err().kind(),
                PolicyErrorKind::InvalidCondition,
                "{key}"
            );
        }
    }
}
