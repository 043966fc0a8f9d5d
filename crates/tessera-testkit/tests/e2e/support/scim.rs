//! SCIM against a `tessera dev`: an identity store with a SCIM token, and calls to it.

use super::{Cli, field};
use tessera_testkit::{DevServer, tessera_command};

/// A SCIM token for the identity store `store`, made with `tessera scim-token create`.
pub fn scim_token(server: &DevServer, store: &str) -> String {
    let out = tessera_command(&[
        "scim-token",
        "create",
        "--identity-store-id",
        store,
        "--data-dir",
        server.data_dir.to_str().unwrap(),
    ]);
    field(&out, "Token:")
}

/// An instance for `cli`'s account, and a SCIM token for its identity store: (identity
/// store id, token).
pub fn scim_setup(cli: &Cli) -> (String, String) {
    let (_, store) = cli.create_instance(Some("scim"));
    let token = scim_token(cli.server, &store);
    (store, token)
}

/// A SCIM call: (status, JSON body or Null).
pub fn scim(
    server: &DevServer,
    token: &str,
    store: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let auth = format!("Bearer {token}");
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, out) = tessera_testkit::http_request(
        &server.manifest.endpoint,
        method,
        &format!("/{store}/scim/v2{path}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/scim+json"),
        ],
        &text,
    );
    let v = if out.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    (status, v)
}

/// A SCIM user with the core and enterprise schemas.
pub fn scim_user(user_name: &str, email: &str, external_id: &str) -> serde_json::Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": user_name, "externalId": external_id,
        "name": {"givenName": "Given", "familyName": "Family"},
        "displayName": format!("{user_name} display"), "active": true,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Data"},
    })
}
