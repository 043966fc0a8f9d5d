//! Trusted token issuers: their OIDC JWT configuration, and CreateTrustedTokenIssuer,
//! DescribeTrustedTokenIssuer, ListTrustedTokenIssuers, UpdateTrustedTokenIssuer and
//! DeleteTrustedTokenIssuer.

use super::*;

/// `OidcJwtConfiguration` of a create (every member required) or an update (all optional).
pub(super) fn oidc_configuration(
    conf: &Map<String, Value>,
    update: bool,
    allow_http_loopback: bool,
) -> R<Map<String, Value>> {
    let v = Value::Object(conf.clone());
    let mut out = Map::new();
    if !update {
        let url = matching(
            &v,
            "IssuerUrl",
            "trustedTokenIssuerConfiguration.oidcJwtConfiguration.issuerUrl",
            &ISSUER_URL,
            "https?:\\/\\/[-a-zA-Z0-9+&@\\/%=~_|!:,.;]*[-a-zA-Z0-9+&@\\/%=~_|]",
        )?;
        if url.len() > 512 {
            return Err(validation(
                "1 validation error detected: Value at 'issuerUrl' failed to satisfy constraint: Member must have length less than or equal to 512",
            ));
        }
        let loopback_http = url.strip_prefix("http://").is_some_and(|rest| {
            let host = rest.split(['/', ':']).next().unwrap_or("");
            tessera_oidc::is_loopback_host(host)
        });
        let allowed = url.starts_with("https://") || (allow_http_loopback && loopback_http);
        if !allowed {
            return Err(validation(
                "The IssuerUrl must use https (plain http only to a loopback host in dev mode).",
            ));
        }
        out.insert("IssuerUrl".into(), json!(url));
    }
    let members: [(&str, &str, &Regex); 2] = [
        ("ClaimAttributePath", "claimAttributePath", &CLAIM_PATH),
        (
            "IdentityStoreAttributePath",
            "identityStoreAttributePath",
            &STORE_PATH,
        ),
    ];
    for (member, field, re) in members {
        match string(&v, member)? {
            Some(s) if s.chars().count() <= 255 && re.is_match(s) => {
                out.insert(member.into(), json!(s));
            }
            Some(s) => return Err(bad_pattern(field, s, re.as_str())),
            None if update => {}
            None => return Err(not_null(field)),
        }
    }
    match string(&v, "JwksRetrievalOption")? {
        Some("OPEN_ID_DISCOVERY") => {
            out.insert("JwksRetrievalOption".into(), json!("OPEN_ID_DISCOVERY"));
        }
        Some(o) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{o}' at 'jwksRetrievalOption' failed to satisfy constraint: Member must satisfy enum value set: [OPEN_ID_DISCOVERY]"
            )));
        }
        None if update => {}
        None => return Err(not_null("jwksRetrievalOption")),
    }
    for k in conf.keys() {
        let known = [
            "IssuerUrl",
            "ClaimAttributePath",
            "IdentityStoreAttributePath",
            "JwksRetrievalOption",
        ];
        if !known.contains(&k.as_str()) || (update && k == "IssuerUrl") {
            return Err(validation(format!(
                "Unknown member {k} in OidcJwtConfiguration"
            )));
        }
    }
    Ok(out)
}

pub(super) fn issuer_name(doc: &Value) -> R<Option<&str>> {
    match string(doc, "Name")? {
        Some(n) if n.chars().count() <= 255 && ISSUER_NAME.is_match(n) => Ok(Some(n)),
        Some(n) => Err(bad_pattern("name", n, "[\\w+=,.@-]+")),
        None => Ok(None),
    }
}

pub(super) fn describe_issuer(o: &SsoObjectRecord) -> Value {
    let mut d: Value = serde_json::from_str(&o.document).unwrap_or_else(|_| json!({}));
    if let Some(m) = d.as_object_mut() {
        m.remove("Tags");
        m.insert("TrustedTokenIssuerArn".into(), json!(o.arn));
    }
    d
}

impl SsoAdminService {
    pub(crate) async fn create_trusted_token_issuer(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let instance_arn = crate::sso_admin::instance_arn(doc)?;
        let name = issuer_name(doc)?.ok_or_else(|| not_null("name"))?;
        match required(doc, "TrustedTokenIssuerType", "trustedTokenIssuerType")? {
            "OIDC_JWT" => {}
            t => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{t}' at 'trustedTokenIssuerType' failed to satisfy constraint: Member must satisfy enum value set: [OIDC_JWT]"
                )));
            }
        }
        let conf = object(
            doc,
            "TrustedTokenIssuerConfiguration",
            "trustedTokenIssuerConfiguration",
        )?
        .ok_or_else(|| not_null("trustedTokenIssuerConfiguration"))?;
        let oidc = conf
            .get("OidcJwtConfiguration")
            .and_then(Value::as_object)
            .ok_or_else(|| not_null("trustedTokenIssuerConfiguration.oidcJwtConfiguration"))?;
        let oidc = oidc_configuration(oidc, false, self.allow_http_issuers)?;
        let token = client_token(doc)?;
        let tags = tags(doc)?;
        self.allow(caller, meta, "sso:CreateTrustedTokenIssuer", &instance_arn)?;
        let instance = self.owned_instance(caller, &instance_arn).await?;
        let account = caller.account.as_str();
        let name_key = name.to_lowercase();
        // A retried create (same idempotency token, same name) returns the issuer it made.
        if let Some(t) = &token {
            for o in self
                .store
                .list_sso_objects(&instance.instance_arn, Kind::TrustedTokenIssuer.as_str())
                .await?
            {
                if o.client_token.as_deref() == Some(t) && o.name_key.as_deref() == Some(&name_key)
                {
                    return Ok(reply(
                        json!({"TrustedTokenIssuerArn": o.arn}),
                        json!({"instanceArn": instance_arn, "name": name}),
                        vec![issuer_resource(&o.arn)],
                        false,
                    ));
                }
            }
        }
        let arn = format!(
            "arn:{}:sso::{account}:trustedTokenIssuer/{}/tti-{}",
            self.deployment.partition,
            instance_id(&instance.instance_arn),
            uuid::Uuid::new_v4()
        );
        let document = json!({
            "Name": name,
            "TrustedTokenIssuerType": "OIDC_JWT",
            "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": oidc},
            "Tags": tags,
        });
        let rec = SsoObjectRecord {
            arn: arn.clone(),
            instance_arn: instance.instance_arn.clone(),
            kind: Kind::TrustedTokenIssuer.as_str().into(),
            name_key: Some(name_key),
            client_token: token,
            document: document.to_string(),
            created_at: meta.now.timestamp(),
        };
        match self.store.create_sso_object(&rec).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Err(IdentityCenterError::Conflict(format!(
                    "A trusted token issuer named {name} already exists in this instance."
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.changed(Change::Object(rec)).await?;
        Ok(reply(
            json!({"TrustedTokenIssuerArn": arn}),
            json!({"instanceArn": instance_arn, "name": name, "trustedTokenIssuerType": "OIDC_JWT"}),
            vec![issuer_resource(&arn)],
            false,
        ))
    }

    pub(crate) async fn describe_trusted_token_issuer(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = issuer_arn(doc, "TrustedTokenIssuerArn")?;
        self.allow(caller, meta, "sso:DescribeTrustedTokenIssuer", arn)?;
        let (o, _) = self.owned_issuer(caller, arn).await?;
        Ok(reply(
            describe_issuer(&o),
            json!({"trustedTokenIssuerArn": arn}),
            vec![issuer_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn list_trusted_token_issuers(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let instance_arn = crate::sso_admin::instance_arn(doc)?;
        let paging = Paging::parse(doc)?;
        self.allow(caller, meta, "sso:ListTrustedTokenIssuers", &instance_arn)?;
        let instance = self.owned_instance(caller, &instance_arn).await?;
        let all = self
            .store
            .list_sso_objects(&instance.instance_arn, Kind::TrustedTokenIssuer.as_str())
            .await?;
        let body = paging.page(&all, "TrustedTokenIssuers", |o| &o.arn, |o| {
            let d = describe_issuer(o);
            json!({"TrustedTokenIssuerArn": o.arn, "Name": d["Name"], "TrustedTokenIssuerType": d["TrustedTokenIssuerType"]})
        })?;
        Ok(reply(
            body,
            json!({"instanceArn": instance_arn}),
            Vec::new(),
            true,
        ))
    }

    pub(crate) async fn update_trusted_token_issuer(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = issuer_arn(doc, "TrustedTokenIssuerArn")?;
        let name = issuer_name(doc)?;
        let update = match object(
            doc,
            "TrustedTokenIssuerConfiguration",
            "trustedTokenIssuerConfiguration",
        )? {
            None => None,
            Some(c) => {
                let oidc = c
                    .get("OidcJwtConfiguration")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        not_null("trustedTokenIssuerConfiguration.oidcJwtConfiguration")
                    })?;
                Some(oidc_configuration(oidc, true, self.allow_http_issuers)?)
            }
        };
        self.allow(caller, meta, "sso:UpdateTrustedTokenIssuer", arn)?;
        let (mut o, _) = self.owned_issuer(caller, arn).await?;
        let mut d: Value = serde_json::from_str(&o.document)
            .map_err(|_| IdentityCenterError::Common(CommonError::InternalFailure))?;
        if let Some(n) = name {
            d["Name"] = json!(n);
            o.name_key = Some(n.to_lowercase());
        }
        if let Some(u) = update {
            let conf = &mut d["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"];
            for (k, v) in u {
                conf[k] = v;
            }
        }
        o.document = d.to_string();
        match self.store.update_sso_object(&o).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(IdentityCenterError::ResourceNotFound(format!(
                    "Trusted token issuer {arn} does not exist."
                )));
            }
            Err(StoreError::Conflict) => {
                return Err(IdentityCenterError::Conflict(
                    "A trusted token issuer of that name already exists in this instance.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.changed(Change::Object(o)).await?;
        Ok(reply(
            json!({}),
            json!({"trustedTokenIssuerArn": arn, "name": name}),
            vec![issuer_resource(arn)],
            false,
        ))
    }

    pub(crate) async fn delete_trusted_token_issuer(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = issuer_arn(doc, "TrustedTokenIssuerArn")?;
        self.allow(caller, meta, "sso:DeleteTrustedTokenIssuer", arn)?;
        self.owned_issuer(caller, arn).await?;
        self.store.delete_sso_object(arn).await?;
        self.changed(Change::ObjectDeleted(arn.to_owned())).await?;
        Ok(reply(
            json!({}),
            json!({"trustedTokenIssuerArn": arn}),
            vec![issuer_resource(arn)],
            false,
        ))
    }
}
