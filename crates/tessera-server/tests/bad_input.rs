//! Hostile and malformed requests, driven through the real request pipeline without a socket:
//! each gets its protocol's AWS error, writes exactly one audit record, and the server keeps
//! serving.

mod common;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use std::time::{Duration, SystemTime};
use tessera_server::setup;

fn presigned_get(f: &Fixture, query: &str, time: SystemTime, expires: u64) -> Request<Full<Bytes>> {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(expires));
    let identity = Credentials::new(&f.key, &f.secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = format!("http://127.0.0.1:4566/?{query}");
    let headers = [("host", "127.0.0.1:4566")];
    let signable =
        SignableRequest::new("GET", &uri, headers.into_iter(), SignableBody::Bytes(b"")).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut q = query.to_owned();
    for (k, v) in instructions.params() {
        q.push('&');
        q.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .append_pair(k, v)
                .finish(),
        );
    }
    Request::builder()
        .method("GET")
        .uri(format!("/?{q}"))
        .header("host", "127.0.0.1:4566")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// (name, request, expected status, expected code, substring of the message)
type Case<'a> = (&'a str, Request<Full<Bytes>>, u16, &'a str, &'a str);

async fn send(f: &Fixture, req: Request<Full<Bytes>>) -> Reply {
    send_from(f, req, "127.0.0.1:5000".parse().unwrap()).await
}

fn now() -> SystemTime {
    SystemTime::now()
}

async fn assert_still_serving(f: &Fixture) {
    let r = send(
        f,
        signed(
            f,
            "sts",
            form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]),
            now(),
            &[],
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<Arn>arn:aws:iam::111111111111:root</Arn>"));
}

#[tokio::test]
async fn each_bad_request_gets_its_aws_error() {
    let f = fixture().await;
    let iam = |pairs: &[(&str, &str)]| {
        let mut v = vec![("Version", "2010-05-08")];
        v.extend_from_slice(pairs);
        form(&v)
    };
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}"#;

    // (request, expected status, expected code, substring of the message)
    let mut cases: Vec<Case> = vec![
        (
            "oversized body",
            signed(
                &f,
                "iam",
                iam(&[("Action", "CreateRole"), ("RoleName", &"x".repeat(70_000))]),
                now(),
                &[],
            ),
            413,
            "RequestEntityTooLarge",
            "no larger than",
        ),
        (
            "oversized headers",
            signed(
                &f,
                "sts",
                form(&[("Action", "GetCallerIdentity")]),
                now(),
                &[("x-amz-meta-big", &"v".repeat(9000))],
            ),
            400,
            "ValidationError",
            "header section",
        ),
        (
            "invalid utf-8",
            signed(
                &f,
                "iam",
                b"Action=CreateRole&RoleName=%FF%FE".to_vec(),
                now(),
                &[],
            ),
            400,
            "MalformedQueryString",
            "UTF-8",
        ),
        (
            "duplicated parameter",
            signed(
                &f,
                "iam",
                b"Action=GetRole&RoleName=a&RoleName=b".to_vec(),
                now(),
                &[],
            ),
            400,
            "MalformedQueryString",
            "Duplicate parameter: RoleName",
        ),
        (
            "missing parameter",
            signed(
                &f,
                "iam",
                iam(&[("Action", "CreateRole"), ("RoleName", "R")]),
                now(),
                &[],
            ),
            400,
            "MissingParameter",
            "AssumeRolePolicyDocument",
        ),
        (
            "missing action",
            signed(&f, "iam", iam(&[("RoleName", "R")]), now(), &[]),
            400,
            "MissingAction",
            "Action",
        ),
        (
            "unknown action",
            signed(&f, "iam", iam(&[("Action", "LaunchRockets")]), now(), &[]),
            400,
            "InvalidAction",
            "LaunchRockets",
        ),
        (
            "unknown sts action",
            signed(
                &f,
                "sts",
                form(&[("Action", "Frobnicate"), ("Version", "2011-06-15")]),
                now(),
                &[],
            ),
            400,
            "InvalidAction",
            "Frobnicate",
        ),
        (
            "invalid role name",
            signed(
                &f,
                "iam",
                iam(&[
                    ("Action", "CreateRole"),
                    ("RoleName", "bad name"),
                    ("AssumeRolePolicyDocument", trust),
                ]),
                now(),
                &[],
            ),
            400,
            "ValidationError",
            "regular expression pattern",
        ),
        (
            "role name too long",
            signed(
                &f,
                "iam",
                iam(&[("Action", "GetRole"), ("RoleName", &"r".repeat(65))]),
                now(),
                &[],
            ),
            400,
            "ValidationError",
            "length less than or equal to 64",
        ),
        (
            "invalid path",
            signed(
                &f,
                "iam",
                iam(&[
                    ("Action", "CreateRole"),
                    ("RoleName", "R"),
                    ("Path", "nope"),
                    ("AssumeRolePolicyDocument", trust),
                ]),
                now(),
                &[],
            ),
            400,
            "ValidationError",
            "'path'",
        ),
        (
            "invalid ARN",
            signed(
                &f,
                "iam",
                iam(&[
                    ("Action", "GetOpenIDConnectProvider"),
                    ("OpenIDConnectProviderArn", "not-an-arn"),
                ]),
                now(),
                &[],
            ),
            400,
            "ValidationError",
            "valid ARN",
        ),
        (
            "malformed trust policy",
            signed(
                &f,
                "iam",
                iam(&[
                    ("Action", "CreateRole"),
                    ("RoleName", "R"),
                    ("AssumeRolePolicyDocument", "{\"Statement\":[]"),
                ]),
                now(),
                &[],
            ),
            400,
            "MalformedPolicyDocument",
            "",
        ),
        (
            "trust policy over 2048",
            signed(
                &f,
                "iam",
                iam(&[
                    ("Action", "CreateRole"),
                    ("RoleName", "R"),
                    (
                        "AssumeRolePolicyDocument",
                        &trust.replace("sts:AssumeRole", &format!("sts:{}", "A".repeat(2100))),
                    ),
                ]),
                now(),
                &[],
            ),
            409,
            "LimitExceeded",
            "",
        ),
        (
            "bad MaxSessionDuration",
            signed(
                &f,
                "iam",
                iam(&[
                    ("Action", "CreateRole"),
                    ("RoleName", "R"),
                    ("AssumeRolePolicyDocument", trust),
                    ("MaxSessionDuration", "60"),
                ]),
                now(),
                &[],
            ),
            400,
            "ValidationError",
            "maxSessionDuration",
        ),
        (
            "clock skew",
            signed(
                &f,
                "sts",
                form(&[("Action", "GetCallerIdentity")]),
                now() - Duration::from_secs(20 * 60),
                &[],
            ),
            403,
            "RequestTimeTooSkewed",
            "",
        ),
        (
            "future clock skew",
            signed(
                &f,
                "sts",
                form(&[("Action", "GetCallerIdentity")]),
                now() + Duration::from_secs(20 * 60),
                &[],
            ),
            403,
            "RequestTimeTooSkewed",
            "",
        ),
        (
            "wrong secret",
            signed_with(
                &f.key,
                "not-the-secret-at-all-0000000000000000000",
                "sts",
                form(&[("Action", "GetCallerIdentity")]),
                now(),
                &[],
                None,
            ),
            403,
            "SignatureDoesNotMatch",
            "",
        ),
        (
            "unknown key",
            signed_with(
                "AKIAUNKNOWNUNKNOWN12",
                &f.secret,
                "sts",
                form(&[("Action", "GetCallerIdentity")]),
                now(),
                &[],
                None,
            ),
            403,
            "InvalidClientTokenId",
            "",
        ),
        (
            "session token on a long-term key",
            signed_with(
                &f.key,
                &f.secret,
                "sts",
                form(&[("Action", "GetCallerIdentity")]),
                now(),
                &[],
                Some("tok"),
            ),
            403,
            "InvalidClientTokenId",
            "",
        ),
        (
            "temporary key without a session",
            signed_with(
                "ASIAAAAAAAAAAAAAAAAA",
                &f.secret,
                "sts",
                form(&[("Action", "GetCallerIdentity")]),
                now(),
                &[],
                Some("tok"),
            ),
            403,
            "InvalidClientTokenId",
            "",
        ),
        (
            "presigned URL replayed after expiry",
            presigned_get(
                &f,
                "Action=GetCallerIdentity&Version=2011-06-15",
                now() - Duration::from_secs(600),
                60,
            ),
            403,
            "AccessDenied",
            "expired",
        ),
        (
            "presigned URL valid over 7 days",
            presigned_get(
                &f,
                "Action=GetCallerIdentity&Version=2011-06-15",
                now(),
                604_801,
            ),
            400,
            "AuthorizationQueryParametersError",
            "",
        ),
        (
            "no authentication",
            Request::builder()
                .method("POST")
                .uri("/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from_static(
                    b"Action=GetCallerIdentity&Version=2011-06-15",
                )))
                .unwrap(),
            403,
            "MissingAuthenticationToken",
            "",
        ),
        (
            "garbage Authorization",
            Request::builder()
                .method("POST")
                .uri("/")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", "AWS4-HMAC-SHA256 Credential=")
                .header("x-amz-date", "20260101T000000Z")
                .body(Full::new(Bytes::from_static(b"Action=GetCallerIdentity")))
                .unwrap(),
            400,
            "IncompleteSignature",
            "",
        ),
    ];
    // An unsigned x-amz-* header added after signing must not pass.
    let mut tampered = signed(
        &f,
        "sts",
        form(&[("Action", "GetCallerIdentity")]),
        now(),
        &[],
    );
    tampered
        .headers_mut()
        .insert("x-amz-copy-source", "other-bucket/secret".parse().unwrap());
    cases.push((
        "unsigned x-amz header",
        tampered,
        403,
        "AccessDenied",
        "x-amz-copy-source",
    ));

    let n = cases.len();
    for (name, req, status, code, msg) in cases {
        let r = send(&f, req).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (status, code),
            "{name}: {}",
            r.body
        );
        assert!(
            r.body.contains(msg),
            "{name}: message should mention {msg:?}: {}",
            r.body
        );
        assert!(r.body.contains("<RequestId>"), "{name}: {}", r.body);
    }
    assert_still_serving(&f).await;
    let records = f.records().await;
    assert_eq!(records.len(), n + 1, "exactly one audit record per request");
    assert!(records[..n].iter().all(|r| r.error_code.is_some()));
}

#[tokio::test]
async fn unsigned_web_identity_call_is_routed_to_sts() {
    let f = fixture().await;
    let req = Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::111111111111:role/R&RoleSessionName=sess&WebIdentityToken=not-a-jwt")))
        .unwrap();
    let r = send(&f, req).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "InvalidIdentityToken"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("https://sts.amazonaws.com/doc/2011-06-15/"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("not-a-jwt"),
        "errors never echo the token: {}",
        r.body
    );
}

fn session_claims(akid: &str, issued_at: i64, expires_at: i64) -> tessera_core::SessionClaims {
    tessera_core::SessionClaims {
        access_key_id: akid.into(),
        account: "111111111111".into(),
        role_name: "R".into(),
        role_id: "AROAEXAMPLEEXAMPLE01".into(),
        role_path: "/".into(),
        session_name: "sess".into(),
        issued_at,
        expires_at,
        source_identity: None,
        policy: None,
        policy_arns: vec![],
        tags: vec![],
        transitive_tag_keys: vec![],
        chain_depth: 0,
        web_identity: None,
        identity_context: None,
        grant: None,
    }
}

#[tokio::test]
async fn session_credentials_are_verified_without_the_store() {
    use tessera_crypto::session::{KeyRing, RingKey, session_access_key_id};
    let f = fixture().await;
    let gci = || form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]);
    let now_s = chrono::Utc::now().timestamp();
    let ring = f.app.ring.get();

    let akid = session_access_key_id();
    let (token, secret) = ring.issue(&session_claims(&akid, now_s, now_s + 900));
    let r = send(
        &f,
        signed_with(&akid, &secret, "sts", gci(), now(), &[], Some(&token)),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains("<Arn>arn:aws:sts::111111111111:assumed-role/R/sess</Arn>"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<UserId>AROAEXAMPLEEXAMPLE01:sess</UserId>"),
        "{}",
        r.body
    );

    let expect = |r: Reply, status: u16, code: &str| {
        assert_eq!((r.status, r.code().as_str()), (status, code), "{}", r.body);
    };
    // Expired.
    let (old, old_secret) = ring.issue(&session_claims(&akid, now_s - 7200, now_s - 3600));
    expect(
        send(
            &f,
            signed_with(&akid, &old_secret, "sts", gci(), now(), &[], Some(&old)),
        )
        .await,
        403,
        "ExpiredToken",
    );
    // Any changed character.
    let mut bytes = token.clone().into_bytes();
    bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    expect(
        send(
            &f,
            signed_with(&akid, &secret, "sts", gci(), now(), &[], Some(&tampered)),
        )
        .await,
        403,
        "InvalidClientTokenId",
    );
    // Another session's key id with this token.
    let other = session_access_key_id();
    expect(
        send(
            &f,
            signed_with(&other, &secret, "sts", gci(), now(), &[], Some(&token)),
        )
        .await,
        403,
        "InvalidClientTokenId",
    );
    // A token from another deployment (another ring, same key id number).
    let foreign = KeyRing::new(&[RingKey::generate(ring.current_id(), 0)]).unwrap();
    let (ftoken, fsecret) = foreign.issue(&session_claims(&akid, now_s, now_s + 900));
    expect(
        send(
            &f,
            signed_with(&akid, &fsecret, "sts", gci(), now(), &[], Some(&ftoken)),
        )
        .await,
        403,
        "InvalidClientTokenId",
    );
    // Temporary key without a token, or with the right token but a wrong secret.
    expect(
        send(
            &f,
            signed_with(&akid, &secret, "sts", gci(), now(), &[], None),
        )
        .await,
        403,
        "InvalidClientTokenId",
    );
    expect(
        send(
            &f,
            signed_with(&akid, &fsecret, "sts", gci(), now(), &[], Some(&token)),
        )
        .await,
        403,
        "SignatureDoesNotMatch",
    );
    // A session token must be signed: added after signing, the request fails.
    let mut req = signed_with(&akid, &secret, "sts", gci(), now(), &[], None);
    req.headers_mut()
        .insert("x-amz-security-token", token.parse().unwrap());
    let r = send(&f, req).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_still_serving(&f).await;
}

/// An unsigned awsJson1.1 request for `target` with body `{}` is answered `status` with
/// `__type` `code`.
async fn json_target_answers(f: &Fixture, target: &str, status: u16, code: &str) {
    let req = Request::builder()
        .method("POST")
        .uri("/")
        .header("x-amz-target", target)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let r = send(f, req).await;
    assert_eq!(r.status, status, "{target}: {}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["__type"], code, "{target}");
}

#[tokio::test]
async fn other_protocols_answer_in_their_own_shape() {
    let f = fixture().await;
    json_target_answers(
        &f,
        "SWBExternalService.CreatePermissionSet",
        400,
        "UnknownOperationException",
    )
    .await;
    // A registered awsJson1.1 operation, unsigned.
    json_target_answers(
        &f,
        "AWSIdentityStore.ListUsers",
        403,
        "MissingAuthenticationTokenException",
    )
    .await;
    // A target prefix no service declares.
    json_target_answers(
        &f,
        "AWSNoSuchService.DoThing",
        400,
        "UnknownOperationException",
    )
    .await;
    let s3 = Request::builder()
        .method("GET")
        .uri("/bucket/key")
        .body(Full::new(Bytes::new()))
        .unwrap();
    // An unsigned S3 request: there is no anonymous access.
    let r = send(&f, s3).await;
    assert_eq!(r.status, 403);
    assert!(r.body.starts_with("<?xml"), "{}", r.body);
    assert!(r.body.contains("<Code>AccessDenied</Code>"), "{}", r.body);
}

/// Malformed JSON bodies get the protocol's SerializationException, before anything else
/// (awsJson1.1: `__type`; sso-oidc's restJson1: `x-amzn-ErrorType`), and the server goes on.
#[tokio::test]
async fn malformed_json_bodies_are_serialization_errors() {
    let f = fixture().await;
    for (uri, target) in [
        ("/", Some("AWSIdentityStore.ListUsers")),
        ("/", Some("SWBExternalService.CreateApplication")),
        ("/token?aws_iam=t", None),
    ] {
        let mut b = Request::builder()
            .method("POST")
            .uri(uri)
            .header("host", "127.0.0.1:4566");
        if let Some(t) = target {
            b = b.header("x-amz-target", t);
        }
        let r = send(
            &f,
            b.body(Full::new(Bytes::from_static(b"{\"a\": "))).unwrap(),
        )
        .await;
        assert_eq!(r.status, 400, "{uri} {target:?}: {}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let code = v["__type"]
            .as_str()
            .or(v["error"].as_str())
            .unwrap_or_default();
        assert!(
            code == "SerializationException" || code == "serialization",
            "{uri}: {v}"
        );
    }
    assert_still_serving(&f).await;
}

/// `tessera keys rotate`: new sessions use the new key, sessions sealed with the old key stay
/// valid, and the ring survives a reload from the store.
#[tokio::test]
async fn key_rotation_keeps_old_sessions() {
    use tessera_authz::keyring;
    use tessera_crypto::session::session_access_key_id;
    let f = fixture().await;
    let now_s = chrono::Utc::now().timestamp();
    let before = f.app.ring.get();
    let akid = session_access_key_id();
    let (old_token, old_secret) = before.issue(&session_claims(&akid, now_s, now_s + 900));

    let (new_id, deleted) = setup::rotate_ring(f.app.store.as_ref(), &f.app.master)
        .await
        .unwrap();
    assert!(deleted.is_empty());
    // Right after rotation every replica can open the new key's sessions, but sessions are
    // still sealed with the old key until the new one has had time to reach every replica.
    let just_now = keyring::load_at(f.app.store.as_ref(), &f.app.master, now_s)
        .await
        .unwrap();
    assert!(just_now.contains(u32::try_from(new_id).unwrap()));
    assert_eq!(just_now.current_id(), before.current_id());
    // The new key was made at or after `now_s` (the clock may have passed a second since).
    let rotated_at = chrono::Utc::now().timestamp();
    let later = rotated_at + keyring::RING_KEY_ACTIVATION_SECS;
    let after = keyring::load_at(f.app.store.as_ref(), &f.app.master, later)
        .await
        .unwrap();
    assert_eq!(i64::from(after.current_id()), new_id);
    assert_ne!(after.current_id(), before.current_id());
    f.app.ring.set(after);

    let gci = || form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]);
    let r = send(
        &f,
        signed_with(
            &akid,
            &old_secret,
            "sts",
            gci(),
            now(),
            &[],
            Some(&old_token),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "an old session stays valid: {}", r.body);
    let ring = f.app.ring.get();
    let akid2 = session_access_key_id();
    let (new_token, new_secret) = ring.issue(&session_claims(&akid2, now_s, now_s + 900));
    assert!(
        !before.contains(ring.current_id()),
        "new sessions use the new key"
    );
    assert!(before.open(&new_token).is_err());
    let r = send(
        &f,
        signed_with(
            &akid2,
            &new_secret,
            "sts",
            gci(),
            now(),
            &[],
            Some(&new_token),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// As root: create `name` with an inline policy and an access key; returns (key id, secret).
async fn user_with_policy(f: &Fixture, name: &str, policy: &str) -> (String, String) {
    let iam = |pairs: &[(&str, &str)]| {
        let mut v = vec![("Version", "2010-05-08")];
        v.extend_from_slice(pairs);
        signed(f, "iam", form(&v), now(), &[])
    };
    let r = send(f, iam(&[("Action", "CreateUser"), ("UserName", name)])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        f,
        iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", name),
            ("PolicyName", "p"),
            ("PolicyDocument", policy),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(f, iam(&[("Action", "CreateAccessKey"), ("UserName", name)])).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (
        xml_value(&r.body, "AccessKeyId").unwrap(),
        xml_value(&r.body, "SecretAccessKey").unwrap(),
    )
}

#[tokio::test]
async fn ipv4_mapped_clients_are_seen_as_ipv4() {
    let f = fixture().await;
    // May list roles, except from 10.0.0.0/8.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iam:ListRoles","Resource":"*"},
        {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
    let (key, secret) = user_with_policy(&f, "netuser", policy).await;
    let list = || {
        signed_with(
            &key,
            &secret,
            "iam",
            form(&[("Action", "ListRoles"), ("Version", "2010-05-08")]),
            now(),
            &[],
            None,
        )
    };
    // An IPv4 client of a dual-stack listener arrives as ::ffff:10.1.2.3: the deny applies.
    let mapped: std::net::SocketAddr = "[::ffff:10.1.2.3]:40000".parse().unwrap();
    let r = send_from(&f, list(), mapped).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "AccessDenied"),
        "{}",
        r.body
    );
    let plain: std::net::SocketAddr = "10.1.2.3:40000".parse().unwrap();
    let r = send_from(&f, list(), plain).await;
    assert_eq!(r.code(), "AccessDenied");
    let outside: std::net::SocketAddr = "[::ffff:192.0.2.7]:40000".parse().unwrap();
    let r = send_from(&f, list(), outside).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The audit records carry the IPv4 form too.
    let sources: Vec<String> = f
        .records()
        .await
        .iter()
        .filter(|r| r.event_name == "ListRoles")
        .map(|r| r.source_ip_address.clone())
        .collect();
    assert_eq!(sources, ["10.1.2.3", "10.1.2.3", "192.0.2.7"]);
}

/// A request body that never delivers anything.
struct StalledBody;

impl http_body::Body for StalledBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

fn stalled_query_request() -> Request<StalledBody> {
    Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "127.0.0.1:4566")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", "100")
        .body(StalledBody)
        .unwrap()
}

/// Send a request whose body never arrives with the given body-read and request timeouts;
/// returns (status, `Connection` header, body) and the fixture.
async fn send_stalled(body_secs: u64, request_secs: u64) -> (u16, String, String, Fixture) {
    use http_body_util::BodyExt;
    let f = fixture_with(tessera_server::config::Limits {
        body_read_timeout_secs: body_secs,
        request_timeout_secs: request_secs,
        ..test_limits()
    })
    .await;
    let started = std::time::Instant::now();
    let resp = tessera_server::app::handle(
        f.app.clone(),
        stalled_query_request(),
        "127.0.0.1:5000".parse().unwrap(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let status = resp.status().as_u16();
    let connection = resp
        .headers()
        .get("connection")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    (status, connection, body, f)
}

#[tokio::test]
async fn stalled_bodies_time_out_and_requests_have_a_deadline() {
    // A body that does not arrive within the body-read timeout: 400 RequestTimeout, and the
    // connection is not reused.
    let (status, connection, body, f) = send_stalled(1, 30).await;
    assert_eq!((status, connection.as_str()), (400, "close"));
    assert!(body.contains("<Code>RequestTimeout</Code>"), "{body}");
    let last = f.records().await.pop().unwrap();
    assert_eq!(last.error_code.as_deref(), Some("RequestTimeout"));

    // A request that is not done by its deadline: 503 ServiceUnavailable (retryable).
    let (status, connection, body, f) = send_stalled(30, 1).await;
    assert_eq!((status, connection.as_str()), (503, "close"));
    assert!(body.contains("<Code>ServiceUnavailable</Code>"), "{body}");
    assert_still_serving(&f).await;
}
