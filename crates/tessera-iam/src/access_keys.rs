//! Long-term access keys (`AKIA…`) of users and of the account root.

use crate::prelude::*;
use tessera_wire::CommonError;

impl IamService {
    /// The user a key operation targets: `user_name` (the request's `UserName`), else the
    /// calling user, else the root.
    pub(crate) async fn key_owner(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> R<(Option<UserRecord>, String)> {
        let acct = caller.account.as_str();
        let name = match (user_name, &caller.principal) {
            (Some(n), _) => Some(n.to_owned()),
            (None, Principal::User { name, .. }) => Some(name.clone()),
            (None, Principal::Root) => None,
            (None, Principal::AssumedRole { .. }) => {
                return Err(IamError::Common(CommonError::Validation(
                    "Must specify userName when calling with non-User credentials".into(),
                )));
            }
        };
        match name {
            None => Ok((None, self.arn(acct, "root"))),
            Some(n) => {
                validation(names::user_name("userName", &n))?;
                let (arn, user) = self.user_arn_for_authz(acct, &n).await?;
                Ok((
                    Some(user.ok_or_else(|| {
                        IamError::NoSuchEntity(format!("The user with name {n} cannot be found."))
                    })?),
                    arn,
                ))
            }
        }
    }

    pub(crate) async fn create_access_key(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = CreateAccessKeyRequest::parse(p)?;
        if let Some(n) = req.user_name {
            let (arn, _) = self.user_arn_for_authz(acct, n).await?;
            self.allow(
                caller,
                meta,
                "iam:CreateAccessKey",
                &arn,
                ContextKeys::new(),
            )
            .await?;
        }
        let (user, arn) = self.key_owner(caller, req.user_name).await?;
        if req.user_name.is_none() {
            self.allow(
                caller,
                meta,
                "iam:CreateAccessKey",
                &arn,
                ContextKeys::new(),
            )
            .await?;
        }
        let existing = self
            .store
            .list_access_keys(acct, user.as_ref().map(|u| u.name.as_str()))
            .await?;
        if existing.len() >= MAX_KEYS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
            )));
        }
        let (rec, secret) = new_access_key(
            &self.master,
            acct,
            user.as_ref().map(|u| u.name.as_str()),
            now_secs(meta),
        );
        self.store.put_access_key(&rec).await?;
        let mut w = Writer::new();
        w.open("AccessKey");
        if let Some(u) = &user {
            w.elem("UserName", &u.name);
        }
        w.elem("AccessKeyId", &rec.access_key_id);
        w.elem("Status", &rec.status);
        w.elem("SecretAccessKey", secret.expose());
        w.elem("CreateDate", &tessera_core::iso8601(rec.created_at));
        w.close("AccessKey");
        Ok(Outcome {
            result_xml: w.finish(),
            details: EventDetails {
                user_identity: None,
                request_parameters: request_parameters(&KeyOwnerParams {
                    request: &req,
                    user_name: user.as_ref().map(|u| u.name.as_str()),
                }),
                response_elements: json!({"accessKey": {"accessKeyId": rec.access_key_id, "status": rec.status,
                    "userName": user.as_ref().map(|u| u.name.clone()), "createDate": tessera_core::iso8601(rec.created_at)}}),
                resources: vec![self.resource(
                    if user.is_some() {
                        "AWS::IAM::User"
                    } else {
                        "AWS::IAM::Account"
                    },
                    &arn,
                    acct,
                )],
                read_only: false,
                additional_event_data: serde_json::Value::Null,
            },
        })
    }

    pub(crate) async fn delete_access_key(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = DeleteAccessKeyRequest::parse(p)?;
        let id = req.access_key_id;
        let (user, arn) = self.key_owner(caller, req.user_name).await?;
        self.allow(
            caller,
            meta,
            "iam:DeleteAccessKey",
            &arn,
            ContextKeys::new(),
        )
        .await?;
        let owner_key = user.as_ref().map(|u| tessera_store::name_key(&u.name));
        match self.store.get_access_key(id).await? {
            Some(k) if k.account_id == acct && k.user_name_key == owner_key => {}
            _ => {
                return Err(IamError::NoSuchEntity(format!(
                    "The Access Key with id {id} cannot be found."
                )));
            }
        }
        self.store.delete_access_key(acct, id).await?;
        // This replica refuses the key from the next request on (others within the cache TTL).
        self.authz.credentials().forget_key(id);
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&KeyOwnerParams {
                    request: &req,
                    user_name: user.as_ref().map(|u| u.name.as_str()),
                }),
                self.resource("AWS::IAM::AccessKey", &arn, acct),
            ),
        })
    }

    pub(crate) async fn list_access_keys(&self, r: &Req<'_>) -> R<Outcome> {
        let Req {
            caller,
            meta,
            params: p,
        } = *r;
        let acct = caller.account.as_str();
        let req = ListAccessKeysRequest::parse(p)?;
        let (user, arn) = self.key_owner(caller, req.user_name).await?;
        self.allow(caller, meta, "iam:ListAccessKeys", &arn, ContextKeys::new())
            .await?;
        let keys = self
            .store
            .list_access_keys(acct, user.as_ref().map(|u| u.name.as_str()))
            .await?;
        let (page, next) = paginate(keys, p, |k| k.access_key_id.clone())?;
        let mut w = Writer::new();
        if let Some(u) = &user {
            w.elem("UserName", &u.name);
        }
        w.open("AccessKeyMetadata");
        for k in &page {
            w.open("member");
            if let Some(u) = &user {
                w.elem("UserName", &u.name);
            }
            w.elem("AccessKeyId", &k.access_key_id);
            w.elem("Status", &k.status);
            w.elem("CreateDate", &tessera_core::iso8601(k.created_at));
            w.close("member");
        }
        w.close("AccessKeyMetadata");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                request_parameters(&KeyOwnerParams {
                    request: &req,
                    user_name: user.as_ref().map(|u| u.name.as_str()),
                }),
                self.resource("AWS::IAM::User", &arn, acct),
            ),
        })
    }
}

/// CreateAccessKey. `UserName` is optional: without it the key is the calling user's (or the
/// root's). The request's `UserName` is not audited as given; see [`KeyOwnerParams`].
#[derive(Debug, Serialize)]
pub(crate) struct CreateAccessKeyRequest<'a> {
    #[serde(skip)]
    user_name: Option<&'a str>,
}

impl<'a> CreateAccessKeyRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        let user_name = p.get("UserName");
        if let Some(n) = user_name {
            validation(names::user_name("userName", n))?;
        }
        Ok(CreateAccessKeyRequest { user_name })
    }
}

/// ListAccessKeys. `UserName` is optional, as for CreateAccessKey, and validated once the
/// owner is resolved. `MaxItems` and `Marker` are read by [`paginate`] and not audited.
#[derive(Debug, Serialize)]
pub(crate) struct ListAccessKeysRequest<'a> {
    #[serde(skip)]
    user_name: Option<&'a str>,
}

impl<'a> ListAccessKeysRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        Ok(ListAccessKeysRequest {
            user_name: p.get("UserName"),
        })
    }
}

/// DeleteAccessKey. The key id is only an identifier, never a secret. `UserName` is optional,
/// validated once the owner is resolved.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteAccessKeyRequest<'a> {
    access_key_id: &'a str,
    #[serde(skip)]
    user_name: Option<&'a str>,
}

impl<'a> DeleteAccessKeyRequest<'a> {
    pub(crate) fn parse(p: &'a QueryParams) -> R<Self> {
        let id = p.require("AccessKeyId")?;
        if id.len() < 16 || id.len() > 128 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(IamError::Common(CommonError::Validation(format!(
                "1 validation error detected: Value '{id}' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w]+"
            ))));
        }
        Ok(DeleteAccessKeyRequest {
            access_key_id: id,
            user_name: p.get("UserName"),
        })
    }
}

/// The audited parameters of an access-key action: the request's own, then `userName` as
/// resolved — the key owner's stored name (the calling user's when `UserName` is absent), or
/// `null` for the account root.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyOwnerParams<'a, T> {
    #[serde(flatten)]
    request: &'a T,
    user_name: Option<&'a str>,
}

/// Make a new long-term access key for the account root (`user` = None) or a user. The
/// secret is returned once and stored sealed under the master key, bound to the key id.
pub fn new_access_key(
    master: &MasterKey,
    account: &str,
    user: Option<&str>,
    now: i64,
) -> (AccessKeyRecord, Secret) {
    let id = ids::access_key_id();
    let secret = ids::secret_access_key();
    let rec = AccessKeyRecord {
        access_key_id: id.clone(),
        account_id: account.to_owned(),
        user_name_key: user.map(tessera_store::name_key),
        secret_sealed: master.seal(secret.as_bytes(), id.as_bytes()),
        status: "Active".into(),
        created_at: now,
    };
    (rec, Secret::new(secret))
}
