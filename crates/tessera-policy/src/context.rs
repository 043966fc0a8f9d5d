//! The request being authorised: action, resource, caller and condition keys.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};

/// Which `Principal` map key a caller is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// `"AWS"`: IAM users, roles, role sessions, federated users, accounts.
    Aws,
    /// `"Service"`: AWS service principals such as `ec2.amazonaws.com`.
    Service,
    /// `"Federated"`: SAML / OIDC providers and web identity providers.
    Federated,
    /// `"CanonicalUser"`: S3 canonical user ids.
    CanonicalUser,
}

impl PrincipalKind {
    /// The key used for this kind inside a policy's `Principal` object.
    pub fn policy_key(self) -> &'static str {
        match self {
            PrincipalKind::Aws => "AWS",
            PrincipalKind::Service => "Service",
            PrincipalKind::Federated => "Federated",
            PrincipalKind::CanonicalUser => "CanonicalUser",
        }
    }
}

/// The caller, for matching `Principal` / `NotPrincipal`.
///
/// `identifiers` lists everything the caller is known as; a policy principal
/// value matches when it matches any of them. For an IAM role session that is
/// typically the role ARN, the assumed-role session ARN, the account id and the
/// account root ARN, e.g.
/// `["arn:aws:iam::111111111111:role/R", "arn:aws:sts::111111111111:assumed-role/R/sess",
/// "111111111111", "arn:aws:iam::111111111111:root"]`.
/// A policy value naming an account (`"111111111111"` or
/// `"arn:aws:iam::111111111111:root"`) matches every caller whose identifiers
/// contain that account id or that account's root ARN.
///
/// `entity_ids` pairs the ARNs of IAM entities among the identifiers (the user's ARN, the
/// role's ARN) with their unique ids (`AIDA…`, `AROA…`). A policy whose principal ARNs were
/// bound to unique ids when it was saved ([`crate::Policy::bind_principal_ids`]) matches a
/// caller only when these agree, as AWS does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRef {
    pub kind: PrincipalKind,
    pub identifiers: Vec<String>,
    pub entity_ids: Vec<(String, String)>,
}

impl PrincipalRef {
    pub fn new<I, S>(kind: PrincipalKind, identifiers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            kind,
            identifiers: identifiers.into_iter().map(Into::into).collect(),
            entity_ids: Vec::new(),
        }
    }

    /// Records the unique id of the IAM entity (user or role) whose ARN is `arn`.
    pub fn with_entity_id(mut self, arn: impl Into<String>, id: impl Into<String>) -> Self {
        self.entity_ids.push((arn.into(), id.into()));
        self
    }

    /// The unique id recorded for the entity ARN `arn`, if any.
    pub fn entity_id(&self, arn: &str) -> Option<&str> {
        self.entity_ids
            .iter()
            .find(|(a, _)| a == arn)
            .map(|(_, id)| id.as_str())
    }

    /// An `AWS` principal with the given identifiers.
    pub fn aws<I, S>(identifiers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::new(PrincipalKind::Aws, identifiers)
    }

    /// A service principal such as `ec2.amazonaws.com`.
    pub fn service(name: impl Into<String>) -> Self {
        Self::new(PrincipalKind::Service, [name.into()])
    }

    /// A federated principal (identity provider ARN or web identity provider).
    pub fn federated(provider: impl Into<String>) -> Self {
        Self::new(PrincipalKind::Federated, [provider.into()])
    }

    /// An IAM user: user ARN, account id and account root ARN.
    pub fn iam_user(partition: &str, account: &str, path_and_name: &str) -> Self {
        let name = path_and_name.trim_start_matches('/');
        Self::aws([
            format!("arn:{partition}:iam::{account}:user/{name}"),
            account.to_owned(),
            format!("arn:{partition}:iam::{account}:root"),
        ])
    }

    /// An IAM role session: role ARN (with path), assumed-role session ARN,
    /// account id and account root ARN.
    pub fn role_session(
        partition: &str,
        account: &str,
        role_path_and_name: &str,
        session_name: &str,
    ) -> Self {
        let path_and_name = role_path_and_name.trim_start_matches('/');
        let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
        Self::aws([
            format!("arn:{partition}:iam::{account}:role/{path_and_name}"),
            format!("arn:{partition}:sts::{account}:assumed-role/{name}/{session_name}"),
            account.to_owned(),
            format!("arn:{partition}:iam::{account}:root"),
        ])
    }

    /// The account root user: account id and root ARN.
    pub fn account_root(partition: &str, account: &str) -> Self {
        Self::aws([
            account.to_owned(),
            format!("arn:{partition}:iam::{account}:root"),
        ])
    }

    #[cfg(test)]
    pub(crate) fn has_identifier(&self, id: &str) -> bool {
        self.identifiers.iter().any(|i| i == id)
    }

    #[cfg(test)]
    pub(crate) fn has_identifier_ignore_case(&self, id: &str) -> bool {
        self.identifiers.iter().any(|i| i.eq_ignore_ascii_case(id))
    }
}

/// One value of a condition key in the request context.
#[derive(Debug, Clone, PartialEq)]
pub enum ContextValue {
    String(String),
    Bool(bool),
    Number(f64),
    Date(DateTime<Utc>),
    Ip(IpAddr),
    /// Raw bytes, compared by `BinaryEquals` against the policy's base64 value.
    Binary(Vec<u8>),
}

impl ContextValue {
    /// The value as the string that string operators (and policy variables)
    /// see. Numbers with no fractional part print without a decimal point,
    /// dates print as RFC 3339 in UTC, binary values as base64.
    pub fn as_string(&self) -> Cow<'_, str> {
        match self {
            ContextValue::String(s) => Cow::Borrowed(s),
            ContextValue::Bool(true) => Cow::Borrowed("true"),
            ContextValue::Bool(false) => Cow::Borrowed("false"),
            ContextValue::Number(n) => Cow::Owned(format_number(*n)),
            ContextValue::Date(d) => Cow::Owned(d.to_rfc3339_opts(SecondsFormat::Secs, true)),
            ContextValue::Ip(ip) => Cow::Owned(ip.to_string()),
            ContextValue::Binary(b) => Cow::Owned(crate::condition::base64_encode(b)),
        }
    }
}

pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl From<String> for ContextValue {
    fn from(v: String) -> Self {
        ContextValue::String(v)
    }
}
impl From<&str> for ContextValue {
    fn from(v: &str) -> Self {
        ContextValue::String(v.to_owned())
    }
}
impl From<bool> for ContextValue {
    fn from(v: bool) -> Self {
        ContextValue::Bool(v)
    }
}
impl From<f64> for ContextValue {
    fn from(v: f64) -> Self {
        ContextValue::Number(v)
    }
}
impl From<i64> for ContextValue {
    fn from(v: i64) -> Self {
        ContextValue::Number(v as f64)
    }
}
impl From<i32> for ContextValue {
    fn from(v: i32) -> Self {
        ContextValue::Number(f64::from(v))
    }
}
impl From<u32> for ContextValue {
    fn from(v: u32) -> Self {
        ContextValue::Number(f64::from(v))
    }
}
impl From<u64> for ContextValue {
    fn from(v: u64) -> Self {
        ContextValue::Number(v as f64)
    }
}
impl From<DateTime<Utc>> for ContextValue {
    fn from(v: DateTime<Utc>) -> Self {
        ContextValue::Date(v)
    }
}
impl From<IpAddr> for ContextValue {
    fn from(v: IpAddr) -> Self {
        ContextValue::Ip(v)
    }
}
impl From<Vec<u8>> for ContextValue {
    fn from(v: Vec<u8>) -> Self {
        ContextValue::Binary(v)
    }
}

/// Condition keys of a request. Key names are case-insensitive
/// (`aws:SourceIp` and `AWS:sourceip` are the same key); values keep their
/// case. A key may carry several values (multivalued keys such as
/// `aws:TagKeys`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextKeys {
    map: HashMap<String, Vec<ContextValue>>,
}

pub(crate) fn normalize_key(key: &str) -> String {
    if key.is_ascii() {
        key.to_ascii_lowercase()
    } else {
        key.to_lowercase()
    }
}

impl ContextKeys {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to the single value `value`, replacing earlier values.
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl Into<ContextValue>) -> &mut Self {
        self.map
            .insert(normalize_key(key.as_ref()), vec![value.into()]);
        self
    }

    /// Sets `key` to the given values (a multivalued key), replacing earlier
    /// values. An empty list is kept: the key exists but has no value, which
    /// condition operators treat like a missing key.
    pub fn insert_multi<I, V>(&mut self, key: impl AsRef<str>, values: I) -> &mut Self
    where
        I: IntoIterator<Item = V>,
        V: Into<ContextValue>,
    {
        self.map.insert(
            normalize_key(key.as_ref()),
            values.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Appends one value to `key`, creating it if needed.
    pub fn push(&mut self, key: impl AsRef<str>, value: impl Into<ContextValue>) -> &mut Self {
        self.map
            .entry(normalize_key(key.as_ref()))
            .or_default()
            .push(value.into());
        self
    }

    /// By-value builder form of [`ContextKeys::insert`].
    pub fn with(mut self, key: impl AsRef<str>, value: impl Into<ContextValue>) -> Self {
        self.insert(key, value);
        self
    }

    /// By-value builder form of [`ContextKeys::insert_multi`].
    pub fn with_multi<I, V>(mut self, key: impl AsRef<str>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<ContextValue>,
    {
        self.insert_multi(key, values);
        self
    }

    /// The values of `key` (case-insensitive), if the key is present.
    /// Move every key of `other` in, replacing earlier values of the same keys.
    pub fn extend(&mut self, other: ContextKeys) {
        self.map.extend(other.map);
    }

    pub fn get(&self, key: &str) -> Option<&[ContextValue]> {
        self.map.get(&normalize_key(key)).map(Vec::as_slice)
    }

    /// Lookup with an already lower-cased key (used by compiled policies).
    pub(crate) fn get_normalized(&self, key: &str) -> Option<&[ContextValue]> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get(key).map(Vec::as_slice)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.map.contains_key(&normalize_key(key))
    }

    pub fn remove(&mut self, key: &str) -> Option<Vec<ContextValue>> {
        self.map.remove(&normalize_key(key))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Iterates over (lower-cased key, values).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[ContextValue])> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// A request to authorise.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestContext {
    /// `service:Action`, e.g. `iam:CreateRole` (matched case-insensitively).
    pub action: String,
    /// The resource ARN, or `*` for actions without a resource.
    pub resource: String,
    /// The caller, for `Principal` / `NotPrincipal` matching. `None` is an
    /// anonymous caller, matched only by `"Principal": "*"` and `{"AWS": "*"}`.
    pub principal: Option<PrincipalRef>,
    /// Condition keys (and policy variable values).
    pub context: ContextKeys,
}

impl RequestContext {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            principal: None,
            context: ContextKeys::new(),
        }
    }

    pub fn with_principal(mut self, principal: PrincipalRef) -> Self {
        self.principal = Some(principal);
        self
    }

    pub fn with_context(mut self, context: ContextKeys) -> Self {
        self.context = context;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive() {
        let mut c = ContextKeys::new();
        c.insert("aws:SourceIp", "10.0.0.1");
        assert!(c.contains_key("AWS:SOURCEIP"));
        assert_eq!(
            c.get("aws:sourceip"),
            Some(&[ContextValue::String("10.0.0.1".into())][..])
        );
        c.push("aws:TagKeys", "a").push("AWS:tagkeys", "b");
        assert_eq!(c.get("aws:tagkeys").unwrap().len(), 2);
        c.insert_multi("aws:TagKeys", ["x"]);
        assert_eq!(c.get("aws:tagkeys").unwrap().len(), 1);
        assert_eq!(c.len(), 2);
        assert!(c.remove("aws:tagkeys").is_some());
        assert_eq!(c.iter().count(), 1);
    }

    #[test]
    fn value_strings() {
        assert_eq!(ContextValue::from(10i64).as_string(), "10");
        assert_eq!(ContextValue::from(2.5).as_string(), "2.5");
        assert_eq!(ContextValue::from(true).as_string(), "true");
        let d = DateTime::parse_from_rfc3339("2020-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ContextValue::from(d).as_string(), "2020-01-02T03:04:05Z");
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(ContextValue::from(ip).as_string(), "10.1.2.3");
        assert_eq!(ContextValue::from(b"hi".to_vec()).as_string(), "aGk=");
    }

    #[test]
    fn principal_helpers() {
        let p = PrincipalRef::role_session("aws", "111111111111", "/svc/R", "s1");
        assert!(p.has_identifier("arn:aws:iam::111111111111:role/svc/R"));
        assert!(p.has_identifier("arn:aws:sts::111111111111:assumed-role/R/s1"));
        assert!(p.has_identifier("111111111111"));
        assert!(p.has_identifier("arn:aws:iam::111111111111:root"));
        let u = PrincipalRef::iam_user("aws", "111111111111", "alice");
        assert!(u.has_identifier("arn:aws:iam::111111111111:user/alice"));
        let r = PrincipalRef::account_root("aws", "111111111111");
        assert_eq!(r.identifiers.len(), 2);
        assert!(
            PrincipalRef::service("EC2.amazonaws.com")
                .has_identifier_ignore_case("ec2.amazonaws.com")
        );
        assert_eq!(PrincipalKind::Federated.policy_key(), "Federated");
        assert_eq!(PrincipalRef::federated("x").kind, PrincipalKind::Federated);
    }
}
