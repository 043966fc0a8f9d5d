use crate::{AccountId, SessionClaims};
use std::sync::Arc;

/// Who made a request, as established once by the authentication layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: AccountId,
    pub principal: Principal,
    /// The access key id the request was signed with.
    pub access_key_id: String,
    /// For temporary credentials: the session the request was signed with.
    pub session: Option<Arc<SessionClaims>>,
}

/// The kinds of principal that can sign requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account root (long-term `AKIA…` root key).
    Root,
    /// An IAM user with a long-term access key.
    User {
        name: String,
        user_id: String,
        path: String,
    },
    /// A role session (temporary `ASIA…` credentials).
    AssumedRole {
        role_name: String,
        role_id: String,
        role_path: String,
        session_name: String,
    },
}

impl Caller {
    /// The principal's ARN as `GetCallerIdentity` and `aws:PrincipalArn` report it.
    pub fn arn(&self, partition: &str) -> String {
        let acct = self.account.as_str();
        match &self.principal {
            Principal::Root => format!("arn:{partition}:iam::{acct}:root"),
            Principal::User { name, path, .. } => {
                format!("arn:{partition}:iam::{acct}:user{path}{name}")
            }
            Principal::AssumedRole {
                role_name,
                session_name,
                ..
            } => {
                format!("arn:{partition}:sts::{acct}:assumed-role/{role_name}/{session_name}")
            }
        }
    }

    /// The value of `aws:PrincipalArn`: for role sessions this is the role's ARN, not the session's.
    pub fn principal_arn(&self, partition: &str) -> String {
        let acct = self.account.as_str();
        match &self.principal {
            Principal::AssumedRole {
                role_name,
                role_path,
                ..
            } => {
                format!("arn:{partition}:iam::{acct}:role{role_path}{role_name}")
            }
            _ => self.arn(partition),
        }
    }

    /// `UserId` as `GetCallerIdentity` reports it (`aws:userid`).
    pub fn user_id(&self) -> String {
        match &self.principal {
            Principal::Root => self.account.to_string(),
            Principal::User { user_id, .. } => user_id.clone(),
            Principal::AssumedRole {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
        }
    }

    /// `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self.principal {
            Principal::Root => "Account",
            Principal::User { .. } => "User",
            Principal::AssumedRole { .. } => "AssumedRole",
        }
    }

    pub fn is_root(&self) -> bool {
        matches!(self.principal, Principal::Root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(p: Principal) -> Caller {
        Caller {
            account: AccountId::parse("111111111111").unwrap(),
            principal: p,
            access_key_id: "AKIA".into(),
            session: None,
        }
    }

    #[test]
    fn arns() {
        assert_eq!(
            caller(Principal::Root).arn("aws"),
            "arn:aws:iam::111111111111:root"
        );
        let u = caller(Principal::User {
            name: "bob".into(),
            user_id: "AIDA1".into(),
            path: "/eng/".into(),
        });
        assert_eq!(u.arn("aws"), "arn:aws:iam::111111111111:user/eng/bob");
        let r = caller(Principal::AssumedRole {
            role_name: "R".into(),
            role_id: "AROA1".into(),
            role_path: "/".into(),
            session_name: "s".into(),
        });
        assert_eq!(r.arn("aws"), "arn:aws:sts::111111111111:assumed-role/R/s");
        assert_eq!(r.principal_arn("aws"), "arn:aws:iam::111111111111:role/R");
        assert_eq!(r.user_id(), "AROA1:s");
    }
}
