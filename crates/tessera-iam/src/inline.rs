//! Inline policies of roles and users: Put/Get/Delete/List{Role,User}Policy share one
//! implementation, parameterised by the kind of owner.

use crate::prelude::*;

/// Who owns an inline policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Role,
    User,
}

impl Owner {
    /// `Role` / `User`, as in action and parameter names.
    fn word(self) -> &'static str {
        match self {
            Owner::Role => "Role",
            Owner::User => "User",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Owner::Role => "role",
            Owner::User => "user",
        }
    }

    /// The request parameter naming the owner, and its field name in messages (the audit's
    /// field name is [`OwnerName`]'s and is the same).
    fn param(self) -> (&'static str, &'static str) {
        match self {
            Owner::Role => ("RoleName", "roleName"),
            Owner::User => ("UserName", "userName"),
        }
    }

    fn resource_type(self) -> &'static str {
        match self {
            Owner::Role => "AWS::IAM::Role",
            Owner::User => "AWS::IAM::User",
        }
    }

    /// AWS's quota on the total size of an owner's inline policies.
    fn aggregate_max(self) -> usize {
        match self {
            Owner::Role => tessera_policy::ROLE_INLINE_AGGREGATE_MAX,
            Owner::User => tessera_policy::USER_INLINE_AGGREGATE_MAX,
        }
    }
}

/// An inline policy's owner, named as in the request; audited as `roleName` or `userName`.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) enum OwnerName<'a> {
    #[serde(rename = "roleName")]
    Role(&'a str),
    #[serde(rename = "userName")]
    User(&'a str),
}

impl<'a> OwnerName<'a> {
    /// `RoleName` / `UserName`, required and validated.
    fn parse(owner: Owner, p: &'a QueryParams) -> R<Self> {
        let (param, field) = owner.param();
        let name = p.require(param)?;
        Ok(match owner {
            Owner::Role => {
                validation(names::role_name(field, name))?;
                OwnerName::Role(name)
            }
            Owner::User => {
                validation(names::user_name(field, name))?;
                OwnerName::User(name)
            }
        })
    }

    fn owner(self) -> Owner {
        match self {
            OwnerName::Role(_) => Owner::Role,
            OwnerName::User(_) => Owner::User,
        }
    }

    fn name(self) -> &'a str {
        match self {
            OwnerName::Role(n) | OwnerName::User(n) => n,
        }
    }
}

/// `PolicyName`, required and validated.
fn policy_name_param(p: &QueryParams) -> R<&str> {
    let n = p.require("PolicyName")?;
    validation(names::policy_name("policyName", n))?;
    Ok(n)
}

/// PutRolePolicy and PutUserPolicy.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PutInlinePolicyRequest<'a> {
    #[serde(flatten)]
    owner: OwnerName<'a>,
    policy_name: &'a str,
    policy_document: &'a str,
}

impl<'a> PutInlinePolicyRequest<'a> {
    pub(crate) fn parse(owner: Owner, p: &'a QueryParams) -> R<Self> {
        let policy_name = policy_name_param(p)?;
        let policy_document = p.require("PolicyDocument")?;
        Ok(PutInlinePolicyRequest {
            owner: OwnerName::parse(owner, p)?,
            policy_name,
            policy_document,
        })
    }
}

/// Get{Role,User}Policy and Delete{Role,User}Policy.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InlinePolicyRequest<'a> {
    #[serde(flatten)]
    owner: OwnerName<'a>,
    policy_name: &'a str,
}

impl<'a> InlinePolicyRequest<'a> {
    pub(crate) fn parse(owner: Owner, p: &'a QueryParams) -> R<Self> {
        let policy_name = policy_name_param(p)?;
        Ok(InlinePolicyRequest {
            owner: OwnerName::parse(owner, p)?,
            policy_name,
        })
    }
}

/// List{Role,User}Policies. `MaxItems` and `Marker` are read by [`paginate`], not audited.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListInlinePoliciesRequest<'a> {
    #[serde(flatten)]
    owner: OwnerName<'a>,
}

impl<'a> ListInlinePoliciesRequest<'a> {
    pub(crate) fn parse(owner: Owner, p: &'a QueryParams) -> R<Self> {
        Ok(ListInlinePoliciesRequest {
            owner: OwnerName::parse(owner, p)?,
        })
    }
}

impl IamService {
    /// Authorise `iam:{verb}{Role|User}Policy` on the (already validated) owner, and return
    /// (owner ARN, owner's stored name). Authorisation comes before the existence check, as
    /// in IAM.
    async fn inline_owner(
        &self,
        owner: OwnerName<'_>,
        verb: &str,
        caller: &Caller,
        meta: &RequestMeta,
    ) -> R<(String, String)> {
        let acct = caller.account.as_str();
        let name = owner.name();
        let (arn, stored) = match owner {
            OwnerName::Role(_) => {
                let (arn, r) = self.role_arn_for_authz(acct, name).await?;
                (arn, r.map(|r| r.name))
            }
            OwnerName::User(_) => {
                let (arn, u) = self.user_arn_for_authz(acct, name).await?;
                (arn, u.map(|u| u.name))
            }
        };
        let owner = owner.owner();
        // IAM's action names: iam:PutRolePolicy, …, and iam:ListRolePolicies (not …Policys).
        let action = if verb == "List" {
            format!("iam:List{}Policies", owner.word())
        } else {
            format!("iam:{verb}{}Policy", owner.word())
        };
        self.allow(caller, meta, &action, &arn, ContextKeys::new())
            .await?;
        let stored = stored.ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The {} with name {name} cannot be found.",
                owner.noun()
            ))
        })?;
        Ok((arn, stored))
    }

    fn no_such_policy(owner: Owner, policy_name: &str) -> IamError {
        IamError::NoSuchEntity(format!(
            "The {} policy with name {policy_name} cannot be found.",
            owner.noun()
        ))
    }

    async fn stored_inline(
        &self,
        owner: Owner,
        acct: &str,
        name: &str,
    ) -> R<Vec<(String, String)>> {
        Ok(match owner {
            Owner::Role => self.store.list_role_policies(acct, name).await?,
            Owner::User => self.store.list_user_policies(acct, name).await?,
        })
    }

    pub(crate) async fn put_inline(
        &self,
        owner: Owner,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let req = PutInlinePolicyRequest::parse(owner, p)?;
        let (name, policy_name, doc) = (req.owner.name(), req.policy_name, req.policy_document);
        let (arn, stored) = self.inline_owner(req.owner, "Put", caller, meta).await?;
        let max = owner.aggregate_max();
        Policy::parse_with_limit(doc, PolicyKind::Identity, Some(max))?;
        let others: usize = self
            .stored_inline(owner, acct, name)
            .await?
            .iter()
            .filter(|(n, _)| n != policy_name)
            .map(|(_, d)| tessera_policy::policy_size(d))
            .sum();
        if others + tessera_policy::policy_size(doc) > max {
            return Err(IamError::LimitExceeded(format!(
                "Maximum policy size of {max} bytes exceeded for {} {stored}",
                owner.noun()
            )));
        }
        match owner {
            Owner::Role => {
                self.store
                    .put_role_policy(acct, name, policy_name, doc)
                    .await?
            }
            Owner::User => {
                self.store
                    .put_user_policy(acct, name, policy_name, doc)
                    .await?
            }
        }
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&req),
                self.resource(owner.resource_type(), &arn, acct),
            ),
        })
    }

    pub(crate) async fn get_inline(
        &self,
        owner: Owner,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let req = InlinePolicyRequest::parse(owner, p)?;
        let (name, policy_name) = (req.owner.name(), req.policy_name);
        let (arn, stored) = self.inline_owner(req.owner, "Get", caller, meta).await?;
        let doc = match owner {
            Owner::Role => self.store.get_role_policy(acct, name, policy_name).await?,
            Owner::User => self.store.get_user_policy(acct, name, policy_name).await?,
        }
        .ok_or_else(|| Self::no_such_policy(owner, policy_name))?;
        let mut w = Writer::new();
        w.elem(owner.param().0, &stored);
        w.elem("PolicyName", policy_name);
        w.elem("PolicyDocument", &render::encode_document(&doc));
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                request_parameters(&req),
                self.resource(owner.resource_type(), &arn, acct),
            ),
        })
    }

    pub(crate) async fn delete_inline(
        &self,
        owner: Owner,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let req = InlinePolicyRequest::parse(owner, p)?;
        let (name, policy_name) = (req.owner.name(), req.policy_name);
        let (arn, _) = self.inline_owner(req.owner, "Delete", caller, meta).await?;
        let deleted = match owner {
            Owner::Role => {
                self.store
                    .delete_role_policy(acct, name, policy_name)
                    .await?
            }
            Owner::User => {
                self.store
                    .delete_user_policy(acct, name, policy_name)
                    .await?
            }
        };
        if !deleted {
            return Err(Self::no_such_policy(owner, policy_name));
        }
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                request_parameters(&req),
                self.resource(owner.resource_type(), &arn, acct),
            ),
        })
    }

    pub(crate) async fn list_inline(
        &self,
        owner: Owner,
        caller: &Caller,
        meta: &RequestMeta,
        p: &QueryParams,
    ) -> R<Outcome> {
        let acct = caller.account.as_str();
        let req = ListInlinePoliciesRequest::parse(owner, p)?;
        let name = req.owner.name();
        let (arn, _) = self.inline_owner(req.owner, "List", caller, meta).await?;
        let names: Vec<String> = self
            .stored_inline(owner, acct, name)
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let (page, next) = paginate(names, p, |n| n.clone())?;
        let mut w = Writer::new();
        w.open("PolicyNames");
        for n in &page {
            w.elem("member", n);
        }
        w.close("PolicyNames");
        page_footer(&mut w, next);
        Ok(Outcome {
            result_xml: w.finish(),
            details: read_details(
                request_parameters(&req),
                self.resource(owner.resource_type(), &arn, acct),
            ),
        })
    }
}
