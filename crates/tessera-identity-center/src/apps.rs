//! sso-admin's trusted token issuers and applications, with each application's grants,
//! access scopes, authentication methods, assignment configuration and assignments. They are
//! stored as AWS-shaped documents (`sso_objects`, `sso_app_settings`) and read back by the
//! token endpoint through [`crate::model`].

use crate::IdentityCenterError;
use crate::model::{AppSetting, Kind};
use crate::request::{Paging, string};
use crate::sso_admin::{SsoAdminService, client_token, tags};
use crate::view::Change;
use regex::Regex;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use tessera_audit::{EventDetails, Resource};
use tessera_core::{Caller, RequestMeta};
use tessera_policy::{Policy, PolicyKind};
use tessera_service::{Body, Reply};
use tessera_store::{AppSettingRecord, InstanceRecord, SsoObjectRecord, StoreError};
use tessera_wire::CommonError;

type R<T> = Result<T, IdentityCenterError>;

fn validation(m: impl Into<String>) -> IdentityCenterError {
    IdentityCenterError::Common(CommonError::Validation(m.into()))
}

fn not_null(field: &str) -> IdentityCenterError {
    validation(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

fn bad_pattern(field: &str, value: &str, pattern: &str) -> IdentityCenterError {
    validation(format!(
        "1 validation error detected: Value '{}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}",
        value.chars().take(200).collect::<String>()
    ))
}

fn full(re: &str) -> Regex {
    Regex::new(&format!("^(?:{re})$")).expect("a valid pattern")
}

const PARTITION: &str = "arn:aws(-[a-z]{1,5}){0,3}";
static APPLICATION_ARN: LazyLock<Regex> = LazyLock::new(|| {
    full(&format!(
        "{PARTITION}:sso::\\d{{12}}:application/(sso)?ins-[a-zA-Z0-9-.]{{16}}/apl-[a-zA-Z0-9]{{16}}"
    ))
});
static ISSUER_ARN: LazyLock<Regex> = LazyLock::new(|| {
    full(&format!(
        "{PARTITION}:sso::\\d{{12}}:trustedTokenIssuer/(sso)?ins-[a-zA-Z0-9-.]{{16}}/tti-[a-f0-9]{{8}}-[a-f0-9]{{4}}-[a-f0-9]{{4}}-[a-f0-9]{{4}}-[a-f0-9]{{12}}"
    ))
});
static PROVIDER_ARN: LazyLock<Regex> = LazyLock::new(|| {
    full(&format!(
        "{PARTITION}:sso::aws:applicationProvider/[a-zA-Z0-9-/]+"
    ))
});
static SCOPE_TARGET: LazyLock<Regex> = LazyLock::new(|| {
    full(&format!(
        "{PARTITION}:sso::(\\d{{12}}:application/(sso)?ins-[a-zA-Z0-9-.]{{16}}/apl-[a-zA-Z0-9]{{16}}|:instance/(sso)?ins-[a-zA-Z0-9-.]{{16}})"
    ))
});
static ISSUER_NAME: LazyLock<Regex> = LazyLock::new(|| full("[\\w+=,.@-]+"));
static CLAIM_PATH: LazyLock<Regex> = LazyLock::new(|| full("\\p{L}+(?:(\\.|_)\\p{L}+){0,2}"));
static STORE_PATH: LazyLock<Regex> = LazyLock::new(|| full("\\p{L}+(?:\\.\\p{L}+){0,2}"));
static ISSUER_URL: LazyLock<Regex> =
    LazyLock::new(|| full("https?://[-a-zA-Z0-9+&@/%=~_|!:,.;]*[-a-zA-Z0-9+&@/%=~_|]"));
static SCOPE: LazyLock<Regex> =
    LazyLock::new(|| full("([A-Za-z0-9_]{1,50})(:[A-Za-z0-9_]{1,50})?(:[A-Za-z0-9_]{1,50})?"));
static PRINCIPAL_ID: LazyLock<Regex> = LazyLock::new(|| {
    full(
        "([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}",
    )
});

/// The custom (customer-managed OAuth) application provider, the only one Tessera knows.
pub const CUSTOM_PROVIDER: &str = "applicationProvider/custom";
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

fn required<'a>(doc: &'a Value, member: &str, field: &str) -> R<&'a str> {
    string(doc, member)?.ok_or_else(|| not_null(field))
}

fn matching<'a>(
    doc: &'a Value,
    member: &str,
    field: &str,
    re: &Regex,
    pattern: &str,
) -> R<&'a str> {
    let v = required(doc, member, field)?;
    if !re.is_match(v) {
        return Err(bad_pattern(field, v, pattern));
    }
    Ok(v)
}

fn application_arn(doc: &Value) -> R<&str> {
    matching(
        doc,
        "ApplicationArn",
        "applicationArn",
        &APPLICATION_ARN,
        "arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso::\\d{12}:application/(sso)?ins-[a-zA-Z0-9-.]{16}/apl-[a-zA-Z0-9]{16}",
    )
}

fn issuer_arn<'a>(doc: &'a Value, member: &str) -> R<&'a str> {
    matching(
        doc,
        member,
        "trustedTokenIssuerArn",
        &ISSUER_ARN,
        "arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso::\\d{12}:trustedTokenIssuer/(sso)?ins-[a-zA-Z0-9-.]{16}/tti-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
    )
}

fn object<'a>(doc: &'a Value, member: &str, field: &str) -> R<Option<&'a Map<String, Value>>> {
    match doc.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(validation(format!("Member {field} must be a structure"))),
    }
}

fn string_list<'a>(v: &'a Value, field: &str, min: usize, max: usize) -> R<Vec<&'a str>> {
    let list = v
        .as_array()
        .ok_or_else(|| validation(format!("Member {field} must be a list")))?;
    if list.len() < min || list.len() > max {
        return Err(validation(format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must have length between {min} and {max}"
        )));
    }
    list.iter()
        .map(|s| {
            s.as_str()
                .ok_or_else(|| validation(format!("Members of {field} must be strings")))
        })
        .collect()
}

/// The id part of an instance ARN (`ssoins-…`).
fn instance_id(instance_arn: &str) -> &str {
    instance_arn.rsplit('/').next().unwrap_or("")
}

fn details(params: Value, resources: Vec<Resource>, read_only: bool) -> EventDetails {
    EventDetails {
        user_identity: None,
        request_parameters: params,
        response_elements: Value::Null,
        resources,
        read_only,
        additional_event_data: serde_json::Value::Null,
    }
}

fn reply(body: Value, params: Value, resources: Vec<Resource>, read_only: bool) -> Reply {
    Reply {
        body: Body::Json(body),
        details: details(params, resources, read_only),
    }
}

fn app_resource(arn: &str) -> Resource {
    Resource {
        account_id: arn.split(':').nth(4).map(str::to_owned),
        kind: "AWS::SSO::Application".into(),
        arn: arn.to_owned(),
    }
}

fn issuer_resource(arn: &str) -> Resource {
    Resource {
        account_id: arn.split(':').nth(4).map(str::to_owned),
        kind: "AWS::SSO::TrustedTokenIssuer".into(),
        arn: arn.to_owned(),
    }
}

/// `OidcJwtConfiguration` of a create (every member required) or an update (all optional).
fn oidc_configuration(
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

fn issuer_name(doc: &Value) -> R<Option<&str>> {
    match string(doc, "Name")? {
        Some(n) if n.chars().count() <= 255 && ISSUER_NAME.is_match(n) => Ok(Some(n)),
        Some(n) => Err(bad_pattern("name", n, "[\\w+=,.@-]+")),
        None => Ok(None),
    }
}

fn describe_issuer(o: &SsoObjectRecord) -> Value {
    let mut d: Value = serde_json::from_str(&o.document).unwrap_or_else(|_| json!({}));
    if let Some(m) = d.as_object_mut() {
        m.remove("Tags");
        m.insert("TrustedTokenIssuerArn".into(), json!(o.arn));
    }
    d
}

fn describe_application(o: &SsoObjectRecord) -> Value {
    let mut d: Value = serde_json::from_str(&o.document).unwrap_or_else(|_| json!({}));
    if let Some(m) = d.as_object_mut() {
        m.remove("Tags");
        m.insert("ApplicationArn".into(), json!(o.arn));
    }
    d
}

fn portal_options(doc: &Value, member: &str) -> R<Option<Value>> {
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

fn status(doc: &Value) -> R<Option<&str>> {
    match string(doc, "Status")? {
        None => Ok(None),
        Some(s @ ("ENABLED" | "DISABLED")) => Ok(Some(s)),
        Some(s) => Err(validation(format!(
            "1 validation error detected: Value '{s}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
        ))),
    }
}

fn app_name(doc: &Value) -> R<Option<&str>> {
    match string(doc, "Name")? {
        Some(n) if !n.is_empty() && n.chars().count() <= 100 => Ok(Some(n)),
        Some(_) => Err(validation(
            "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 100",
        )),
        None => Ok(None),
    }
}

fn description(doc: &Value) -> R<Option<&str>> {
    match string(doc, "Description")? {
        Some(d) if !d.is_empty() && d.chars().count() <= 128 => Ok(Some(d)),
        Some(_) => Err(validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length between 1 and 128",
        )),
        None => Ok(None),
    }
}

/// A `Grant` union for `grant_type`: exactly the member the type names, validated.
fn grant(doc: &Value, grant_type: &str) -> R<Value> {
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

fn grant_type(doc: &Value) -> R<&str> {
    let t = required(doc, "GrantType", "grantType")?;
    if !GRANT_TYPES.iter().any(|(g, _)| *g == t) {
        return Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'grantType' failed to satisfy constraint: Member must satisfy enum value set: [authorization_code, refresh_token, urn:ietf:params:oauth:grant-type:jwt-bearer, urn:ietf:params:oauth:grant-type:token-exchange]"
        )));
    }
    Ok(t)
}

fn scope(doc: &Value) -> R<&str> {
    matching(
        doc,
        "Scope",
        "scope",
        &SCOPE,
        "([A-Za-z0-9_]{1,50})(:[A-Za-z0-9_]{1,50}){0,1}(:[A-Za-z0-9_]{1,50}){0,1}",
    )
}

fn auth_method_type(doc: &Value) -> R<&str> {
    match required(doc, "AuthenticationMethodType", "authenticationMethodType")? {
        "IAM" => Ok("IAM"),
        t => Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'authenticationMethodType' failed to satisfy constraint: Member must satisfy enum value set: [IAM]"
        ))),
    }
}

fn principal(doc: &Value) -> R<(&str, &str)> {
    let id = required(doc, "PrincipalId", "principalId")?;
    if id.len() > 47 || !PRINCIPAL_ID.is_match(id) {
        return Err(bad_pattern(
            "principalId",
            id,
            "([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}",
        ));
    }
    let t = required(doc, "PrincipalType", "principalType")?;
    if t != "USER" && t != "GROUP" {
        return Err(validation(format!(
            "1 validation error detected: Value '{t}' at 'principalType' failed to satisfy constraint: Member must satisfy enum value set: [USER, GROUP]"
        )));
    }
    Ok((t, id))
}

impl SsoAdminService {
    /// The application with this ARN in an instance the caller's account owns.
    async fn owned_application(
        &self,
        caller: &Caller,
        arn: &str,
    ) -> R<(SsoObjectRecord, InstanceRecord)> {
        let missing =
            || IdentityCenterError::ResourceNotFound(format!("Application {arn} does not exist."));
        let app = self
            .store
            .get_sso_object(arn)
            .await?
            .filter(|o| o.kind == Kind::Application.as_str())
            .ok_or_else(missing)?;
        let instance = self
            .store
            .get_instance(&app.instance_arn)
            .await?
            .filter(|i| i.owner_account_id == caller.account.as_str())
            .ok_or_else(missing)?;
        Ok((app, instance))
    }

    async fn owned_issuer(
        &self,
        caller: &Caller,
        arn: &str,
    ) -> R<(SsoObjectRecord, InstanceRecord)> {
        let missing = || {
            IdentityCenterError::ResourceNotFound(format!(
                "Trusted token issuer {arn} does not exist."
            ))
        };
        let o = self
            .store
            .get_sso_object(arn)
            .await?
            .filter(|o| o.kind == Kind::TrustedTokenIssuer.as_str())
            .ok_or_else(missing)?;
        let instance = self
            .store
            .get_instance(&o.instance_arn)
            .await?
            .filter(|i| i.owner_account_id == caller.account.as_str())
            .ok_or_else(missing)?;
        Ok((o, instance))
    }

    /// Fold a write into the configuration view (and bump its counter for other replicas).
    async fn changed(&self, change: Change) -> R<()> {
        self.view.write(change).await?;
        Ok(())
    }

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

    async fn put_setting(
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

    async fn get_setting(&self, app: &str, setting: AppSetting, key: &str) -> R<Option<Value>> {
        Ok(self
            .store
            .get_app_setting(app, setting.as_str(), key)
            .await?
            .and_then(|s| serde_json::from_str(&s.document).ok()))
    }

    async fn list_settings(&self, app: &str, setting: AppSetting) -> R<Vec<(String, Value)>> {
        Ok(self
            .store
            .list_app_settings(app, setting.as_str())
            .await?
            .into_iter()
            .filter_map(|s| Some((s.key, serde_json::from_str(&s.document).ok()?)))
            .collect())
    }

    async fn delete_setting(&self, app: &str, setting: AppSetting, key: &str) -> R<bool> {
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
        self.put_setting(arn, AppSetting::Grant, gt, g).await?;
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "grantType": gt}),
            vec![app_resource(arn)],
            false,
        ))
    }

    pub(crate) async fn get_application_grant(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let gt = grant_type(doc)?;
        self.allow(caller, meta, "sso:GetApplicationGrant", arn)?;
        self.owned_application(caller, arn).await?;
        let g = self
            .get_setting(arn, AppSetting::Grant, gt)
            .await?
            .ok_or_else(|| {
                IdentityCenterError::ResourceNotFound(format!("The application has no {gt} grant."))
            })?;
        Ok(reply(
            json!({"Grant": g}),
            json!({"applicationArn": arn, "grantType": gt}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn list_application_grants(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let paging = Paging::parse(doc)?;
        self.allow(caller, meta, "sso:ListApplicationGrants", arn)?;
        self.owned_application(caller, arn).await?;
        let all = self.list_settings(arn, AppSetting::Grant).await?;
        let body = paging.page(
            &all,
            "Grants",
            |(k, _)| k,
            |(k, g)| json!({"GrantType": k, "Grant": g}),
        )?;
        Ok(reply(
            body,
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn delete_application_grant(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let gt = grant_type(doc)?;
        self.allow(caller, meta, "sso:DeleteApplicationGrant", arn)?;
        self.owned_application(caller, arn).await?;
        if !self.delete_setting(arn, AppSetting::Grant, gt).await? {
            return Err(IdentityCenterError::ResourceNotFound(format!(
                "The application has no {gt} grant."
            )));
        }
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "grantType": gt}),
            vec![app_resource(arn)],
            false,
        ))
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
        self.put_setting(arn, AppSetting::Scope, s, d).await?;
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "scope": s}),
            vec![app_resource(arn)],
            false,
        ))
    }

    pub(crate) async fn get_application_access_scope(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let s = scope(doc)?;
        self.allow(caller, meta, "sso:GetApplicationAccessScope", arn)?;
        self.owned_application(caller, arn).await?;
        let d = self
            .get_setting(arn, AppSetting::Scope, s)
            .await?
            .ok_or_else(|| {
                IdentityCenterError::ResourceNotFound(format!(
                    "The application has no access scope {s}."
                ))
            })?;
        Ok(reply(
            d,
            json!({"applicationArn": arn, "scope": s}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn list_application_access_scopes(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        if let Some(m) = doc.get("MaxResults").filter(|v| !v.is_null())
            && !m.as_i64().is_some_and(|n| (1..=10).contains(&n))
        {
            return Err(validation(
                "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10",
            ));
        }
        let paging = Paging::parse(doc)?;
        self.allow(caller, meta, "sso:ListApplicationAccessScopes", arn)?;
        self.owned_application(caller, arn).await?;
        let all = self.list_settings(arn, AppSetting::Scope).await?;
        let body = paging.page(&all, "Scopes", |(k, _)| k, |(_, d)| d.clone())?;
        Ok(reply(
            body,
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn delete_application_access_scope(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let s = scope(doc)?;
        self.allow(caller, meta, "sso:DeleteApplicationAccessScope", arn)?;
        self.owned_application(caller, arn).await?;
        if !self.delete_setting(arn, AppSetting::Scope, s).await? {
            return Err(IdentityCenterError::ResourceNotFound(format!(
                "The application has no access scope {s}."
            )));
        }
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "scope": s}),
            vec![app_resource(arn)],
            false,
        ))
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
        self.put_setting(
            arn,
            AppSetting::AuthenticationMethod,
            t,
            json!({"Iam": {"ActorPolicy": policy}}),
        )
        .await?;
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "authenticationMethodType": t}),
            vec![app_resource(arn)],
            false,
        ))
    }

    pub(crate) async fn get_application_authentication_method(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let t = auth_method_type(doc)?;
        self.allow(caller, meta, "sso:GetApplicationAuthenticationMethod", arn)?;
        self.owned_application(caller, arn).await?;
        let d = self
            .get_setting(arn, AppSetting::AuthenticationMethod, t)
            .await?
            .ok_or_else(|| {
                IdentityCenterError::ResourceNotFound(format!(
                    "The application has no {t} authentication method."
                ))
            })?;
        Ok(reply(
            json!({"AuthenticationMethod": d}),
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn list_application_authentication_methods(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let paging = Paging::parse(doc)?;
        self.allow(
            caller,
            meta,
            "sso:ListApplicationAuthenticationMethods",
            arn,
        )?;
        self.owned_application(caller, arn).await?;
        let all = self
            .list_settings(arn, AppSetting::AuthenticationMethod)
            .await?;
        let body = paging.page(
            &all,
            "AuthenticationMethods",
            |(k, _)| k,
            |(k, d)| json!({"AuthenticationMethodType": k, "AuthenticationMethod": d}),
        )?;
        Ok(reply(
            body,
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn delete_application_authentication_method(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let t = auth_method_type(doc)?;
        self.allow(
            caller,
            meta,
            "sso:DeleteApplicationAuthenticationMethod",
            arn,
        )?;
        self.owned_application(caller, arn).await?;
        if !self
            .delete_setting(arn, AppSetting::AuthenticationMethod, t)
            .await?
        {
            return Err(IdentityCenterError::ResourceNotFound(format!(
                "The application has no {t} authentication method."
            )));
        }
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            false,
        ))
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
        self.put_setting(
            arn,
            AppSetting::AssignmentConfiguration,
            "",
            json!({"AssignmentRequired": required}),
        )
        .await?;
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "assignmentRequired": required}),
            vec![app_resource(arn)],
            false,
        ))
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

    pub(crate) async fn create_application_assignment(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let (t, id) = principal(doc)?;
        self.allow(caller, meta, "sso:CreateApplicationAssignment", arn)?;
        let (_, instance) = self.owned_application(caller, arn).await?;
        let exists = match t {
            "USER" => self
                .store
                .get_identity_user(&instance.identity_store_id, id)
                .await?
                .is_some(),
            _ => self
                .store
                .get_identity_group(&instance.identity_store_id, id)
                .await?
                .is_some(),
        };
        if !exists {
            return Err(IdentityCenterError::ResourceNotFound(format!(
                "The {} {id} does not exist in the instance's identity store.",
                t.to_lowercase()
            )));
        }
        let key = format!("{t}:{id}");
        if self
            .get_setting(arn, AppSetting::Assignment, &key)
            .await?
            .is_some()
        {
            return Err(IdentityCenterError::Conflict(
                "The principal is already assigned to the application.".into(),
            ));
        }
        self.put_setting(
            arn,
            AppSetting::Assignment,
            &key,
            json!({"PrincipalType": t, "PrincipalId": id}),
        )
        .await?;
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "principalId": id, "principalType": t}),
            vec![app_resource(arn)],
            false,
        ))
    }

    pub(crate) async fn describe_application_assignment(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let (t, id) = principal(doc)?;
        self.allow(caller, meta, "sso:DescribeApplicationAssignment", arn)?;
        self.owned_application(caller, arn).await?;
        self.get_setting(arn, AppSetting::Assignment, &format!("{t}:{id}"))
            .await?
            .ok_or_else(|| {
                IdentityCenterError::ResourceNotFound("The assignment does not exist.".into())
            })?;
        Ok(reply(
            json!({"ApplicationArn": arn, "PrincipalType": t, "PrincipalId": id}),
            json!({"applicationArn": arn, "principalId": id, "principalType": t}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn list_application_assignments(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let paging = Paging::parse(doc)?;
        self.allow(caller, meta, "sso:ListApplicationAssignments", arn)?;
        self.owned_application(caller, arn).await?;
        let all = self.list_settings(arn, AppSetting::Assignment).await?;
        let body = paging.page(&all, "ApplicationAssignments", |(k, _)| k, |(_, d)| {
            json!({"ApplicationArn": arn, "PrincipalType": d["PrincipalType"], "PrincipalId": d["PrincipalId"]})
        })?;
        Ok(reply(
            body,
            json!({"applicationArn": arn}),
            vec![app_resource(arn)],
            true,
        ))
    }

    pub(crate) async fn delete_application_assignment(
        &self,
        caller: &Caller,
        meta: &RequestMeta,
        doc: &Value,
    ) -> R<Reply> {
        let arn = application_arn(doc)?;
        let (t, id) = principal(doc)?;
        self.allow(caller, meta, "sso:DeleteApplicationAssignment", arn)?;
        self.owned_application(caller, arn).await?;
        if !self
            .delete_setting(arn, AppSetting::Assignment, &format!("{t}:{id}"))
            .await?
        {
            return Err(IdentityCenterError::ResourceNotFound(
                "The assignment does not exist.".into(),
            ));
        }
        Ok(reply(
            json!({}),
            json!({"applicationArn": arn, "principalId": id, "principalType": t}),
            vec![app_resource(arn)],
            false,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(APPLICATION_ARN.is_match(
            "arn:aws:sso::111111111111:application/ssoins-1234567890abcdef/apl-1234567890abcdef"
        ));
        assert!(
            !APPLICATION_ARN
                .is_match("arn:aws:sso::111111111111:application/ssoins-1234567890abcdef/apl-123")
        );
        assert!(ISSUER_ARN.is_match("arn:aws:sso::111111111111:trustedTokenIssuer/ssoins-1234567890abcdef/tti-01234567-89ab-cdef-0123-456789abcdef"));
        assert!(CLAIM_PATH.is_match("preferred_username"));
        assert!(CLAIM_PATH.is_match("email"));
        assert!(!CLAIM_PATH.is_match("a.b.c.d"));
        assert!(STORE_PATH.is_match("emails.value"));
        assert!(!STORE_PATH.is_match("emails_value"));
        assert!(SCOPE.is_match("s3:access_grants:read_write"));
        assert!(!SCOPE.is_match("a:b:c:d"));
        assert!(ISSUER_URL.is_match("https://login.example.com/tenant/v2.0"));
        assert!(!ISSUER_URL.is_match("ftp://x"));
    }

    #[test]
    fn grants_must_match_their_type() {
        let jwt = "urn:ietf:params:oauth:grant-type:jwt-bearer";
        let tti = "arn:aws:sso::111111111111:trustedTokenIssuer/ssoins-1234567890abcdef/tti-01234567-89ab-cdef-0123-456789abcdef";
        let ok = json!({"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": ["aud"]}]}}});
        assert!(grant(&ok, jwt).is_ok());
        assert!(grant(&json!({"Grant": {"RefreshToken": {}}}), jwt).is_err());
        assert!(grant(&json!({"Grant": {"RefreshToken": {}}}), "refresh_token").is_ok());
        assert!(
            grant(
                &json!({"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": []}}}),
                jwt
            )
            .is_err()
        );
        let no_aud = json!({"Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": []}]}}});
        assert!(grant(&no_aud, jwt).is_err());
        assert!(
            grant(
                &json!({"Grant": {"AuthorizationCode": {"RedirectUris": ["https://a/cb"]}}}),
                "authorization_code"
            )
            .is_ok()
        );
    }
}
