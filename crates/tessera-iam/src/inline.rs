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

    /// The request parameter naming the owner, and its field name in messages and audit.
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

impl IamService {
    /// Validate the owner's name, authorise `iam:{verb}{Role|User}Policy` on it, and return
    /// (owner name as given, owner ARN, owner's stored name). Authorisation comes before the
    /// existence check, as in IAM.
    async fn inline_owner<'p>(
        &self,
        owner: Owner,
        verb: &str,
        caller: &Caller,
        meta: &RequestMeta,
        p: &'p QueryParams,
    ) -> R<(&'p str, String, String)> {
        let acct = caller.account.as_str();
        let (param, field) = owner.param();
        let name = p.require(param)?;
        let (arn, stored) = match owner {
            Owner::Role => {
                validation(names::role_name(field, name))?;
                let (arn, r) = self.role_arn_for_authz(acct, name).await?;
                (arn, r.map(|r| r.name))
            }
            Owner::User => {
                validation(names::user_name(field, name))?;
                let (arn, u) = self.user_arn_for_authz(acct, name).await?;
                (arn, u.map(|u| u.name))
            }
        };
        let action = format!("iam:{verb}{}Policy", owner.word());
        let action = if verb == "List" {
            format!("{action}s")
        } else {
            action
        };
        self.allow(caller, meta, &action, &arn, ContextKeys::new())
            .await?;
        let stored = stored.ok_or_else(|| {
            IamError::NoSuchEntity(format!(
                "The {} with name {name} cannot be found.",
                owner.noun()
            ))
        })?;
        Ok((name, arn, stored))
    }

    fn policy_name(p: &QueryParams) -> R<&str> {
        let n = p.require("PolicyName")?;
        validation(names::policy_name("policyName", n))?;
        Ok(n)
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
        let policy_name = Self::policy_name(p)?;
        let doc = p.require("PolicyDocument")?;
        let (name, arn, stored) = self.inline_owner(owner, "Put", caller, meta, p).await?;
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
        let field = owner.param().1;
        Ok(Outcome {
            result_xml: String::new(),
            details: write_details(
                json!({field: name, "policyName": policy_name, "policyDocument": doc}),
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
        let policy_name = Self::policy_name(p)?;
        let (name, arn, stored) = self.inline_owner(owner, "Get", caller, meta, p).await?;
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
                json!({owner.param().1: name, "policyName": policy_name}),
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
        let policy_name = Self::policy_name(p)?;
        let (name, arn, _) = self.inline_owner(owner, "Delete", caller, meta, p).await?;
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
                json!({owner.param().1: name, "policyName": policy_name}),
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
        let (name, arn, _) = self.inline_owner(owner, "List", caller, meta, p).await?;
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
                json!({owner.param().1: name}),
                self.resource(owner.resource_type(), &arn, acct),
            ),
        })
    }
}
