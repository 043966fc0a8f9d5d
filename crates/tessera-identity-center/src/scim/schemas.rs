//! SCIM discovery: `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas`.

use super::documents::{ENTERPRISE_TEXT, MULTI, USER_TEXT};
use super::{ENTERPRISE, GROUP_SCHEMA, MAX_PAGE, USER_SCHEMA};
use serde_json::{Value, json};

pub(super) fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/developerguide/what-is-scim.html",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
            "description": "A bearer token created with `tessera scim-token create`.", "primary": true}],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

pub(super) fn resource_type(name: &str, base: &str) -> Value {
    let (endpoint, schema) = if name == "User" {
        ("/Users", USER_SCHEMA)
    } else {
        ("/Groups", GROUP_SCHEMA)
    };
    let mut v = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": name, "name": name, "endpoint": endpoint, "schema": schema,
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")},
    });
    if name == "User" {
        v["schemaExtensions"] = json!([{"schema": ENTERPRISE, "required": false}]);
    }
    v
}

fn attr(name: &str, kind: &str, required: bool, mutability: &str) -> Value {
    json!({"name": name, "type": kind, "multiValued": false, "required": required,
        "caseExact": false, "mutability": mutability, "returned": "default", "uniqueness": "none"})
}

fn complex(name: &str, subs: Vec<Value>, multi: bool, required: bool) -> Value {
    json!({"name": name, "type": "complex", "multiValued": multi, "required": required,
        "mutability": "readWrite", "returned": "default", "uniqueness": "none", "subAttributes": subs})
}

/// The schemas this endpoint publishes: exactly the attributes it stores and returns.
pub(super) fn schemas(base: &str) -> Vec<Value> {
    let text = |n: &str| attr(n, "string", false, "readWrite");
    let mut user_name = attr("userName", "string", true, "readWrite");
    user_name["uniqueness"] = json!("server");
    let mut user_attrs = vec![
        user_name,
        complex(
            "name",
            vec![
                text("formatted"),
                attr("familyName", "string", true, "readWrite"),
                attr("givenName", "string", true, "readWrite"),
                text("middleName"),
                text("honorificPrefix"),
                text("honorificSuffix"),
            ],
            false,
            true,
        ),
        attr("displayName", "string", true, "readWrite"),
    ];
    for a in &USER_TEXT[1..] {
        user_attrs.push(text(a));
    }
    user_attrs.push(attr("active", "boolean", false, "readWrite"));
    for (m, fields) in MULTI {
        let mut subs: Vec<Value> = fields.iter().map(|f| text(f)).collect();
        subs.push(attr("primary", "boolean", false, "readWrite"));
        user_attrs.push(complex(m, subs, true, false));
    }
    let meta =
        |id: &str| json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")});
    let mut manager = complex("manager", vec![text("value")], false, false);
    manager["subAttributes"][0]["type"] = json!("string");
    let mut enterprise: Vec<Value> = ENTERPRISE_TEXT.iter().map(|a| text(a)).collect();
    enterprise.push(manager);
    let mut members = complex(
        "members",
        vec![
            attr("value", "string", false, "immutable"),
            attr("$ref", "reference", false, "immutable"),
        ],
        true,
        false,
    );
    members["subAttributes"][1]["referenceTypes"] = json!(["User"]);
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": USER_SCHEMA, "name": "User",
            "description": "User Account", "attributes": user_attrs, "meta": meta(USER_SCHEMA)}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": GROUP_SCHEMA, "name": "Group",
            "description": "Group", "attributes": [attr("displayName", "string", true, "readWrite"), members], "meta": meta(GROUP_SCHEMA)}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": ENTERPRISE, "name": "EnterpriseUser",
            "description": "Enterprise User", "attributes": enterprise, "meta": meta(ENTERPRISE)}),
    ]
}
