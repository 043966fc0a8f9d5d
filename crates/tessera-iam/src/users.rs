//! IAM users.

use crate::prelude::*;
use tessera_wire::CommonError;

impl IamService {
    pub(crate) async fn user_arn_for_authz(
        &self,
        acct: &str,
        name: &str,
    ) -> R<(String, Option<UserRecord>)> {
        let user = self.store.get_user(acct, name).await?;
        let path = user
            .as_ref()
            .map(|u| u.path.clone())
            .unwrap_or_else(|| "/".into());
        let shown = user
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_else(|| name.to_owned());
        Ok((self.user_resource(acct, &path, &shown), user))
    }

    pub(crate) async fn create_user(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = CreateUserRequest::parse(p)?;
        let (name, path, boundary) = (req.user_name, req.path, req.permissions_boundary);
        let arn = self.user_resource(acct, path, name);
        let mut extra = ContextKeys::new();
        if let Some(b) = boundary {
            extra.insert("iam:PermissionsBoundary", b);
        }
        self.allow(caller, meta, "iam:CreateUser", &arn, extra)
            .await?;
        if let Some(b) = boundary {
            self.check_boundary(acct, b).await?;
        }
        let user = UserRecord {
            account_id: acct.to_owned(),
            name: name.to_owned(),
            user_id: ids::user_id(),
            path: path.to_owned(),
            permissions_boundary: boundary.map(str::to_owned),
            tags: req.tags.clone(),
            created_at: now_secs(meta),
        };
        match self.store.create_user(&user).await {
            Err(tessera_store::StoreError::Conflict) => {
                return Err(IamError::EntityAlreadyExists(format!(
                    "User with name {name} already exists."
                )));
            }
            r => r?,
        }
        let mut w = Writer::new();
        render::user(&mut w, &self.deployment, &user);
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: request_parameters(&req),
                response_elements: json!({"user": {"arn": arn, "userId": user.user_id, "userName": name, "path": path}}),
                resources: vec![self.resource("AWS::IAM::User", &arn, acct)],
                read_only: false,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }

    pub(crate) async fn get_user(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = GetUserRequest::parse(p)?;
        // Without UserName, GetUser describes the caller.
        let name = match (req.user_name, &caller.principal) {
            (Some(n), _) => n.to_owned(),
            (None, Principal::User { name, .. }) => name.clone(),
            (None, Principal::Root) => {
                let mut w = Writer::new();
                w.open("User");
                w.elem("UserId", caller.account.as_str());
                w.elem("Arn", &caller.arn(&self.deployment.partition));
                w.elem("CreateDate", &tessera_core::iso8601(0));
                w.close("User");
                return Ok(Outcome {
                    result_xml: w.finish(),
                    details: read_details(
                        request_parameters(&GetUserRequest { user_name: None }),
                        self.account_resource(acct),
                    ),
                });
            }
            (None, Principal::AssumedRole { .. }) => {
                return Err(IamError::Common(CommonError::Validation(
                    "Must specify userName when calling with non-User credentials".into(),
                )));
            }
        };
        validation(names::user_name("userName", &name))?;
        let (arn, user) = self.user_arn_for_authz(acct, &name).await?;
        self.allow(caller, meta, "iam:GetUser", &arn, ContextKeys::new())
            .await?;
        let user = user.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
        })?;
        let mut w = Writer::new();
        render::user(&mut w, &self.deployment, &user);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                request_parameters(&GetUserRequest {
                    user_name: Some(&name),
                }),
                self.resource("AWS::IAM::User", &arn, acct),
            ),
        })
    }

    pub(crate) async fn list_users(&self, r: &Req<'_>) -> R<Outcome> {
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
            "iam:ListUsers",
            &self.arn(acct, "user/"),
            ContextKeys::new(),
        )
        .await?;
        let users: Vec<UserRecord> = self
            .store
            .list_users(acct)
            .await?
            .into_iter()
            .filter(|u| u.path.starts_with(prefix))
            .collect();
        let (page, next) = paginate(users, p, |u| u.name.to_ascii_lowercase())?;
        let mut w = Writer::new();
        w.open("Users");
        for u in &page {
            w.open("member");
            render::user_fields(&mut w, &self.deployment, u);
            w.close("member");
        }
        w.close("Users");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(request_parameters(&req), self.account_resource(acct)),
        })
    }

    pub(crate) async fn delete_user(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = UserNameRequest::parse(p)?;
        let name = req.user_name;
        let (arn, user) = self.user_arn_for_authz(acct, name).await?;
        self.allow(caller, meta, "iam:DeleteUser", &arn, ContextKeys::new())
            .await?;
        user.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
        })?;
        if !self.store.list_user_policies(acct, name).await?.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        if !self
            .store
            .list_access_keys(acct, Some(name))
            .await?
            .is_empty()
        {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete access keys first.".into(),
            ));
        }
        self.store.delete_user(acct, name).await?;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&req),
                self.resource("AWS::IAM::User", &arn, acct),
            ),
        })
    }
}

/// `UserName`, required and validated as a user name.
pub(crate) fn user_name_param(p: &QueryParams) -> R<&str> {
    let name = p.require("UserName")?;
    validation(names::user_name("userName", name))?;
    Ok(name)
}

/// CreateUser. An absent permissions boundary is audited as `null`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateUserRequest<'a> {
    user_name: &'a str,
    path: &'a str,
    permissions_boundary: Option<&'a str>,
    #[serde(serialize_with = "serialize_tags")]
    tags: Vec<(String, String)>,
}

impl<'a> CreateUserRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        let user_name = user_name_param(p)?;
        let path = p.get("Path").unwrap_or("/");
        validation(names::path("path", path))?;
        let permissions_boundary = p.get("PermissionsBoundary");
        let tags = parse_tags(p)?;
        Ok(CreateUserRequest {
            user_name,
            path,
            permissions_boundary,
            tags,
        })
    }
}

/// GetUser. `UserName` is optional (the caller describes itself) and is validated once the
/// user is known. The audited `userName` is the user described, the calling user's own name
/// when `UserName` is absent; for the account root there is none, and the parameters are `{}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetUserRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
}

impl<'a> GetUserRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(GetUserRequest {
            user_name: p.get("UserName"),
        })
    }
}

/// DeleteUser.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserNameRequest<'a> {
    user_name: &'a str,
}

impl<'a> UserNameRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(UserNameRequest {
            user_name: user_name_param(p)?,
        })
    }
}
