//! The `Principal` / `NotPrincipal` element.

use crate::context::{PrincipalKind, PrincipalRef};
use crate::error::{PolicyError, PolicyErrorKind};
use crate::json::Json;

#[derive(Debug, Clone, PartialEq, Eq)]
enum PrincipalValue {
    /// `"Principal": "*"`: everyone, anonymous callers included.
    Everyone,
    /// `{"AWS": "*"}`: any AWS principal, and anonymous callers.
    AnyAws,
    /// `{"AWS": "123456789012"}` or `arn:…:iam::123456789012:root`: any
    /// principal of that account.
    Account(String),
    /// A user, role, assumed-role session or federated-user ARN. `direct` is
    /// true for ARNs that name the calling identity itself (IAM user,
    /// assumed-role session, federated-user session) rather than a role.
    AwsArn { arn: String, direct: bool },
    /// `Service`, `Federated` or `CanonicalUser` value.
    Other { kind: PrincipalKind, id: String },
}

/// How a caller matched a principal list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    No,
    /// Matched only through the caller's account (`"AWS": "ACCOUNT"` or the account root
    /// ARN). In the caller's own account this delegates to the caller's identity policies:
    /// it does not grant access by itself.
    Account,
    Yes,
    /// Matched through an ARN naming the calling user or session itself.
    Direct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrincipalSpec {
    values: Vec<PrincipalValue>,
}

fn invalid(text: String) -> PolicyError {
    PolicyError::new(
        PolicyErrorKind::InvalidPrincipal,
        format!("Invalid principal in policy: {text}"),
    )
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_aws(value: &str) -> Option<PrincipalValue> {
    if value == "*" {
        return Some(PrincipalValue::AnyAws);
    }
    if is_account_id(value) {
        return Some(PrincipalValue::Account(value.to_owned()));
    }
    if value.contains(['*', '?']) || value.chars().any(char::is_whitespace) {
        return None;
    }
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts.as_slice() else {
        return None;
    };
    if *arn != "arn"
        || partition.is_empty()
        || !partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        || !region.is_empty()
        || !is_account_id(account)
    {
        return None;
    }
    let named = |prefix: &str| {
        resource
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/') && !rest.ends_with('/'))
    };
    match *service {
        "iam" if *resource == "root" => Some(PrincipalValue::Account((*account).to_owned())),
        "iam" if named("user/") => Some(PrincipalValue::AwsArn {
            arn: value.to_owned(),
            direct: true,
        }),
        "iam" if named("role/") => Some(PrincipalValue::AwsArn {
            arn: value.to_owned(),
            direct: false,
        }),
        "sts" if named("assumed-role/") && resource.matches('/').count() >= 2 => {
            Some(PrincipalValue::AwsArn {
                arn: value.to_owned(),
                direct: true,
            })
        }
        "sts" if named("federated-user/") => Some(PrincipalValue::AwsArn {
            arn: value.to_owned(),
            direct: true,
        }),
        _ => None,
    }
}

fn parse_other(kind: PrincipalKind, value: &str) -> Option<PrincipalValue> {
    if value.is_empty() || value.contains(['*', '?']) || value.chars().any(char::is_whitespace) {
        return None;
    }
    Some(PrincipalValue::Other {
        kind,
        id: value.to_owned(),
    })
}

impl PrincipalSpec {
    /// Parses a `Principal` / `NotPrincipal` element.
    pub(crate) fn parse(json: &Json) -> Result<PrincipalSpec, PolicyError> {
        match json {
            Json::String(s) if s == "*" => Ok(PrincipalSpec {
                values: vec![PrincipalValue::Everyone],
            }),
            Json::String(s) => Err(invalid(format!("\"{s}\""))),
            Json::Object(entries) => {
                if entries.is_empty() {
                    return Err(invalid("{}".to_owned()));
                }
                if let Some(dup) = Json::duplicate_key(entries) {
                    return Err(PolicyError::new(
                        PolicyErrorKind::DuplicateKey,
                        format!("Duplicate principal type {dup}."),
                    ));
                }
                let mut values = Vec::new();
                for (key, val) in entries {
                    let kind = match key.as_str() {
                        "AWS" => PrincipalKind::Aws,
                        "Service" => PrincipalKind::Service,
                        "Federated" => PrincipalKind::Federated,
                        "CanonicalUser" => PrincipalKind::CanonicalUser,
                        _ => return Err(invalid(format!("\"{key}\""))),
                    };
                    let items: Vec<&Json> = match val {
                        Json::Array(items) if !items.is_empty() => items.iter().collect(),
                        Json::Array(_) => return Err(invalid(format!("\"{key}\":[]"))),
                        other => vec![other],
                    };
                    for item in items {
                        let Json::String(s) = item else {
                            return Err(invalid(format!("\"{key}\":{}", item.type_name())));
                        };
                        let parsed = match kind {
                            PrincipalKind::Aws => parse_aws(s),
                            other => parse_other(other, s),
                        };
                        values.push(parsed.ok_or_else(|| invalid(format!("\"{key}\":\"{s}\"")))?);
                    }
                }
                Ok(PrincipalSpec { values })
            }
            other => Err(invalid(other.type_name().to_owned())),
        }
    }

    /// Does the caller match any listed principal?
    pub(crate) fn matches(&self, caller: Option<&PrincipalRef>) -> PrincipalMatch {
        let mut best = PrincipalMatch::No;
        for v in &self.values {
            let m = match (v, caller) {
                (PrincipalValue::Everyone, _) => PrincipalMatch::Yes,
                (PrincipalValue::AnyAws, None) => PrincipalMatch::Yes,
                (PrincipalValue::AnyAws, Some(c)) if c.kind == PrincipalKind::Aws => {
                    PrincipalMatch::Yes
                }
                (PrincipalValue::Account(id), Some(c))
                    if c.kind == PrincipalKind::Aws
                        && c.identifiers.iter().any(|i| i == id || is_root_of(i, id)) =>
                {
                    PrincipalMatch::Account
                }
                (PrincipalValue::AwsArn { arn, direct }, Some(c))
                    if c.kind == PrincipalKind::Aws && c.has_identifier(arn) =>
                {
                    if *direct {
                        PrincipalMatch::Direct
                    } else {
                        PrincipalMatch::Yes
                    }
                }
                (PrincipalValue::Other { kind, id }, Some(c)) if c.kind == *kind => {
                    let hit = if *kind == PrincipalKind::Service {
                        c.has_identifier_ignore_case(id)
                    } else {
                        c.has_identifier(id)
                    };
                    if hit {
                        PrincipalMatch::Yes
                    } else {
                        PrincipalMatch::No
                    }
                }
                _ => PrincipalMatch::No,
            };
            best = best.max(m);
            if best == PrincipalMatch::Direct {
                break;
            }
        }
        best
    }
}

/// Is `identifier` the root ARN (`arn:<partition>:iam::<account>:root`) of `account`?
fn is_root_of(identifier: &str, account: &str) -> bool {
    identifier
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(_, rest)| rest.strip_prefix("iam::"))
        .and_then(|rest| rest.strip_suffix(":root"))
        == Some(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<PrincipalSpec, PolicyError> {
        PrincipalSpec::parse(&Json::parse(json).unwrap())
    }

    #[test]
    fn parses_forms() {
        assert!(spec(r#""*""#).is_ok());
        assert!(spec(r#"{"AWS":"*"}"#).is_ok());
        assert!(spec(r#"{"AWS":"123456789012"}"#).is_ok());
        assert!(
            spec(
                r#"{"AWS":["arn:aws:iam::123456789012:root","arn:aws:iam::123456789012:user/a/b"]}"#
            )
            .is_ok()
        );
        assert!(spec(r#"{"AWS":"arn:aws:iam::123456789012:role/path/R"}"#).is_ok());
        assert!(spec(r#"{"AWS":"arn:aws:sts::123456789012:assumed-role/R/s"}"#).is_ok());
        assert!(spec(r#"{"AWS":"arn:aws:sts::123456789012:federated-user/bob"}"#).is_ok());
        assert!(spec(r#"{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]}"#).is_ok());
        assert!(spec(r#"{"Federated":"arn:aws:iam::123456789012:saml-provider/IdP"}"#).is_ok());
        assert!(spec(r#"{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}"#).is_ok());
    }

    #[test]
    fn rejects_invalid() {
        for (json, msg) in [
            (
                r#"{"AWS":"foo"}"#,
                r#"Invalid principal in policy: "AWS":"foo""#,
            ),
            (r#""foo""#, r#"Invalid principal in policy: "foo""#),
            (r#"{"Foo":"bar"}"#, r#"Invalid principal in policy: "Foo""#),
            (
                r#"{"AWS":"arn:aws:iam::123456789012:role/*"}"#,
                r#"Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*""#,
            ),
            (
                r#"{"AWS":"12345"}"#,
                r#"Invalid principal in policy: "AWS":"12345""#,
            ),
            (
                r#"{"AWS":"arn:aws:iam::123456789012:group/G"}"#,
                r#"Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:group/G""#,
            ),
            (
                r#"{"AWS":"arn:aws:sts::123456789012:assumed-role/R"}"#,
                r#"Invalid principal in policy: "AWS":"arn:aws:sts::123456789012:assumed-role/R""#,
            ),
            (r#"{"AWS":[]}"#, r#"Invalid principal in policy: "AWS":[]"#),
            (
                r#"{"AWS":1}"#,
                r#"Invalid principal in policy: "AWS":number"#,
            ),
            (
                r#"{"Service":"*"}"#,
                r#"Invalid principal in policy: "Service":"*""#,
            ),
            (r#"{}"#, "Invalid principal in policy: {}"),
            (r#"["*"]"#, "Invalid principal in policy: array"),
        ] {
            let e = spec(json).unwrap_err();
            assert_eq!(e.message(), msg, "{json}");
        }
        assert_eq!(
            spec(r#"{"AWS":"*","AWS":"1"}"#).unwrap_err().kind(),
            PolicyErrorKind::DuplicateKey
        );
    }

    #[test]
    fn matching() {
        let session = PrincipalRef::role_session("aws", "111111111111", "R", "sess");
        let m = |json: &str, caller: Option<&PrincipalRef>| spec(json).unwrap().matches(caller);
        assert_eq!(m(r#""*""#, None), PrincipalMatch::Yes);
        assert_eq!(m(r#"{"AWS":"*"}"#, None), PrincipalMatch::Yes);
        assert_eq!(m(r#"{"AWS":"*"}"#, Some(&session)), PrincipalMatch::Yes);
        assert_eq!(
            m(
                r#"{"AWS":"*"}"#,
                Some(&PrincipalRef::service("ec2.amazonaws.com"))
            ),
            PrincipalMatch::No
        );
        assert_eq!(
            m(r#"{"AWS":"111111111111"}"#, Some(&session)),
            PrincipalMatch::Account
        );
        assert_eq!(
            m(
                r#"{"AWS":"arn:aws:iam::111111111111:root"}"#,
                Some(&session)
            ),
            PrincipalMatch::Account
        );
        assert_eq!(
            m(r#"{"AWS":"222222222222"}"#, Some(&session)),
            PrincipalMatch::No
        );
        assert_eq!(m(r#"{"AWS":"111111111111"}"#, None), PrincipalMatch::No);
        assert_eq!(
            m(
                r#"{"AWS":"arn:aws:iam::111111111111:role/R"}"#,
                Some(&session)
            ),
            PrincipalMatch::Yes
        );
        assert_eq!(
            m(
                r#"{"AWS":["arn:aws:iam::111111111111:role/R","arn:aws:sts::111111111111:assumed-role/R/sess"]}"#,
                Some(&session)
            ),
            PrincipalMatch::Direct
        );
        assert_eq!(
            m(
                r#"{"AWS":"arn:aws:sts::111111111111:assumed-role/R/other"}"#,
                Some(&session)
            ),
            PrincipalMatch::No
        );
        // Account matching via root ARN identifier only.
        let only_root = PrincipalRef::aws(["arn:aws-cn:iam::111111111111:root"]);
        assert_eq!(
            m(r#"{"AWS":"111111111111"}"#, Some(&only_root)),
            PrincipalMatch::Account
        );
        // Service principals are case-insensitive, others exact; kinds must agree.
        assert_eq!(
            m(
                r#"{"Service":"ec2.amazonaws.com"}"#,
                Some(&PrincipalRef::service("EC2.amazonaws.com"))
            ),
            PrincipalMatch::Yes
        );
        assert_eq!(
            m(r#"{"Service":"ec2.amazonaws.com"}"#, Some(&session)),
            PrincipalMatch::No
        );
        assert_eq!(
            m(
                r#"{"Federated":"accounts.google.com"}"#,
                Some(&PrincipalRef::federated("accounts.google.com"))
            ),
            PrincipalMatch::Yes
        );
        assert_eq!(
            m(
                r#"{"Federated":"accounts.google.com"}"#,
                Some(&PrincipalRef::federated("graph.facebook.com"))
            ),
            PrincipalMatch::No
        );
        let canon = PrincipalRef::new(PrincipalKind::CanonicalUser, ["abc"]);
        assert_eq!(
            m(r#"{"CanonicalUser":"abc"}"#, Some(&canon)),
            PrincipalMatch::Yes
        );
        assert!(is_root_of("arn:aws:iam::1:root", "1"));
        assert!(!is_root_of("arn:aws:iam::1:user/root", "1"));
    }
}
