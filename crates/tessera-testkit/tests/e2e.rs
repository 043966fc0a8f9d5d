//! End-to-end tests: the real `tessera dev` binary on an ephemeral port, driven by the AWS CLI,
//! boto3 and aws-sdk-rust. One test binary, a file per domain under `e2e/`: IAM and STS,
//! web identity, Identity Center (sso-admin, identity store, SCIM), the seeds' trusted
//! identity propagation (`flow/`), S3 Access Grants, S3, the audit trail, operating the
//! server, the demo world and `tip`. What they share is in `e2e/support/`; long tests run in
//! named steps (`support::step`), so that a failure says which step it was in.

#[path = "e2e/support/mod.rs"]
mod support;

#[path = "e2e/access_grants.rs"]
mod access_grants;
#[path = "e2e/audit.rs"]
mod audit;
#[path = "e2e/demo.rs"]
mod demo;
#[path = "e2e/flow/mod.rs"]
mod flow;
#[path = "e2e/https.rs"]
mod https;
#[path = "e2e/iam_sts.rs"]
mod iam_sts;
#[path = "e2e/identity_center.rs"]
mod identity_center;
#[path = "e2e/operator.rs"]
mod operator;
#[path = "e2e/s3.rs"]
mod s3;
#[path = "e2e/scaleout.rs"]
mod scaleout;
#[path = "e2e/tip.rs"]
mod tip;
#[path = "e2e/web_identity.rs"]
mod web_identity;
