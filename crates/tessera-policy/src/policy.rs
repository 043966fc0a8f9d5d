//! Policy documents: parsing, validation and single-policy evaluation.

use crate::condition::{Condition, parse_conditions};
use crate::context::RequestContext;
use crate::error::{PolicyError, PolicyErrorKind};
use crate::json::Json;
use crate::pattern::{ArnPattern, Pattern};
use crate::principal::{PrincipalMatch, PrincipalSpec};

/// Quota for a customer managed policy (and permissions boundaries), in
/// non-whitespace characters.
pub const MANAGED_POLICY_MAX: usize = 6144;
/// Quota for the aggregate of all inline policies of a role.
pub const ROLE_INLINE_AGGREGATE_MAX: usize = 10240;
/// Quota for the aggregate of all inline policies of a user.
pub const USER_INLINE_AGGREGATE_MAX: usize = 2048;
/// Quota for the aggregate of all inline policies of a group.
pub const GROUP_INLINE_AGGREGATE_MAX: usize = 5120;
/// Quota for a role trust policy (AWS default; adjustable up to 4096 there).
pub const TRUST_POLICY_MAX: usize = 2048;
/// Quota for the plaintext of session policies passed to STS.
pub const SESSION_POLICY_MAX: usize = 2048;
/// Quota used for resource-based policies (S3 bucket policies allow 20 KB).
pub const RESOURCE_POLICY_MAX: usize = 20480;

/// The size of a policy document as IAM counts it against its quotas: the
/// number of characters that are not white space (space, tab, CR, LF).
pub fn policy_size(doc: &str) -> usize {
    doc.chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'))
        .count()
}

/// What a policy is attached to; decides which elements are required or
/// forbidden and the size quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Identity-based (inline or managed) policy of a user, group or role.
    Identity,
    /// Resource-based policy (bucket policy, access grant policy, …).
    Resource,
    /// Role trust policy (`AssumeRolePolicyDocument`).
    Trust,
    /// Session policy passed to `AssumeRole*` / `GetFederationToken`.
    Session,
    /// Managed policy used as a permissions boundary.
    PermissionsBoundary,
}

impl PolicyKind {
    /// The size quota `Policy::parse` enforces for this kind.
    pub fn max_size(self) -> usize {
        match self {
            PolicyKind::Identity | PolicyKind::PermissionsBoundary => MANAGED_POLICY_MAX,
            PolicyKind::Trust => TRUST_POLICY_MAX,
            PolicyKind::Session => SESSION_POLICY_MAX,
            PolicyKind::Resource => RESOURCE_POLICY_MAX,
        }
    }

    /// Whether statements must (`true`) or must not (`false`) name a principal.
    pub fn requires_principal(self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Trust)
    }

    /// Whether statements must have `Resource` or `NotResource`.
    pub fn requires_resource(self) -> bool {
        !matches!(self, PolicyKind::Trust)
    }
}

/// `Effect` of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2008-10-17` (also assumed when `Version` is missing): no policy variables.
    V2008_10_17,
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
}

/// Result of evaluating one policy with [`Policy::evaluate_detailed`].
/// When `explicit_deny` is set the other fields are `false` (evaluation
/// stops at the first applicable `Deny`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Some `Deny` statement applies.
    pub explicit_deny: bool,
    /// Some `Allow` statement applies.
    pub allowed: bool,
    /// Some applicable `Allow` statement names the caller's own IAM user,
    /// assumed-role session or federated-user ARN in `Principal` (used for
    /// the same-account resource-policy rule in [`crate::authorize`]).
    pub allowed_directly: bool,
    /// Some applicable `Allow` statement matched the caller by more than its account: by a
    /// user, role or session ARN, a service or federated principal, `*`, or (identity
    /// policies) by having no `Principal` at all. An allow that names only the caller's
    /// account grants nothing by itself in that account; the identity policies must allow.
    pub allowed_beyond_account: bool,
    /// The index (in document order) of the `Deny` statement that applied, when
    /// `explicit_deny` is set.
    pub deny_statement: Option<u32>,
}

impl Evaluation {
    /// `Some(Deny)` if any deny applies, else `Some(Allow)` if any allow
    /// applies, else `None`.
    pub fn effect(&self) -> Option<Effect> {
        if self.explicit_deny {
            Some(Effect::Deny)
        } else if self.allowed {
            Some(Effect::Allow)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    not_action: bool,
    actions: Vec<Pattern>,
    /// `None`: no Resource element (trust policies) = every resource.
    resources: Option<(bool, Vec<ArnPattern>)>,
    /// `(negated, spec)`: `NotPrincipal` when negated.
    principal: Option<(bool, PrincipalSpec)>,
    conditions: Vec<Condition>,
}

/// A parsed and validated policy document. Cheap to evaluate repeatedly:
/// wildcard patterns, ARNs and condition values are compiled at parse time.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    version: PolicyVersion,
    id: Option<String>,
    statements: Vec<Statement>,
}

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

impl Statement {
    /// `None` if the statement does not apply, else how the principal matched.
    fn applies(&self, req: &RequestContext) -> Option<PrincipalMatch> {
        let ctx = &req.context;
        let action_hit = self
            .actions
            .iter()
            .any(|p| p.matches(&req.action, true, ctx));
        if action_hit == self.not_action {
            return None;
        }
        if let Some((negated, pats)) = &self.resources {
            let hit = pats.iter().any(|p| p.matches(&req.resource, ctx));
            if hit == *negated {
                return None;
            }
        }
        let pm = match &self.principal {
            None => PrincipalMatch::Yes,
            Some((false, spec)) => match spec.matches(req.principal.as_ref()) {
                PrincipalMatch::No => return None,
                m => m,
            },
            Some((true, spec)) if spec.exempts(req.principal.as_ref()) => return None,
            Some((true, _)) => PrincipalMatch::Yes,
        };
        if self.conditions.iter().all(|c| c.evaluate(ctx)) {
            Some(pm)
        } else {
            None
        }
    }
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

    /// Evaluates this policy alone: `Some(Deny)` if any applicable statement
    /// denies, `Some(Allow)` if any applicable statement allows, `None` if no
    /// statement applies.
    pub fn evaluate(&self, req: &RequestContext) -> Option<Effect> {
        let mut allowed = false;
        for s in &self.statements {
            if s.effect == Effect::Allow && allowed {
                continue;
            }
            if s.applies(req).is_some() {
                match s.effect {
                    Effect::Deny => return Some(Effect::Deny),
                    Effect::Allow => allowed = true,
                }
            }
        }
        allowed.then_some(Effect::Allow)
    }

    /// Like [`Policy::evaluate`], also telling whether an allow named the
    /// caller's own user / session ARN.
    pub fn evaluate_detailed(&self, req: &RequestContext) -> Evaluation {
        let mut out = Evaluation::default();
        for (i, s) in self.statements.iter().enumerate() {
            if s.effect == Effect::Allow && out.allowed_directly {
                continue;
            }
            if let Some(pm) = s.applies(req) {
                match s.effect {
                    Effect::Deny => {
                        return Evaluation {
                            explicit_deny: true,
                            deny_statement: u32::try_from(i).ok(),
                            ..Evaluation::default()
                        };
                    }
                    Effect::Allow => {
                        out.allowed = true;
                        out.allowed_beyond_account |= pm != PrincipalMatch::Account;
                        out.allowed_directly |= pm == PrincipalMatch::Direct;
                    }
                }
            }
        }
        out
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The document's `Id`, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// The `Sid` of statement `index` (document order), if it has one.
    pub fn sid(&self, index: usize) -> Option<&str> {
        self.statements.get(index).and_then(|s| s.sid.as_deref())
    }

    /// The `Sid` of each statement, in document order.
    pub fn sids(&self) -> impl Iterator<Item = Option<&str>> {
        self.statements.iter().map(|s| s.sid.as_deref())
    }

    /// The IAM user and role ARNs that `Principal` / `NotPrincipal` elements name, each
    /// once, in document order. AWS resolves these to unique ids when a policy is saved.
    pub fn entity_principal_arns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.statements {
            if let Some((_, spec)) = &s.principal {
                for arn in spec.entity_arns() {
                    if !out.iter().any(|a| a == arn) {
                        out.push(arn.to_owned());
                    }
                }
            }
        }
        out
    }

    /// Binds the user and role ARNs in `Principal` / `NotPrincipal` to the unique ids the
    /// entities had when the policy was saved (`id_of` returns `None` for an ARN that was
    /// not resolved, which then keeps matching by name). A bound ARN matches a caller only
    /// when the caller's [`crate::PrincipalRef::entity_id`] for it is the same id: after the
    /// user or role is deleted and re-created under the same name, the old grant is void.
    pub fn bind_principal_ids(&mut self, id_of: impl Fn(&str) -> Option<String>) {
        for s in &mut self.statements {
            if let Some((_, spec)) = &mut s.principal {
                spec.bind_ids(&id_of);
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{ContextKeys, PrincipalRef};

    fn id(doc: &str) -> Policy {
        Policy::parse(doc, PolicyKind::Identity).unwrap()
    }

    fn req(action: &str, resource: &str) -> RequestContext {
        RequestContext::new(action, resource)
    }

    fn err_of(doc: &str, kind: PolicyKind) -> PolicyError {
        Policy::parse(doc, kind).unwrap_err()
    }

    const ALLOW_ALL: &str =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;

    #[test]
    fn basic_allow_and_accessors() {
        let p = id(ALLOW_ALL);
        assert_eq!(p.evaluate(&req("iam:CreateRole", "*")), Some(Effect::Allow));
        assert_eq!(p.kind(), PolicyKind::Identity);
        assert_eq!(p.version(), PolicyVersion::V2012_10_17);
        assert_eq!(p.id(), None);
        assert_eq!(p.statement_count(), 1);
        let p = id(
            r#"{"Id":"x","Statement":[{"Sid":"A1","Effect":"Allow","Action":"s3:Get*","Resource":"arn:aws:s3:::b/*"}]}"#,
        );
        assert_eq!(p.version(), PolicyVersion::V2008_10_17);
        assert_eq!(p.id(), Some("x"));
        assert_eq!(p.sids().collect::<Vec<_>>(), vec![Some("A1")]);
        assert_eq!(
            p.evaluate(&req("s3:GetObject", "arn:aws:s3:::b/k")),
            Some(Effect::Allow)
        );
        assert_eq!(p.evaluate(&req("s3:PutObject", "arn:aws:s3:::b/k")), None);
        assert_eq!(p.evaluate(&req("s3:GetObject", "arn:aws:s3:::c/k")), None);
    }

    #[test]
    fn deny_wins_within_policy() {
        let p = id(r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Deny","Action":"iam:Delete*","Resource":"*"}]}"#);
        assert_eq!(p.evaluate(&req("iam:DeleteRole", "*")), Some(Effect::Deny));
        assert_eq!(p.evaluate(&req("iam:GetRole", "*")), Some(Effect::Allow));
        let d = p.evaluate_detailed(&req("iam:DeleteRole", "*"));
        assert!(d.explicit_deny);
        assert_eq!(d.effect(), Some(Effect::Deny));
        assert_eq!(Evaluation::default().effect(), None);
    }

    #[test]
    fn actions_are_case_insensitive_with_wildcards() {
        let p = id(
            r#"{"Statement":{"Effect":"Allow","Action":["IAM:get*","s3:?etObject"],"Resource":"*"}}"#,
        );
        assert_eq!(p.evaluate(&req("iam:GetRole", "*")), Some(Effect::Allow));
        assert_eq!(p.evaluate(&req("S3:GETOBJECT", "*")), Some(Effect::Allow));
        assert_eq!(p.evaluate(&req("s3:SetObject", "*")), Some(Effect::Allow));
        assert_eq!(p.evaluate(&req("s3:PutObject", "*")), None);
        assert_eq!(p.evaluate(&req("iamx:GetRole", "*")), None);
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = id(r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#);
        assert_eq!(p.evaluate(&req("s3:GetObject", "*")), Some(Effect::Allow));
        assert_eq!(p.evaluate(&req("iam:GetRole", "*")), None);
        let p = id(
            r#"{"Statement":{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::safe","arn:aws:s3:::safe/*"]}}"#,
        );
        assert_eq!(
            p.evaluate(&req("s3:GetObject", "arn:aws:s3:::other/k")),
            Some(Effect::Deny)
        );
        assert_eq!(
            p.evaluate(&req("s3:GetObject", "arn:aws:s3:::safe/k")),
            None
        );
    }

    #[test]
    fn resource_variables_only_in_2012() {
        let doc = |v: &str| {
            format!(
                r#"{{{v}"Statement":{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${{aws:username}}/*"}}}}"#
            )
        };
        let ctx = ContextKeys::new().with("aws:username", "alice");
        let r = req("s3:GetObject", "arn:aws:s3:::home/alice/f").with_context(ctx.clone());
        assert_eq!(
            id(&doc(r#""Version":"2012-10-17","#)).evaluate(&r),
            Some(Effect::Allow)
        );
        assert_eq!(id(&doc(r#""Version":"2008-10-17","#)).evaluate(&r), None);
        assert_eq!(id(&doc("")).evaluate(&r), None);
        let literal = req("s3:GetObject", "arn:aws:s3:::home/${aws:username}/f").with_context(ctx);
        assert_eq!(id(&doc("")).evaluate(&literal), Some(Effect::Allow));
        // Missing variable: the resource does not match.
        let r = req("s3:GetObject", "arn:aws:s3:::home/alice/f");
        assert_eq!(id(&doc(r#""Version":"2012-10-17","#)).evaluate(&r), None);
    }

    #[test]
    fn principals_in_resource_policies() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
                {"Effect":"Deny","NotPrincipal":{"AWS":["111111111111","arn:aws:iam::111111111111:role/Admin","arn:aws:sts::111111111111:assumed-role/Admin/s"]},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let ours = PrincipalRef::role_session("aws", "111111111111", "Dev", "s");
        let admin = PrincipalRef::role_session("aws", "111111111111", "Admin", "s");
        let theirs = PrincipalRef::role_session("aws", "222222222222", "Dev", "s");
        let r = |a: &str, p: &PrincipalRef| req(a, "arn:aws:s3:::b/k").with_principal(p.clone());
        assert_eq!(p.evaluate(&r("s3:GetObject", &ours)), Some(Effect::Allow));
        assert_eq!(p.evaluate(&r("s3:GetObject", &theirs)), None);
        assert_eq!(p.evaluate(&r("s3:DeleteObject", &ours)), Some(Effect::Deny));
        assert_eq!(p.evaluate(&r("s3:DeleteObject", &admin)), None);
        let admin_other = PrincipalRef::role_session("aws", "111111111111", "Admin", "t");
        assert_eq!(
            p.evaluate(&r("s3:DeleteObject", &admin_other)),
            Some(Effect::Deny)
        );
        // Anonymous: NotPrincipal deny applies, account allow does not.
        assert_eq!(
            p.evaluate(&req("s3:DeleteObject", "arn:aws:s3:::b/k")),
            Some(Effect::Deny)
        );
        assert_eq!(p.evaluate(&req("s3:GetObject", "arn:aws:s3:::b/k")), None);
    }

    #[test]
    fn direct_principal_detection() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/R"},"Action":"s3:ListBucket","Resource":"*"},
                {"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111111111111:assumed-role/R/s"},"Action":"s3:GetObject","Resource":"*"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let session = PrincipalRef::role_session("aws", "111111111111", "R", "s");
        let e = p.evaluate_detailed(&req("s3:GetObject", "*").with_principal(session.clone()));
        assert!(e.allowed && e.allowed_directly);
        let e = p.evaluate_detailed(&req("s3:ListBucket", "*").with_principal(session));
        assert!(e.allowed && !e.allowed_directly);
    }

    #[test]
    fn trust_policy_without_resource() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let r = req("sts:AssumeRole", "arn:aws:iam::111111111111:role/R")
            .with_principal(PrincipalRef::service("ec2.amazonaws.com"));
        assert_eq!(p.evaluate(&r), Some(Effect::Allow));
        let r = req("sts:AssumeRole", "arn:aws:iam::111111111111:role/R")
            .with_principal(PrincipalRef::service("lambda.amazonaws.com"));
        assert_eq!(p.evaluate(&r), None);
    }

    #[test]
    fn conditions_gate_statements() {
        let p = id(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#,
        );
        assert_eq!(p.evaluate(&req("s3:GetObject", "*")), None);
        let ctx = ContextKeys::new().with("aws:MultiFactorAuthPresent", true);
        assert_eq!(
            p.evaluate(&req("s3:GetObject", "*").with_context(ctx)),
            Some(Effect::Allow)
        );
    }

    #[test]
    fn size_limits() {
        assert_eq!(policy_size(" { \"a\" :\t\"b c\" }\r\n"), 10);
        let pad = "x".repeat(7000 - 100);
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Sid":"{pad}","Effect":"Allow","Action":"*","Resource":"*"}}}}"#
        );
        let size = policy_size(&doc);
        let e = err_of(&doc, PolicyKind::Identity);
        assert_eq!(e.kind(), PolicyErrorKind::TooLarge);
        assert_eq!(
            e.message(),
            format!("Policy document length {size} exceeds the maximum of 6144 characters")
        );
        assert_eq!(e.aws_error_code(), "LimitExceeded");
        assert!(
            Policy::parse_with_limit(&doc, PolicyKind::Identity, Some(ROLE_INLINE_AGGREGATE_MAX))
                .is_ok()
        );
        assert!(Policy::parse_with_limit(&doc, PolicyKind::Identity, None).is_ok());
        // Whitespace does not count.
        let spaced = format!(
            "{{\"Version\":\"2012-10-17\",{}\"Statement\":{{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}}}",
            " ".repeat(10_000)
        );
        assert!(Policy::parse(&spaced, PolicyKind::Session).is_ok());
        // Exactly at the limit is fine.
        let base = r#"{"Statement":{"Sid":"","Effect":"Allow","Action":"*","Resource":"*"}}"#;
        let fill = SESSION_POLICY_MAX - policy_size(base);
        let at = base.replace(r#""Sid":"""#, &format!(r#""Sid":"{}""#, "a".repeat(fill)));
        assert_eq!(policy_size(&at), SESSION_POLICY_MAX);
        assert!(Policy::parse(&at, PolicyKind::Session).is_ok());
        let over = at.replace("\"Sid\":\"", "\"Sid\":\"a");
        assert_eq!(
            err_of(&over, PolicyKind::Session).kind(),
            PolicyErrorKind::TooLarge
        );
        assert_eq!(
            err_of(&over, PolicyKind::Trust).kind(),
            PolicyErrorKind::TooLarge
        );
        assert!(Policy::parse(&over, PolicyKind::Identity).is_ok());
        assert_eq!(PolicyKind::Resource.max_size(), 20480);
        assert_eq!(PolicyKind::PermissionsBoundary.max_size(), 6144);
    }

    #[test]
    fn validation_errors() {
        use PolicyErrorKind as K;
        let cases: &[(&str, PolicyKind, K, &str)] = &[
            (
                "{",
                PolicyKind::Identity,
                K::Syntax,
                "Syntax errors in policy.",
            ),
            (
                "[]",
                PolicyKind::Identity,
                K::Syntax,
                "Syntax errors in policy.",
            ),
            (
                "",
                PolicyKind::Identity,
                K::Syntax,
                "Syntax errors in policy.",
            ),
            (
                r#"{"Statement":[]}"#,
                PolicyKind::Identity,
                K::MissingStatement,
                "Policy must contain at least one statement.",
            ),
            (
                r#"{"Version":"2012-10-17"}"#,
                PolicyKind::Identity,
                K::MissingStatement,
                "Missing required field Statement",
            ),
            (
                r#"{"Statement":"x"}"#,
                PolicyKind::Identity,
                K::InvalidType,
                "Statement must be an object or an array of objects.",
            ),
            (
                r#"{"Statement":["x"]}"#,
                PolicyKind::Identity,
                K::InvalidType,
                "Each policy statement must be an object.",
            ),
            (
                r#"{"Version":"2013-01-01","Statement":[]}"#,
                PolicyKind::Identity,
                K::InvalidVersion,
                "The policy failed legacy parsing: invalid Version 2013-01-01; use \"2012-10-17\" or \"2008-10-17\".",
            ),
            (
                r#"{"Id":1,"Statement":[]}"#,
                PolicyKind::Identity,
                K::InvalidType,
                "Id must be a string.",
            ),
            (
                r#"{"Foo":1,"Statement":[]}"#,
                PolicyKind::Identity,
                K::UnknownField,
                "Unknown field Foo",
            ),
            (
                r#"{"Statement":[],"Statement":[]}"#,
                PolicyKind::Identity,
                K::DuplicateKey,
                "Duplicate field Statement in policy document.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Foo":1}}"#,
                PolicyKind::Identity,
                K::UnknownField,
                "Unknown field Foo",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::DuplicateKey,
                "Duplicate field Effect in policy statement.",
            ),
            (
                r#"{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidEffect,
                "Invalid effect: allow",
            ),
            (
                r#"{"Statement":{"Effect":true,"Action":"*","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidEffect,
                "Invalid effect: boolean",
            ),
            (
                r#"{"Statement":{"Action":"*","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidEffect,
                "Missing required field Effect",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidAction,
                "Policy statement must contain actions.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidAction,
                "Policy statement must contain actions.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidAction,
                "Policy statement must not contain both Action and NotAction.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"iam","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidAction,
                "Action \"iam\" must be in the form service:action, e.g., iam:CreateRole.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"iam:cre ate","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidAction,
                "Action \"iam:cre ate\" must be in the form service:action, e.g., iam:CreateRole.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"iam:","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidAction,
                "Action \"iam:\" must be in the form service:action, e.g., iam:CreateRole.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"iam:a:b","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidAction,
                "Action \"iam:a:b\" must be in the form service:action, e.g., iam:CreateRole.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":1,"Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidType,
                "Action must be a string or an array of strings.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":["s3:*",2],"Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidType,
                "Action must be a string or an array of strings.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidResource,
                "Policy statement must contain resources.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":[]}}"#,
                PolicyKind::Session,
                K::InvalidResource,
                "Policy statement must contain resources.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#,
                PolicyKind::PermissionsBoundary,
                K::InvalidResource,
                "Policy statement must contain resources.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidResource,
                "Policy statement must not contain both Resource and NotResource.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"bucket"}}"#,
                PolicyKind::Identity,
                K::InvalidResource,
                "Resource bucket must be in ARN format or \"*\".",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3"}}"#,
                PolicyKind::Identity,
                K::InvalidResource,
                "Resource arn:aws:s3 must be in ARN format or \"*\".",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}"#,
                PolicyKind::Identity,
                K::PrincipalNotAllowed,
                "Policy document should not specify a principal.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","NotPrincipal":{"AWS":"*"}}}"#,
                PolicyKind::Session,
                K::PrincipalNotAllowed,
                "Policy document should not specify a principal.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}"#,
                PolicyKind::PermissionsBoundary,
                K::PrincipalNotAllowed,
                "Policy document should not specify a principal.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
                PolicyKind::Resource,
                K::MissingPrincipal,
                "Missing required field Principal",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
                PolicyKind::Trust,
                K::MissingPrincipal,
                "Missing required field Principal",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*","NotPrincipal":"*"}}"#,
                PolicyKind::Resource,
                K::InvalidPrincipal,
                "Policy statement must not contain both Principal and NotPrincipal.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"AWS":"foo"}}}"#,
                PolicyKind::Trust,
                K::InvalidPrincipal,
                "Invalid principal in policy: \"AWS\":\"foo\"",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/bob"}}}"#,
                PolicyKind::Trust,
                K::InvalidPrincipal,
                "NotPrincipal with \"Effect\": \"Allow\" is not supported in role trust policies; name the trusted principals in Principal instead.",
            ),
            (
                r#"{"Statement":{"Sid":"a b","Effect":"Allow","Action":"*","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidSid,
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
            ),
            (
                r#"{"Statement":{"Sid":"a-b","Effect":"Allow","Action":"*","Resource":"*"}}"#,
                PolicyKind::Session,
                K::InvalidSid,
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
            ),
            (
                r#"{"Statement":{"Sid":5,"Effect":"Allow","Action":"*","Resource":"*"}}"#,
                PolicyKind::Identity,
                K::InvalidType,
                "Sid must be a string.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:x":"y"}}}}"#,
                PolicyKind::Identity,
                K::InvalidCondition,
                "Invalid Condition type : StringEqualz.",
            ),
            (
                "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"arn:aws:s3:::\u{4e2d}\"}}",
                PolicyKind::Identity,
                K::InvalidCharacters,
                "Policy document contains the invalid character U+4E2D; only tab, line feed, carriage return and U+0020 through U+00FF are allowed.",
            ),
            (
                "{\"Statement\":\u{1}{}}",
                PolicyKind::Identity,
                K::InvalidCharacters,
                "Policy document contains the invalid character U+0001; only tab, line feed, carriage return and U+0020 through U+00FF are allowed.",
            ),
        ];
        for (doc, kind, ek, msg) in cases {
            let e = err_of(doc, *kind);
            assert_eq!((e.kind(), e.message()), (*ek, *msg), "{doc}");
            assert_eq!(e.to_string(), *msg);
        }
    }

    #[test]
    fn not_principal_needs_every_level() {
        let user = |acct: &str, name: &str| PrincipalRef::iam_user("aws", acct, name);
        let deny = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111111111111:user/bob"]},"Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let as_ = |p: PrincipalRef| req("s3:GetObject", "arn:aws:s3:::b/k").with_principal(p);
        // Only the user's ARN is listed, not its account: Bob is not exempt either.
        assert_eq!(
            deny.evaluate(&as_(user("111111111111", "bob"))),
            Some(Effect::Deny)
        );
        assert_eq!(
            deny.evaluate(&as_(user("111111111111", "alice"))),
            Some(Effect::Deny)
        );
        // Deny + NotPrincipal in a trust policy is accepted.
        let trust = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"},
                {"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111111111111:user/bob","111111111111"]},"Action":"sts:AssumeRole"}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let assume = |p: PrincipalRef| {
            req("sts:AssumeRole", "arn:aws:iam::111111111111:role/R").with_principal(p)
        };
        assert_eq!(
            trust.evaluate(&assume(user("111111111111", "bob"))),
            Some(Effect::Allow)
        );
        assert_eq!(
            trust.evaluate(&assume(user("111111111111", "alice"))),
            Some(Effect::Deny)
        );
        // In resource policies Allow + NotPrincipal keeps AWS's meaning: everyone whose
        // every level is not listed is allowed, the listed user included unless the
        // account is listed too.
        let allow = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":["arn:aws:iam::111111111111:user/bob","arn:aws:iam::111111111111:root"]},"Action":"s3:GetObject","Resource":"*"}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        assert_eq!(allow.evaluate(&as_(user("111111111111", "bob"))), None);
        assert_eq!(
            allow.evaluate(&as_(user("222222222222", "carol"))),
            Some(Effect::Allow)
        );
        // A session is exempt only by its own session ARN: wildcards never name it.
        let wild = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"Action":"s3:*","Resource":"*"}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        assert_eq!(
            wild.evaluate(&as_(PrincipalRef::role_session(
                "aws",
                "111111111111",
                "R",
                "s"
            ))),
            Some(Effect::Deny)
        );
        assert_eq!(wild.evaluate(&as_(user("111111111111", "bob"))), None);
    }

    #[test]
    fn bound_principal_ids() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/bob","arn:aws:iam::111111111111:role/R","arn:aws:sts::111111111111:assumed-role/R/s","111111111111"]},"Action":"sts:AssumeRole"}]}"#;
        let mut p = Policy::parse(doc, PolicyKind::Trust).unwrap();
        assert_eq!(
            p.entity_principal_arns(),
            vec![
                "arn:aws:iam::111111111111:user/bob".to_owned(),
                "arn:aws:iam::111111111111:role/R".to_owned()
            ]
        );
        p.bind_principal_ids(|arn| match arn {
            "arn:aws:iam::111111111111:user/bob" => Some("AIDAOLDBOB".into()),
            "arn:aws:iam::111111111111:role/R" => Some("AROAOLDR".into()),
            _ => None,
        });
        let assume = |pr: PrincipalRef| {
            p.evaluate_detailed(
                &req("sts:AssumeRole", "arn:aws:iam::111111111111:role/T").with_principal(pr),
            )
        };
        let bob = |id: &str| {
            PrincipalRef::iam_user("aws", "111111111111", "bob")
                .with_entity_id("arn:aws:iam::111111111111:user/bob", id)
        };
        assert!(assume(bob("AIDAOLDBOB")).allowed_directly);
        // A re-created bob (another id) matches only through the account.
        let e = assume(bob("AIDANEWBOB"));
        assert!(e.allowed && !e.allowed_beyond_account);
        let r = |id: &str| {
            PrincipalRef::role_session("aws", "111111111111", "R", "x")
                .with_entity_id("arn:aws:iam::111111111111:role/R", id)
        };
        assert!(assume(r("AROAOLDR")).allowed_beyond_account);
        assert!(!assume(r("AROANEWR")).allowed_beyond_account);
        // Session ARNs are not bound: the session s of a re-created R still matches by name.
        let s = PrincipalRef::role_session("aws", "111111111111", "R", "s")
            .with_entity_id("arn:aws:iam::111111111111:role/R", "AROANEWR");
        assert!(assume(s).allowed_directly);
    }

    #[test]
    fn rewriting_principals_for_display() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/bob","111111111111"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/bob"}}}]}"#;
        let swap =
            |v: &str| (v == "arn:aws:iam::111111111111:user/bob").then(|| "AIDAOLDBOB".to_owned());
        assert_eq!(
            rewrite_aws_principals(doc, swap).unwrap(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["AIDAOLDBOB","111111111111"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/bob"}}}]}"#
        );
        assert_eq!(rewrite_aws_principals(doc, |_| None), None);
        assert_eq!(rewrite_aws_principals("not json", swap), None);
        let single = r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/bob"},"Action":"*","Resource":"*"}}"#;
        assert_eq!(
            rewrite_aws_principals(single, swap).unwrap(),
            r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"AIDAOLDBOB"},"Action":"*","Resource":"*"}}"#
        );
    }

    #[test]
    fn accepted_variants() {
        // Latin-1 characters are allowed.
        assert!(Policy::parse(
            "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"arn:aws:s3:::caf\u{e9}\"}}",
            PolicyKind::Identity
        )
        .is_ok());
        // Resource policies may use free-form Sids.
        assert!(Policy::parse(
            r#"{"Statement":{"Sid":"Allow read-only access","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
            PolicyKind::Resource
        )
        .is_ok());
        // A trust policy may not name a resource (IAM: "Has prohibited field Resource").
        for field in ["Resource", "NotResource"] {
            let e = Policy::parse(
                &format!(r#"{{"Statement":{{"Effect":"Allow","Principal":{{"AWS":"111111111111"}},"Action":"sts:AssumeRole","{field}":"*"}}}}"#),
                PolicyKind::Trust,
            )
            .unwrap_err();
            assert_eq!(e.aws_error_code(), "MalformedPolicyDocument");
            assert_eq!(e.message(), format!("Has prohibited field {field}"));
        }
        // Empty Sid is alphanumeric (regex uses *).
        assert!(
            id(r#"{"Statement":{"Sid":"","Effect":"Allow","Action":"*","Resource":"*"}}"#)
                .sids()
                .all(|s| s == Some(""))
        );
    }
}
