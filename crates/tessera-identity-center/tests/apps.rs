//! sso-admin's trusted token issuers and applications at the service seam: validation, one
//! instance's objects invisible to another account, settings per application, deletes that
//! take an application's settings with it, authorisation through the kernel.

mod common;

use common::*;
use serde_json::{Value, json};
use tessera_identity_center::SsoAdminOp::{self, *};

const JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

async fn instance(f: &Fx, account: &str) -> String {
    call(f, &root(account), CreateInstance, json!({}))
        .await
        .unwrap()["InstanceArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn issuer_doc(instance: &str, name: &str) -> Value {
    json!({"InstanceArn": instance, "Name": name, "TrustedTokenIssuerType": "OIDC_JWT",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {
            "IssuerUrl": "https://idp.example.com/tenant/v2.0", "ClaimAttributePath": "email",
            "IdentityStoreAttributePath": "emails.value", "JwksRetrievalOption": "OPEN_ID_DISCOVERY"}}})
}

async fn ok(f: &Fx, op: SsoAdminOp, doc: Value) -> Value {
    call(f, &root(ACCT), op, doc)
        .await
        .unwrap_or_else(|e| panic!("{op:?}: {e:?}"))
}

async fn err(f: &Fx, op: SsoAdminOp, doc: Value) -> String {
    code(&call(f, &root(ACCT), op, doc).await.unwrap_err())
}

#[tokio::test]
async fn trusted_token_issuers() {
    let f = fx().await;
    let inst = instance(&f, ACCT).await;
    let arn =
        ok(&f, CreateTrustedTokenIssuer, issuer_doc(&inst, "entra")).await["TrustedTokenIssuerArn"]
            .as_str()
            .unwrap()
            .to_owned();
    let id = inst.rsplit('/').next().unwrap();
    assert!(
        arn.starts_with(&format!("arn:aws:sso::{ACCT}:trustedTokenIssuer/{id}/tti-")),
        "{arn}"
    );
    let d = ok(
        &f,
        DescribeTrustedTokenIssuer,
        json!({"TrustedTokenIssuerArn": arn}),
    )
    .await;
    assert_eq!(d["Name"], "entra");
    assert_eq!(
        d["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"]["IdentityStoreAttributePath"],
        "emails.value"
    );
    // Names are unique in an instance, without regard to case.
    assert_eq!(
        err(&f, CreateTrustedTokenIssuer, issuer_doc(&inst, "ENTRA")).await,
        "ConflictException"
    );
    // Bad configurations.
    for (field, value) in [
        ("IssuerUrl", json!("ftp://idp.example.com")),
        ("IssuerUrl", json!("http://idp.example.com")),
        ("ClaimAttributePath", json!("a.b.c.d")),
        ("IdentityStoreAttributePath", json!("emails_value")),
        ("JwksRetrievalOption", json!("STATIC")),
    ] {
        let mut doc = issuer_doc(&inst, "other");
        doc["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"][field] = value.clone();
        assert_eq!(
            err(&f, CreateTrustedTokenIssuer, doc).await,
            "ValidationException",
            "{field} = {value}"
        );
    }
    let mut doc = issuer_doc(&inst, "other");
    doc["TrustedTokenIssuerType"] = json!("SAML");
    assert_eq!(
        err(&f, CreateTrustedTokenIssuer, doc).await,
        "ValidationException"
    );
    // Update: the name and the mapping, never the issuer URL.
    ok(&f, UpdateTrustedTokenIssuer, json!({"TrustedTokenIssuerArn": arn, "Name": "entra-2",
        "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {"ClaimAttributePath": "preferred_username",
            "IdentityStoreAttributePath": "userName"}}})).await;
    let d = ok(
        &f,
        DescribeTrustedTokenIssuer,
        json!({"TrustedTokenIssuerArn": arn}),
    )
    .await;
    assert_eq!(d["Name"], "entra-2");
    let c = &d["TrustedTokenIssuerConfiguration"]["OidcJwtConfiguration"];
    assert_eq!(
        (c["ClaimAttributePath"].as_str(), c["IssuerUrl"].as_str()),
        (
            Some("preferred_username"),
            Some("https://idp.example.com/tenant/v2.0")
        )
    );
    assert_eq!(
        err(&f, UpdateTrustedTokenIssuer, json!({"TrustedTokenIssuerArn": arn,
            "TrustedTokenIssuerConfiguration": {"OidcJwtConfiguration": {"IssuerUrl": "https://other.example.com"}}})).await,
        "ValidationException"
    );
    let l = ok(&f, ListTrustedTokenIssuers, json!({"InstanceArn": inst})).await;
    assert_eq!(
        l["TrustedTokenIssuers"],
        json!([{"TrustedTokenIssuerArn": arn, "Name": "entra-2", "TrustedTokenIssuerType": "OIDC_JWT"}])
    );
    // Another account sees nothing of it.
    let other = call(
        &f,
        &root("222222222222"),
        DescribeTrustedTokenIssuer,
        json!({"TrustedTokenIssuerArn": arn}),
    )
    .await;
    assert_eq!(code(&other.unwrap_err()), "ResourceNotFoundException");
    ok(
        &f,
        DeleteTrustedTokenIssuer,
        json!({"TrustedTokenIssuerArn": arn}),
    )
    .await;
    assert_eq!(
        err(
            &f,
            DescribeTrustedTokenIssuer,
            json!({"TrustedTokenIssuerArn": arn})
        )
        .await,
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn applications_and_their_settings() {
    let f = fx().await;
    let inst = instance(&f, ACCT).await;
    let tti =
        ok(&f, CreateTrustedTokenIssuer, issuer_doc(&inst, "entra")).await["TrustedTokenIssuerArn"]
            .as_str()
            .unwrap()
            .to_owned();
    let custom = "arn:aws:sso::aws:applicationProvider/custom";
    let created = ok(
        &f,
        CreateApplication,
        json!({"InstanceArn": inst, "ApplicationProviderArn": custom, "Name": "MyDataApplication"}),
    )
    .await;
    let app = created["ApplicationArn"].as_str().unwrap().to_owned();
    assert!(
        created["IdentityStoreArn"]
            .as_str()
            .unwrap()
            .starts_with(&format!("arn:aws:identitystore::{ACCT}:identitystore/d-"))
    );
    assert_eq!(
        err(&f, CreateApplication, json!({"InstanceArn": inst, "ApplicationProviderArn": "arn:aws:sso::aws:applicationProvider/catalog/x", "Name": "x"})).await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        err(
            &f,
            CreateApplication,
            json!({"InstanceArn": inst, "ApplicationProviderArn": custom, "Name": ""})
        )
        .await,
        "ValidationException"
    );
    let d = ok(&f, DescribeApplication, json!({"ApplicationArn": app})).await;
    assert_eq!(
        (
            d["Name"].as_str(),
            d["Status"].as_str(),
            d["ApplicationAccount"].as_str()
        ),
        (Some("MyDataApplication"), Some("ENABLED"), Some(ACCT))
    );
    ok(
        &f,
        UpdateApplication,
        json!({"ApplicationArn": app, "Description": "reads data", "Status": "DISABLED"}),
    )
    .await;
    let d = ok(&f, DescribeApplication, json!({"ApplicationArn": app})).await;
    assert_eq!(
        (d["Description"].as_str(), d["Status"].as_str()),
        (Some("reads data"), Some("DISABLED"))
    );

    // Grants: the union member must match the type; issuers must be the instance's.
    let grant = json!({"JwtBearer": {"AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": tti, "AuthorizedAudiences": ["aud-1"]}]}});
    ok(
        &f,
        PutApplicationGrant,
        json!({"ApplicationArn": app, "GrantType": JWT, "Grant": grant}),
    )
    .await;
    assert_eq!(
        ok(
            &f,
            GetApplicationGrant,
            json!({"ApplicationArn": app, "GrantType": JWT})
        )
        .await["Grant"],
        grant
    );
    assert_eq!(
        err(
            &f,
            PutApplicationGrant,
            json!({"ApplicationArn": app, "GrantType": JWT, "Grant": {"RefreshToken": {}}})
        )
        .await,
        "ValidationException"
    );
    assert_eq!(
        err(
            &f,
            PutApplicationGrant,
            json!({"ApplicationArn": app, "GrantType": "password", "Grant": {"RefreshToken": {}}})
        )
        .await,
        "ValidationException"
    );
    let foreign = "arn:aws:sso::111111111111:trustedTokenIssuer/ssoins-0000000000000000/tti-00000000-0000-0000-0000-000000000000";
    assert_eq!(
        err(&f, PutApplicationGrant, json!({"ApplicationArn": app, "GrantType": JWT,
            "Grant": {"JwtBearer": {"AuthorizedTokenIssuers": [{"TrustedTokenIssuerArn": foreign, "AuthorizedAudiences": ["a"]}]}}})).await,
        "ResourceNotFoundException"
    );
    ok(
        &f,
        PutApplicationGrant,
        json!({"ApplicationArn": app, "GrantType": "refresh_token", "Grant": {"RefreshToken": {}}}),
    )
    .await;
    let grants = ok(&f, ListApplicationGrants, json!({"ApplicationArn": app})).await;
    assert_eq!(grants["Grants"].as_array().unwrap().len(), 2);
    ok(
        &f,
        DeleteApplicationGrant,
        json!({"ApplicationArn": app, "GrantType": "refresh_token"}),
    )
    .await;
    assert_eq!(
        err(
            &f,
            GetApplicationGrant,
            json!({"ApplicationArn": app, "GrantType": "refresh_token"})
        )
        .await,
        "ResourceNotFoundException"
    );

    // Scopes.
    ok(
        &f,
        PutApplicationAccessScope,
        json!({"ApplicationArn": app, "Scope": "s3:access_grants:read_write"}),
    )
    .await;
    assert_eq!(
        err(
            &f,
            PutApplicationAccessScope,
            json!({"ApplicationArn": app, "Scope": "a:b:c:d"})
        )
        .await,
        "ValidationException"
    );
    let s = ok(
        &f,
        ListApplicationAccessScopes,
        json!({"ApplicationArn": app}),
    )
    .await;
    assert_eq!(
        s["Scopes"],
        json!([{"Scope": "s3:access_grants:read_write"}])
    );

    // Authentication method: an ActorPolicy that is a resource policy.
    let actor = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCT},
        "Action": "sso-oauth:CreateTokenWithIAM", "Resource": app}]});
    ok(
        &f,
        PutApplicationAuthenticationMethod,
        json!({"ApplicationArn": app, "AuthenticationMethodType": "IAM",
        "AuthenticationMethod": {"Iam": {"ActorPolicy": actor}}}),
    )
    .await;
    let m = ok(
        &f,
        GetApplicationAuthenticationMethod,
        json!({"ApplicationArn": app, "AuthenticationMethodType": "IAM"}),
    )
    .await;
    assert_eq!(m["AuthenticationMethod"]["Iam"]["ActorPolicy"], actor);
    let no_principal = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sso-oauth:CreateTokenWithIAM", "Resource": "*"}]});
    assert_eq!(
        err(
            &f,
            PutApplicationAuthenticationMethod,
            json!({"ApplicationArn": app, "AuthenticationMethodType": "IAM",
            "AuthenticationMethod": {"Iam": {"ActorPolicy": no_principal}}})
        )
        .await,
        "ValidationException"
    );

    // Assignments: required by default; principals must exist.
    assert_eq!(
        ok(
            &f,
            GetApplicationAssignmentConfiguration,
            json!({"ApplicationArn": app})
        )
        .await["AssignmentRequired"],
        true
    );
    ok(
        &f,
        PutApplicationAssignmentConfiguration,
        json!({"ApplicationArn": app, "AssignmentRequired": false}),
    )
    .await;
    assert_eq!(
        ok(
            &f,
            GetApplicationAssignmentConfiguration,
            json!({"ApplicationArn": app})
        )
        .await["AssignmentRequired"],
        false
    );
    let nobody = "0123456789-00000000-0000-0000-0000-000000000000";
    assert_eq!(
        err(
            &f,
            CreateApplicationAssignment,
            json!({"ApplicationArn": app, "PrincipalId": nobody, "PrincipalType": "USER"})
        )
        .await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        err(
            &f,
            CreateApplicationAssignment,
            json!({"ApplicationArn": app, "PrincipalId": "not-an-id", "PrincipalType": "USER"})
        )
        .await,
        "ValidationException"
    );

    // The other account cannot see or change the application.
    let other = call(
        &f,
        &root("222222222222"),
        PutApplicationAccessScope,
        json!({"ApplicationArn": app, "Scope": "x"}),
    )
    .await;
    assert_eq!(code(&other.unwrap_err()), "ResourceNotFoundException");

    // Deleting the application takes its settings with it.
    ok(&f, DeleteApplication, json!({"ApplicationArn": app})).await;
    assert_eq!(
        err(&f, DescribeApplication, json!({"ApplicationArn": app})).await,
        "ResourceNotFoundException"
    );
    assert!(
        f.store
            .list_app_settings(&app, "grant")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn callers_need_sso_permissions() {
    let f = fx().await;
    let inst = instance(&f, ACCT).await;
    let nobody = user(&f, "nobody", None).await;
    let e = call(
        &f,
        &nobody,
        CreateApplication,
        json!({"InstanceArn": inst,
        "ApplicationProviderArn": "arn:aws:sso::aws:applicationProvider/custom", "Name": "x"}),
    )
    .await;
    assert_eq!(code(&e.unwrap_err()), "AccessDeniedException");
    let admin = user(&f, "admin", Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sso:*","Resource":"*"}]}"#)).await;
    let created = call(
        &f,
        &admin,
        CreateApplication,
        json!({"InstanceArn": inst,
        "ApplicationProviderArn": "arn:aws:sso::aws:applicationProvider/custom", "Name": "x"}),
    )
    .await;
    assert!(created.is_ok(), "{created:?}");
}
