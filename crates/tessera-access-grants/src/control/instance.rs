//! The Access Grants instance: create, get, list, delete; its Identity Center association;
//! its resource policy.

use super::*;

impl AccessGrantsService {
    pub(super) async fn instance(&self, account: &str) -> R<AgInstanceRecord> {
        self.store
            .get_ag_instance(account)
            .await?
            .ok_or(AgError::InstanceNotExists)
    }

    /// The Identity Center instance `arn` as `account` may use it: its own, or the instance
    /// of an account in its organization (as an organization instance is shared in AWS).
    /// Another tenant's instance is answered exactly as one that does not exist, so neither
    /// the association nor grantee validation tells one tenant about another's ids.
    pub(super) async fn usable_identity_center(
        &self,
        account: &str,
        arn: &str,
    ) -> R<tessera_store::InstanceRecord> {
        let missing = || {
            AgError::InvalidIdentityCenter(format!(
                "The Identity Center instance {arn} does not exist"
            ))
        };
        let inst = self.identity.get_instance(arn).await?.ok_or_else(missing)?;
        if inst.owner_account_id != account {
            let mine = self.identity.account_organization(account).await?;
            let theirs = self
                .identity
                .account_organization(&inst.owner_account_id)
                .await?;
            if mine.is_none() || mine != theirs {
                return Err(missing());
            }
        }
        Ok(inst)
    }

    /// Resolve an Identity Center instance ARN for `account`: it must exist and be usable by
    /// the account. Returns the application ARN made for the association
    /// (`arn:…:sso::<owner>:application/<ssoins>/apl-…`).
    pub(super) async fn identity_center_application(&self, account: &str, arn: &str) -> R<String> {
        if !validate::identity_center_arn_ok(arn) {
            return Err(AgError::InvalidIdentityCenter(format!(
                "The Identity Center instance ARN {arn} is not valid"
            )));
        }
        let inst = self.usable_identity_center(account, arn).await?;
        let ssoins = arn.rsplit('/').next().unwrap_or_default();
        let suffix: String = (0..16)
            .map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16usize)]))
            .collect();
        Ok(format!(
            "arn:{}:sso::{}:application/{ssoins}/apl-{suffix}",
            self.deployment.partition, inst.owner_account_id
        ))
    }

    pub(super) fn write_instance(&self, w: &mut Writer, i: &AgInstanceRecord) {
        w.elem("CreatedAt", &iso8601(i.created_at));
        w.elem("AccessGrantsInstanceId", "default");
        w.elem("AccessGrantsInstanceArn", &self.instance_arn(&i.account_id));
        w.opt("IdentityCenterArn", i.identity_center_arn.as_deref());
        w.opt(
            "IdentityCenterInstanceArn",
            i.identity_center_arn.as_deref(),
        );
        w.opt("IdentityCenterApplicationArn", i.application_arn.as_deref());
    }

    pub(crate) async fn create_instance(&self, r: &Req<'_>) -> R<Reply> {
        let arn = self.instance_arn(&r.account);
        self.check(r, "s3:CreateAccessGrantsInstance", &arn)?;
        let (ic, tags) = if r.body.iter().all(u8::is_ascii_whitespace) {
            (None, Vec::new())
        } else {
            let e = r.xml("CreateAccessGrantsInstanceRequest")?;
            (
                e.child_text("IdentityCenterArn").map(str::to_owned),
                parse_tags(e.child("Tags"))?,
            )
        };
        let application_arn = match &ic {
            Some(a) => Some(self.identity_center_application(&r.account, a).await?),
            None => None,
        };
        let rec = AgInstanceRecord {
            account_id: r.account.clone(),
            identity_center_arn: ic.clone(),
            application_arn,
            resource_policy: None,
            policy_organization: None,
            policy_created_at: None,
            tags,
            created_at: r.meta.now.timestamp(),
        };
        match self.store.create_ag_instance(&rec).await {
            Err(StoreError::Conflict) => return Err(AgError::InstanceExists),
            other => other?,
        }
        self.fold(GrantChange::Instance(rec.clone())).await;
        let xml = document("CreateAccessGrantsInstanceResult", |w| {
            self.write_instance(w, &rec)
        });
        Ok(xml_reply(
            xml,
            details(
                &r.account,
                json!({"identityCenterArn": ic}),
                &[(INSTANCE_TYPE, &arn)],
                false,
            ),
        ))
    }

    pub(crate) async fn get_instance(&self, r: &Req<'_>, list: bool) -> R<Reply> {
        let arn = self.instance_arn(&r.account);
        let action = if list {
            "s3:ListAccessGrantsInstances"
        } else {
            "s3:GetAccessGrantsInstance"
        };
        self.check(r, action, &arn)?;
        let d = details(&r.account, Value::Null, &[(INSTANCE_TYPE, &arn)], true);
        if list {
            let found = self.store.get_ag_instance(&r.account).await?;
            let (items, next) = page(found.into_iter().collect(), r)?;
            let xml = document("ListAccessGrantsInstancesResult", |w| {
                w.opt("NextToken", next.as_deref());
                w.open("AccessGrantsInstancesList");
                for i in &items {
                    w.open("AccessGrantsInstance");
                    self.write_instance(w, i);
                    w.close("AccessGrantsInstance");
                }
                w.close("AccessGrantsInstancesList");
            });
            return Ok(xml_reply(xml, d));
        }
        let i = self.instance(&r.account).await?;
        let xml = document("GetAccessGrantsInstanceResult", |w| {
            self.write_instance(w, &i)
        });
        Ok(xml_reply(xml, d))
    }

    pub(crate) async fn delete_instance(&self, r: &Req<'_>) -> R<Reply> {
        let arn = self.instance_arn(&r.account);
        self.check(r, "s3:DeleteAccessGrantsInstance", &arn)?;
        let i = self.instance(&r.account).await?;
        if i.identity_center_arn.is_some() {
            return Err(AgError::InstanceNotEmpty(
                "Please dissociate the IAM Identity Center instance before deleting the Access Grants instance".into(),
            ));
        }
        match self.store.delete_ag_instance(&r.account).await {
            Err(StoreError::Constraint(_)) => {
                return Err(AgError::InstanceNotEmpty(
                    "Please clean up locations before deleting the access grants instance".into(),
                ));
            }
            Ok(false) => return Err(AgError::InstanceNotExists),
            other => {
                other?;
            }
        }
        self.fold(GrantChange::InstanceDeleted(r.account.clone()))
            .await;
        Ok(empty_reply(details(
            &r.account,
            Value::Null,
            &[(INSTANCE_TYPE, &arn)],
            false,
        )))
    }

    pub(crate) async fn associate(&self, r: &Req<'_>) -> R<Reply> {
        let arn = self.instance_arn(&r.account);
        self.check(r, "s3:AssociateAccessGrantsIdentityCenter", &arn)?;
        let e = r.xml("AssociateAccessGrantsIdentityCenterRequest")?;
        let ic = required(&e, "IdentityCenterArn")?.to_owned();
        let mut i = self.instance(&r.account).await?;
        match &i.identity_center_arn {
            Some(a) if *a == ic => {}
            Some(a) => {
                return Err(AgError::InvalidRequest(format!(
                    "The Access Grants instance is already associated with {a}; dissociate it first"
                )));
            }
            None => {
                i.application_arn = Some(self.identity_center_application(&r.account, &ic).await?);
                i.identity_center_arn = Some(ic.clone());
                self.store.update_ag_instance(&i).await?;
                self.fold(GrantChange::Instance(i)).await;
            }
        }
        Ok(empty_reply(details(
            &r.account,
            json!({"identityCenterArn": ic}),
            &[(INSTANCE_TYPE, &arn)],
            false,
        )))
    }

    pub(crate) async fn dissociate(&self, r: &Req<'_>) -> R<Reply> {
        let arn = self.instance_arn(&r.account);
        self.check(r, "s3:DissociateAccessGrantsIdentityCenter", &arn)?;
        let mut i = self.instance(&r.account).await?;
        if i.identity_center_arn.is_some() {
            i.identity_center_arn = None;
            i.application_arn = None;
            self.store.update_ag_instance(&i).await?;
            self.fold(GrantChange::Instance(i)).await;
        }
        Ok(empty_reply(details(
            &r.account,
            Value::Null,
            &[(INSTANCE_TYPE, &arn)],
            false,
        )))
    }

    pub(super) fn write_policy(w: &mut Writer, i: &AgInstanceRecord) {
        w.opt("Policy", i.resource_policy.as_deref());
        w.opt("Organization", i.policy_organization.as_deref());
        if let Some(t) = i.policy_created_at {
            w.elem("CreatedAt", &iso8601(t));
        }
    }

    pub(crate) async fn put_policy(&self, r: &Req<'_>) -> R<Reply> {
        let arn = self.instance_arn(&r.account);
        self.check(r, "s3:PutAccessGrantsInstanceResourcePolicy", &arn)?;
        let e = r.xml("PutAccessGrantsInstanceResourcePolicyRequest")?;
        let doc = required(&e, "Policy")?;
        if doc.chars().count() > 350_000 {
            return Err(AgError::InvalidResourcePolicy(
                "The resource policy is longer than 350000 characters".into(),
            ));
        }
        Policy::parse(doc, PolicyKind::Resource)
            .map_err(|err| AgError::InvalidResourcePolicy(format!("Invalid policy: {err}")))?;
        let org = e.child_text("Organization").map(str::to_owned);
        if let Some(o) = &org {
            let ok = o.strip_prefix("o-").is_some_and(|rest| {
                (10..=32).contains(&rest.len())
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            if !ok {
                return Err(AgError::InvalidRequest(format!(
                    "Organization {o:?} does not match ^o-[a-z0-9]{{10,32}}$"
                )));
            }
        }
        let mut i = self.instance(&r.account).await?;
        i.resource_policy = Some(doc.to_owned());
        i.policy_organization = org;
        i.policy_created_at = Some(r.meta.now.timestamp());
        self.store.update_ag_instance(&i).await?;
        self.fold(GrantChange::Instance(i.clone())).await;
        let xml = document("PutAccessGrantsInstanceResourcePolicyResult", |w| {
            Self::write_policy(w, &i)
        });
        Ok(xml_reply(
            xml,
            details(
                &r.account,
                json!({"policy": doc, "organization": i.policy_organization}),
                &[(INSTANCE_TYPE, &arn)],
                false,
            ),
        ))
    }

    pub(crate) async fn get_policy(&self, r: &Req<'_>) -> R<Reply> {
        let arn = self.instance_arn(&r.account);
        self.check(r, "s3:GetAccessGrantsInstanceResourcePolicy", &arn)?;
        let i = self.instance(&r.account).await?;
        if i.resource_policy.is_none() {
            return Err(AgError::PolicyNotExists);
        }
        let xml = document("GetAccessGrantsInstanceResourcePolicyResult", |w| {
            Self::write_policy(w, &i)
        });
        Ok(xml_reply(
            xml,
            details(&r.account, Value::Null, &[(INSTANCE_TYPE, &arn)], true),
        ))
    }

    pub(crate) async fn delete_policy(&self, r: &Req<'_>) -> R<Reply> {
        let arn = self.instance_arn(&r.account);
        self.check(r, "s3:DeleteAccessGrantsInstanceResourcePolicy", &arn)?;
        let mut i = self.instance(&r.account).await?;
        if i.resource_policy.is_some() {
            i.resource_policy = None;
            i.policy_organization = None;
            i.policy_created_at = None;
            self.store.update_ag_instance(&i).await?;
            self.fold(GrantChange::Instance(i)).await;
        }
        Ok(empty_reply(details(
            &r.account,
            Value::Null,
            &[(INSTANCE_TYPE, &arn)],
            false,
        )))
    }
}
