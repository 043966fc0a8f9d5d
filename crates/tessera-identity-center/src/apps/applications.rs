//! Applications: CreateApplication, DescribeApplication, ListApplications,
//! UpdateApplication and DeleteApplication, with their portal options, status, name and
//! description.

use super::*;

pub(super) fn describe_application(o: &SsoObjectRecord) -> Value {
    let mut d: Value = serde_json::from_str(&o.document).unwrap_or_else(|_| json!({}));
    if let Some(m) = d.as_object_mut() {
        m.remove("Tags");
        m.insert("ApplicationArn".into(), json!(o.arn));
    }
    d
}

pub(super) fn portal_options(doc: &Value, member: &str) -> R<Option<Value>> {
    let Some(p) = object(doc, member, "portalOptions")? else {
        return Ok(None);
    };
    let mut out = Map::new();
    if let Some(s) = p.get("SignInOptions").filter(|v| !v.is_null()) {
        let origin =
            string(s, "Origin")?.ok_or_else(|| not_null("portalOptions.signInOptions.origin"))?;
        if !["IDENTITY_CENTER", "APPLICATION"].contains(&origin) {
            return Err(validation(format!(
                "1 validation error detected: Value '{origin}' at 'portalOptions.signInOptions.origin' failed to satisfy constraint: Member must satisfy enum value set: [IDENTITY_CENTER, APPLICATION]"
            )));
        }
        let mut so = json!({"Origin": origin});
        if let Some(u) = string(s, "ApplicationUrl")? {
            if u.is_empty()
                || u.len() > 512
                || !(u.starts_with("http://") || u.starts_with("https://"))
            {
                return Err(bad_pattern(
                    "portalOptions.signInOptions.applicationUrl",
                    u,
                    "http(s)?:\\/\\/.*",
                ));
            }
            so["ApplicationUrl"] = json!(u);
        }
        out.insert("SignInOptions".into(), so);
    }
    if let Some(v) = string(&Value::Object(p.clone()), "Visibility")? {
        if !["ENABLED", "DISABLED"].contains(&v) {
            return Err(validation(format!(
                "1 validation error detected: Value '{v}' at 'portalOptions.visibility' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
            )));
        }
        out.insert("Visibility".into(), json!(v));
    }
    Ok(Some(Value::Object(out)))
}

pub(super) fn status(doc: &Value) -> R<Option<&str>> {
    match string(doc, "Status")? {
        None => Ok(None),
        Some(s @ ("ENABLED" | "DISABLED")) => Ok(Some(s)),
        Some(s) => Err(validation(format!(
            "1 validation error detected: Value '{s}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
        ))),
    }
}

pub(super) fn app_name(doc: &Value) -> R<Option<&str>> {
    match string(doc, "Name")? {
        Some(n) if !n.is_empty() && n.chars().count() <= 100 => Ok(Some(n)),
        Some(_) => Err(validation(
            "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 100",
        )),
        None => Ok(None),
    }
}

pub(super) fn description(doc: &Value) -> R<Option<&str>> {
    match string(doc, "Description")? {
        Some(d) if !d.is_empty() && d.chars().count() <= 128 => Ok(Some(d)),
        Some(_) => Err(validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length between 1 and 128",
        )),
        None => Ok(None),
    }
}

impl SsoAdminService {
    pub(crate) async fn create_application(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let instance_arn = crate::sso_admin::instance_arn(doc)?;
        let provider = matching(
            doc,
            "ApplicationProviderArn",
            "applicationProviderArn",
            &PROVIDER_ARN,
            "arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso::aws:applicationProvider/[a-zA-Z0-9-/]+",
        )?;
        if !provider.ends_with(&format!(":sso::aws:{CUSTOM_PROVIDER}")) {
            return Err(IdentityCenterError::ResourceNotFound(format!(
                "Application provider {provider} does not exist (this server offers only {CUSTOM_PROVIDER})."
            )));
        }
        let name = app_name(doc)?.ok_or_else(|| not_null("name"))?;
        let description = description(doc)?;
        let portal = portal_options(doc, "PortalOptions")?;
        let status = status(doc)?.unwrap_or("ENABLED");
        let token = client_token(doc)?;
        let tags = tags(doc)?;
        self.allow(caller, meta, "sso:CreateApplication", &instance_arn)?;
        let instance = self.owned_instance(caller, &instance_arn).await?;
        let account = caller.account.as_str();
        let store_arn = crate::sso_admin::identity_store_arn(&self.deployment.partition, &instance);
        if let Some(t) = &token {
            for o in self
                .store
                .list_sso_objects(&instance.instance_arn, Kind::Application.as_str())
                .await?
            {
                if o.client_token.as_deref() == Some(t) {
                    return Ok(reply(
                        json!({"ApplicationArn": o.arn, "InstanceArn": instance.instance_arn, "IdentityStoreArn": store_arn}),
                        json!({"instanceArn": instance_arn, "name": name}),
                        vec![app_resource(&o.arn)],
                        false,
                    ));
                }
            }
        }
        let arn = format!(
            "arn:{}:sso::{account}:application/{}/apl-{}",
            self.deployment.partition,
            instance_id(&instance.instance_arn),
            crate::sso_admin::random_hex(16)
        );
        let mut document = json!({
            "ApplicationProviderArn": provider,
            "Name": name,
            "ApplicationAccount": account,
            "InstanceArn": instance.instance_arn,
            "IdentityStoreArn": store_arn,
            "Status": status,
            "CreatedDate": meta.now.timestamp(),
            "CreatedFrom": self.deployment.region,
            "Tags": tags,
        });
        if let Some(d) = description {
            document["Description"] = json!(d);
        }
        document["PortalOptions"] = portal.unwrap_or_else(
            || json!({"SignInOptions": {"Origin": "IDENTITY_CENTER"}, "Visibility": "ENABLED"}),
        );
        let rec = SsoObjectRecord {
            arn: arn.clone(),
            instance_arn: instance.instance_arn.clone(),
            kind: Kind::Application.as_str().into(),
            name_key: None,
            client_token: token,
            document: document.to_string(),
            created_at: meta.now.timestamp(),
        };
        self.store.create_sso_object(&rec).await?;
        self.changed(Change::Object(rec)).await?;
        Ok(reply(
            json!({"ApplicationArn": arn, "InstanceArn": instance.instance_arn, "IdentityStoreArn": store_arn}),
            json!({"instanceArn": instance_arn, "name": name, "applicationProviderArn": provider}),
            vec![app_resource(&arn)],
            false,
        ))
    }

    pub(crate) async fn describe_application(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        self.allow(caller, meta, "sso:DescribeApplication", arn)?;
        let (o, _) = self.owned_application(caller, arn).await?;
        Ok(reply(
            describe_application(&o),
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn list_applications(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let instance_arn = crate::sso_admin::instance_arn(doc)?;
        let paging = Paging::parse(doc)?;
        let filter = object(doc, "Filter", "filter")?.map(|f| Value::Object(f.clone()));
        let account = filter
            .as_ref()
            .map(|f| string(f, "ApplicationAccount"))
            .transpose()?
            .flatten();
        let provider = filter
            .as_ref()
            .map(|f| string(f, "ApplicationProvider"))
            .transpose()?
            .flatten();
        self.allow(caller, meta, "sso:ListApplications", &instance_arn)?;
        let instance = self.owned_instance(caller, &instance_arn).await?;
        let all: Vec<SsoObjectRecord> = self
            .store
            .list_sso_objects(&instance.instance_arn, Kind::Application.as_str())
            .await?
            .into_iter()
            .filter(|o| {
                let d = describe_application(o);
                account.is_none_or(|a| d["ApplicationAccount"] == a)
                    && provider.is_none_or(|p| d["ApplicationProviderArn"] == p)
            })
            .collect();
        let body = paging.page(&all, "Applications", |o| &o.arn, describe_application)?;
        Ok(reply(
            body,
            json!({"instanceArn": instance_arn}),
            Vec::new(),
            true,
        ))
    }

    pub(crate) async fn update_application(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let name = app_name(doc)?;
        let description = description(doc)?;
        let status = status(doc)?;
        let portal = portal_options(doc, "PortalOptions")?;
        self.allow(caller, meta, "sso:UpdateApplication", arn)?;
        let (mut o, _) = self.owned_application(caller, arn).await?;
        let mut d: Value = serde_json::from_str(&o.document)
            .map_err(|_| IdentityCenterError::Common(CommonError::InternalFailure))?;
        if let Some(n) = name {
            d["Name"] = json!(n);
        }
        if let Some(x) = description {
            d["Description"] = json!(x);
        }
        if let Some(s) = status {
            d["Status"] = json!(s);
        }
        if let Some(Value::Object(p)) = portal {
            for (k, v) in p {
                d["PortalOptions"][k] = v;
            }
        }
        o.document = d.to_string();
        self.store.update_sso_object(&o).await?;
        self.changed(Change::Object(o)).await?;
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            false,
        ))
    }

    pub(crate) async fn delete_application(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        self.allow(caller, meta, "sso:DeleteApplication", arn)?;
        self.owned_application(caller, arn).await?;
        self.store.delete_sso_object(arn).await?;
        self.changed(Change::ObjectDeleted(arn.to_owned())).await?;
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            false,
        ))
    }
}
