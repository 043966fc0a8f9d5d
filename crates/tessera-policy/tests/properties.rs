//! Property tests: robustness of the parser and algebraic properties of
//! evaluation.

use proptest::prelude::*;
use serde_json::{Value, json};
use tessera_policy::{
    ContextKeys, Decision, Effect, EvalInput, Policy, PolicyKind, PrincipalRef, RequestContext,
    authorize,
};

const KINDS: [PolicyKind; 5] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::Session,
    PolicyKind::PermissionsBoundary,
];

/// Arbitrary JSON whose keys are mostly policy-grammar words, so that the
/// generator reaches deep into the validator.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("Version".to_owned()),
        Just("Statement".to_owned()),
        Just("Effect".to_owned()),
        Just("Action".to_owned()),
        Just("NotAction".to_owned()),
        Just("Resource".to_owned()),
        Just("NotResource".to_owned()),
        Just("Principal".to_owned()),
        Just("NotPrincipal".to_owned()),
        Just("Condition".to_owned()),
        Just("Sid".to_owned()),
        Just("AWS".to_owned()),
        Just("StringLike".to_owned()),
        Just("ForAllValues:NumericLessThanIfExists".to_owned()),
        Just("aws:SourceIp".to_owned()),
        "[a-zA-Z:]{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("2012-10-17".to_owned()),
            Just("Allow".to_owned()),
            Just("Deny".to_owned()),
            Just("*".to_owned()),
            Just("s3:Get*".to_owned()),
            Just("arn:aws:s3:::b/${aws:username}/*".to_owned()),
            Just("10.0.0.0/8".to_owned()),
            Just("123456789012".to_owned()),
            ".{0,16}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn arb_action() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        "*",
        "s3:*",
        "s3:Get*",
        "S3:GetObject",
        "iam:CreateRole",
        "ec2:Describe?nstances",
        "sts:Assume*",
    ])
    .prop_map(|s| json!(s))
}

fn arb_resource() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        "*",
        "arn:aws:s3:::b/*",
        "arn:aws:s3:::b/${aws:username}/*",
        "arn:aws:iam::*:role/R",
        "arn:aws:s3:::other",
        "arn:aws:ec2:*:111111111111:instance/*",
    ])
    .prop_map(|s| json!(s))
}

fn arb_condition() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(prop::sample::select(vec![
        json!({"StringEquals": {"aws:username": "alice"}}),
        json!({"StringNotEqualsIfExists": {"aws:username": ["bob", "carol"]}}),
        json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        json!({"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}}),
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        json!({"ForAllValues:StringLike": {"aws:TagKeys": ["env*", "team"]}}),
        json!({"ForAnyValue:StringEquals": {"aws:TagKeys": "team"}}),
        json!({"NumericLessThan": {"s3:max-keys": 100}}),
        json!({"Null": {"aws:TokenIssueTime": "true"}}),
        json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}),
    ]))
}

/// A statement for an identity policy, as JSON.
fn arb_statement() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(arb_action(), 1..3),
        any::<bool>(),
        prop::collection::vec(arb_resource(), 1..3),
        arb_condition(),
    )
        .prop_map(
            |(allow, not_action, actions, not_resource, resources, cond)| {
                let mut s = serde_json::Map::new();
                s.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
                s.insert(
                    (if not_action { "NotAction" } else { "Action" }).into(),
                    Value::Array(actions),
                );
                s.insert(
                    (if not_resource {
                        "NotResource"
                    } else {
                        "Resource"
                    })
                    .into(),
                    Value::Array(resources),
                );
                if let Some(c) = cond {
                    s.insert("Condition".into(), c);
                }
                Value::Object(s)
            },
        )
}

fn policy_of(statements: &[Value]) -> Policy {
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    Policy::parse_with_limit(&doc, PolicyKind::Identity, None)
        .unwrap_or_else(|e| panic!("generated policy rejected: {e}\n{doc}"))
}

fn arb_request() -> impl Strategy<Value = RequestContext> {
    (
        prop::sample::select(vec![
            "s3:GetObject",
            "s3:PutObject",
            "iam:CreateRole",
            "ec2:DescribeInstances",
            "sts:AssumeRole",
        ]),
        prop::sample::select(vec![
            "*",
            "arn:aws:s3:::b/alice/x",
            "arn:aws:s3:::b/bob/x",
            "arn:aws:s3:::other",
            "arn:aws:iam::111111111111:role/R",
            "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
        ]),
        prop::option::of(prop::sample::select(vec!["alice", "bob"])),
        prop::option::of(prop::sample::select(vec!["10.1.2.3", "192.0.2.9", "::1"])),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::collection::vec(
            prop::sample::select(vec!["env", "envx", "team", "cost"]),
            0..3,
        )),
        prop::option::of(0i64..200),
    )
        .prop_map(|(action, resource, user, ip, secure, tags, max_keys)| {
            let mut ctx = ContextKeys::new();
            if let Some(u) = user {
                ctx.insert("aws:username", u);
            }
            if let Some(ip) = ip {
                ctx.insert("aws:SourceIp", ip);
            }
            if let Some(b) = secure {
                ctx.insert("aws:SecureTransport", b);
            }
            if let Some(t) = tags {
                ctx.insert_multi("aws:TagKeys", t);
            }
            if let Some(n) = max_keys {
                ctx.insert("s3:max-keys", n);
            }
            ctx.insert("aws:CurrentTime", "2024-01-01T00:00:00Z");
            RequestContext::new(action, resource)
                .with_context(ctx)
                .with_principal(PrincipalRef::iam_user("aws", "111111111111", "alice"))
        })
}

/// How many cases each parser fuzz test runs: `TESSERA_FUZZ_CASES`, default 1,000 (the closing
/// notes report runs with 100,000).
fn fuzz_cases() -> u32 {
    std::env::var("TESSERA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// A rejection is a typed error with an AWS-like code and a message of bounded size.
fn check_rejection(
    _doc: &str,
    result: Result<Policy, tessera_policy::PolicyError>,
) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(!e.message().is_empty());
        prop_assert_eq!(e.to_string(), e.message());
        prop_assert!(
            [
                "MalformedPolicyDocument",
                "LimitExceeded",
                "ValidationError"
            ]
            .contains(&e.aws_error_code())
        );
        prop_assert!(
            e.message().len() <= 600,
            "message too long: {}",
            e.message().len()
        );
    }
    Ok(())
}

// Parser fuzzing: no panic, no hang (nextest's slow-test timeout ends a hung case), every
// rejection a typed error.
proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_strings(doc in ".{0,300}") {
        for kind in KINDS {
            check_rejection(&doc, Policy::parse(&doc, kind))?;
        }
    }

    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let doc = String::from_utf8_lossy(&bytes);
        check_rejection(&doc, Policy::parse(&doc, PolicyKind::Identity))?;
    }

    #[test]
    fn parser_never_panics_on_json(v in arb_json(), req in arb_request()) {
        let doc = v.to_string();
        for kind in KINDS {
            match Policy::parse(&doc, kind) {
                Ok(p) => {
                    // Whatever parses must also evaluate without panicking.
                    let _ = p.evaluate(&req);
                    let _ = p.evaluate(&RequestContext::new("x:y", "*"));
                    let _ = p.entity_principal_arns();
                }
                Err(e) => check_rejection(&doc, Err(e))?,
            }
        }
        let _ = tessera_policy::rewrite_aws_principals(&doc, |v| Some(format!("{v}!")));
    }

    #[test]
    fn parser_never_panics_on_policy_shaped_documents(statements in prop::collection::vec(arb_statement(), 0..6), version in prop_oneof![Just(None), Just(Some("2012-10-17")), Just(Some("2008-10-17")), Just(Some("x"))]) {
        let mut doc = json!({"Statement": statements});
        if let Some(v) = version {
            doc["Version"] = json!(v);
        }
        let text = doc.to_string();
        for kind in KINDS {
            check_rejection(&text, Policy::parse(&text, kind))?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_matching_deny_always_wins(
        statements in prop::collection::vec(arb_statement(), 1..6),
        req in arb_request(),
    ) {
        let before = policy_of(&statements);
        let mut with_deny = statements.clone();
        with_deny.push(json!({"Effect": "Deny", "Action": "*", "Resource": "*"}));
        let after = policy_of(&with_deny);
        prop_assert_eq!(after.evaluate(&req), Some(Effect::Deny));
        let refs = [&before, &after];
        prop_assert_eq!(authorize(&req, &EvalInput::identity_only(&refs)), Decision::ExplicitDeny);
    }

    #[test]
    fn adding_a_deny_statement_is_monotone(
        statements in prop::collection::vec(arb_statement(), 1..6),
        mut extra in arb_statement(),
        req in arb_request(),
    ) {
        extra["Effect"] = json!("Deny");
        let before = policy_of(&statements);
        let mut more = statements.clone();
        more.push(extra);
        let after = policy_of(&more);
        let (b, a) = (before.evaluate(&req), after.evaluate(&req));
        // Never more permissive: Deny stays Deny, nothing becomes Allow.
        if b == Some(Effect::Deny) {
            prop_assert_eq!(a, Some(Effect::Deny));
        }
        if b != Some(Effect::Allow) {
            prop_assert_ne!(a, Some(Effect::Allow));
        }
        let d_before = authorize(&req, &EvalInput::identity_only(&[&before]));
        let d_after = authorize(&req, &EvalInput::identity_only(&[&after]));
        if d_before != Decision::Allow {
            prop_assert_ne!(d_after, Decision::Allow);
        }
    }

    #[test]
    fn statement_order_does_not_matter(
        statements in prop::collection::vec(arb_statement(), 1..7)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        req in arb_request(),
    ) {
        let (original, shuffled) = statements;
        let p1 = policy_of(&original);
        let p2 = policy_of(&shuffled);
        prop_assert_eq!(p1.evaluate(&req), p2.evaluate(&req));
        // Which deny statement is named depends on the order; what is decided does not.
        let (mut e1, mut e2) = (p1.evaluate_detailed(&req), p2.evaluate_detailed(&req));
        prop_assert_eq!(e1.deny_statement.is_some(), e1.explicit_deny);
        if let Some(i) = e1.deny_statement {
            prop_assert_eq!(&original[i as usize]["Effect"], "Deny");
        }
        e1.deny_statement = None;
        e2.deny_statement = None;
        prop_assert_eq!(e1, e2);
    }

    #[test]
    fn allow_all_allows_everything(
        service in "[a-z][a-z0-9-]{0,10}",
        name in "[A-Za-z][A-Za-z0-9]{0,20}",
        resource in prop_oneof![Just("*".to_owned()), "arn:[a-z-]{1,8}:[a-z0-9]{0,6}:[a-z0-9-]{0,10}:[0-9]{0,12}:.{0,30}", ".{0,40}"],
    ) {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity,
        ).unwrap();
        let req = RequestContext::new(format!("{service}:{name}"), resource);
        prop_assert_eq!(p.evaluate(&req), Some(Effect::Allow));
        prop_assert_eq!(authorize(&req, &EvalInput::identity_only(&[&p])), Decision::Allow);
    }

    #[test]
    fn star_like_pattern_matches_any_value(value in ".{0,60}") {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
               "Condition":{"StringLike":{"aws:userid":"*"}}}}"#,
            PolicyKind::Identity,
        ).unwrap();
        let req = RequestContext::new("s3:GetObject", "*")
            .with_context(ContextKeys::new().with("aws:userid", value));
        prop_assert_eq!(p.evaluate(&req), Some(Effect::Allow));
    }

    #[test]
    fn question_marks_match_exactly_one_character(value in "[a-zA-Z0-9 /._-]{0,30}", mask in prop::collection::vec(any::<bool>(), 30)) {
        // Replace some characters of the value with `?` (and nothing else): the pattern
        // must match the value, and no value one character shorter or longer.
        let pattern: String = value
            .chars()
            .zip(mask.iter())
            .map(|(c, &m)| if m { '?' } else { c })
            .collect();
        let doc = json!({"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"StringLike":{"aws:userid": pattern}}}}).to_string();
        let p = Policy::parse(&doc, PolicyKind::Identity).unwrap();
        let with = |v: String| {
            RequestContext::new("s3:GetObject", "*").with_context(ContextKeys::new().with("aws:userid", v))
        };
        prop_assert_eq!(p.evaluate(&with(value.clone())), Some(Effect::Allow));
        prop_assert_eq!(p.evaluate(&with(format!("{value}!"))), None);
        prop_assert_eq!(p.evaluate(&with(format!("!{value}"))), None);
        if !value.is_empty() {
            let mut shorter = value.clone();
            shorter.pop();
            prop_assert_eq!(p.evaluate(&with(shorter)), None);
        }
        // Every `?` stands for one character, any character.
        let replaced: String = value
            .chars()
            .zip(mask.iter())
            .map(|(c, &m)| if m { '#' } else { c })
            .collect();
        prop_assert_eq!(p.evaluate(&with(replaced)), Some(Effect::Allow));
    }

    #[test]
    fn size_ignores_whitespace(doc in "[ \t\r\na-z{}:\",]{0,200}") {
        let stripped: String = doc.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        prop_assert_eq!(tessera_policy::policy_size(&doc), stripped.chars().count());
    }
}
