//! The seeded world, made through the same public APIs a user would call (the AWS SDK for
//! Rust, and SCIM as an identity provider provisions), idempotently: each step looks first and
//! makes only what is missing, so a restart finds everything and duplicates nothing.
//!
//! The seeds' shapes:
//! - account 222222222222 runs the organization's Identity Center: the instance; the directory
//!   (Mateo Jackson in the Red Project Group, Saanvi Sarkar in the Blue Project Group),
//!   provisioned over SCIM with the provider's `oid` as external id; the development identity
//!   provider as trusted token issuer (`oid` → `externalIds.id`, as seed 001 maps Entra's);
//!   the customer managed application with its jwt-bearer grant, access scope and IAM
//!   authentication method (ActorPolicy);
//! - account 111111111111 runs the application: the ApplicationRole, the IdentityBearerRole
//!   and the S3 Access Grants location role, with the seeds' trust and permission policies;
//!   the Access Grants instance (associated with Identity Center), its location and grants
//!   (Red → `projects/red/*`, Blue → `projects/blue/*`); `example-bucket` with this month's
//!   sales. Where the seeds' application runs as a Lambda function (trusting
//!   `lambda.amazonaws.com`), the dev world's runs as the IAM user `data-application`, which
//!   the ApplicationRole trusts instead.

use crate::clients::{self, Keys, Target};
use crate::data::{BUCKET, CATALOG};
use crate::state::{DevUser, State};
use crate::{BLUE_GROUP, Operator, RED_GROUP};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

pub const APP_ACCOUNT: &str = "111111111111";
pub const IDC_ACCOUNT: &str = "222222222222";
pub const APPLICATION_NAME: &str = "MyDataApplication";
pub const ISSUER_NAME: &str = "ExampleCorp-EntraID-development";
pub const APP_USER: &str = "data-application";
pub const APPLICATION_ROLE: &str = "ApplicationRole";
pub const BEARER_ROLE: &str = "IdentityBearerRole";
pub const LOCATION_ROLE: &str = "s3-access-grants-role";
/// The role `tip` assumes with the development provider's ID token (seed 004's flow).
pub const TIP_ROLE: &str = "TipWebIdentityRole";

/// A seeded directory user, as Identity Center knows them.
#[derive(Debug, Clone)]
pub struct SeededUser {
    pub username: String,
    pub display_name: String,
    /// The identity-store user id (what `onBehalfOf.userId` names).
    pub user_id: String,
}

/// What the demo needs to know of the world.
#[derive(Debug, Clone)]
pub struct World {
    pub instance_arn: String,
    pub identity_store_id: String,
    pub application_arn: String,
    pub app_keys: Keys,
    pub users: Vec<SeededUser>,
    pub groups: Vec<(String, String)>,
    /// What `tip configure idp` needs for the development provider.
    pub tip_role_arn: String,
    pub bearer_role_arn: String,
}

/// The accounts' root keys.
#[derive(Debug, Clone)]
pub struct Roots {
    pub app: Keys,
    pub idc: Keys,
}

/// An ActorPolicy or other document as the SDK's `Document`.
fn document(v: &Value) -> aws_smithy_types::Document {
    use aws_smithy_types::{Document, Number};
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Document::Number(Number::PosInt(u)),
            (_, Some(i), _) => Document::Number(Number::NegInt(i)),
            (_, _, f) => Document::Number(Number::Float(f.unwrap_or(0.0))),
        },
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(document).collect()),
        Value::Object(o) => {
            Document::Object(o.iter().map(|(k, v)| (k.clone(), document(v))).collect())
        }
    }
}

/// An SDK call's failure: its code and message (or what kept it from being answered).
fn sdk<E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error>(
    what: &str,
) -> impl FnOnce(E) -> anyhow::Error + '_ {
    move |e| match (e.code(), e.message()) {
        (Some(c), m) => anyhow!("{what}: {c}: {}", m.unwrap_or("")),
        _ => anyhow!(
            "{what}: {}",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        ),
    }
}

/// A request that could not be built.
fn build<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> anyhow::Error + '_ {
    move |e| anyhow!("{what}: {e}")
}

/// SCIM over HTTP with a bearer token.
struct Scim {
    base: String,
    auth: String,
}

impl Scim {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let a = crate::http_client::call(
            method,
            &format!("{}{path}", self.base),
            &[
                ("authorization", &self.auth),
                ("content-type", "application/scim+json"),
                ("accept", "application/scim+json"),
            ],
            body.map(|b| b.to_string()),
        )
        .await?;
        Ok((a.status, a.json()))
    }

    /// The id of the one resource of `kind` whose `attr` is `value`, if any.
    async fn find(&self, kind: &str, attr: &str, value: &str) -> Result<Option<Value>> {
        let filter = crate::web::enc(&format!("{attr} eq \"{value}\""));
        let (status, v) = self
            .call("GET", &format!("/{kind}?filter={filter}"), None)
            .await?;
        if status != 200 {
            bail!("SCIM GET /{kind} answered {status}: {v}");
        }
        Ok(v["Resources"].as_array().and_then(|r| r.first()).cloned())
    }
}

fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// Make (or find) the whole world. `state` keeps what must survive a restart (the SCIM token,
/// the application's access key).
pub async fn seed(
    t: &Target,
    roots: &Roots,
    issuer: &str,
    client_id: &str,
    users: &[DevUser],
    operator: &dyn Operator,
    state: &mut State,
) -> Result<World> {
    // --- Identity Center, in the organization's Identity Center account.
    let sso = clients::sso_admin(t, &roots.idc);
    let instances = sso
        .list_instances()
        .send()
        .await
        .map_err(sdk("ListInstances"))?;
    let instance_arn = match instances.instances().first().and_then(|i| i.instance_arn()) {
        Some(a) => a.to_owned(),
        None => sso
            .create_instance()
            .name("example-corp")
            .send()
            .await
            .map_err(sdk("CreateInstance"))?
            .instance_arn()
            .ok_or_else(|| anyhow!("CreateInstance returned no ARN"))?
            .to_owned(),
    };
    let identity_store_id = sso
        .describe_instance()
        .instance_arn(&instance_arn)
        .send()
        .await
        .map_err(sdk("DescribeInstance"))?
        .identity_store_id()
        .ok_or_else(|| anyhow!("DescribeInstance returned no identity store"))?
        .to_owned();

    // --- The directory, provisioned over SCIM as the company's IdP would.
    let scim_base = format!(
        "{}/{identity_store_id}/scim/v2",
        t.endpoint.trim_end_matches('/')
    );
    let mut scim = None;
    if let Some(tok) = &state.scim_token {
        let s = Scim {
            base: scim_base.clone(),
            auth: format!("Bearer {tok}"),
        };
        if s.call("GET", "/ServiceProviderConfig", None).await?.0 == 200 {
            scim = Some(s);
        }
    }
    let scim = match scim {
        Some(s) => s,
        None => {
            let tok = operator
                .scim_token(&identity_store_id)
                .await
                .context("making a SCIM token")?;
            state.scim_token = Some(tok.clone());
            Scim {
                base: scim_base,
                auth: format!("Bearer {tok}"),
            }
        }
    };
    let mut groups = Vec::new();
    for name in [RED_GROUP, BLUE_GROUP] {
        let id = match scim.find("Groups", "displayName", name).await? {
            Some(g) => g["id"].as_str().unwrap_or_default().to_owned(),
            None => {
                let (status, g) = scim
                    .call(
                        "POST",
                        "/Groups",
                        Some(
                            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                            "displayName": name, "externalId": uuid::Uuid::new_v4().to_string()}),
                        ),
                    )
                    .await?;
                if status != 201 {
                    bail!("SCIM POST /Groups answered {status}: {g}");
                }
                g["id"].as_str().unwrap_or_default().to_owned()
            }
        };
        groups.push((name.to_owned(), id));
    }
    let mut seeded = Vec::new();
    for u in users {
        let id = match scim.find("Users", "userName", &u.email).await? {
            Some(found) => found["id"].as_str().unwrap_or_default().to_owned(),
            None => {
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": u.email,
                    "externalId": u.oid,
                    "name": {"givenName": u.given_name, "familyName": u.family_name,
                        "formatted": u.display_name()},
                    "displayName": u.display_name(),
                    "emails": [{"value": u.email, "type": "work", "primary": true}],
                    "active": true,
                });
                let (status, created) = scim.call("POST", "/Users", Some(body)).await?;
                if status != 201 {
                    bail!("SCIM POST /Users answered {status}: {created}");
                }
                created["id"].as_str().unwrap_or_default().to_owned()
            }
        };
        for g in &u.groups {
            let Some((_, gid)) = groups.iter().find(|(n, _)| n == g) else {
                continue;
            };
            let (status, group) = scim.call("GET", &format!("/Groups/{gid}"), None).await?;
            if status != 200 {
                bail!("SCIM GET /Groups/{gid} answered {status}: {group}");
            }
            let member = group["members"]
                .as_array()
                .is_some_and(|m| m.iter().any(|x| x["value"] == id.as_str()));
            if !member {
                let (status, v) = scim
                    .call(
                        "PATCH",
                        &format!("/Groups/{gid}"),
                        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]})),
                    )
                    .await?;
                if !(200..300).contains(&status) {
                    bail!("SCIM PATCH /Groups/{gid} answered {status}: {v}");
                }
            }
        }
        seeded.push(SeededUser {
            username: u.username.clone(),
            display_name: u.display_name(),
            user_id: id,
        });
    }

    // --- The trusted token issuer: the development IdP, mapped as seed 001 maps Entra ID.
    let issuers = sso
        .list_trusted_token_issuers()
        .instance_arn(&instance_arn)
        .send()
        .await
        .map_err(sdk("ListTrustedTokenIssuers"))?;
    let mut tti_arn = None;
    for i in issuers.trusted_token_issuers() {
        if i.name() != Some(ISSUER_NAME) {
            continue;
        }
        let arn = i.trusted_token_issuer_arn().unwrap_or_default().to_owned();
        let d = sso
            .describe_trusted_token_issuer()
            .trusted_token_issuer_arn(&arn)
            .send()
            .await
            .map_err(sdk("DescribeTrustedTokenIssuer"))?;
        let same = matches!(
            d.trusted_token_issuer_configuration(),
            Some(aws_sdk_ssoadmin::types::TrustedTokenIssuerConfiguration::OidcJwtConfiguration(c))
                if c.issuer_url() == issuer
        );
        if same {
            tti_arn = Some(arn);
        } else {
            // The provider moved (another port): its issuer URL cannot be updated in place.
            sso.delete_trusted_token_issuer()
                .trusted_token_issuer_arn(&arn)
                .send()
                .await
                .map_err(sdk("DeleteTrustedTokenIssuer"))?;
        }
    }
    let tti_arn = match tti_arn {
        Some(a) => a,
        None => {
            use aws_sdk_ssoadmin::types::{
                JwksRetrievalOption, OidcJwtConfiguration, TrustedTokenIssuerConfiguration,
                TrustedTokenIssuerType,
            };
            let conf = OidcJwtConfiguration::builder()
                .issuer_url(issuer)
                .claim_attribute_path("oid")
                .identity_store_attribute_path("externalIds.id")
                .jwks_retrieval_option(JwksRetrievalOption::OpenIdDiscovery)
                .build()
                .map_err(build("OidcJwtConfiguration"))?;
            sso.create_trusted_token_issuer()
                .instance_arn(&instance_arn)
                .name(ISSUER_NAME)
                .trusted_token_issuer_type(TrustedTokenIssuerType::OidcJwt)
                .trusted_token_issuer_configuration(
                    TrustedTokenIssuerConfiguration::OidcJwtConfiguration(conf),
                )
                .send()
                .await
                .map_err(sdk("CreateTrustedTokenIssuer"))?
                .trusted_token_issuer_arn()
                .ok_or_else(|| anyhow!("CreateTrustedTokenIssuer returned no ARN"))?
                .to_owned()
        }
    };

    // --- The customer managed application (seed 001, steps B to E).
    let apps = sso
        .list_applications()
        .instance_arn(&instance_arn)
        .send()
        .await
        .map_err(sdk("ListApplications"))?;
    let application_arn = match apps
        .applications()
        .iter()
        .find(|a| a.name() == Some(APPLICATION_NAME))
        .and_then(|a| a.application_arn())
    {
        Some(a) => a.to_owned(),
        None => sso
            .create_application()
            .instance_arn(&instance_arn)
            .application_provider_arn("arn:aws:sso::aws:applicationProvider/custom")
            .name(APPLICATION_NAME)
            .send()
            .await
            .map_err(sdk("CreateApplication"))?
            .application_arn()
            .ok_or_else(|| anyhow!("CreateApplication returned no ARN"))?
            .to_owned(),
    };
    sso.put_application_assignment_configuration()
        .application_arn(&application_arn)
        .assignment_required(false)
        .send()
        .await
        .map_err(sdk("PutApplicationAssignmentConfiguration"))?;
    {
        use aws_sdk_ssoadmin::types::{AuthorizedTokenIssuer, Grant, GrantType, JwtBearerGrant};
        let grant = JwtBearerGrant::builder()
            .authorized_token_issuers(
                AuthorizedTokenIssuer::builder()
                    .trusted_token_issuer_arn(&tti_arn)
                    .authorized_audiences(client_id)
                    .authorized_audiences(crate::idp::TIP_CLIENT_ID)
                    .build(),
            )
            .build();
        sso.put_application_grant()
            .application_arn(&application_arn)
            .grant_type(GrantType::JwtBearer)
            .grant(Grant::JwtBearer(grant))
            .send()
            .await
            .map_err(sdk("PutApplicationGrant"))?;
    }
    sso.put_application_access_scope()
        .application_arn(&application_arn)
        .scope("s3:access_grants:read_write")
        .send()
        .await
        .map_err(sdk("PutApplicationAccessScope"))?;
    let app_role_arn = format!("arn:aws:iam::{APP_ACCOUNT}:role/{APPLICATION_ROLE}");
    let tip_role_arn = format!("arn:aws:iam::{APP_ACCOUNT}:role/{TIP_ROLE}");
    {
        use aws_sdk_ssoadmin::types::{
            AuthenticationMethod, AuthenticationMethodType, IamAuthenticationMethod,
        };
        let actor = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": APP_ACCOUNT},
            "Action": "sso-oauth:CreateTokenWithIAM",
            "Resource": application_arn,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": [app_role_arn, tip_role_arn]}}}]});
        let method = IamAuthenticationMethod::builder()
            .actor_policy(document(&actor))
            .build()
            .map_err(build("IamAuthenticationMethod"))?;
        sso.put_application_authentication_method()
            .application_arn(&application_arn)
            .authentication_method_type(AuthenticationMethodType::Iam)
            .authentication_method(AuthenticationMethod::Iam(method))
            .send()
            .await
            .map_err(sdk("PutApplicationAuthenticationMethod"))?;
    }

    // --- IAM in the application account.
    let iam = clients::iam(t, &roots.app);
    if iam.get_user().user_name(APP_USER).send().await.is_err() {
        iam.create_user()
            .user_name(APP_USER)
            .send()
            .await
            .map_err(sdk("CreateUser"))?;
    }
    let keys = iam
        .list_access_keys()
        .user_name(APP_USER)
        .send()
        .await
        .map_err(sdk("ListAccessKeys"))?;
    let app_keys = match &state.app_key {
        Some((id, secret))
            if keys
                .access_key_metadata()
                .iter()
                .any(|k| k.access_key_id() == Some(id.as_str())) =>
        {
            Keys::long_term(id, secret)
        }
        _ => {
            let k = iam
                .create_access_key()
                .user_name(APP_USER)
                .send()
                .await
                .map_err(sdk("CreateAccessKey"))?;
            let k = k
                .access_key()
                .ok_or_else(|| anyhow!("CreateAccessKey returned no key"))?;
            state.app_key = Some((
                k.access_key_id().to_owned(),
                k.secret_access_key().to_owned(),
            ));
            Keys::long_term(k.access_key_id(), k.secret_access_key())
        }
    };
    let user_arn = format!("arn:aws:iam::{APP_ACCOUNT}:user/{APP_USER}");
    let access_grants_arn = format!(
        "arn:aws:s3:{}:{APP_ACCOUNT}:access-grants/default",
        t.region
    );
    let bearer_arn = format!("arn:aws:iam::{APP_ACCOUNT}:role/{BEARER_ROLE}");
    // The development provider as an IAM OIDC provider, for tip's AssumeRoleWithWebIdentity.
    let host_path = issuer
        .split_once("://")
        .map_or(issuer, |(_, r)| r)
        .trim_end_matches('/')
        .to_owned();
    let provider_arn = format!("arn:aws:iam::{APP_ACCOUNT}:oidc-provider/{host_path}");
    if iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider_arn)
        .send()
        .await
        .is_err()
    {
        iam.create_open_id_connect_provider()
            .url(issuer)
            .client_id_list(crate::idp::TIP_CLIENT_ID)
            .send()
            .await
            .map_err(sdk("CreateOpenIDConnectProvider"))?;
    }
    let roles: [(&str, String, String); 4] = [
        (
            // Seed 000's Application IAM role; the seeds' Lambda function is this IAM user here.
            APPLICATION_ROLE,
            policy(json!([{"Effect": "Allow", "Principal": {"AWS": user_arn},
                "Action": "sts:AssumeRole"}])),
            policy(json!([
                {"Effect": "Allow", "Action": "sso-oauth:CreateTokenWithIAM", "Resource": application_arn},
                {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetContext"], "Resource": bearer_arn}])),
        ),
        (
            // Seed 000's Identity Bearer role, with its exact trust policy.
            BEARER_ROLE,
            policy(
                json!([{"Effect": "Allow", "Principal": {"AWS": APP_ACCOUNT},
                "Action": ["sts:AssumeRole", "sts:SetContext"],
                "Condition": {
                    "ArnEquals": {"aws:PrincipalArn": [app_role_arn, tip_role_arn]},
                    "StringEquals": {"sts:RequestContext/identitycenter:InstanceArn": instance_arn}}}]),
            ),
            policy(json!([{"Effect": "Allow",
                "Action": ["s3:GetDataAccess", "s3:ListCallerAccessGrants"],
                "Resource": access_grants_arn}])),
        ),
        (
            // Seed 004's web-identity role: tip assumes it with the provider's ID token for
            // its own client, exchanges the token and assumes the Identity Bearer role.
            TIP_ROLE,
            policy(
                json!([{"Effect": "Allow", "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {format!("{host_path}:aud"): crate::idp::TIP_CLIENT_ID}}}]),
            ),
            policy(json!([
                {"Effect": "Allow", "Action": "sso-oauth:CreateTokenWithIAM", "Resource": application_arn},
                {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetContext"], "Resource": bearer_arn}])),
        ),
        (
            // The location role S3 Access Grants vends sessions of.
            LOCATION_ROLE,
            policy(json!([{"Effect": "Allow",
                "Principal": {"Service": "access-grants.s3.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": APP_ACCOUNT},
                    "ArnEquals": {"aws:SourceArn": access_grants_arn}}}])),
            policy(json!([{"Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
                "Resource": [format!("arn:aws:s3:::{BUCKET}"), format!("arn:aws:s3:::{BUCKET}/*")]}])),
        ),
    ];
    for (name, trust, permissions) in &roles {
        match iam.get_role().role_name(*name).send().await {
            Ok(r) => {
                let current = r
                    .role()
                    .and_then(|r| r.assume_role_policy_document())
                    .map(|d| {
                        percent_encoding::percent_decode_str(d)
                            .decode_utf8_lossy()
                            .into_owned()
                    });
                let same = current
                    .as_deref()
                    .and_then(|c| serde_json::from_str::<Value>(c).ok())
                    == serde_json::from_str::<Value>(trust).ok();
                if !same {
                    iam.update_assume_role_policy()
                        .role_name(*name)
                        .policy_document(trust)
                        .send()
                        .await
                        .map_err(sdk("UpdateAssumeRolePolicy"))?;
                }
            }
            Err(_) => {
                iam.create_role()
                    .role_name(*name)
                    .assume_role_policy_document(trust)
                    .description("Made by tessera dev: the seeds' data application")
                    .send()
                    .await
                    .map_err(sdk("CreateRole"))?;
            }
        }
        iam.put_role_policy()
            .role_name(*name)
            .policy_name("seed")
            .policy_document(permissions)
            .send()
            .await
            .map_err(sdk("PutRolePolicy"))?;
    }

    // --- The data: this month's sales.
    let s3 = clients::s3(t, &roots.app);
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .map_err(sdk("CreateBucket"))?;
    let today = chrono::Utc::now().date_naive();
    let (year, month, day) = {
        use chrono::Datelike;
        (today.year(), today.month(), today.day())
    };
    for d in CATALOG {
        let prefix = format!("{}{year}-{month:02}/", d.prefix);
        let existing = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(&prefix)
            .send()
            .await
            .map_err(sdk("ListObjectsV2"))?;
        let have: Vec<&str> = existing.contents().iter().filter_map(|o| o.key()).collect();
        for v in d.varieties {
            let key = format!("{prefix}{v}.csv");
            if have.contains(&key.as_str()) {
                continue;
            }
            s3.put_object()
                .bucket(BUCKET)
                .key(&key)
                .content_type("text/csv")
                .body(
                    crate::data::sales_csv(v, year, month, day)
                        .into_bytes()
                        .into(),
                )
                .send()
                .await
                .map_err(sdk("PutObject"))?;
        }
    }

    // --- S3 Access Grants in the application account, with Identity Center's directory.
    let ctl = clients::s3control(t, &roots.app);
    match ctl
        .get_access_grants_instance()
        .account_id(APP_ACCOUNT)
        .send()
        .await
    {
        Ok(i) => {
            if i.identity_center_instance_arn().is_none() {
                ctl.associate_access_grants_identity_center()
                    .account_id(APP_ACCOUNT)
                    .identity_center_arn(&instance_arn)
                    .send()
                    .await
                    .map_err(sdk("AssociateAccessGrantsIdentityCenter"))?;
            }
        }
        Err(_) => {
            ctl.create_access_grants_instance()
                .account_id(APP_ACCOUNT)
                .identity_center_arn(&instance_arn)
                .send()
                .await
                .map_err(sdk("CreateAccessGrantsInstance"))?;
        }
    }
    let locations = ctl
        .list_access_grants_locations()
        .account_id(APP_ACCOUNT)
        .send()
        .await
        .map_err(sdk("ListAccessGrantsLocations"))?;
    let location_id = match locations
        .access_grants_locations_list()
        .iter()
        .find(|l| l.location_scope() == Some("s3://"))
        .and_then(|l| l.access_grants_location_id())
    {
        Some(id) => id.to_owned(),
        None => ctl
            .create_access_grants_location()
            .account_id(APP_ACCOUNT)
            .location_scope("s3://")
            .iam_role_arn(format!("arn:aws:iam::{APP_ACCOUNT}:role/{LOCATION_ROLE}"))
            .send()
            .await
            .map_err(sdk("CreateAccessGrantsLocation"))?
            .access_grants_location_id()
            .ok_or_else(|| anyhow!("CreateAccessGrantsLocation returned no id"))?
            .to_owned(),
    };
    let grants = ctl
        .list_access_grants()
        .account_id(APP_ACCOUNT)
        .send()
        .await
        .map_err(sdk("ListAccessGrants"))?;
    for (group, sub) in [
        (RED_GROUP, format!("{BUCKET}/projects/red/*")),
        (BLUE_GROUP, format!("{BUCKET}/projects/blue/*")),
    ] {
        let Some((_, gid)) = groups.iter().find(|(n, _)| n == group) else {
            continue;
        };
        let scope = format!("s3://{sub}");
        let exists = grants.access_grants_list().iter().any(|g| {
            g.grant_scope() == Some(scope.as_str())
                && g.grantee().and_then(|e| e.grantee_identifier()) == Some(gid.as_str())
        });
        if exists {
            continue;
        }
        use aws_sdk_s3control::types::{
            AccessGrantsLocationConfiguration, Grantee, GranteeType, Permission,
        };
        ctl.create_access_grant()
            .account_id(APP_ACCOUNT)
            .access_grants_location_id(&location_id)
            .access_grants_location_configuration(
                AccessGrantsLocationConfiguration::builder()
                    .s3_sub_prefix(&sub)
                    .build(),
            )
            .grantee(
                Grantee::builder()
                    .grantee_type(GranteeType::DirectoryGroup)
                    .grantee_identifier(gid)
                    .build(),
            )
            .permission(Permission::Read)
            .send()
            .await
            .map_err(sdk("CreateAccessGrant"))?;
    }

    Ok(World {
        instance_arn,
        identity_store_id,
        application_arn,
        app_keys,
        users: seeded,
        groups,
        tip_role_arn,
        bearer_role_arn: bearer_arn,
    })
}
