//! Access grants: grantees checked against IAM and Identity Center, create, get, delete
//! and list.

use super::*;

impl AccessGrantsService {
    pub(crate) fn write_grant(&self, w: &mut Writer, g: &AgGrantRecord) {
        w.elem("CreatedAt", &iso8601(g.created_at));
        w.elem("AccessGrantId", &g.grant_id);
        w.elem(
            "AccessGrantArn",
            &self.grant_arn(&g.account_id, &g.grant_id),
        );
        w.open("Grantee");
        w.elem("GranteeType", &g.grantee_type);
        w.elem("GranteeIdentifier", &g.grantee_id);
        w.close("Grantee");
        w.elem("Permission", &g.permission);
        w.elem("AccessGrantsLocationId", &g.location_id);
        w.open("AccessGrantsLocationConfiguration");
        w.opt("S3SubPrefix", g.sub_prefix.as_deref());
        w.close("AccessGrantsLocationConfiguration");
        w.elem("GrantScope", &g.grant_scope);
        w.opt("ApplicationArn", g.application_arn.as_deref());
    }

    /// The grantee must exist: an IAM user or role of this account (other accounts' principals
    /// are taken as given), or a user or group of the associated Identity Center's store.
    pub(super) async fn check_grantee(
        &self,
        inst: &AgInstanceRecord,
        kind: GranteeKind,
        id: &str,
    ) -> R<()> {
        if id.is_empty() || id.len() > 2048 {
            return Err(AgError::InvalidGrant(
                "GranteeIdentifier must be between 1 and 2048 characters long".into(),
            ));
        }
        match kind {
            GranteeKind::Iam => {
                let (acct, what, path, name) =
                    validate::iam_principal_arn(id).ok_or_else(|| {
                        AgError::InvalidGrant(format!(
                            "The IAM grantee {id:?} is not the ARN of an IAM user or role"
                        ))
                    })?;
                if acct == inst.account_id {
                    let p = self.authz.principals();
                    let exists = if what == "role" {
                        p.role(&acct, &name).is_some_and(|r| r.record.path == path)
                    } else {
                        p.user(&acct, &name).is_some_and(|u| u.record.path == path)
                    };
                    if !exists {
                        return Err(AgError::InvalidGrant(format!(
                            "The IAM grantee {id} does not exist"
                        )));
                    }
                }
            }
            GranteeKind::DirectoryUser | GranteeKind::DirectoryGroup => {
                let ic = inst.identity_center_arn.as_deref().ok_or_else(|| {
                    AgError::InvalidGrant(
                        "Directory grantees need an IAM Identity Center instance associated with the Access Grants instance".into(),
                    )
                })?;
                // Checked again here: an association made before the organization rule
                // (or an account since moved out of the organization) validates nothing.
                let store = self
                    .usable_identity_center(&inst.account_id, ic)
                    .await
                    .map(|i| i.identity_store_id)
                    .map_err(|e| match e {
                        AgError::InvalidIdentityCenter(_) => AgError::InvalidGrant(format!(
                            "The associated Identity Center instance {ic} no longer exists"
                        )),
                        e => e,
                    })?;
                let found = if kind == GranteeKind::DirectoryUser {
                    self.identity.get_identity_user(&store, id).await?.is_some()
                } else {
                    self.identity
                        .get_identity_group(&store, id)
                        .await?
                        .is_some()
                };
                if !found {
                    return Err(AgError::InvalidGrant(format!(
                        "The {} {id} does not exist in identity store {store}",
                        if kind == GranteeKind::DirectoryUser {
                            "user"
                        } else {
                            "group"
                        }
                    )));
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn create_grant(&self, r: &Req<'_>) -> R<Reply> {
        let inst_arn = self.instance_arn(&r.account);
        self.check(r, "s3:CreateAccessGrant", &inst_arn)?;
        let e = r.xml("CreateAccessGrantRequest")?;
        let location_id = required(&e, "AccessGrantsLocationId")?;
        let grantee = e
            .child("Grantee")
            .ok_or_else(|| AgError::InvalidRequest("Missing required field Grantee".into()))?;
        let grantee_type = required(grantee, "GranteeType")?;
        let grantee_id = required(grantee, "GranteeIdentifier")?;
        let permission = required(&e, "Permission")?;
        let sub_prefix = e
            .child("AccessGrantsLocationConfiguration")
            .and_then(|c| c.child_text("S3SubPrefix"));
        let application_arn = e.child_text("ApplicationArn");
        let prefix_type = e.child_text("S3PrefixType");
        let tags = parse_tags(e.child("Tags"))?;
        let kind = GranteeKind::parse(grantee_type).ok_or_else(|| {
            AgError::InvalidRequest(format!(
                "GranteeType must be one of IAM, DIRECTORY_USER, DIRECTORY_GROUP, not {grantee_type:?}"
            ))
        })?;
        if GrantPermission::parse(permission).is_none() {
            return Err(AgError::InvalidRequest(format!(
                "Permission must be one of READ, WRITE, READWRITE, not {permission:?}"
            )));
        }
        let object = match prefix_type {
            None => false,
            Some("Object") => true,
            Some(other) => {
                return Err(AgError::InvalidRequest(format!(
                    "S3PrefixType must be Object, not {other:?}"
                )));
            }
        };
        if let Some(a) = application_arn
            && !validate::application_arn_ok(a)
        {
            return Err(AgError::InvalidGrant(format!(
                "The application ARN {a:?} is not valid"
            )));
        }
        if !validate::id_ok(location_id) {
            return Err(AgError::InvalidRequest(format!(
                "The Access Grants location id {location_id:?} is not valid"
            )));
        }
        let inst = self.instance(&r.account).await?;
        let location = self.location(r, location_id).await?;
        let scope = validate::grant_scope(&location.location_scope, sub_prefix, object)?;
        if let Some(a) = application_arn
            && self
                .identity
                .get_sso_object(a)
                .await?
                .is_none_or(|o| o.kind != "app")
        {
            return Err(AgError::InvalidGrant(format!(
                "The Identity Center application {a} does not exist"
            )));
        }
        self.check_grantee(&inst, kind, grantee_id).await?;
        let rec = AgGrantRecord {
            account_id: r.account.clone(),
            grant_id: uuid::Uuid::new_v4().to_string(),
            location_id: location_id.to_owned(),
            sub_prefix: sub_prefix.map(str::to_owned),
            grant_scope: scope,
            grantee_type: grantee_type.to_owned(),
            grantee_id: grantee_id.to_owned(),
            permission: permission.to_owned(),
            application_arn: application_arn.map(str::to_owned),
            prefix_type: prefix_type.map(str::to_owned),
            tags,
            created_at: r.meta.now.timestamp(),
        };
        match self.store.create_ag_grant(&rec, self.quotas.grants).await {
            Err(StoreError::Conflict) => return Err(AgError::GrantExists),
            Err(StoreError::LimitExceeded) => return Err(AgError::GrantsQuota(self.quotas.grants)),
            Err(StoreError::Constraint(_)) => {
                return Err(AgError::NoSuchLocation(location_id.to_owned()));
            }
            other => other?,
        }
        self.fold(GrantChange::Grant(rec.clone())).await;
        let arn = self.grant_arn(&r.account, &rec.grant_id);
        let xml = document("CreateAccessGrantResult", |w| self.write_grant(w, &rec));
        Ok(xml_reply(
            xml,
            details(
                &r.account,
                json!({"accessGrantsLocationId": location_id, "s3SubPrefix": sub_prefix,
                    "granteeType": grantee_type, "granteeIdentifier": grantee_id,
                    "permission": permission, "applicationArn": application_arn,
                    "s3PrefixType": prefix_type}),
                &[(GRANT_TYPE, &arn)],
                false,
            ),
        ))
    }

    pub(super) async fn grant(&self, r: &Req<'_>, id: &str) -> R<AgGrantRecord> {
        if !validate::id_ok(id) {
            return Err(AgError::InvalidRequest(format!(
                "The access grant id {id:?} is not valid"
            )));
        }
        self.store
            .get_ag_grant(&r.account, id)
            .await?
            .ok_or_else(|| AgError::NoSuchGrant(id.to_owned()))
    }

    pub(crate) async fn get_grant(&self, r: &Req<'_>, id: &str) -> R<Reply> {
        let arn = self.grant_arn(&r.account, id);
        self.check(r, "s3:GetAccessGrant", &arn)?;
        let g = self.grant(r, id).await?;
        let xml = document("GetAccessGrantResult", |w| self.write_grant(w, &g));
        Ok(xml_reply(
            xml,
            details(&r.account, json!({"id": id}), &[(GRANT_TYPE, &arn)], true),
        ))
    }

    pub(crate) async fn delete_grant(&self, r: &Req<'_>, id: &str) -> R<Reply> {
        let arn = self.grant_arn(&r.account, id);
        self.check(r, "s3:DeleteAccessGrant", &arn)?;
        let g = self.grant(r, id).await?;
        if !self.store.delete_ag_grant(&r.account, id).await? {
            return Err(AgError::NoSuchGrant(id.to_owned()));
        }
        self.fold(GrantChange::GrantDeleted(g)).await;
        Ok(empty_reply(details(
            &r.account,
            json!({"id": id}),
            &[(GRANT_TYPE, &arn)],
            false,
        )))
    }

    pub(crate) async fn list_grants(&self, r: &Req<'_>) -> R<Reply> {
        let inst_arn = self.instance_arn(&r.account);
        self.check(r, "s3:ListAccessGrants", &inst_arn)?;
        self.instance(&r.account).await?;
        let f_type = r.param("granteetype");
        let f_id = r.param("granteeidentifier");
        let f_perm = r.param("permission");
        let f_scope = r.param("grantscope");
        let f_app = r.param("application_arn");
        if let Some(t) = f_type
            && GranteeKind::parse(t).is_none()
        {
            return Err(AgError::InvalidRequest(format!(
                "granteetype must be one of IAM, DIRECTORY_USER, DIRECTORY_GROUP, not {t:?}"
            )));
        }
        if let Some(p) = f_perm
            && GrantPermission::parse(p).is_none()
        {
            return Err(AgError::InvalidRequest(format!(
                "permission must be one of READ, WRITE, READWRITE, not {p:?}"
            )));
        }
        let all: Vec<AgGrantRecord> = self
            .store
            .list_ag_grants(&r.account)
            .await?
            .into_iter()
            .filter(|g| f_type.is_none_or(|t| g.grantee_type == t))
            .filter(|g| f_id.is_none_or(|i| g.grantee_id == i))
            .filter(|g| f_perm.is_none_or(|p| g.permission == p))
            .filter(|g| f_scope.is_none_or(|s| g.grant_scope == s))
            .filter(|g| f_app.is_none_or(|a| g.application_arn.as_deref() == Some(a)))
            .collect();
        let (items, next) = page(all, r)?;
        let xml = document("ListAccessGrantsResult", |w| {
            w.opt("NextToken", next.as_deref());
            w.open("AccessGrantsList");
            for g in &items {
                w.open("AccessGrant");
                self.write_grant(w, g);
                w.close("AccessGrant");
            }
            w.close("AccessGrantsList");
        });
        Ok(xml_reply(
            xml,
            details(
                &r.account,
                json!({"granteeType": f_type, "granteeIdentifier": f_id, "permission": f_perm,
                    "grantScope": f_scope, "applicationArn": f_app}),
                &[(INSTANCE_TYPE, &inst_arn)],
                true,
            ),
        ))
    }
}
