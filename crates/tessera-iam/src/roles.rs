//! Roles: create, read, list, update, trust policies, delete; trust principals resolved to unique ids.

use crate::prelude::*;
use tessera_wire::CommonError;

impl IamService {
    /// Authorise against a role that may not exist yet: its ARN uses the stored path when the
    /// role exists and the root path otherwise (IAM authorises before it looks up).
    pub(crate) async fn role_arn_for_authz(
        &self,
        acct: &str,
        name: &str,
    ) -> R<(String, Option<RoleRecord>)> {
        let role = self.store.get_role(acct, name).await?;
        let path = role
            .as_ref()
            .map(|r| r.path.clone())
            .unwrap_or_else(|| "/".into());
        Ok((
            self.role_resource(
                acct,
                &path,
                role.as_ref().map(|r| r.name.as_str()).unwrap_or(name),
            ),
            role,
        ))
    }

    /// The unique id of the IAM user or role `arn` names, if it exists now. Read from the
    /// store, not the principal view: a principal created on another replica a moment ago counts.
    pub(crate) async fn entity_id(&self, arn: &str) -> R<Option<String>> {
        let Some((account, kind, path, name)) = entity_arn_parts(arn, &self.deployment.partition)
        else {
            return Ok(None);
        };
        Ok(match kind {
            "user" => self
                .store
                .get_user(account, name)
                .await?
                .filter(|u| u.path == path && u.name == name)
                .map(|u| u.user_id),
            _ => self
                .store
                .get_role(account, name)
                .await?
                .filter(|r| r.path == path && r.name == name)
                .map(|r| r.role_id),
        })
    }

    /// Resolve the IAM users and roles a trust policy names to their unique ids, as AWS does
    /// when a policy is saved: the saved trust then applies to those entities only, not to a
    /// user or role later re-created under the same name. An ARN naming no existing user or
    /// role is refused, as AWS refuses it.
    pub(crate) async fn resolve_principal_ids(&self, policy: &Policy) -> R<Vec<(String, String)>> {
        let mut out = Vec::new();
        for arn in policy.entity_principal_arns() {
            match self.entity_id(&arn).await? {
                Some(id) => out.push((arn, id)),
                None => {
                    return Err(IamError::MalformedPolicyDocument(format!(
                        "Invalid principal in policy: \"AWS\":\"{arn}\""
                    )));
                }
            }
        }
        Ok(out)
    }

    /// A role as GetRole and ListRoles show it: a principal of the trust policy that no
    /// longer exists (deleted, or re-created with another unique id) appears as the unique
    /// id it was saved with, as in AWS.
    pub(crate) fn shown(&self, mut role: RoleRecord) -> RoleRecord {
        let Some(ids) = role.trust_principal_ids.as_deref() else {
            return role;
        };
        let snapshot = self.authz.principals().snapshot();
        let partition = &self.deployment.partition;
        let replaced = tessera_policy::rewrite_aws_principals(&role.trust_policy, |value| {
            let (_, saved) = ids.iter().find(|(arn, _)| arn == value)?;
            let (account, kind, path, name) = entity_arn_parts(value, partition)?;
            let current = snapshot.entity_id(account, kind, &path, name);
            (current.as_deref() != Some(saved.as_str())).then(|| saved.clone())
        });
        if let Some(doc) = replaced {
            role.trust_policy = doc;
        }
        role
    }

    pub(crate) async fn check_boundary(&self, acct: &str, arn: &str) -> R<()> {
        let ok = match self.store.get_managed_policy(arn).await? {
            Some(p) => p.account_id == acct,
            None => false,
        };
        if ok {
            Ok(())
        } else {
            Err(IamError::NoSuchEntity(format!(
                "Scope ARN: {arn} does not exist or is not attachable."
            )))
        }
    }

    pub(crate) async fn create_role(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = CreateRoleRequest::parse(p)?;
        let (name, path, doc) = (req.role_name, req.path, req.assume_role_policy_document);
        let boundary = req.permissions_boundary;
        let arn = self.role_resource(acct, path, name);
        let mut extra = ContextKeys::new();
        if let Some(b) = boundary {
            extra.insert("iam:PermissionsBoundary", b);
        }
        self.allow(caller, meta, "iam:CreateRole", &arn, extra)
            .await?;
        let trust = Policy::parse(doc, PolicyKind::Trust)?;
        let principal_ids = self.resolve_principal_ids(&trust).await?;
        if let Some(b) = boundary {
            self.check_boundary(acct, b).await?;
        }
        let role = RoleRecord {
            account_id: acct.to_owned(),
            name: name.to_owned(),
            role_id: ids::role_id(),
            path: path.to_owned(),
            description: req.description.map(str::to_owned),
            trust_policy: doc.to_owned(),
            trust_principal_ids: Some(principal_ids),
            max_session_duration: req.max_session_duration,
            permissions_boundary: boundary.map(str::to_owned),
            tags: req.tags.clone(),
            created_at: now_secs(meta),
        };
        match self.store.create_role(&role).await {
            Err(tessera_store::StoreError::Conflict) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Role with name {name} already exists."
                )));
            }
            r => r?,
        }
        let mut w = Writer::new();
        render::role(&mut w, &self.deployment, &role);
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: request_parameters(&req),
                response_elements: json!({"role": {"arn": arn, "roleId": role.role_id, "roleName": name, "path": path}}),
                resources: vec![self.resource("AWS::IAM::Role", &arn, acct)],
                read_only: false,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }

    pub(crate) async fn get_role(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = RoleNameRequest::parse(p)?;
        let name = req.role_name;
        let (arn, role) = self.role_arn_for_authz(acct, name).await?;
        self.allow(caller, meta, "iam:GetRole", &arn, ContextKeys::new())
            .await?;
        let role = role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
        })?;
        let mut w = Writer::new();
        render::role(&mut w, &self.deployment, &self.shown(role));
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                request_parameters(&req),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    pub(crate) async fn list_roles(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = PathPrefixRequest::parse(p)?;
        let prefix = req.path_prefix;
        self.allow(
            caller,
            meta,
            "iam:ListRoles",
            &self.arn(acct, "role/"),
            ContextKeys::new(),
        )
        .await?;
        let roles: Vec<RoleRecord> = self
            .store
            .list_roles(acct)
            .await?
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(roles, p, |r| r.name.to_ascii_lowercase())?;
        let mut w = Writer::new();
        w.open("Roles");
        for r in page {
            w.open("member");
            render::role_fields(&mut w, &self.deployment, &self.shown(r), false);
            w.close("member");
        }
        w.close("Roles");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(request_parameters(&req), self.account_resource(acct)),
        })
    }

    pub(crate) fn account_resource(&self, acct: &str) -> Resource {
        Resource {
            account_id: Some(acct.to_owned()),
            kind: "AWS::IAM::Account".into(),
            arn: self.arn(acct, "root"),
        }
    }

    pub(crate) async fn update_role(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = UpdateRoleRequest::parse(p)?;
        let name = req.role_name;
        let (arn, role) = self.role_arn_for_authz(acct, name).await?;
        self.allow(caller, meta, "iam:UpdateRole", &arn, ContextKeys::new())
            .await?;
        let mut role = role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
        })?;
        if let Some(d) = req.description {
            role.description = Some(d.to_owned());
        }
        if let Some(m) = req.max_session_duration {
            role.max_session_duration = m;
        }
        self.store.update_role(&role).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&req),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    pub(crate) async fn update_assume_role_policy(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = UpdateAssumeRolePolicyRequest::parse(p)?;
        let (name, doc) = (req.role_name, req.policy_document);
        let (arn, role) = self.role_arn_for_authz(acct, name).await?;
        self.allow(
            caller,
            meta,
            "iam:UpdateAssumeRolePolicy",
            &arn,
            ContextKeys::new(),
        )
        .await?;
        let mut role = role.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
        })?;
        let trust = Policy::parse(doc, PolicyKind::Trust)?;
        role.trust_principal_ids = Some(self.resolve_principal_ids(&trust).await?);
        role.trust_policy = doc.to_owned();
        self.store.update_role(&role).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&req),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }

    pub(crate) async fn delete_role(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = RoleNameRequest::parse(p)?;
        let name = req.role_name;
        let (arn, role) = self.role_arn_for_authz(acct, name).await?;
        self.allow(caller, meta, "iam:DeleteRole", &arn, ContextKeys::new())
            .await?;
        if role.is_none() {
            return Err(IamError::NoSuchEntity(format!(
                "The role with name {name} cannot be found."
            )));
        }
        if !self.store.list_role_policies(acct, name).await?.is_empty()
            || !self
                .store
                .list_attached_role_policies(acct, name)
                .await?
                .is_empty()
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        self.store.delete_role(acct, name).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&req),
                self.resource("AWS::IAM::Role", &arn, acct),
            ),
        })
    }
}

/// `RoleName`, required and validated as a role name.
pub(crate) fn role_name_param(p: &QueryParams) -> R<&str> {
    let name = p.require("RoleName")?;
    validation(names::role_name("roleName", name))?;
    Ok(name)
}

/// CreateRole. `maxSessionDuration` is audited as applied (3600 when absent); an absent
/// description or permissions boundary is audited as `null`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateRoleRequest<'a> {
    role_name: &'a str,
    path: &'a str,
    assume_role_policy_document: &'a str,
    description: Option<&'a str>,
    max_session_duration: i64,
    permissions_boundary: Option<&'a str>,
    #[serde(serialize_with = "serialize_tags")]
    tags: Vec<(String, String)>,
}

impl<'a> CreateRoleRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        let role_name = role_name_param(p)?;
        let path = p.get("Path").unwrap_or("/");
        validation(names::path("path", path))?;
        let assume_role_policy_document = p.require("AssumeRolePolicyDocument")?;
        let description = p.get("Description");
        if let Some(d) = description {
            validation(names::description("description", d))?;
        }
        let max_session_duration = match p.get("MaxSessionDuration") {
            None => 3600,
            Some(s) => parse_max_session(s)?,
        };
        let permissions_boundary = p.get("PermissionsBoundary");
        let tags = parse_tags(p)?;
        Ok(CreateRoleRequest {
            role_name,
            path,
            assume_role_policy_document,
            description,
            max_session_duration,
            permissions_boundary,
            tags,
        })
    }
}

/// GetRole and DeleteRole.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleNameRequest<'a> {
    role_name: &'a str,
}

impl<'a> RoleNameRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(RoleNameRequest {
            role_name: role_name_param(p)?,
        })
    }
}

/// UpdateRole. What is absent stays as it is, and is audited as `null`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateRoleRequest<'a> {
    role_name: &'a str,
    description: Option<&'a str>,
    max_session_duration: Option<i64>,
}

impl<'a> UpdateRoleRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        let role_name = role_name_param(p)?;
        let description = p.get("Description");
        if let Some(d) = description {
            validation(names::description("description", d))?;
        }
        let max_session_duration = p
            .get("MaxSessionDuration")
            .map(parse_max_session)
            .transpose()?;
        Ok(UpdateRoleRequest {
            role_name,
            description,
            max_session_duration,
        })
    }
}

/// UpdateAssumeRolePolicy.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateAssumeRolePolicyRequest<'a> {
    role_name: &'a str,
    policy_document: &'a str,
}

impl<'a> UpdateAssumeRolePolicyRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(UpdateAssumeRolePolicyRequest {
            role_name: role_name_param(p)?,
            policy_document: p.require("PolicyDocument")?,
        })
    }
}

/// `arn:{partition}:iam::{account}:{user|role}{path}{name}` → (account, kind, path, name).
pub(crate) fn entity_arn_parts<'a>(
    arn: &'a str,
    partition: &str,
) -> Option<(&'a str, &'a str, String, &'a str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, p, "iam", "", account, resource] = parts.as_slice() else {
        return None;
    };
    if *p != partition {
        return None;
    }
    let (kind, rest) = resource.split_once('/')?;
    if kind != "user" && kind != "role" {
        return None;
    }
    let (path, name) = match rest.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n),
        None => ("/".to_owned(), rest),
    };
    Some((account, kind, path, name))
}

pub(crate) fn parse_max_session(s: &str) -> R<i64> {
    match s.parse::<i64>() {
        Ok(n) if (3600..=43200).contains(&n) => Ok(n),
        _ => Err(IamError::Common(CommonError::Validation(format!(
            "1 validation error detected: Value '{s}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 3600"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_arns() {
        assert_eq!(
            entity_arn_parts("arn:aws:iam::111111111111:user/bob", "aws"),
            Some(("111111111111", "user", "/".to_owned(), "bob"))
        );
        assert_eq!(
            entity_arn_parts("arn:aws:iam::111111111111:role/team/a/R", "aws"),
            Some(("111111111111", "role", "/team/a/".to_owned(), "R"))
        );
        for other in [
            "arn:aws-cn:iam::111111111111:user/bob",
            "arn:aws:sts::111111111111:assumed-role/R/s",
            "arn:aws:iam::111111111111:root",
            "arn:aws:iam::111111111111:group/G",
            "111111111111",
        ] {
            assert_eq!(entity_arn_parts(other, "aws"), None, "{other}");
        }
    }

    #[test]
    fn max_session_bounds() {
        assert_eq!(parse_max_session("3600").unwrap(), 3600);
        assert!(parse_max_session("3599").is_err());
        assert!(parse_max_session("43201").is_err());
        assert!(parse_max_session("x").is_err());
    }
}
