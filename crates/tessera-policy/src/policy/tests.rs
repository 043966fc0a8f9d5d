//! Unit tests of parsing, validation and evaluation of single policies.

use super::*;
use crate::context::{ContextKeys, PrincipalRef, RequestContext};
use crate::error::{PolicyError, PolicyErrorKind};

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
