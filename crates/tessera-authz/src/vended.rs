//! The session policy of credentials vended by S3 Access Grants (`GetDataAccess`).
//!
//! AWS confines vended credentials with a session policy that allows only the S3 object
//! actions the grant's permission maps to, on the grant's scope; the location role's own
//! policies still apply, so the session can do the intersection of the two. Tessera does the
//! same: every request signed with a vended session (whatever the service — IAM, STS, Identity
//! Center, the Access Grants control plane) is evaluated against this policy as the session's
//! session policy, so a role allowed `s3:*` or `*` does not turn a READ grant into the
//! administrator of the Access Grants instance. The S3 data plane also checks the typed scope
//! itself (`tessera-s3`), which says more precisely why a request fell outside it.
//!
//! The actions per permission: READ — get an object, a version, their ACLs, and list the scope
//! (prefix grants); WRITE — put and delete objects and versions and their ACLs, abort an
//! upload, list the parts of an upload and the uploads under the scope (prefix grants). The
//! data plane's typed check (`tessera-s3`) asks for the same permission per operation.

use serde_json::{Value, json};
use tessera_core::{GrantPermission, GrantScope};

/// The object actions a READ grant allows.
pub const READ_OBJECT_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAcl",
    "s3:GetObjectVersionAcl",
];

/// The object actions a WRITE grant allows.
pub const WRITE_OBJECT_ACTIONS: &[&str] = &[
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
];

/// Escape the characters IAM patterns give meaning to (`*`, `?`, `$`), so a key that
/// contains them names itself only.
fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' => out.push_str("${*}"),
            '?' => out.push_str("${?}"),
            '$' => out.push_str("${$}"),
            c => out.push(c),
        }
    }
    out
}

/// The session policy document of a vended session with `grant` (partition `partition`).
pub fn session_policy(partition: &str, grant: &GrantScope) -> String {
    let (bucket, key) = grant
        .scope
        .split_once('/')
        .unwrap_or((grant.scope.as_str(), ""));
    let star = if grant.prefix { "*" } else { "" };
    let objects = format!(
        "arn:{partition}:s3:::{}/{}{star}",
        literal(bucket),
        literal(key)
    );
    let bucket_arn = format!("arn:{partition}:s3:::{}", literal(bucket));
    let prefix_like = format!("{}*", literal(key));
    let mut actions: Vec<&str> = Vec::new();
    let read = grant.permission.covers(GrantPermission::Read);
    let write = grant.permission.covers(GrantPermission::Write);
    if read {
        actions.extend(READ_OBJECT_ACTIONS);
    }
    if write {
        for a in WRITE_OBJECT_ACTIONS {
            if !actions.contains(a) {
                actions.push(a);
            }
        }
    }
    let mut statements: Vec<Value> = vec![json!({
        "Sid": "AccessGrantsObjects",
        "Effect": "Allow",
        "Action": actions,
        "Resource": objects,
    })];
    // Listing needs a prefix grant: an object grant names one key, not a listing.
    if grant.prefix {
        let mut list = Vec::new();
        if read {
            list.push("s3:ListBucket");
        }
        if write {
            list.push("s3:ListBucketMultipartUploads");
        }
        statements.push(json!({
            "Sid": "AccessGrantsListing",
            "Effect": "Allow",
            "Action": list,
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": prefix_like}},
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_policy::{
        ContextKeys, Decision, EvalInput, Policy, PolicyKind, PrincipalRef, RequestContext,
    };

    fn scope(scope: &str, prefix: bool, permission: GrantPermission) -> GrantScope {
        GrantScope {
            instance_arn: "arn:aws:s3:us-east-1:111111111111:access-grants/default".into(),
            grant_id: "g".into(),
            scope: scope.into(),
            prefix,
            permission,
            request_id: "r".into(),
        }
    }

    /// The session policy alone, under an identity policy that allows everything.
    fn allows(g: &GrantScope, action: &str, resource: &str, prefix: Option<&str>) -> bool {
        let doc = session_policy("aws", g);
        let session = Policy::parse_with_limit(&doc, PolicyKind::Session, None).unwrap();
        let identity = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let mut ctx = ContextKeys::new();
        if let Some(p) = prefix {
            ctx.insert("s3:prefix", p.to_owned());
        }
        let req = RequestContext::new(action, resource)
            .with_principal(PrincipalRef::account_root("aws", "111111111111"))
            .with_context(ctx);
        let input = EvalInput {
            identity_policies: &[&identity],
            resource_policy: None,
            permissions_boundary: None,
            session_policies: Some(&[&session]),
            same_account: true,
            principal_is_root: false,
            resource_policy_required: false,
        };
        tessera_policy::authorize(&req, &input) == Decision::Allow
    }

    #[test]
    fn a_read_grant_allows_reading_its_scope_only() {
        let g = scope("example-bucket/projects/red/", true, GrantPermission::Read);
        let obj = "arn:aws:s3:::example-bucket/projects/red/tomatoes.csv";
        assert!(allows(&g, "s3:GetObject", obj, None));
        assert!(allows(&g, "s3:GetObjectVersion", obj, None));
        assert!(!allows(&g, "s3:PutObject", obj, None));
        assert!(!allows(&g, "s3:DeleteObject", obj, None));
        assert!(!allows(
            &g,
            "s3:GetObject",
            "arn:aws:s3:::example-bucket/projects/blue/x",
            None
        ));
        let bucket = "arn:aws:s3:::example-bucket";
        assert!(allows(&g, "s3:ListBucket", bucket, Some("projects/red/")));
        assert!(allows(&g, "s3:ListBucket", bucket, Some("projects/red/a")));
        assert!(!allows(&g, "s3:ListBucket", bucket, Some("projects/")));
        assert!(!allows(&g, "s3:ListBucket", bucket, None));
        assert!(!allows(
            &g,
            "s3:ListBucketMultipartUploads",
            bucket,
            Some("projects/red/")
        ));
        // Everything else, in any service.
        let ag = "arn:aws:s3:us-east-1:111111111111:access-grants/default";
        for action in [
            "s3:ListAccessGrants",
            "s3:CreateAccessGrant",
            "s3:PutAccessGrantsInstanceResourcePolicy",
            "s3:GetDataAccess",
        ] {
            assert!(!allows(&g, action, ag, None), "{action}");
        }
        assert!(!allows(&g, "iam:CreateUser", "*", None));
        assert!(!allows(
            &g,
            "sts:AssumeRole",
            "arn:aws:iam::111111111111:role/r",
            None
        ));
        assert!(!allows(&g, "s3:CreateBucket", "arn:aws:s3:::other", None));
    }

    #[test]
    fn write_and_object_grants() {
        let g = scope("b/in/", true, GrantPermission::Write);
        assert!(allows(&g, "s3:PutObject", "arn:aws:s3:::b/in/x", None));
        assert!(allows(
            &g,
            "s3:AbortMultipartUpload",
            "arn:aws:s3:::b/in/x",
            None
        ));
        assert!(!allows(&g, "s3:GetObject", "arn:aws:s3:::b/in/x", None));
        assert!(!allows(&g, "s3:ListBucket", "arn:aws:s3:::b", Some("in/")));
        assert!(allows(
            &g,
            "s3:ListBucketMultipartUploads",
            "arn:aws:s3:::b",
            Some("in/")
        ));
        let rw = scope("b/in/", true, GrantPermission::ReadWrite);
        assert!(allows(&rw, "s3:GetObject", "arn:aws:s3:::b/in/x", None));
        assert!(allows(&rw, "s3:PutObject", "arn:aws:s3:::b/in/x", None));
        let one = scope("b/report.csv", false, GrantPermission::Read);
        assert!(allows(
            &one,
            "s3:GetObject",
            "arn:aws:s3:::b/report.csv",
            None
        ));
        assert!(!allows(
            &one,
            "s3:GetObject",
            "arn:aws:s3:::b/report.csv2",
            None
        ));
        assert!(!allows(
            &one,
            "s3:ListBucket",
            "arn:aws:s3:::b",
            Some("report.csv")
        ));
    }

    #[test]
    fn pattern_characters_in_a_scope_name_themselves() {
        let g = scope("b/a*b?c$d/", true, GrantPermission::Read);
        assert!(allows(&g, "s3:GetObject", "arn:aws:s3:::b/a*b?c$d/x", None));
        assert!(!allows(
            &g,
            "s3:GetObject",
            "arn:aws:s3:::b/aXXbYc$d/x",
            None
        ));
        assert!(!allows(
            &g,
            "s3:GetObject",
            "arn:aws:s3:::b/a*bYc$d/x",
            None
        ));
        assert!(allows(
            &g,
            "s3:ListBucket",
            "arn:aws:s3:::b",
            Some("a*b?c$d/")
        ));
        assert!(!allows(
            &g,
            "s3:ListBucket",
            "arn:aws:s3:::b",
            Some("aZb?c$d/")
        ));
        let v = scope("b/${aws:username}/", true, GrantPermission::Read);
        assert!(allows(
            &v,
            "s3:GetObject",
            "arn:aws:s3:::b/${aws:username}/x",
            None
        ));
        assert!(!allows(&v, "s3:GetObject", "arn:aws:s3:::b/alice/x", None));
    }
}
