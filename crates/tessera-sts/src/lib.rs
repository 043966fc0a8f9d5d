//! The STS service, spoken over awsQuery (signing name `sts`, version `2011-06-15`).
//!
//! Implemented: `GetCallerIdentity` for every kind of caller. `AssumeRole`,
//! `AssumeRoleWithWebIdentity` and sealed role sessions are the next issue; until then they
//! are answered with `InvalidAction` naming the operation, like any unknown action.

use serde_json::{Value, json};
use tessera_audit::EventDetails;
use tessera_core::{Caller, Deployment};
use tessera_wire::AwsError;
use tessera_wire::query::{QueryError, QueryParams};
use tessera_wire::xml::Writer;

pub const VERSION: &str = "2011-06-15";

/// Actions that are not signed (they authenticate with a token in the request instead).
pub const UNSIGNED_ACTIONS: &[&str] = &["AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"];

/// Every action this service implements.
pub const ACTIONS: &[&str] = &["GetCallerIdentity"];

/// All STS actions AWS defines, so the router can tell STS requests from IAM ones.
pub const KNOWN_ACTIONS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "AssumeRoot",
    "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
    "GetCallerIdentity",
    "GetDelegatedAccessToken",
    "GetFederationToken",
    "GetSessionToken",
];

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StsError {
    #[error("{0}")]
    InvalidAction(String),
    #[error("{0}")]
    MissingParameter(String),
    #[error("{0}")]
    MalformedQueryString(String),
    #[error("{0}")]
    ValidationError(String),
}

impl StsError {
    pub fn to_aws(&self) -> AwsError {
        let (status, code) = match self {
            StsError::InvalidAction(_) => (400, "InvalidAction"),
            StsError::MissingParameter(_) => (400, "MissingParameter"),
            StsError::MalformedQueryString(_) => (400, "MalformedQueryString"),
            StsError::ValidationError(_) => (400, "ValidationError"),
        };
        AwsError::new(status, code, self.to_string())
    }
}

impl From<QueryError> for StsError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Missing(_) => StsError::MissingParameter(e.to_string()),
            QueryError::BadIndex(_) => StsError::ValidationError(e.to_string()),
            _ => StsError::MalformedQueryString(e.to_string()),
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub result_xml: String,
    pub details: EventDetails,
}

#[derive(Debug, Clone)]
pub struct StsService {
    deployment: Deployment,
}

impl StsService {
    pub fn new(deployment: Deployment) -> StsService {
        StsService { deployment }
    }

    pub fn handle(
        &self,
        caller: &Caller,
        action: &str,
        p: &QueryParams,
    ) -> Result<Outcome, StsError> {
        if let Some(v) = p.get("Version")
            && v != VERSION
        {
            return Err(StsError::InvalidAction(format!(
                "Could not find operation {action} for version {v}"
            )));
        }
        match action {
            "GetCallerIdentity" => Ok(self.get_caller_identity(caller)),
            other if KNOWN_ACTIONS.contains(&other) => Err(StsError::InvalidAction(format!(
                "The operation {other} is not available on this server yet."
            ))),
            other => Err(StsError::InvalidAction(format!(
                "Could not find operation {other} for version {VERSION}"
            ))),
        }
    }

    /// `GetCallerIdentity` needs no permission (AWS: even an explicit deny does not stop it).
    fn get_caller_identity(&self, caller: &Caller) -> Outcome {
        let arn = caller.arn(&self.deployment.partition);
        let mut w = Writer::new();
        w.elem("Arn", &arn);
        w.elem("UserId", &caller.user_id());
        w.elem("Account", caller.account.as_str());
        Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                request_parameters: Value::Null,
                response_elements: json!(null),
                resources: vec![],
                read_only: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::{AccountId, Principal};

    #[test]
    fn caller_identity_of_root_and_user() {
        let sts = StsService::new(Deployment::default());
        let p = QueryParams::parse(&[b"Action=GetCallerIdentity&Version=2011-06-15"]).unwrap();
        let root = Caller {
            account: AccountId::parse("111111111111").unwrap(),
            principal: Principal::Root,
            access_key_id: "AKIA".into(),
        };
        let out = sts.handle(&root, "GetCallerIdentity", &p).unwrap();
        assert_eq!(
            out.result_xml,
            "<Arn>arn:aws:iam::111111111111:root</Arn><UserId>111111111111</UserId><Account>111111111111</Account>"
        );
        let user = Caller {
            principal: Principal::User {
                name: "bob".into(),
                user_id: "AIDAEXAMPLE".into(),
                path: "/".into(),
            },
            ..root.clone()
        };
        let out = sts.handle(&user, "GetCallerIdentity", &p).unwrap();
        assert!(
            out.result_xml.contains(
                "<Arn>arn:aws:iam::111111111111:user/bob</Arn><UserId>AIDAEXAMPLE</UserId>"
            )
        );
        assert!(matches!(
            sts.handle(&root, "Nope", &p),
            Err(StsError::InvalidAction(_))
        ));
        let wrong = QueryParams::parse(&[b"Version=2010-05-08"]).unwrap();
        assert!(matches!(
            sts.handle(&root, "GetCallerIdentity", &wrong),
            Err(StsError::InvalidAction(_))
        ));
    }
}
