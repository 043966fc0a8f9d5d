//! Each application's settings: grants, access scopes, authentication methods and the
//! assignment configuration, stored as documents keyed by setting and key.

use super::*;

/// An application may have at most this many access scopes.
const MAX_SCOPES: usize = 25;
pub(crate) const GRANT_TYPES: [(&str, &str); 4] = [
    ("authorization_code", "AuthorizationCode"),
    ("refresh_token", "RefreshToken"),
    ("urn:ietf:params:oauth:grant-type:jwt-bearer", "JwtBearer"),
    (
        "urn:ietf:params:oauth:grant-type:token-exchange",
        "TokenExchange",
    ),
];

/// A `Grant` union for `grant_type`: exactly the member the type names, validated.
pub(super) fn grant(doc: &Value, grant_type: &str) -> R<Value> {
    let g = object(doc, "Grant", "grant")?.ok_or_else(|| not_null("grant"))?;
    let member = GRANT_TYPES
        .iter()
        .find(|(t, _)| *t == grant_type)
        .map(|(_, m)| *m)
        .expect("grant type checked");
    if g.len() != 1 || !g.contains_key(member) {
        return Err(validation(format!(
            "The grant for grant type {grant_type} must set exactly the {member} member."
        )));
    }
    let body = &g[member];
    let body = match member {
        "JwtBearer" => {
            let issuers = body
                .get("AuthorizedTokenIssuers")
                .ok_or_else(|| not_null("grant.jwtBearer.authorizedTokenIssuers"))?
                .as_array()
                .ok_or_else(|| validation("AuthorizedTokenIssuers must be a list"))?;
            if issuers.is_empty() || issuers.len() > 10 {
                return Err(validation(
                    "1 validation error detected: Value at 'grant.jwtBearer.authorizedTokenIssuers' failed to satisfy constraint: Member must have length between 1 and 10",
                ));
            }
            let mut out = Vec::new();
            for i in issuers {
                let arn = issuer_arn(i, "TrustedTokenIssuerArn")?;
                let auds = i
                    .get("AuthorizedAudiences")
                    .ok_or_else(|| not_null("authorizedAudiences"))?;
                let auds = string_list(auds, "authorizedAudiences", 1, 10)?;
                if auds.iter().any(|a| a.is_empty() || a.len() > 512) {
                    return Err(validation(
                        "1 validation error detected: Value at 'authorizedAudiences' failed to satisfy constraint: Member must have length between 1 and 512",
                    ));
                }
                out.push(json!({"TrustedTokenIssuerArn": arn, "AuthorizedAudiences": auds}));
            }
            json!({"AuthorizedTokenIssuers": out})
        }
        "AuthorizationCode" => {
            let uris = body
                .get("RedirectUris")
                .ok_or_else(|| not_null("grant.authorizationCode.redirectUris"))?;
            let uris = string_list(uris, "redirectUris", 1, 10)?;
            json!({"RedirectUris": uris})
        }
        _ => {
            if body.as_object().is_none_or(|o| !o.is_empty()) {
                return Err(validation(format!("The {member} grant takes no members.")));
            }
            json!({})
        }
    };
    Ok(json!({ member: body }))
}

pub(super) fn grant_type(doc: &Value) -> R<&str> {
    let t = required(doc, "GrantType", "grantType")?;
    if !GRANT_TYPES.iter().any(|(g, _)| *g == t) {
        return Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'grantType' failed to satisfy constraint: Member must satisfy enum value set: [authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:jwt-bearer, urn:ietf:params:oauth:grant-type:token-exchange]"
        )));
    }
    Ok(t)
}

pub(super) fn scope(doc: &Value) -> R<&str> {
    matching(
        doc,
        "Scope",
        "scope",
        &SCOPE,
        "([A-Za-z0-9_]{1,50})(:[A-Za-z0-9_]{1,50}){0,1}(:[A-Za-z0-9_]{1,50}){0,1}",
    )
}

pub(super) fn auth_method_type(doc: &Value) -> R<&str> {
    match required(doc, "AuthenticationMethodType", "authenticationMethodType")? {
        "IAM" => Ok("IAM"),
        t => Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'authenticationMethodType' failed to satisfy constraint: Member must satisfy enum value set: [IAM]"
        ))),
    }
}

/// A family of keyed application settings (grants, access scopes, authentication methods):
/// what tells one from another on the Get, List and Delete path they share.
pub(crate) struct SettingFamily {
    kind: AppSetting,
    /// The request member naming the key, read and validated.
    key: for<'a> fn(&'a Value) -> R<&'a str>,
    /// The request parameter Get and Delete record the key as, if they record it.
    audited_key: Option<&'static str>,
    get_action: &'static str,
    list_action: &'static str,
    delete_action: &'static str,
    /// The member a Get reply holds the document in (`None`: the document is the reply).
    get_member: Option<&'static str>,
    /// The member of a List reply, and one of its items from a key and its document.
    list_member: &'static str,
    list_item: fn(&str, &Value) -> Value,
    /// The largest `MaxResults` a List takes, where the API bounds it below paging's own.
    max_results: Option<i64>,
    /// The message of a Get or Delete of a key the application does not have.
    missing: fn(&str) -> String,
}

impl SettingFamily {
    /// The audit parameters of a Get or Delete.
    fn params(&self, arn: &str, key: &str) -> Value {
        let mut params = json!({"applicationArn": arn});
        if let Some(name) = self.audited_key {
            params[name] = json!(key);
        }
        params
    }
}

/// An application's grants, keyed by grant type.
pub(crate) static GRANTS: SettingFamily = SettingFamily {
    kind: AppSetting::Grant,
    key: grant_type,
    audited_key: Some("grantType"),
    get_action: "sso:GetApplicationGrant",
    list_action: "sso:ListApplicationGrants",
    delete_action: "sso:DeleteApplicationGrant",
    get_member: Some("Grant"),
    list_member: "Grants",
    list_item: |k, g| json!({"GrantType": k, "Grant": g}),
    max_results: None,
    missing: |gt| format!("The application has no {gt} grant."),
};

/// An application's access scopes, keyed by scope.
pub(crate) static ACCESS_SCOPES: SettingFamily = SettingFamily {
    kind: AppSetting::Scope,
    key: scope,
    audited_key: Some("scope"),
    get_action: "sso:GetApplicationAccessScope",
    list_action: "sso:ListApplicationAccessScopes",
    delete_action: "sso:DeleteApplicationAccessScope",
    get_member: None,
    list_member: "Scopes",
    list_item: |_, d| d.clone(),
    max_results: Some(10),
    missing: |s| format!("The application has no access scope {s}."),
};

/// An application's authentication methods, keyed by type (`IAM`).
pub(crate) static AUTHENTICATION_METHODS: SettingFamily = SettingFamily {
    kind: AppSetting::AuthenticationMethod,
    key: auth_method_type,
    audited_key: None,
    get_action: "sso:GetApplicationAuthenticationMethod",
    list_action: "sso:ListApplicationAuthenticationMethods",
    delete_action: "sso:DeleteApplicationAuthenticationMethod",
    get_member: Some("AuthenticationMethod"),
    list_member: "AuthenticationMethods",
    list_item: |k, d| json!({"AuthenticationMethodType": k, "AuthenticationMethod": d}),
    max_results: None,
    missing: |t| format!("The application has no {t} authentication method."),
};

impl SsoAdminService {
    pub(super) async fn put_setting(
        &self,
        app: &str,
        setting: AppSetting,
        key: &str,
        document: Value,
    ) -> R<()> {
        let rec = AppSettingRecord {
            application_arn: app.to_owned(),
            kind: setting.as_str().into(),
            key: key.to_owned(),
            document: document.to_string(),
        };
        self.store.put_app_setting(&rec).await?;
        self.changed(Change::Setting(rec)).await
    }

    pub(super) async fn get_setting(
        &self,
        app: &str,
        setting: AppSetting,
        key: &str,
    ) -> R<Option<Value>> {
        Ok(self
            .store
            .get_app_setting(app, setting.as_str(), key)
            .await?
            .and_then(|s| serde_json::from_str(&s.document).ok()))
    }

    pub(super) async fn list_settings(
        &self,
        app: &str,
        setting: AppSetting,
    ) -> R<Vec<(String, Value)>> {
        Ok(self
            .store
            .list_app_settings(app, setting.as_str())
            .await?
            .into_iter()
            .filter_map(|s| Some((s.key, serde_json::from_str(&s.document).ok()?)))
            .collect())
    }

    pub(super) async fn delete_setting(
        &self,
        app: &str,
        setting: AppSetting,
        key: &str,
    ) -> R<bool> {
        let gone = self
            .store
            .delete_app_setting(app, setting.as_str(), key)
            .await?;
        if gone {
            self.changed(Change::SettingDeleted {
                application_arn: app.to_owned(),
                kind: setting.as_str().into(),
                key: key.to_owned(),
            })
            .await?;
        }
        Ok(gone)
    }

    /// What every Put ends with: store the document under its key, reply `{}`.
    async fn put_application_setting(
        &self,
        arn: &str,
        setting: AppSetting,
        key: &str,
        document: Value,
        params: Value,
    ) -> R<Reply> {
        self.put_setting(arn, setting, key, document).await?;
        Ok(reply(json!({}), params, vec![app_resource(arn)], false))
    }

    /// `GetApplicationGrant`, `GetApplicationAccessScope`,
    /// `GetApplicationAuthenticationMethod`: one setting of a family, by key.
    pub(crate) async fn get_application_setting(
        &self,
        family: &SettingFamily,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let key = (family.key)(doc)?;
        self.allow(caller, meta, family.get_action, arn)?;
        self.owned_application(caller, arn).await?;
        let d = self
            .get_setting(arn, family.kind, key)
            .await?
            .ok_or_else(|| IdentityCenterError::ResourceNotFound((family.missing)(key)))?;
        let body = match family.get_member {
            Some(member) => json!({ member: d }),
            None => d,
        };
        Ok(reply(
            body,
            family.params(arn, key),
            vec![app_resource(arn)],
            true,
        ))
    }

    /// `ListApplicationGrants`, `ListApplicationAccessScopes`,
    /// `ListApplicationAuthenticationMethods`: a page of a family's settings.
    pub(crate) async fn list_application_settings(
        &self,
        family: &SettingFamily,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        if let Some(max) = family.max_results
            && let Some(m) = doc.get("MaxResults").filter(|v| !v.is_null())
            && !m.as_i64().is_some_and(|n| (1..=max).contains(&n))
        {
            return Err(validation(format!(
                "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {max}"
            )));
        }
        let paging = Paging::parse(doc)?;
        self.allow(caller, meta, family.list_action, arn)?;
        self.owned_application(caller, arn).await?;
        let all = self.list_settings(arn, family.kind).await?;
        let body = paging.page(
            &all,
            family.list_member,
            |(k, _)| k,
            |(k, d)| (family.list_item)(k, d),
        )?;
        Ok(reply(
            body,
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }

    /// `DeleteApplicationGrant`, `DeleteApplicationAccessScope`,
    /// `DeleteApplicationAuthenticationMethod`: drop one setting of a family, by key.
    pub(crate) async fn delete_application_setting(
        &self,
        family: &SettingFamily,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let key = (family.key)(doc)?;
        self.allow(caller, meta, family.delete_action, arn)?;
        self.owned_application(caller, arn).await?;
        if !self.delete_setting(arn, family.kind, key).await? {
            return Err(IdentityCenterError::ResourceNotFound((family.missing)(key)));
        }
        Ok(reply(
            json!({}),
            family.params(arn, key),
            vec![app_resource(arn)],
            false,
        ))
    }

    pub(crate) async fn put_application_grant(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let gt = grant_type(doc)?;
        let g = grant(doc, gt)?;
        self.allow(caller, meta, "sso:PutApplicationGrant", arn)?;
        let (app, _) = self.owned_application(caller, arn).await?;
        // Every issuer a JwtBearer grant names must be a trusted token issuer of the
        // application's instance.
        if let Some(issuers) = g["JwtBearer"]["AuthorizedTokenIssuers"].as_array() {
            for i in issuers {
                let tti = i["TrustedTokenIssuerArn"].as_str().unwrap_or("");
                let found = self.store.get_sso_object(tti).await?;
                if found.is_none_or(|o| {
                    o.instance_arn != app.instance_arn
                        || o.kind != Kind::TrustedTokenIssuer.as_str()
                }) {
                    return Err(IdentityCenterError::ResourceNotFound(format!(
                        "Trusted token issuer {tti} does not exist in the application's instance."
                    )));
                }
            }
        }
        let params = json!({"applicationArn": arn, "grantType": gt});
        self.put_application_setting(arn, AppSetting::Grant, gt, g, params)
            .await
    }

    pub(crate) async fn put_application_access_scope(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let s = scope(doc)?;
        let targets = match doc.get("AuthorizedTargets") {
            None | Some(Value::Null) => None,
            Some(t) => {
                let t = string_list(t, "authorizedTargets", 1, 10)?;
                if let Some(bad) = t.iter().find(|x| !SCOPE_TARGET.is_match(x)) {
                    return Err(bad_pattern("authorizedTargets", bad, SCOPE_TARGET.as_str()));
                }
                Some(t)
            }
        };
        self.allow(caller, meta, "sso:PutApplicationAccessScope", arn)?;
        self.owned_application(caller, arn).await?;
        let existing = self.list_settings(arn, AppSetting::Scope).await?;
        if existing.len() >= MAX_SCOPES && !existing.iter().any(|(k, _)| k == s) {
            return Err(IdentityCenterError::ServiceQuotaExceeded(format!(
                "An application can have at most {MAX_SCOPES} access scopes."
            )));
        }
        let mut d = json!({"Scope": s});
        if let Some(t) = targets {
            d["AuthorizedTargets"] = json!(t);
        }
        let params = json!({"applicationArn": arn, "scope": s});
        self.put_application_setting(arn, AppSetting::Scope, s, d, params)
            .await
    }

    pub(crate) async fn put_application_authentication_method(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let t = auth_method_type(doc)?;
        let m = object(doc, "AuthenticationMethod", "authenticationMethod")?
            .ok_or_else(|| not_null("authenticationMethod"))?;
        let policy = m
            .get("Iam")
            .and_then(|i| i.get("ActorPolicy"))
            .filter(|p| !p.is_null())
            .ok_or_else(|| not_null("authenticationMethod.iam.actorPolicy"))?;
        if m.len() != 1 {
            return Err(validation(
                "AuthenticationMethod must set exactly the Iam member.",
            ));
        }
        let text = match policy {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        Policy::parse(&text, PolicyKind::Resource).map_err(|e| {
            validation(format!(
                "The ActorPolicy is not a valid resource policy: {e}"
            ))
        })?;
        let policy: Value =
            serde_json::from_str(&text).map_err(|_| validation("The ActorPolicy is not JSON."))?;
        self.allow(caller, meta, "sso:PutApplicationAuthenticationMethod", arn)?;
        self.owned_application(caller, arn).await?;
        let d = json!({"Iam": {"ActorPolicy": policy}});
        let params = json!({"applicationArn": arn, "authenticationMethodType": t});
        self.put_application_setting(arn, AppSetting::AuthenticationMethod, t, d, params)
            .await
    }

    pub(crate) async fn put_application_assignment_configuration(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let required = match doc.get("AssignmentRequired") {
            Some(Value::Bool(b)) => *b,
            None | Some(Value::Null) => return Err(not_null("assignmentRequired")),
            Some(_) => return Err(validation("Member AssignmentRequired must be a boolean")),
        };
        self.allow(
            caller,
            meta,
            "sso:PutApplicationAssignmentConfiguration",
            arn,
        )?;
        self.owned_application(caller, arn).await?;
        let d = json!({"AssignmentRequired": required});
        let params = json!({"applicationArn": arn, "assignmentRequired": required});
        self.put_application_setting(arn, AppSetting::AssignmentConfiguration, "", d, params)
            .await
    }

    pub(crate) async fn get_application_assignment_configuration(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        self.allow(
            caller,
            meta,
            "sso:GetApplicationAssignmentConfiguration",
            arn,
        )?;
        self.owned_application(caller, arn).await?;
        let d = self
            .get_setting(arn, AppSetting::AssignmentConfiguration, "")
            .await?
            .unwrap_or_else(|| json!({"AssignmentRequired": true}));
        Ok(reply(
            d,
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }
}
