//! sso-admin's trusted token issuers and applications, with each application's grants,
//! access scopes, authentication methods, assignment configuration and assignments. They are
//! stored as AWS-shaped documents (`sso_objects`, `sso_app_settings`) and read back by the
//! token endpoint through [`crate::model`].

mod applications;
mod assignments;
mod issuers;
mod settings;
#[cfg(test)]
mod tests;

use crate::IdentityCenterError;
use crate::model::{AppSetting, Kind};
use crate::request::{Paging, string};
use crate::sso_admin::{SsoAdminService, client_token, tags};
use crate::view::Change;
use regex::Regex;
use serde_json::{Map, Value, json};
pub(crate) use settings::{ACCESS_SCOPES, AUTHENTICATION_METHODS, GRANTS};
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
}
