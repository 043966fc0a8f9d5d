//! The IAM side of the flow, in the application account: an OIDC provider for the identity
//! provider, the web-identity role tip assumes with the user's ID token, and the
//! identity-bearer role whose sessions carry the user's identity context. Printed as a
//! reviewable script of AWS CLI commands, as a CloudFormation template, or applied with the
//! caller's own (administrator) credentials.

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

/// What the setup is made for.
#[derive(Debug, Clone)]
pub struct Setup {
    pub issuer: String,
    pub client_id: String,
    pub web_identity_role: String,
    pub bearer_role: String,
    /// The Identity Center application tokens are exchanged with (`*` when not known yet).
    pub application_arn: Option<String>,
    /// The Identity Center instance whose contexts the bearer role accepts (any when absent).
    pub instance_arn: Option<String>,
    pub max_session_seconds: i32,
}

impl Setup {
    pub fn validate(&self) -> Result<()> {
        crate::config::check_url("the issuer", &self.issuer)?;
        if self.client_id.is_empty() || self.client_id.chars().any(char::is_control) {
            bail!("the client id is not valid");
        }
        for r in [&self.web_identity_role, &self.bearer_role] {
            let ok = !r.is_empty()
                && r.len() <= 64
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
            if !ok {
                bail!("{r:?} is not a role name");
            }
        }
        if !(3600..=43_200).contains(&self.max_session_seconds) {
            bail!("the maximum session duration must be between 3,600 and 43,200 seconds");
        }
        Ok(())
    }

    /// The provider's name in IAM: the issuer without its scheme (host, port and path).
    pub fn host_path(&self) -> String {
        let rest = self
            .issuer
            .split_once("://")
            .map_or(self.issuer.as_str(), |(_, r)| r);
        rest.trim_end_matches('/').to_owned()
    }

    pub fn provider_arn(&self, account: &str) -> String {
        format!("arn:aws:iam::{account}:oidc-provider/{}", self.host_path())
    }

    pub fn role_arn(&self, account: &str, name: &str) -> String {
        format!("arn:aws:iam::{account}:role/{name}")
    }

    fn doc(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    pub fn web_identity_trust(&self, account: &str) -> Value {
        Self::doc(json!([{
            "Effect": "Allow",
            "Principal": {"Federated": self.provider_arn(account)},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {format!("{}:aud", self.host_path()): self.client_id}}
        }]))
    }

    pub fn web_identity_permissions(&self, account: &str) -> Value {
        Self::doc(json!([
            {"Sid": "ExchangeTheUsersToken", "Effect": "Allow",
             "Action": "sso-oauth:CreateTokenWithIAM",
             "Resource": self.application_arn.clone().unwrap_or_else(|| "*".into())},
            {"Sid": "AssumeTheIdentityBearerRole", "Effect": "Allow",
             "Action": ["sts:AssumeRole", "sts:SetContext"],
             "Resource": self.role_arn(account, &self.bearer_role)}
        ]))
    }

    pub fn bearer_trust(&self, account: &str) -> Value {
        let mut s = json!({
            "Effect": "Allow",
            "Principal": {"AWS": self.role_arn(account, &self.web_identity_role)},
            "Action": ["sts:AssumeRole", "sts:SetContext"]
        });
        if let Some(i) = &self.instance_arn {
            s["Condition"] =
                json!({"StringEquals": {"sts:RequestContext/identitycenter:InstanceArn": i}});
        }
        Self::doc(json!([s]))
    }

    pub fn bearer_permissions(&self, account: &str) -> Value {
        Self::doc(json!([{
            "Sid": "AccessGrantsOnTheUsersBehalf", "Effect": "Allow",
            "Action": ["s3:GetDataAccess", "s3:ListCallerAccessGrants"],
            "Resource": format!("arn:aws:s3:*:{account}:access-grants/default")
        }]))
    }

    /// A bash script of AWS CLI commands, for review before it is run.
    pub fn script(&self) -> String {
        let acct = "${ACCOUNT_ID}";
        let q = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        let (wi, br) = (&self.web_identity_role, &self.bearer_role);
        format!(
            r#"#!/usr/bin/env bash
# IAM setup for tip (trusted identity propagation), made by `tip configure generate-setup`.
# Review it, then run it with administrator credentials for the application account
# (add --endpoint-url to every command, or export AWS_ENDPOINT_URL, to target Tessera).
set -euo pipefail
ACCOUNT_ID="${{ACCOUNT_ID:-$(aws sts get-caller-identity --query Account --output text)}}"

# 1. Trust the identity provider's ID tokens for client {client}.
aws iam create-open-id-connect-provider --url '{issuer}' --client-id-list '{client}'

# 2. The web-identity role: tip assumes it with the user's ID token, exchanges that token at
#    Identity Center and assumes the identity-bearer role.
aws iam create-role --role-name '{wi}' --max-session-duration {max} \
  --description 'tip: assumed with the identity provider ID token' \
  --assume-role-policy-document "$(cat <<EOF
{wi_trust}
EOF
)"
aws iam put-role-policy --role-name '{wi}' --policy-name tip --policy-document "$(cat <<EOF
{wi_perm}
EOF
)"

# 3. The identity-bearer role: its sessions carry the user's identity context.
aws iam create-role --role-name '{br}' --max-session-duration {max} \
  --description 'tip: identity-enhanced sessions on the user behalf' \
  --assume-role-policy-document "$(cat <<EOF
{br_trust}
EOF
)"
aws iam put-role-policy --role-name '{br}' --policy-name tip --policy-document "$(cat <<EOF
{br_perm}
EOF
)"

# 4. In the Identity Center account: let the web-identity role call CreateTokenWithIAM for
#    the application (its IAM authentication method's ActorPolicy), and trust the identity
#    provider for audience '{client}' in the application's JWT bearer grant:
#    aws sso-admin put-application-authentication-method --application-arn <APP_ARN> \
#      --authentication-method-type IAM --authentication-method '{{"Iam":{{"ActorPolicy":{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::'"$ACCOUNT_ID"':role/{wi}"}},"Action":"sso-oauth:CreateTokenWithIAM","Resource":"*"}}]}}}}}}'

echo "Then: tip configure idp --issuer '{issuer}' --client-id '{client}' \\"
echo "  --web-identity-role-arn arn:aws:iam::$ACCOUNT_ID:role/{wi} \\"
echo "  --identity-bearer-role-arn arn:aws:iam::$ACCOUNT_ID:role/{br} \\"
echo "  --application-arn <APP_ARN> --account-id $ACCOUNT_ID"
"#,
            client = self.client_id,
            issuer = self.issuer,
            max = self.max_session_seconds,
            wi_trust = q(&self.web_identity_trust(acct)),
            wi_perm = q(&self.web_identity_permissions(acct)),
            br_trust = q(&self.bearer_trust(acct)),
            br_perm = q(&self.bearer_permissions(acct)),
        )
    }

    /// The same as a CloudFormation template (JSON, which CloudFormation reads as YAML too).
    pub fn cloudformation(&self) -> String {
        let sub = |v: Value| -> Value {
            // Account-specific strings become Fn::Sub expressions.
            fn walk(v: Value) -> Value {
                match v {
                    Value::String(s) if s.contains("${AWS::AccountId}") => json!({"Fn::Sub": s}),
                    Value::Array(a) => Value::Array(a.into_iter().map(walk).collect()),
                    Value::Object(o) => {
                        Value::Object(o.into_iter().map(|(k, v)| (k, walk(v))).collect())
                    }
                    other => other,
                }
            }
            walk(v)
        };
        let acct = "${AWS::AccountId}";
        let t = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": format!("tip (trusted identity propagation): IAM roles for {} client {}", self.issuer, self.client_id),
            "Resources": {
                "IdentityProvider": {
                    "Type": "AWS::IAM::OIDCProvider",
                    "Properties": {"Url": self.issuer, "ClientIdList": [self.client_id]}
                },
                "WebIdentityRole": {
                    "Type": "AWS::IAM::Role",
                    "DependsOn": "IdentityProvider",
                    "Properties": {
                        "RoleName": self.web_identity_role,
                        "MaxSessionDuration": self.max_session_seconds,
                        "AssumeRolePolicyDocument": sub(self.web_identity_trust(acct)),
                        "Policies": [{"PolicyName": "tip", "PolicyDocument": sub(self.web_identity_permissions(acct))}]
                    }
                },
                "IdentityBearerRole": {
                    "Type": "AWS::IAM::Role",
                    "DependsOn": "WebIdentityRole",
                    "Properties": {
                        "RoleName": self.bearer_role,
                        "MaxSessionDuration": self.max_session_seconds,
                        "AssumeRolePolicyDocument": sub(self.bearer_trust(acct)),
                        "Policies": [{"PolicyName": "tip", "PolicyDocument": sub(self.bearer_permissions(acct))}]
                    }
                }
            },
            "Outputs": {
                "WebIdentityRoleArn": {"Value": {"Fn::GetAtt": ["WebIdentityRole", "Arn"]}},
                "IdentityBearerRoleArn": {"Value": {"Fn::GetAtt": ["IdentityBearerRole", "Arn"]}}
            }
        });
        serde_json::to_string_pretty(&t).unwrap_or_default() + "\n"
    }
}

/// What `--apply` made.
#[derive(Debug)]
pub struct Applied {
    pub account: String,
    pub provider_arn: String,
    pub web_identity_role_arn: String,
    pub bearer_role_arn: String,
}

/// Apply the setup with `iam` and `sts` clients holding the caller's credentials. Idempotent:
/// what exists is updated to match.
pub async fn apply(
    s: &Setup,
    iam: &aws_sdk_iam::Client,
    sts: &aws_sdk_sts::Client,
) -> Result<Applied> {
    use crate::aws::message_of;
    let account = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "cannot tell which account the credentials are for: {}",
                message_of(&e)
            )
        })?
        .account()
        .ok_or_else(|| anyhow!("GetCallerIdentity answered no account"))?
        .to_owned();
    let provider_arn = s.provider_arn(&account);
    match iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider_arn)
        .send()
        .await
    {
        Ok(p) => {
            if !p.client_id_list().iter().any(|c| c == &s.client_id) {
                iam.add_client_id_to_open_id_connect_provider()
                    .open_id_connect_provider_arn(&provider_arn)
                    .client_id(&s.client_id)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow!(
                            "the OIDC provider {provider_arn} exists without client id {:?}, and adding it failed: {}",
                            s.client_id,
                            message_of(&e)
                        )
                    })?;
            }
        }
        Err(e) if crate::aws::code_of(&e).as_deref() == Some("NoSuchEntity") => {
            iam.create_open_id_connect_provider()
                .url(&s.issuer)
                .client_id_list(&s.client_id)
                .send()
                .await
                .map_err(|e| anyhow!("CreateOpenIDConnectProvider: {}", message_of(&e)))?;
        }
        Err(e) => bail!(
            "GetOpenIDConnectProvider {provider_arn}: {}",
            message_of(&e)
        ),
    }
    for (name, trust, perm) in [
        (
            &s.web_identity_role,
            s.web_identity_trust(&account),
            s.web_identity_permissions(&account),
        ),
        (
            &s.bearer_role,
            s.bearer_trust(&account),
            s.bearer_permissions(&account),
        ),
    ] {
        let trust = trust.to_string();
        match iam.get_role().role_name(name).send().await {
            Ok(_) => {
                iam.update_assume_role_policy()
                    .role_name(name)
                    .policy_document(&trust)
                    .send()
                    .await
                    .map_err(|e| anyhow!("UpdateAssumeRolePolicy {name}: {}", message_of(&e)))?;
                iam.update_role()
                    .role_name(name)
                    .max_session_duration(s.max_session_seconds)
                    .send()
                    .await
                    .map_err(|e| anyhow!("UpdateRole {name}: {}", message_of(&e)))?;
            }
            Err(e) if crate::aws::code_of(&e).as_deref() == Some("NoSuchEntity") => {
                iam.create_role()
                    .role_name(name)
                    .assume_role_policy_document(&trust)
                    .max_session_duration(s.max_session_seconds)
                    .description("Made by tip configure generate-setup --apply")
                    .send()
                    .await
                    .map_err(|e| anyhow!("CreateRole {name}: {}", message_of(&e)))?;
            }
            Err(e) => bail!("GetRole {name}: {}", message_of(&e)),
        }
        iam.put_role_policy()
            .role_name(name)
            .policy_name("tip")
            .policy_document(perm.to_string())
            .send()
            .await
            .map_err(|e| anyhow!("PutRolePolicy {name}: {}", message_of(&e)))?;
    }
    Ok(Applied {
        web_identity_role_arn: s.role_arn(&account, &s.web_identity_role),
        bearer_role_arn: s.role_arn(&account, &s.bearer_role),
        provider_arn,
        account,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> Setup {
        Setup {
            issuer: "https://login.example.com/oauth2/default/".into(),
            client_id: "0oa123".into(),
            web_identity_role: "TipWebIdentityRole".into(),
            bearer_role: "TipIdentityBearerRole".into(),
            application_arn: None,
            instance_arn: Some("arn:aws:sso:::instance/ssoins-1".into()),
            max_session_seconds: 3600,
        }
    }

    #[test]
    fn policies_name_the_provider_the_audience_and_the_roles() {
        let s = setup();
        s.validate().unwrap();
        assert_eq!(s.host_path(), "login.example.com/oauth2/default");
        let t = s.web_identity_trust("111111111111");
        assert_eq!(
            t["Statement"][0]["Principal"]["Federated"],
            "arn:aws:iam::111111111111:oidc-provider/login.example.com/oauth2/default"
        );
        assert_eq!(
            t["Statement"][0]["Condition"]["StringEquals"]["login.example.com/oauth2/default:aud"],
            "0oa123"
        );
        let b = s.bearer_trust("111111111111");
        assert_eq!(
            b["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111111111111:role/TipWebIdentityRole"
        );
        assert!(b["Statement"][0]["Condition"].is_object());
        assert_eq!(
            s.web_identity_permissions("1")["Statement"][0]["Resource"],
            "*"
        );
        let script = s.script();
        assert!(script.contains("create-open-id-connect-provider"));
        assert!(script.contains("arn:aws:iam::${ACCOUNT_ID}:role/TipIdentityBearerRole"));
        let cfn: Value = serde_json::from_str(&s.cloudformation()).unwrap();
        assert_eq!(
            cfn["Resources"]["IdentityProvider"]["Type"],
            "AWS::IAM::OIDCProvider"
        );
        assert!(
            cfn["Resources"]["WebIdentityRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Federated"]["Fn::Sub"]
                .as_str()
                .unwrap()
                .contains("${AWS::AccountId}")
        );
        let mut bad = setup();
        bad.bearer_role = "no spaces".into();
        assert!(bad.validate().is_err());
    }
}
