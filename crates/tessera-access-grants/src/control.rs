//! The control plane: the instance, its Identity Center association and resource policy,
//! locations, grants and tags. Reads go to the store; every write is folded into the grant
//! index view at once (read-your-writes) and bumps its counter for the other replicas.

use crate::error::AgError;
use crate::{AccessGrantsService, R, Req, document, parse_tags, validate, write_tags};
use serde_json::{Value, json};
use tessera_audit::{EventDetails, Resource};
use tessera_authz::grants::{GrantChange, GranteeKind};
use tessera_core::{GrantPermission, iso8601};
use tessera_policy::{ContextKeys, Policy, PolicyKind};
use tessera_service::{Body, Reply};
use tessera_store::{AgGrantRecord, AgInstanceRecord, AgLocationRecord, AgResource, StoreError};
use tessera_wire::CommonError;
use tessera_wire::xml::{Element, Writer};

pub(crate) const INSTANCE_TYPE: &str = "AWS::S3::AccessGrantsInstance";
const LOCATION_TYPE: &str = "AWS::S3::AccessGrantsLocation";
const GRANT_TYPE: &str = "AWS::S3::AccessGrant";

fn xml_reply(xml: String, details: EventDetails) -> Reply {
    Reply {
        body: Body::Xml(xml),
        details,
    }
}

fn empty_reply(details: EventDetails) -> Reply {
    Reply {
        body: Body::NoContent,
        details,
    }
}

pub(crate) fn details(
    account: &str,
    params: Value,
    resources: &[(&str, &str)],
    read_only: bool,
) -> EventDetails {
    EventDetails {
        request_parameters: params,
        resources: resources
            .iter()
            .map(|(kind, arn)| Resource {
                account_id: Some(account.to_owned()),
                kind: (*kind).to_owned(),
                arn: (*arn).to_owned(),
            })
            .collect(),
        read_only,
        ..EventDetails::default()
    }
}

fn required<'e>(e: &'e Element, name: &str) -> R<&'e str> {
    e.child_text(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AgError::InvalidRequest(format!("Missing required field {name}")))
}

/// A page of `items` by `maxResults` (0–1000, default 1000) and `nextToken` (an offset).
pub(crate) fn page<T>(items: Vec<T>, r: &Req<'_>) -> R<(Vec<T>, Option<String>)> {
    let max = match r.param("maxResults") {
        None => 1000,
        Some(m) => match m.parse::<usize>() {
            Ok(0) => 1000,
            Ok(n) if n <= 1000 => n,
            _ => {
                return Err(AgError::InvalidRequest(format!(
                    "maxResults must be between 0 and 1000, not {m:?}"
                )));
            }
        },
    };
    let start = match r.param("nextToken") {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= items.len())
            .ok_or_else(|| {
                AgError::InvalidRequest("The continuation token is not valid.".into())
            })?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((
        items.into_iter().skip(start).take(end - start).collect(),
        next,
    ))
}

impl AccessGrantsService {
    fn check(&self, r: &Req<'_>, action: &str, resource: &str) -> R<()> {
        let snap = self.grants.get();
        self.authorize(r.caller, r.meta, &snap, &r.account, action, resource)
    }

    async fn instance(&self, account: &str) -> R<AgInstanceRecord> {
        self.store
            .get_ag_instance(account)
            .await?
            .ok_or(AgError::InstanceNotExists)
    }

    /// The Identity Center instance `arn` as `account` may use it: its own, or the instance
    /// of an account in its organization (as an organization instance is shared in AWS).
    /// Another tenant's instance is answered exactly as one that does not exist, so neither
    /// the association nor grantee validation tells one tenant about another's ids.
    async fn usable_identity_center(
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
    async fn identity_center_application(&self, account: &str, arn: &str) -> R<String> {
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

    fn write_instance(&self, w: &mut Writer, i: &AgInstanceRecord) {
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

    async fn fold(&self, change: GrantChange) {
        if let Err(e) = self.grants.write(change).await {
            tracing::warn!(error = %e, "bumping the access-grants counter failed");
        }
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

    fn write_policy(w: &mut Writer, i: &AgInstanceRecord) {
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

    /// The location role: a role ARN, existing when it is in this deployment's account, and
    /// one the caller may pass (`iam:PassRole`).
    fn check_location_role(&self, r: &Req<'_>, role_arn: &str) -> R<()> {
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

    fn write_location(&self, w: &mut Writer, l: &AgLocationRecord) {
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

    async fn location(&self, r: &Req<'_>, id: &str) -> R<AgLocationRecord> {
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

    pub(crate) async fn get_location(&self, r: &Req<'_>) -> R<Reply> {
        let id = r.label()?;
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

    pub(crate) async fn update_location(&self, r: &Req<'_>) -> R<Reply> {
        let id = r.label()?;
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

    pub(crate) async fn delete_location(&self, r: &Req<'_>) -> R<Reply> {
        let id = r.label()?;
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
    async fn check_grantee(&self, inst: &AgInstanceRecord, kind: GranteeKind, id: &str) -> R<()> {
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

    async fn grant(&self, r: &Req<'_>, id: &str) -> R<AgGrantRecord> {
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

    pub(crate) async fn get_grant(&self, r: &Req<'_>) -> R<Reply> {
        let id = r.label()?;
        let arn = self.grant_arn(&r.account, id);
        self.check(r, "s3:GetAccessGrant", &arn)?;
        let g = self.grant(r, id).await?;
        let xml = document("GetAccessGrantResult", |w| self.write_grant(w, &g));
        Ok(xml_reply(
            xml,
            details(&r.account, json!({"id": id}), &[(GRANT_TYPE, &arn)], true),
        ))
    }

    pub(crate) async fn delete_grant(&self, r: &Req<'_>) -> R<Reply> {
        let id = r.label()?;
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

    /// The Access Grants resource an ARN names in the request's account.
    fn tagged(&self, r: &Req<'_>) -> R<(AgResource, String, String)> {
        let arn = r.label()?.to_owned();
        let base = self.instance_arn(&r.account);
        let bad = || {
            AgError::InvalidRequest(format!(
                "{arn} is not the ARN of an Access Grants resource of account {}",
                r.account
            ))
        };
        if arn.len() > 1011 {
            return Err(bad());
        }
        let rest = arn.strip_prefix(&base).ok_or_else(bad)?;
        let (kind, id) = if rest.is_empty() {
            (AgResource::Instance, "default".to_owned())
        } else if let Some(id) = rest.strip_prefix("/location/") {
            (AgResource::Location, id.to_owned())
        } else if let Some(id) = rest.strip_prefix("/grant/") {
            (AgResource::Grant, id.to_owned())
        } else {
            return Err(bad());
        };
        if !validate::id_ok(&id) {
            return Err(bad());
        }
        Ok((kind, id, arn))
    }

    async fn current_tags(
        &self,
        r: &Req<'_>,
        kind: AgResource,
        id: &str,
    ) -> R<Vec<(String, String)>> {
        Ok(match kind {
            AgResource::Instance => self.instance(&r.account).await?.tags,
            AgResource::Location => self.location(r, id).await?.tags,
            AgResource::Grant => self.grant(r, id).await?.tags,
        })
    }

    pub(crate) async fn tag(&self, r: &Req<'_>, add: bool) -> R<Reply> {
        let (kind, id, arn) = self.tagged(r)?;
        self.check(
            r,
            if add {
                "s3:TagResource"
            } else {
                "s3:UntagResource"
            },
            &arn,
        )?;
        let mut tags = self.current_tags(r, kind, &id).await?;
        let params = if add {
            let e = r.xml("TagResourceRequest")?;
            let new = parse_tags(e.child("Tags"))?;
            if new.is_empty() {
                return Err(AgError::InvalidRequest(
                    "Missing required field Tags".into(),
                ));
            }
            for (k, v) in &new {
                match tags.iter_mut().find(|(ek, _)| ek == k) {
                    Some(t) => t.1 = v.clone(),
                    None => tags.push((k.clone(), v.clone())),
                }
            }
            if tags.len() > 50 {
                return Err(AgError::TooManyTags);
            }
            json!({"resourceArn": arn, "tags": new.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>()})
        } else {
            let keys = r.params("tagKeys");
            if keys.is_empty() {
                return Err(AgError::InvalidRequest(
                    "Missing required parameter tagKeys".into(),
                ));
            }
            tags.retain(|(k, _)| !keys.contains(&k.as_str()));
            json!({"resourceArn": arn, "tagKeys": keys})
        };
        if !self.store.set_ag_tags(&r.account, kind, &id, &tags).await? {
            return Err(match kind {
                AgResource::Instance => AgError::InstanceNotExists,
                AgResource::Location => AgError::NoSuchLocation(id),
                AgResource::Grant => AgError::NoSuchGrant(id),
            });
        }
        let kind_name = match kind {
            AgResource::Instance => INSTANCE_TYPE,
            AgResource::Location => LOCATION_TYPE,
            AgResource::Grant => GRANT_TYPE,
        };
        Ok(empty_reply(details(
            &r.account,
            params,
            &[(kind_name, &arn)],
            false,
        )))
    }

    pub(crate) async fn list_tags(&self, r: &Req<'_>) -> R<Reply> {
        let (kind, id, arn) = self.tagged(r)?;
        self.check(r, "s3:ListTagsForResource", &arn)?;
        let tags = self.current_tags(r, kind, &id).await?;
        let xml = document("ListTagsForResourceResult", |w| write_tags(w, &tags));
        Ok(xml_reply(
            xml,
            details(&r.account, json!({"resourceArn": arn}), &[], true),
        ))
    }
}
