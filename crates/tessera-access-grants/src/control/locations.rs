//! Access Grants locations: their IAM role, create, get, update, delete and list.

use super::*;

impl AccessGrantsService {
    /// The location role: a role ARN, existing when it is in this deployment's account, and
    /// one the caller may pass (`iam:PassRole`).
    pub(super) fn check_location_role(&self, r: &Req<'_>, role_arn: &str) -> R<()> {
        let (acct, path, name) = validate::role_arn(role_arn).ok_or_else(|| {
            AgError::InvalidIamRole(format!(
                "The IAM role ARN {role_arn:?} is not valid: expected arn:aws:iam::<account>:role/<name>"
            ))
        })?;
        if acct == r.account
            && self
                .authz
                .principals()
                .role(&acct, &name)
                .filter(|e| e.record.path == path)
                .is_none()
        {
            return Err(AgError::InvalidIamRole(format!(
                "The IAM role {role_arn} does not exist"
            )));
        }
        let mut extra = ContextKeys::new();
        extra.insert("iam:PassedToService", crate::SERVICE_PRINCIPAL);
        self.authz
            .check(
                r.caller,
                r.meta,
                tessera_authz::Access {
                    action: "iam:PassRole",
                    resource: role_arn,
                    resource_account: &acct,
                    resource_policy: None,
                    extra,
                },
            )
            .map_err(|d| AgError::Common(CommonError::AccessDenied(d.message)))
    }

    pub(super) fn write_location(&self, w: &mut Writer, l: &AgLocationRecord) {
        w.elem("CreatedAt", &iso8601(l.created_at));
        w.elem("AccessGrantsLocationId", &l.location_id);
        w.elem(
            "AccessGrantsLocationArn",
            &self.location_arn(&l.account_id, &l.location_id),
        );
        w.elem("LocationScope", &l.location_scope);
        w.elem("IAMRoleArn", &l.iam_role_arn);
    }

    pub(crate) async fn create_location(&self, r: &Req<'_>) -> R<Reply> {
        let inst_arn = self.instance_arn(&r.account);
        self.check(r, "s3:CreateAccessGrantsLocation", &inst_arn)?;
        let e = r.xml("CreateAccessGrantsLocationRequest")?;
        let scope = required(&e, "LocationScope")?;
        let role = required(&e, "IAMRoleArn")?;
        let tags = parse_tags(e.child("Tags"))?;
        validate::location_scope(scope)?;
        self.instance(&r.account).await?;
        self.check_location_role(r, role)?;
        let id = if scope == "s3://" {
            "default".to_owned()
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        let rec = AgLocationRecord {
            account_id: r.account.clone(),
            location_id: id,
            location_scope: scope.to_owned(),
            iam_role_arn: role.to_owned(),
            tags,
            created_at: r.meta.now.timestamp(),
        };
        match self
            .store
            .create_ag_location(&rec, self.quotas.locations)
            .await
        {
            Err(StoreError::Conflict) => {
                return Err(AgError::LocationExists(format!(
                    "An Access Grants location with the scope {scope} already exists"
                )));
            }
            Err(StoreError::LimitExceeded) => {
                return Err(AgError::LocationsQuota(self.quotas.locations));
            }
            Err(StoreError::Constraint(_)) => return Err(AgError::InstanceNotExists),
            other => other?,
        }
        self.fold(GrantChange::Location(rec.clone())).await;
        let arn = self.location_arn(&r.account, &rec.location_id);
        let xml = document("CreateAccessGrantsLocationResult", |w| {
            self.write_location(w, &rec)
        });
        Ok(xml_reply(
            xml,
            details(
                &r.account,
                json!({"locationScope": scope, "iAMRoleArn": role}),
                &[(LOCATION_TYPE, &arn)],
                false,
            ),
        ))
    }

    pub(super) async fn location(&self, r: &Req<'_>, id: &str) -> R<AgLocationRecord> {
        if !validate::id_ok(id) {
            return Err(AgError::InvalidRequest(format!(
                "The Access Grants location id {id:?} is not valid"
            )));
        }
        self.store
            .get_ag_location(&r.account, id)
            .await?
            .ok_or_else(|| AgError::NoSuchLocation(id.to_owned()))
    }

    pub(crate) async fn get_location(&self, r: &Req<'_>, id: &str) -> R<Reply> {
        let arn = self.location_arn(&r.account, id);
        self.check(r, "s3:GetAccessGrantsLocation", &arn)?;
        let l = self.location(r, id).await?;
        let xml = document("GetAccessGrantsLocationResult", |w| {
            self.write_location(w, &l)
        });
        Ok(xml_reply(
            xml,
            details(
                &r.account,
                json!({"id": id}),
                &[(LOCATION_TYPE, &arn)],
                true,
            ),
        ))
    }

    pub(crate) async fn update_location(&self, r: &Req<'_>, id: &str) -> R<Reply> {
        let arn = self.location_arn(&r.account, id);
        self.check(r, "s3:UpdateAccessGrantsLocation", &arn)?;
        let e = r.xml("UpdateAccessGrantsLocationRequest")?;
        let role = required(&e, "IAMRoleArn")?;
        let mut l = self.location(r, id).await?;
        self.check_location_role(r, role)?;
        l.iam_role_arn = role.to_owned();
        if !self.store.update_ag_location(&l).await? {
            return Err(AgError::NoSuchLocation(id.to_owned()));
        }
        self.fold(GrantChange::Location(l.clone())).await;
        let xml = document("UpdateAccessGrantsLocationResult", |w| {
            self.write_location(w, &l)
        });
        Ok(xml_reply(
            xml,
            details(
                &r.account,
                json!({"id": id, "iAMRoleArn": role}),
                &[(LOCATION_TYPE, &arn)],
                false,
            ),
        ))
    }

    pub(crate) async fn delete_location(&self, r: &Req<'_>, id: &str) -> R<Reply> {
        let arn = self.location_arn(&r.account, id);
        self.check(r, "s3:DeleteAccessGrantsLocation", &arn)?;
        self.location(r, id).await?;
        match self.store.delete_ag_location(&r.account, id).await {
            Err(StoreError::Constraint(_)) => {
                return Err(AgError::LocationNotEmpty(id.to_owned()));
            }
            Ok(false) => return Err(AgError::NoSuchLocation(id.to_owned())),
            other => {
                other?;
            }
        }
        self.fold(GrantChange::LocationDeleted {
            account: r.account.clone(),
            id: id.to_owned(),
        })
        .await;
        Ok(empty_reply(details(
            &r.account,
            json!({"id": id}),
            &[(LOCATION_TYPE, &arn)],
            false,
        )))
    }

    pub(crate) async fn list_locations(&self, r: &Req<'_>) -> R<Reply> {
        let inst_arn = self.instance_arn(&r.account);
        self.check(r, "s3:ListAccessGrantsLocations", &inst_arn)?;
        self.instance(&r.account).await?;
        let scope = r.param("locationscope");
        let all: Vec<AgLocationRecord> = self
            .store
            .list_ag_locations(&r.account)
            .await?
            .into_iter()
            .filter(|l| scope.is_none_or(|s| l.location_scope == s))
            .collect();
        let (items, next) = page(all, r)?;
        let xml = document("ListAccessGrantsLocationsResult", |w| {
            w.opt("NextToken", next.as_deref());
            w.open("AccessGrantsLocationsList");
            for l in &items {
                w.open("AccessGrantsLocation");
                self.write_location(w, l);
                w.close("AccessGrantsLocation");
            }
            w.close("AccessGrantsLocationsList");
        });
        Ok(xml_reply(
            xml,
            details(
                &r.account,
                json!({"locationScope": scope}),
                &[(INSTANCE_TYPE, &inst_arn)],
                true,
            ),
        ))
    }
}
