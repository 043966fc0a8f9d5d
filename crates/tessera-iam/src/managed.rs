//! Customer managed policies and their attachment to roles.

use crate::prelude::*;
use crate::roles::role_name_param;
use tessera_wire::CommonError;

impl IamService {
    pub(crate) fn policy_arn_parts(&self, acct: &str, arn: &str) -> R<()> {
        let prefix = self.arn(acct, "policy/");
        let aws_prefix = self.arn("aws", "policy/");
        if arn.starts_with(&aws_prefix) {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        if !arn.starts_with(&prefix) || arn.len() > 2048 {
            if tessera_core::Arn::parse(arn).is_err() {
                return Err(IamError::Common(CommonError::Validation(format!(
                    "ARN {arn} is not valid."
                ))));
            }
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        Ok(())
    }

    pub(crate) async fn create_policy(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = CreatePolicyRequest::parse(p)?;
        let (name, path, doc) = (req.policy_name, req.path, req.policy_document);
        let arn = self.arn(acct, &format!("policy{path}{name}"));
        self.allow(caller, meta, "iam:CreatePolicy", &arn, ContextKeys::new())
            .await?;
        Policy::parse(doc, PolicyKind::Identity)?;
        if self
            .store
            .list_managed_policies(acct)
            .await?
            .iter()
            .any(|m| m.name == name)
        {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        let rec = ManagedPolicyRecord {
            arn: arn.clone(),
            account_id: acct.to_owned(),
            name: name.to_owned(),
            policy_id: ids::policy_id(),
            path: path.to_owned(),
            description: req.description.map(str::to_owned),
            document: doc.to_owned(),
            created_at: now_secs(meta),
        };
        match self.store.create_managed_policy(&rec).await {
            Err(tessera_store::StoreError::Conflict) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            r => r?,
        }
        let mut w = Writer::new();
        w.open("Policy");
        render::policy_fields(&mut w, &rec, 0);
        w.close("Policy");
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: request_parameters(&req),
                response_elements: json!({"policy": {"arn": arn, "policyId": rec.policy_id, "policyName": name}}),
                resources: vec![self.resource("AWS::IAM::Policy", &arn, acct)],
                read_only: false,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }

    pub(crate) async fn existing_policy(&self, acct: &str, arn: &str) -> R<ManagedPolicyRecord> {
        self.policy_arn_parts(acct, arn)?;
        self.store
            .get_managed_policy(arn)
            .await?
            .filter(|m| m.account_id == acct)
            .ok_or_else(|| IamError::NoSuchEntity(format!("Policy {arn} was not found.")))
    }

    pub(crate) async fn get_policy(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = PolicyArnRequest::parse(p)?;
        let arn = req.policy_arn;
        self.allow(caller, meta, "iam:GetPolicy", arn, ContextKeys::new())
            .await?;
        let rec = self.existing_policy(acct, arn).await?;
        let n = self.store.count_policy_attachments(arn).await?;
        let mut w = Writer::new();
        w.open("Policy");
        render::policy_fields(&mut w, &rec, n);
        w.close("Policy");
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                request_parameters(&req),
                self.resource("AWS::IAM::Policy", arn, acct),
            ),
        })
    }

    pub(crate) async fn list_policies(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        self.allow(
            caller,
            meta,
            "iam:ListPolicies",
            &self.arn(acct, "policy/"),
            ContextKeys::new(),
        )
        .await?;
        // Read after authorisation: a caller without iam:ListPolicies is denied before its
        // Scope is validated.
        let req = ListPoliciesRequest::parse(p)?;
        let (scope, prefix) = (req.scope, req.path_prefix);
        let list: Vec<ManagedPolicyRecord> = if scope == "AWS" {
            Vec::new()
        } else {
            self.store
                .list_managed_policies(acct)
                .await?
                .into_iter()
                .filter(|m| m.path.starts_with(prefix))
                .collect()
        };
        let (page, next) = paginate(list, p, |m| m.name.clone())?;
        let mut w = Writer::new();
        w.open("Policies");
        for m in &page {
            let n = self.store.count_policy_attachments(&m.arn).await?;
            w.open("member");
            render::policy_fields(&mut w, m, n);
            w.close("member");
        }
        w.close("Policies");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(request_parameters(&req), self.account_resource(acct)),
        })
    }

    pub(crate) async fn delete_policy(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = PolicyArnRequest::parse(p)?;
        let arn = req.policy_arn;
        self.allow(caller, meta, "iam:DeletePolicy", arn, ContextKeys::new())
            .await?;
        self.existing_policy(acct, arn).await?;
        if self.store.count_policy_attachments(arn).await? > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        let in_use = self
            .store
            .list_roles(acct)
            .await?
            .iter()
            .any(|r| r.permissions_boundary.as_deref() == Some(arn))
            || self
                .store
                .list_users(acct)
                .await?
                .iter()
                .any(|u| u.permissions_boundary.as_deref() == Some(arn));
        if in_use {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy used as a permissions boundary.".into(),
            ));
        }
        self.store.delete_managed_policy(arn).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&req),
                self.resource("AWS::IAM::Policy", arn, acct),
            ),
        })
    }

    pub(crate) async fn attach_role_policy(&self, r: &Req<'_>, attach: bool) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = RolePolicyArnRequest::parse(p)?;
        let (role_name, policy_arn) = (req.role_name, req.policy_arn);
        let (arn, role) = self.role_arn_for_authz(acct, role_name).await?;
        let action = if attach {
            "iam:AttachRolePolicy"
        } else {
            "iam:DetachRolePolicy"
        };
        let mut extra = ContextKeys::new();
        extra.insert("iam:PolicyARN", policy_arn);
        self.allow(caller, meta, action, &arn, extra).await?;
        role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {role_name} cannot be found."))
        })?;
        if attach {
            self.existing_policy(acct, policy_arn).await?;
            let attached = self
                .store
                .list_attached_role_policies(acct, role_name)
                .await?;
            if attached.len() >= 10 && !attached.iter().any(|a| a.arn == policy_arn) {
                return Err(IamError::LimitExceeded(
                    "Cannot exceed quota for PoliciesPerRole: 10".into(),
                ));
            }
            self.store
                .attach_role_policy(acct, role_name, policy_arn)
                .await?;
        } else if !self
            .store
            .detach_role_policy(acct, role_name, policy_arn)
            .await?
        {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {policy_arn} was not found."
            )));
        }
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&req),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    pub(crate) async fn list_attached_role_policies(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = ListAttachedRolePoliciesRequest::parse(p)?;
        let role_name = req.role_name;
        let (arn, role) = self.role_arn_for_authz(acct, role_name).await?;
        self.allow(
            caller,
            meta,
            "iam:ListAttachedRolePolicies",
            &arn,
            ContextKeys::new(),
        )
        .await?;
        role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {role_name} cannot be found."))
        })?;
        let prefix = req.path_prefix;
        let list: Vec<ManagedPolicyRecord> = self
            .store
            .list_attached_role_policies(acct, role_name)
            .await?
            .into_iter()
            .filter(|m| m.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(list, p, |m| m.arn.clone())?;
        let mut w = Writer::new();
        w.open("AttachedPolicies");
        for m in &page {
            w.open("member");
            w.elem("PolicyName", &m.name);
            w.elem("PolicyArn", &m.arn);
            w.close("member");
        }
        w.close("AttachedPolicies");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                request_parameters(&req),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }
}

/// CreatePolicy. An absent description is audited as `null`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePolicyRequest<'a> {
    policy_name: &'a str,
    path: &'a str,
    policy_document: &'a str,
    description: Option<&'a str>,
}

impl<'a> CreatePolicyRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        let policy_name = p.require("PolicyName")?;
        validation(names::policy_name("policyName", policy_name))?;
        let path = p.get("Path").unwrap_or("/");
        validation(names::path("path", path))?;
        let description = p.get("Description");
        if let Some(d) = description {
            validation(names::description("description", d))?;
        }
        let policy_document = p.require("PolicyDocument")?;
        Ok(CreatePolicyRequest {
            policy_name,
            path,
            policy_document,
            description,
        })
    }
}

/// GetPolicy and DeletePolicy. The ARN is checked after authorisation, by `existing_policy`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyArnRequest<'a> {
    policy_arn: &'a str,
}

impl<'a> PolicyArnRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(PolicyArnRequest {
            policy_arn: p.require("PolicyArn")?,
        })
    }
}

/// ListPolicies. Only the scope is audited; `MaxItems` and `Marker` are read by [`paginate`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListPoliciesRequest<'a> {
    scope: &'a str,
    #[serde(skip)]
    path_prefix: &'a str,
}

impl<'a> ListPoliciesRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        let scope = p.get("Scope").unwrap_or("All");
        if !["All", "AWS", "Local"].contains(&scope) {
            return Err(IamError::Common(CommonError::Validation(format!(
                "1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
            ))));
        }
        Ok(ListPoliciesRequest {
            scope,
            path_prefix: crate::paging::path_prefix(p)?,
        })
    }
}

/// AttachRolePolicy and DetachRolePolicy.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RolePolicyArnRequest<'a> {
    role_name: &'a str,
    policy_arn: &'a str,
}

impl<'a> RolePolicyArnRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(RolePolicyArnRequest {
            role_name: role_name_param(p)?,
            policy_arn: p.require("PolicyArn")?,
        })
    }
}

/// ListAttachedRolePolicies. Only the role is audited; `PathPrefix`, `MaxItems` and `Marker`
/// are not.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListAttachedRolePoliciesRequest<'a> {
    role_name: &'a str,
    #[serde(skip)]
    path_prefix: &'a str,
}

impl<'a> ListAttachedRolePoliciesRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(ListAttachedRolePoliciesRequest {
            role_name: role_name_param(p)?,
            path_prefix: crate::paging::path_prefix(p)?,
        })
    }
}
