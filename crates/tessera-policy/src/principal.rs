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
    /// A user, role, assumed-role session or federated-user ARN.
    AwsArn {
        arn: String,
        kind: ArnKind,
        /// The unique id (`AIDA…`, `AROA…`) of the user or role the ARN named when the
        /// policy was saved ([`crate::Policy::bind_principal_ids`]). When set, the ARN
        /// matches only a caller whose entity behind that ARN still has this id: a user or
        /// role deleted and re-created under the same name is someone else.
        bound_id: Option<String>,
    },
    /// `Service`, `Federated` or `CanonicalUser` value.
    Other { kind: PrincipalKind, id: String },
}

/// What an ARN in a principal element names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArnKind {
    /// `arn:…:iam::ACCOUNT:user/…`: an IAM entity, matched as the calling user itself.
    User,
    /// `arn:…:iam::ACCOUNT:role/…`: an IAM entity; its sessions match through it.
    Role,
    /// `arn:…:sts::ACCOUNT:assumed-role/…` or `federated-user/…`: one session.
    Session,
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

/// The levels of a caller's identity, as `NotPrincipal` sees them: an IAM user is its
/// account and the user; a role session is its account, the role and the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Account,
    Entity,
    Session,
    /// A service, federated or canonical-user principal: one level.
    Other,
}

fn level_of(kind: PrincipalKind, identifier: &str) -> Level {
    if kind != PrincipalKind::Aws {
        return Level::Other;
    }
    if is_account_id(identifier) || identifier.ends_with(":root") {
        return Level::Account;
    }
    match identifier.splitn(6, ':').nth(5) {
        Some(r) if r.starts_with("assumed-role/") || r.starts_with("federated-user/") => {
            Level::Session
        }
        Some(_) => Level::Entity,
        None => Level::Other,
    }
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
    let arn = |kind| {
        Some(PrincipalValue::AwsArn {
            arn: value.to_owned(),
            kind,
            bound_id: None,
        })
    };
    match *service {
        "iam" if *resource == "root" => Some(PrincipalValue::Account((*account).to_owned())),
        "iam" if named("user/") => arn(ArnKind::User),
        "iam" if named("role/") => arn(ArnKind::Role),
        "sts" if named("assumed-role/") && resource.matches('/').count() >= 2 => {
            arn(ArnKind::Session)
        }
        "sts" if named("federated-user/") => arn(ArnKind::Session),
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

    /// The IAM user and role ARNs this element names (not sessions, accounts or services).
    pub(crate) fn entity_arns(&self) -> impl Iterator<Item = &str> {
        self.values.iter().filter_map(|v| match v {
            PrincipalValue::AwsArn {
                arn,
                kind: ArnKind::User | ArnKind::Role,
                ..
            } => Some(arn.as_str()),
            _ => None,
        })
    }

    /// Bind user and role ARNs to the unique ids `id_of` gives for them.
    pub(crate) fn bind_ids(&mut self, id_of: &dyn Fn(&str) -> Option<String>) {
        for v in &mut self.values {
            if let PrincipalValue::AwsArn {
                arn,
                kind: ArnKind::User | ArnKind::Role,
                bound_id,
            } = v
            {
                *bound_id = id_of(arn);
            }
        }
    }

    /// Does `v` name the caller's identifier `ident`?
    fn names(v: &PrincipalValue, caller: &PrincipalRef, ident: &str) -> bool {
        match v {
            PrincipalValue::Everyone => true,
            PrincipalValue::AnyAws => caller.kind == PrincipalKind::Aws,
            PrincipalValue::Account(id) => {
                caller.kind == PrincipalKind::Aws && (ident == id || is_root_of(ident, id))
            }
            PrincipalValue::AwsArn { arn, bound_id, .. } => {
                caller.kind == PrincipalKind::Aws
                    && ident == arn
                    && bound_id
                        .as_deref()
                        .is_none_or(|id| caller.entity_id(arn) == Some(id))
            }
            PrincipalValue::Other { kind, id } => {
                caller.kind == *kind
                    && if *kind == PrincipalKind::Service {
                        ident.eq_ignore_ascii_case(id)
                    } else {
                        ident == id
                    }
            }
        }
    }

    /// Does the caller match any listed principal (the `Principal` element)?
    pub(crate) fn matches(&self, caller: Option<&PrincipalRef>) -> PrincipalMatch {
        let Some(c) = caller else {
            // Anonymous callers match only the wildcards.
            let any = self
                .values
                .iter()
                .any(|v| matches!(v, PrincipalValue::Everyone | PrincipalValue::AnyAws));
            return if any {
                PrincipalMatch::Yes
            } else {
                PrincipalMatch::No
            };
        };
        let mut best = PrincipalMatch::No;
        for v in &self.values {
            let m = match v {
                PrincipalValue::Everyone => PrincipalMatch::Yes,
                PrincipalValue::AnyAws if c.kind == PrincipalKind::Aws => PrincipalMatch::Yes,
                PrincipalValue::Account(_)
                    if c.identifiers.iter().any(|i| Self::names(v, c, i)) =>
                {
                    PrincipalMatch::Account
                }
                PrincipalValue::AwsArn { kind, .. }
                    if c.identifiers.iter().any(|i| Self::names(v, c, i)) =>
                {
                    if *kind == ArnKind::Role {
                        PrincipalMatch::Yes
                    } else {
                        PrincipalMatch::Direct
                    }
                }
                PrincipalValue::Other { .. }
                    if c.identifiers.iter().any(|i| Self::names(v, c, i)) =>
                {
                    PrincipalMatch::Yes
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

    /// Is the caller exempt from a `NotPrincipal` element? As AWS documents it, only when
    /// *every level* of its identity is listed: the account and the user for an IAM user;
    /// the account, the role and the session for a role session. Naming one level (every
    /// principal carries its account) exempts nobody. Wildcards never name a session level:
    /// a session is exempt only by its own assumed-role (or federated-user) ARN.
    pub(crate) fn exempts(&self, caller: Option<&PrincipalRef>) -> bool {
        let Some(c) = caller else {
            return self
                .values
                .iter()
                .any(|v| matches!(v, PrincipalValue::Everyone | PrincipalValue::AnyAws));
        };
        if c.identifiers.is_empty() {
            return false;
        }
        let named = |ident: &str| {
            let session = level_of(c.kind, ident) == Level::Session;
            self.values.iter().any(|v| {
                !(session && matches!(v, PrincipalValue::Everyone | PrincipalValue::AnyAws))
                    && Self::names(v, c, ident)
            })
        };
        [Level::Account, Level::Entity, Level::Session, Level::Other]
            .into_iter()
            .all(|level| {
                let mut idents = c
                    .identifiers
                    .iter()
                    .filter(|i| level_of(c.kind, i) == level)
                    .peekable();
                idents.peek().is_none() || idents.any(|i| named(i))
            })
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
