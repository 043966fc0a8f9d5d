//! Table test built from the scenarios AWS uses to document policy
//! evaluation (written here from scratch): each case lists the policies that
//! apply to a request and the decision AWS documents for it.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use tessera_policy::{
    ContextKeys, Decision, EvalInput, Policy, PolicyKind, PrincipalRef, RequestContext, authorize,
};

const ACCT_A: &str = "111111111111";
const ACCT_B: &str = "222222222222";

struct Case {
    name: &'static str,
    identity: Vec<&'static str>,
    resource: Option<(PolicyKind, &'static str)>,
    boundary: Option<&'static str>,
    session: Option<Vec<&'static str>>,
    same_account: bool,
    root: bool,
    principal: PrincipalRef,
    action: &'static str,
    target: &'static str,
    context: ContextKeys,
    expect: Decision,
}

impl Case {
    fn new(name: &'static str, action: &'static str, target: &'static str) -> Self {
        Case {
            name,
            identity: Vec::new(),
            resource: None,
            boundary: None,
            session: None,
            same_account: true,
            root: false,
            principal: PrincipalRef::iam_user("aws", ACCT_A, "alice"),
            action,
            target,
            context: ContextKeys::new(),
            expect: Decision::ImplicitDeny,
        }
    }
    fn identity(mut self, doc: &'static str) -> Self {
        self.identity.push(doc);
        self
    }
    fn resource(mut self, doc: &'static str) -> Self {
        self.resource = Some((PolicyKind::Resource, doc));
        self
    }
    fn trust(mut self, doc: &'static str) -> Self {
        self.resource = Some((PolicyKind::Trust, doc));
        self
    }
    fn boundary(mut self, doc: &'static str) -> Self {
        self.boundary = Some(doc);
        self
    }
    fn session(mut self, docs: Vec<&'static str>) -> Self {
        self.session = Some(docs);
        self
    }
    fn cross_account(mut self) -> Self {
        self.same_account = false;
        self
    }
    fn root(mut self) -> Self {
        self.root = true;
        self.principal = PrincipalRef::account_root("aws", ACCT_A);
        self
    }
    fn principal(mut self, p: PrincipalRef) -> Self {
        self.principal = p;
        self
    }
    fn ctx(mut self, key: &str, value: impl Into<tessera_policy::ContextValue>) -> Self {
        self.context.insert(key, value);
        self
    }
    fn ctx_multi(mut self, key: &str, values: &[&str]) -> Self {
        self.context.insert_multi(key, values.iter().copied());
        self
    }
    fn expect(mut self, d: Decision) -> Self {
        self.expect = d;
        self
    }

    fn run(&self) {
        let parse = |doc: &str, kind| {
            Policy::parse(doc, kind).unwrap_or_else(|e| panic!("{}: {e}\n{doc}", self.name))
        };
        let identity: Vec<Policy> = self
            .identity
            .iter()
            .map(|d| parse(d, PolicyKind::Identity))
            .collect();
        let identity_refs: Vec<&Policy> = identity.iter().collect();
        let resource = self.resource.map(|(k, d)| parse(d, k));
        let boundary = self
            .boundary
            .map(|d| parse(d, PolicyKind::PermissionsBoundary));
        let session: Option<Vec<Policy>> = self
            .session
            .as_ref()
            .map(|v| v.iter().map(|d| parse(d, PolicyKind::Session)).collect());
        let session_refs: Option<Vec<&Policy>> = session.as_ref().map(|v| v.iter().collect());
        let input = EvalInput {
            identity_policies: &identity_refs,
            resource_policy: resource.as_ref(),
            permissions_boundary: boundary.as_ref(),
            session_policies: session_refs.as_deref(),
            same_account: self.same_account,
            principal_is_root: self.root,
            // As production decides (tessera-iam's Authorizer): a role trust policy must
            // always allow, whatever the identity policies say.
            resource_policy_required: matches!(self.resource, Some((PolicyKind::Trust, _))),
        };
        let req = RequestContext::new(self.action, self.target)
            .with_principal(self.principal.clone())
            .with_context(self.context.clone());
        assert_eq!(authorize(&req, &input), self.expect, "case: {}", self.name);
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn date(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const ADMIN: &str =
    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;

/// "Deny everything except IAM unless signed in with MFA" (NotAction + BoolIfExists).
const MFA_GUARD: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"AllowAll","Effect":"Allow","Action":"*","Resource":"*"},
  {"Sid":"DenyAllExceptIamWithoutMfa","Effect":"Deny","NotAction":"iam:*","Resource":"*",
   "Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}]}"#;

/// Only small instance types may be launched; other resources of the call
/// (images, subnets, …) have no instance type and pass (StringEqualsIfExists).
const INSTANCE_TYPES: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":"ec2:RunInstances","Resource":"*",
  "Condition":{"StringEqualsIfExists":{"ec2:InstanceType":["t2.micro","t3.micro"]}}}}"#;

/// Deny uploads without the expected encryption header (StringNotEquals is
/// true when the key is missing).
const REQUIRE_SSE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"*"},
  {"Effect":"Deny","Action":"s3:PutObject","Resource":"*",
   "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}}]}"#;

/// The same with IfExists: a missing header makes the condition true as well.
const REQUIRE_SSE_IF_EXISTS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"*"},
  {"Effect":"Deny","Action":"s3:PutObject","Resource":"*",
   "Condition":{"StringNotEqualsIfExists":{"s3:x-amz-server-side-encryption":"AES256"}}}]}"#;

/// Tagging allowed only with approved tag keys (ForAllValues).
const TAG_KEYS_ALL: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":"ec2:CreateTags","Resource":"*",
  "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}"#;

/// Same, but also requiring at least one tag (ForAllValues + Null false).
const TAG_KEYS_ALL_NONEMPTY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":"ec2:CreateTags","Resource":"*",
  "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]},
               "Null":{"aws:TagKeys":"false"}}}}"#;

/// Must include some approved tag key (ForAnyValue).
const TAG_KEYS_ANY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":"ec2:CreateTags","Resource":"*",
  "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}}}"#;

/// Deny requests from outside the corporate ranges unless a service calls on
/// the user's behalf.
const IP_GUARD: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:*","Resource":"*"},
  {"Effect":"Deny","Action":"*","Resource":"*","Condition":{
     "NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24","2001:db8::/32"]},
     "Bool":{"aws:ViaAWSService":"false"}}}]}"#;

/// Access only within a date window.
const DATE_WINDOW: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":"dynamodb:GetItem","Resource":"*","Condition":{
    "DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},
    "DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}}"#;

/// S3 home folders via policy variables.
const HOME_FOLDER: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"ListOwnPrefix","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::team-bucket",
   "Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}},
  {"Sid":"OwnObjects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],
   "Resource":"arn:aws:s3:::team-bucket/home/${aws:username}/*"}]}"#;

/// ABAC: principal tag must equal resource tag.
const ABAC: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":"ec2:StartInstances","Resource":"*",
  "Condition":{"StringEquals":{"aws:ResourceTag/project":"${aws:PrincipalTag/project}"}}}}"#;

/// Identity policy that denies use of long-term credentials (Null on the token issue time).
const TEMP_CREDS_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:*","Resource":"*"},
  {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"aws:TokenIssueTime":"true"}}}]}"#;

const S3_READ: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]}}"#;

const BUCKET_ALLOWS_ACCT_A: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}}"#;

const BUCKET_ALLOWS_ALICE: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}}"#;

const BUCKET_DENIES_DELETE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::shared/*"}]}"#;

/// Deny everyone except the named role session (NotPrincipal + Deny). As AWS documents it,
/// a session is exempt only when every level of its identity is listed: the account, the
/// role and the assumed-role session.
const BUCKET_ONLY_ADMIN: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny",
  "NotPrincipal":{"AWS":["arn:aws:iam::111111111111:root","arn:aws:iam::111111111111:role/Admin","arn:aws:sts::111111111111:assumed-role/Admin/ops"]},
  "Action":"s3:*","Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]}}"#;

/// The same, forgetting the account ARN: then nobody is exempt.
const BUCKET_ONLY_ADMIN_NO_ACCOUNT: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny",
  "NotPrincipal":{"AWS":["arn:aws:iam::111111111111:role/Admin","arn:aws:sts::111111111111:assumed-role/Admin/ops"]},
  "Action":"s3:*","Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]}}"#;

/// AWS's first NotPrincipal example: deny everyone except user Bob of 444455556666, who is
/// listed with his account's ARN.
const BUCKET_ONLY_BOB: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
  "NotPrincipal":{"AWS":["arn:aws:iam::444455556666:user/Bob","arn:aws:iam::444455556666:root"]},
  "Action":"s3:*","Resource":["arn:aws:s3:::BUCKETNAME","arn:aws:s3:::BUCKETNAME/*"]}]}"#;

/// AWS's second NotPrincipal example: deny everyone except the cross-account audit
/// application's session, listed with its role and its account.
const BUCKET_ONLY_AUDIT_APP: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
  "NotPrincipal":{"AWS":["arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app",
    "arn:aws:iam::444455556666:role/cross-account-read-only-role","arn:aws:iam::444455556666:root"]},
  "Action":"s3:*","Resource":["arn:aws:s3:::Bucket_Account_Audit","arn:aws:s3:::Bucket_Account_Audit/*"]}]}"#;

/// Role trust policy for a third party using an external id.
const TRUST_EXTERNAL_ID: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"AWS":"222222222222"},"Action":"sts:AssumeRole",
  "Condition":{"StringEquals":{"sts:ExternalId":"Unique-Id-1234"}}}}"#;

const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"Service":["ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}}"#;

/// Web identity federation with an audience check.
const TRUST_OIDC: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"Federated":"arn:aws:iam::111111111111:oidc-provider/token.example.com"},
  "Action":"sts:AssumeRoleWithWebIdentity",
  "Condition":{"StringEquals":{"token.example.com:aud":"my-app"},"StringLike":{"token.example.com:sub":"repo:org/*"}}}}"#;

/// Confused-deputy protection for a service principal.
const QUEUE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage",
  "Resource":"arn:aws:sqs:us-east-1:111111111111:queue",
  "Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-1:111111111111:*"},
               "StringEquals":{"aws:SourceAccount":"111111111111"}}}}"#;

const BOUNDARY_S3_CW: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":["s3:*","cloudwatch:*","ec2:Describe*"],"Resource":"*"}}"#;

const IDENTITY_S3_IAM: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":["s3:*","iam:*"],"Resource":"*"}}"#;

const SESSION_READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":["s3:Get*","s3:List*"],"Resource":"*"}}"#;

const SESSION_DDB: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
  "Action":"dynamodb:*","Resource":"*"}}"#;

fn role_session(role: &str, session: &str) -> PrincipalRef {
    PrincipalRef::role_session("aws", ACCT_A, role, session)
}

fn cases() -> Vec<Case> {
    use Decision::*;
    vec![
        // --- the basics -------------------------------------------------
        Case::new("no policies: implicit deny", "s3:GetObject", "arn:aws:s3:::b/k"),
        Case::new("admin policy allows", "s3:GetObject", "arn:aws:s3:::b/k")
            .identity(ADMIN)
            .expect(Allow),
        Case::new("explicit deny in a second identity policy", "iam:DeleteUser", "*")
            .identity(ADMIN)
            .identity(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:Delete*","Resource":"*"}}"#)
            .expect(ExplicitDeny),
        // --- NotAction + Deny + BoolIfExists (MFA) -----------------------
        Case::new("MFA guard: long-term keys (key absent) denied", "s3:ListAllMyBuckets", "*")
            .identity(MFA_GUARD)
            .expect(ExplicitDeny),
        Case::new("MFA guard: MFA=false denied", "ec2:DescribeInstances", "*")
            .identity(MFA_GUARD)
            .ctx("aws:MultiFactorAuthPresent", false)
            .expect(ExplicitDeny),
        Case::new("MFA guard: MFA=true allowed", "ec2:DescribeInstances", "*")
            .identity(MFA_GUARD)
            .ctx("aws:MultiFactorAuthPresent", true)
            .expect(Allow),
        Case::new("MFA guard: IAM actions exempt via NotAction", "iam:ChangePassword", "*")
            .identity(MFA_GUARD)
            .expect(Allow),
        // --- StringNotEquals / ...IfExists -----------------------------
        Case::new("instance type allowed", "ec2:RunInstances", "arn:aws:ec2:us-east-1:111111111111:instance/*")
            .identity(INSTANCE_TYPES)
            .ctx("ec2:InstanceType", "t2.micro")
            .expect(Allow),
        Case::new("instance type not allowed", "ec2:RunInstances", "arn:aws:ec2:us-east-1:111111111111:instance/*")
            .identity(INSTANCE_TYPES)
            .ctx("ec2:InstanceType", "m5.24xlarge"),
        Case::new("resource without the key: IfExists passes", "ec2:RunInstances", "arn:aws:ec2:us-east-1::image/ami-1")
            .identity(INSTANCE_TYPES)
            .expect(Allow),
        Case::new("SSE header present", "s3:PutObject", "arn:aws:s3:::b/k")
            .identity(REQUIRE_SSE)
            .ctx("s3:x-amz-server-side-encryption", "AES256")
            .expect(Allow),
        Case::new("SSE header wrong", "s3:PutObject", "arn:aws:s3:::b/k")
            .identity(REQUIRE_SSE)
            .ctx("s3:x-amz-server-side-encryption", "aws:kms")
            .expect(ExplicitDeny),
        Case::new("SSE header missing: StringNotEquals is true", "s3:PutObject", "arn:aws:s3:::b/k")
            .identity(REQUIRE_SSE)
            .expect(ExplicitDeny),
        Case::new("SSE header missing: StringNotEqualsIfExists is true too", "s3:PutObject", "arn:aws:s3:::b/k")
            .identity(REQUIRE_SSE_IF_EXISTS)
            .expect(ExplicitDeny),
        Case::new("SSE header right with IfExists", "s3:PutObject", "arn:aws:s3:::b/k")
            .identity(REQUIRE_SSE_IF_EXISTS)
            .ctx("s3:x-amz-server-side-encryption", "AES256")
            .expect(Allow),
        // --- ForAllValues / ForAnyValue ---------------------------------
        Case::new("ForAllValues: all tag keys approved", "ec2:CreateTags", "*")
            .identity(TAG_KEYS_ALL)
            .ctx_multi("aws:TagKeys", &["environment", "cost-center"])
            .expect(Allow),
        Case::new("ForAllValues: one unapproved key", "ec2:CreateTags", "*")
            .identity(TAG_KEYS_ALL)
            .ctx_multi("aws:TagKeys", &["environment", "owner"]),
        Case::new("ForAllValues: no tags at all is (surprisingly) allowed", "ec2:CreateTags", "*")
            .identity(TAG_KEYS_ALL)
            .expect(Allow),
        Case::new("ForAllValues + Null=false: no tags denied", "ec2:CreateTags", "*")
            .identity(TAG_KEYS_ALL_NONEMPTY),
        Case::new("ForAllValues + Null=false: approved tags allowed", "ec2:CreateTags", "*")
            .identity(TAG_KEYS_ALL_NONEMPTY)
            .ctx_multi("aws:TagKeys", &["cost-center"])
            .expect(Allow),
        Case::new("ForAnyValue: one approved key suffices", "ec2:CreateTags", "*")
            .identity(TAG_KEYS_ANY)
            .ctx_multi("aws:TagKeys", &["owner", "environment"])
            .expect(Allow),
        Case::new("ForAnyValue: no tags is false", "ec2:CreateTags", "*").identity(TAG_KEYS_ANY),
        // --- IP and service calls ---------------------------------------
        Case::new("IP guard: inside range", "s3:GetObject", "arn:aws:s3:::b/k")
            .identity(IP_GUARD)
            .ctx("aws:SourceIp", ip("203.0.113.10"))
            .ctx("aws:ViaAWSService", false)
            .expect(Allow),
        Case::new("IP guard: IPv6 inside range", "s3:GetObject", "arn:aws:s3:::b/k")
            .identity(IP_GUARD)
            .ctx("aws:SourceIp", ip("2001:db8::42"))
            .ctx("aws:ViaAWSService", false)
            .expect(Allow),
        Case::new("IP guard: outside range denied", "s3:GetObject", "arn:aws:s3:::b/k")
            .identity(IP_GUARD)
            .ctx("aws:SourceIp", ip("198.51.100.7"))
            .ctx("aws:ViaAWSService", false)
            .expect(ExplicitDeny),
        Case::new("IP guard: service on user's behalf not denied", "s3:GetObject", "arn:aws:s3:::b/k")
            .identity(IP_GUARD)
            .ctx("aws:SourceIp", ip("198.51.100.7"))
            .ctx("aws:ViaAWSService", true)
            .expect(Allow),
        // --- dates --------------------------------------------------------
        Case::new("date window: inside", "dynamodb:GetItem", "*")
            .identity(DATE_WINDOW)
            .ctx("aws:CurrentTime", date("2020-05-15T10:00:00Z"))
            .expect(Allow),
        Case::new("date window: after", "dynamodb:GetItem", "*")
            .identity(DATE_WINDOW)
            .ctx("aws:CurrentTime", date("2020-07-01T00:00:00Z")),
        // --- policy variables ------------------------------------------
        Case::new("home folder: own object", "s3:GetObject", "arn:aws:s3:::team-bucket/home/alice/cv.pdf")
            .identity(HOME_FOLDER)
            .ctx("aws:username", "alice")
            .expect(Allow),
        Case::new("home folder: someone else's object", "s3:GetObject", "arn:aws:s3:::team-bucket/home/bob/cv.pdf")
            .identity(HOME_FOLDER)
            .ctx("aws:username", "alice"),
        Case::new("home folder: list own prefix", "s3:ListBucket", "arn:aws:s3:::team-bucket")
            .identity(HOME_FOLDER)
            .ctx("aws:username", "alice")
            .ctx("s3:prefix", "home/alice/photos")
            .expect(Allow),
        Case::new("home folder: list root", "s3:ListBucket", "arn:aws:s3:::team-bucket")
            .identity(HOME_FOLDER)
            .ctx("aws:username", "alice")
            .ctx("s3:prefix", "")
            .expect(Allow),
        Case::new("home folder: list other prefix", "s3:ListBucket", "arn:aws:s3:::team-bucket")
            .identity(HOME_FOLDER)
            .ctx("aws:username", "alice")
            .ctx("s3:prefix", "home/bob/"),
        Case::new("ABAC: matching project tags", "ec2:StartInstances", "arn:aws:ec2:us-east-1:111111111111:instance/i-1")
            .identity(ABAC)
            .ctx("aws:PrincipalTag/project", "blue")
            .ctx("aws:ResourceTag/project", "blue")
            .expect(Allow),
        Case::new("ABAC: different project tags", "ec2:StartInstances", "arn:aws:ec2:us-east-1:111111111111:instance/i-1")
            .identity(ABAC)
            .ctx("aws:PrincipalTag/project", "blue")
            .ctx("aws:ResourceTag/project", "red"),
        Case::new("ABAC: principal untagged", "ec2:StartInstances", "arn:aws:ec2:us-east-1:111111111111:instance/i-1")
            .identity(ABAC)
            .ctx("aws:ResourceTag/project", "red"),
        // --- Null ---------------------------------------------------------
        Case::new("Null: long-term credentials denied", "s3:GetObject", "*")
            .identity(TEMP_CREDS_ONLY)
            .expect(ExplicitDeny),
        Case::new("Null: temporary credentials allowed", "s3:GetObject", "*")
            .identity(TEMP_CREDS_ONLY)
            .ctx("aws:TokenIssueTime", "2024-01-01T00:00:00Z")
            .expect(Allow),
        // --- resource policies, same account ------------------------------
        Case::new("same account: resource policy naming the user suffices", "s3:GetObject", "arn:aws:s3:::shared/k")
            .resource(BUCKET_ALLOWS_ALICE)
            .expect(Allow),
        Case::new("same account: user ARN grant not limited by boundary", "s3:GetObject", "arn:aws:s3:::shared/k")
            .resource(BUCKET_ALLOWS_ALICE)
            .boundary(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#)
            .expect(Allow),
        Case::new("same account: identity policy suffices", "s3:GetObject", "arn:aws:s3:::shared/k")
            .identity(S3_READ)
            .resource(BUCKET_DENIES_DELETE)
            .expect(Allow),
        Case::new("explicit deny in resource policy beats identity allow", "s3:DeleteObject", "arn:aws:s3:::shared/k")
            .identity(ADMIN)
            .resource(BUCKET_DENIES_DELETE)
            .expect(ExplicitDeny),
        Case::new("NotPrincipal deny: other role denied", "s3:GetObject", "arn:aws:s3:::shared/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_ADMIN)
            .principal(role_session("Dev", "ops"))
            .expect(ExplicitDeny),
        Case::new("NotPrincipal deny: admin session exempt", "s3:GetObject", "arn:aws:s3:::shared/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_ADMIN)
            .principal(role_session("Admin", "ops"))
            .expect(Allow),
        Case::new("NotPrincipal deny: another session of the admin role denied", "s3:GetObject", "arn:aws:s3:::shared/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_ADMIN)
            .principal(role_session("Admin", "other"))
            .expect(ExplicitDeny),
        Case::new("NotPrincipal deny: without the account ARN the session is not exempt", "s3:GetObject", "arn:aws:s3:::shared/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_ADMIN_NO_ACCOUNT)
            .principal(role_session("Admin", "ops"))
            .expect(ExplicitDeny),
        Case::new("NotPrincipal deny (AWS example 1): user Bob exempt", "s3:GetObject", "arn:aws:s3:::BUCKETNAME/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_BOB)
            .principal(PrincipalRef::iam_user("aws", "444455556666", "Bob"))
            .expect(Allow),
        Case::new("NotPrincipal deny (AWS example 1): another user of Bob's account denied", "s3:GetObject", "arn:aws:s3:::BUCKETNAME/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_BOB)
            .principal(PrincipalRef::iam_user("aws", "444455556666", "Alice"))
            .expect(ExplicitDeny),
        Case::new("NotPrincipal deny (AWS example 1): the listed account's root user is exempt", "s3:GetObject", "arn:aws:s3:::BUCKETNAME/k")
            .resource(BUCKET_ONLY_BOB)
            .root()
            .principal(PrincipalRef::account_root("aws", "444455556666"))
            .expect(Allow),
        Case::new("NotPrincipal deny (AWS example 1): user Bob of another account denied", "s3:GetObject", "arn:aws:s3:::BUCKETNAME/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_BOB)
            .principal(PrincipalRef::iam_user("aws", ACCT_A, "Bob"))
            .expect(ExplicitDeny),
        Case::new("NotPrincipal deny (AWS example 2): the audit app session exempt", "s3:GetObject", "arn:aws:s3:::Bucket_Account_Audit/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_AUDIT_APP)
            .principal(PrincipalRef::role_session("aws", "444455556666", "cross-account-read-only-role", "cross-account-audit-app"))
            .expect(Allow),
        Case::new("NotPrincipal deny (AWS example 2): another session of the role denied", "s3:GetObject", "arn:aws:s3:::Bucket_Account_Audit/k")
            .identity(ADMIN)
            .resource(BUCKET_ONLY_AUDIT_APP)
            .principal(PrincipalRef::role_session("aws", "444455556666", "cross-account-read-only-role", "someone-else"))
            .expect(ExplicitDeny),
        // --- cross account ------------------------------------------------
        Case::new("cross account: both allow", "s3:GetObject", "arn:aws:s3:::shared/k")
            .identity(S3_READ)
            .resource(BUCKET_ALLOWS_ACCT_A)
            .cross_account()
            .expect(Allow),
        Case::new("cross account: resource policy alone is not enough", "s3:GetObject", "arn:aws:s3:::shared/k")
            .resource(BUCKET_ALLOWS_ACCT_A)
            .cross_account(),
        Case::new("cross account: identity policy alone is not enough", "s3:GetObject", "arn:aws:s3:::shared/k")
            .identity(S3_READ)
            .cross_account(),
        Case::new("cross account: bucket trusts another account", "s3:GetObject", "arn:aws:s3:::shared/k")
            .identity(S3_READ)
            .resource(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"333333333333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}}"#)
            .cross_account(),
        Case::new("cross account: explicit deny in resource policy", "s3:DeleteObject", "arn:aws:s3:::shared/k")
            .identity(ADMIN)
            .resource(BUCKET_DENIES_DELETE)
            .cross_account()
            .expect(ExplicitDeny),
        // --- role trust policies (resource policy of sts:AssumeRole) ------
        Case::new("trust: third party with the right external id", "sts:AssumeRole", "arn:aws:iam::111111111111:role/Vendor")
            .identity(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111111111111:role/Vendor"}}"#)
            .trust(TRUST_EXTERNAL_ID)
            .principal(PrincipalRef::role_session("aws", ACCT_B, "Integrator", "job"))
            .ctx("sts:ExternalId", "Unique-Id-1234")
            .cross_account()
            .expect(Allow),
        Case::new("trust: third party with a wrong external id", "sts:AssumeRole", "arn:aws:iam::111111111111:role/Vendor")
            .identity(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#)
            .trust(TRUST_EXTERNAL_ID)
            .principal(PrincipalRef::role_session("aws", ACCT_B, "Integrator", "job"))
            .ctx("sts:ExternalId", "guess")
            .cross_account(),
        Case::new("trust: service principal", "sts:AssumeRole", "arn:aws:iam::111111111111:role/Ec2Role")
            .trust(TRUST_EC2)
            .principal(PrincipalRef::service("ec2.amazonaws.com"))
            .expect(Allow),
        Case::new("trust: other service", "sts:AssumeRole", "arn:aws:iam::111111111111:role/Ec2Role")
            .trust(TRUST_EC2)
            .principal(PrincipalRef::service("lambda.amazonaws.com")),
        Case::new("trust: web identity with matching claims", "sts:AssumeRoleWithWebIdentity", "arn:aws:iam::111111111111:role/Ci")
            .trust(TRUST_OIDC)
            .principal(PrincipalRef::federated("arn:aws:iam::111111111111:oidc-provider/token.example.com"))
            .ctx("token.example.com:aud", "my-app")
            .ctx("token.example.com:sub", "repo:org/project:ref:refs/heads/main")
            .expect(Allow),
        Case::new("trust: web identity, wrong audience", "sts:AssumeRoleWithWebIdentity", "arn:aws:iam::111111111111:role/Ci")
            .trust(TRUST_OIDC)
            .principal(PrincipalRef::federated("arn:aws:iam::111111111111:oidc-provider/token.example.com"))
            .ctx("token.example.com:aud", "other")
            .ctx("token.example.com:sub", "repo:org/project"),
        Case::new("service principal with source ARN check", "sqs:SendMessage", "arn:aws:sqs:us-east-1:111111111111:queue")
            .resource(QUEUE_POLICY)
            .principal(PrincipalRef::service("sns.amazonaws.com"))
            .ctx("aws:SourceArn", "arn:aws:sns:us-east-1:111111111111:alerts")
            .ctx("aws:SourceAccount", ACCT_A)
            .expect(Allow),
        Case::new("confused deputy: foreign topic", "sqs:SendMessage", "arn:aws:sqs:us-east-1:111111111111:queue")
            .resource(QUEUE_POLICY)
            .principal(PrincipalRef::service("sns.amazonaws.com"))
            .ctx("aws:SourceArn", "arn:aws:sns:us-east-1:999999999999:evil")
            .ctx("aws:SourceAccount", "999999999999"),
        // --- permissions boundaries --------------------------------------
        Case::new("boundary: allowed by both", "s3:PutObject", "*")
            .identity(IDENTITY_S3_IAM)
            .boundary(BOUNDARY_S3_CW)
            .expect(Allow),
        Case::new("boundary: identity allows, boundary does not", "iam:CreateUser", "*")
            .identity(IDENTITY_S3_IAM)
            .boundary(BOUNDARY_S3_CW),
        Case::new("boundary: boundary allows, identity does not", "cloudwatch:PutMetricData", "*")
            .identity(IDENTITY_S3_IAM)
            .boundary(BOUNDARY_S3_CW),
        Case::new("boundary: role-ARN resource grant is limited", "iam:GetRole", "arn:aws:iam::111111111111:role/X")
            .boundary(BOUNDARY_S3_CW)
            .resource(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/Dev"},"Action":"iam:GetRole","Resource":"*"}}"#)
            .principal(role_session("Dev", "s1")),
        Case::new("boundary: session-ARN resource grant is not limited", "iam:GetRole", "arn:aws:iam::111111111111:role/X")
            .boundary(BOUNDARY_S3_CW)
            .resource(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111111111111:assumed-role/Dev/s1"},"Action":"iam:GetRole","Resource":"*"}}"#)
            .principal(role_session("Dev", "s1"))
            .expect(Allow),
        // --- session policies ------------------------------------------
        Case::new("session: intersection allows reads", "s3:GetObject", "*")
            .identity(ADMIN)
            .session(vec![SESSION_READ_ONLY])
            .principal(role_session("Dev", "s1"))
            .expect(Allow),
        Case::new("session: write outside session policy", "s3:PutObject", "*")
            .identity(ADMIN)
            .session(vec![SESSION_READ_ONLY])
            .principal(role_session("Dev", "s1")),
        Case::new("session: inline + managed session policies form one set", "dynamodb:Query", "*")
            .identity(ADMIN)
            .session(vec![SESSION_READ_ONLY, SESSION_DDB])
            .principal(role_session("Dev", "s1"))
            .expect(Allow),
        Case::new("session: session policy cannot exceed identity", "dynamodb:Query", "*")
            .identity(IDENTITY_S3_IAM)
            .session(vec![SESSION_DDB])
            .principal(role_session("Dev", "s1")),
        Case::new("session: boundary and session both needed", "s3:GetObject", "*")
            .identity(ADMIN)
            .boundary(BOUNDARY_S3_CW)
            .session(vec![SESSION_READ_ONLY])
            .principal(role_session("Dev", "s1"))
            .expect(Allow),
        // --- account root ---------------------------------------------------
        Case::new("root: allowed in own account without policies", "iam:CreateUser", "*")
            .root()
            .expect(Allow),
        Case::new("root: explicit deny in resource policy still applies", "s3:DeleteObject", "arn:aws:s3:::shared/k")
            .root()
            .resource(BUCKET_DENIES_DELETE)
            .expect(ExplicitDeny),
        Case::new("root: cross account needs resource policy", "s3:GetObject", "arn:aws:s3:::shared/k")
            .root()
            .cross_account(),
        Case::new("root: cross account with resource policy", "s3:GetObject", "arn:aws:s3:::shared/k")
            .root()
            .resource(BUCKET_ALLOWS_ACCT_A)
            .cross_account()
            .expect(Allow),
    ]
}

#[test]
fn documented_evaluation_examples() {
    let cases = cases();
    assert!(cases.len() >= 60);
    for case in &cases {
        case.run();
    }
}
