//! Unit tests of every condition operator family, missing keys, set operators and
//! malformed blocks.

use super::parse::*;
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
