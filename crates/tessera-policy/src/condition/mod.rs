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

mod parse;
#[cfg(test)]
mod tests;
mod values;
pub(crate) use parse::parse_conditions;
pub(crate) use values::base64_encode;
use values::*;

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
