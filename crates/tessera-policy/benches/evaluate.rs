//! Evaluation cost of a realistic 10-statement identity policy with
//! conditions, parsed once at setup.

use std::hint::black_box;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_policy::{
    ContextKeys, EvalInput, Policy, PolicyKind, PrincipalRef, RequestContext, authorize,
};

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ReadOwnHome", "Effect": "Allow",
     "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
     "Resource": "arn:aws:s3:::corp-data/home/${aws:username}/*",
     "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    {"Sid": "ListOwnPrefix", "Effect": "Allow", "Action": "s3:ListBucket",
     "Resource": "arn:aws:s3:::corp-data",
     "Condition": {"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/*"]}}},
    {"Sid": "ProjectInstances", "Effect": "Allow",
     "Action": ["ec2:StartInstances", "ec2:StopInstances"],
     "Resource": "arn:aws:ec2:*:111111111111:instance/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/project": "${aws:PrincipalTag/project}"}}},
    {"Sid": "PassAppRoles", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
     "Condition": {"ArnLike": {"iam:AssociatedResourceArn": "arn:aws:ec2:us-east-1:111111111111:instance/*"}}},
    {"Sid": "TaggedCreate", "Effect": "Allow", "Action": "ec2:CreateTags",
     "Resource": "arn:aws:ec2:*:111111111111:*",
     "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["project*", "cost-*"]}}},
    {"Sid": "TemporaryAccess", "Effect": "Allow", "Action": "dynamodb:*",
     "Resource": "arn:aws:dynamodb:us-east-1:111111111111:table/orders*",
     "Condition": {"DateLessThan": {"aws:CurrentTime": "2031-01-01T00:00:00Z"},
                   "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}}},
    {"Sid": "ReadLogs", "Effect": "Allow", "Action": ["logs:Get*", "logs:Describe*", "logs:FilterLogEvents"],
     "Resource": "arn:aws:logs:*:111111111111:log-group:/app/*"},
    {"Sid": "DenyOutsideCorp", "Effect": "Deny", "Action": "*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]},
                   "Bool": {"aws:ViaAWSService": "false"}}},
    {"Sid": "DenyIamWrites", "Effect": "Deny",
     "Action": ["iam:Create*", "iam:Delete*", "iam:Put*", "iam:Attach*"], "Resource": "*"},
    {"Sid": "DenyUnencryptedPuts", "Effect": "Deny", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::corp-data/*",
     "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": ["aws:kms", "AES256"]}}}
  ]
}"#;

fn request() -> RequestContext {
    let ip: IpAddr = "10.20.30.40".parse().unwrap();
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut ctx = ContextKeys::new();
    ctx.insert("aws:username", "alice")
        .insert("aws:userid", "AIDAEXAMPLE")
        .insert("aws:SecureTransport", true)
        .insert("aws:ViaAWSService", false)
        .insert("aws:SourceIp", ip)
        .insert("aws:CurrentTime", now)
        .insert("aws:PrincipalTag/project", "blue")
        .insert("s3:x-amz-server-side-encryption", "aws:kms")
        .insert_multi("aws:TagKeys", ["owner", "project"]);
    RequestContext::new(
        "s3:GetObject",
        "arn:aws:s3:::corp-data/home/alice/report.pdf",
    )
    .with_context(ctx)
    .with_principal(PrincipalRef::iam_user("aws", "111111111111", "alice"))
}

fn bench(c: &mut Criterion) {
    let policy = Policy::parse(POLICY, PolicyKind::Identity).expect("bench policy parses");
    let req = request();
    assert_eq!(
        policy.evaluate(&req),
        Some(tessera_policy::Effect::Allow),
        "bench request must be allowed"
    );
    c.bench_function("evaluate_10_statements", |b| {
        b.iter(|| black_box(&policy).evaluate(black_box(&req)))
    });
    let refs = [&policy];
    c.bench_function("authorize_identity_only", |b| {
        b.iter(|| authorize(black_box(&req), &EvalInput::identity_only(&refs)))
    });
    let mut tags_req = req.clone();
    tags_req.action = "ec2:CreateTags".into();
    tags_req.resource = "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc".into();
    c.bench_function("evaluate_10_statements_tags", |b| {
        b.iter(|| black_box(&policy).evaluate(black_box(&tags_req)))
    });
    c.bench_function("parse_10_statements", |b| {
        b.iter(|| Policy::parse(black_box(POLICY), PolicyKind::Identity))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
