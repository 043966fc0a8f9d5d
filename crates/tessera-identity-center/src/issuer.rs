//! Tessera's Identity Center token issuer: the signing key (created once, sealed under the
//! master key, shared by every replica through the store), the issuer URL of each instance
//! and the discovery and JWKS documents a relying party verifies an `idToken` with.
//!
//! Paths (under the public URL; `_` cannot begin an S3 bucket name, so they never shadow a
//! bucket):
//! - issuer: `{public}/_identity-center/{ssoins-…}`
//! - discovery: `{issuer}/.well-known/openid-configuration`
//! - keys: `{public}/_identity-center/jwks.json`

use serde_json::{Value, json};
use tessera_crypto::MasterKey;
use tessera_crypto::token::TokenSigner;
use tessera_store::{SigningKeyRecord, StoreError, TokenStore};

/// The path prefix of the issuer's documents.
pub const ISSUER_PATH: &str = "/_identity-center/";
const KEY_AAD: &[u8] = b"tessera-token-signing-key";

/// The id of the first signing key: every replica tries to store a key under it, one wins,
/// the others adopt its key, so all sign with the same key.
const FIRST_KID: &str = "tessera-1";

#[derive(Debug)]
pub struct TokenIssuer {
    signer: TokenSigner,
    /// Every stored key's public half, for the JWKS (a relying party verifies any of them).
    published: Vec<serde_json::Value>,
    public_url: String,
}

impl TokenIssuer {
    pub fn new(signer: TokenSigner, public_url: &str) -> TokenIssuer {
        TokenIssuer {
            published: vec![signer.jwk()],
            signer,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The newest stored signing key, or a new one stored now (another replica's, if it
    /// stored one first).
    pub async fn load(
        store: &dyn TokenStore,
        master: &MasterKey,
        public_url: &str,
        now: i64,
    ) -> Result<TokenIssuer, StoreError> {
        let open = |k: &SigningKeyRecord| -> Result<TokenSigner, StoreError> {
            let pkcs8 = master
                .open(&k.key_sealed, &[KEY_AAD, k.kid.as_bytes()].concat())
                .map_err(|e| StoreError::Backend(format!("token signing key {}: {e}", k.kid)))?;
            TokenSigner::from_pkcs8(k.kid.clone(), &pkcs8)
                .map_err(|e| StoreError::Backend(format!("token signing key {}: {e}", k.kid)))
        };
        if store.list_signing_keys().await?.is_empty() {
            let signer = TokenSigner::generate(FIRST_KID);
            let rec = SigningKeyRecord {
                kid: FIRST_KID.to_owned(),
                key_sealed: master.seal(signer.pkcs8(), &[KEY_AAD, FIRST_KID.as_bytes()].concat()),
                created_at: now,
            };
            match store.add_signing_key(&rec).await {
                // Another replica stored the first key: use its.
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        // The newest key signs; every key is published.
        let keys = store.list_signing_keys().await?;
        let signers = keys.iter().map(open).collect::<Result<Vec<_>, _>>()?;
        let published = signers.iter().map(TokenSigner::jwk).collect();
        let signer = signers.into_iter().last().ok_or(StoreError::Conflict)?;
        Ok(TokenIssuer {
            signer,
            published,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// `iss` of the tokens of the instance `arn:…:sso:::instance/ssoins-…`.
    pub fn issuer_url(&self, instance_arn: &str) -> String {
        let id = instance_arn.rsplit('/').next().unwrap_or("");
        format!("{}{ISSUER_PATH}{id}", self.public_url)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}{ISSUER_PATH}jwks.json", self.public_url)
    }

    pub fn jwks(&self) -> Value {
        json!({"keys": self.published})
    }

    /// The document served at `path` (below the public URL), if any: the JWKS, or an
    /// instance's OpenID discovery document.
    pub fn document(&self, path: &str) -> Option<Value> {
        let rest = path.strip_prefix(ISSUER_PATH)?;
        if rest == "jwks.json" {
            return Some(self.jwks());
        }
        let id = rest.strip_suffix("/.well-known/openid-configuration")?;
        let ok = crate::sso_admin::is_instance_id(id);
        if !ok {
            return None;
        }
        let issuer = format!("{}{ISSUER_PATH}{id}", self.public_url);
        Some(json!({
            "issuer": issuer,
            "jwks_uri": self.jwks_url(),
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["id_token"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "act",
                "sts:identity_context", "sts:audit_context", "aws:identity_store_id",
                "aws:identity_store_arn", "aws:instance_arn", "aws:instance_account",
                "aws:application_arn", "aws:credential_id"],
        }))
    }
}

tessera_service::operations! {
    /// What the token issuer serves.
    #[derive(Copy)]
    pub enum IssuerOp { GetIssuerDocument [unsigned] }
}

/// The token issuer's documents (discovery and JWKS) as a registered service: unsigned GETs
/// under [`ISSUER_PATH`].
#[derive(Debug)]
pub struct IssuerDocuments(pub std::sync::Arc<TokenIssuer>);

pub static SPEC: tessera_service::ServiceSpec = tessera_service::ServiceSpec {
    name: "token-issuer",
    signing_names: &[],
    protocol: tessera_wire::Protocol::RestJson,
    event_source: "sso-oauth.amazonaws.com",
    routing: tessera_service::Routing::Unsigned {
        prefix: ISSUER_PATH,
    },
};

/// The issuer has no document at the path asked for (or not for that method).
#[derive(Debug, thiserror::Error)]
#[error("No such issuer document.")]
pub struct NoSuchDocument;

#[async_trait::async_trait]
impl tessera_service::Service for IssuerDocuments {
    type Op = IssuerOp;
    type Error = NoSuchDocument;

    fn spec(&self) -> &'static tessera_service::ServiceSpec {
        &SPEC
    }

    fn rest_operation(&self, _method: &http::Method, _path: &str) -> Option<IssuerOp> {
        Some(IssuerOp::GetIssuerDocument)
    }

    async fn call(
        &self,
        _op: IssuerOp,
        ctx: &tessera_service::Ctx<'_>,
    ) -> Result<tessera_service::Reply, NoSuchDocument> {
        let parts = ctx.input.parts;
        if parts.method != http::Method::GET {
            return Err(NoSuchDocument);
        }
        let doc = self.0.document(parts.uri.path()).ok_or(NoSuchDocument)?;
        let mut resp = http::Response::new(bytes::Bytes::from(doc.to_string()));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        Ok(tessera_service::Reply {
            body: tessera_service::Body::Http(resp),
            details: tessera_audit::EventDetails {
                read_only: true,
                ..Default::default()
            },
        })
    }

    fn to_aws(&self, e: &NoSuchDocument) -> tessera_wire::AwsError {
        tessera_wire::AwsError::new(404, "NotFound", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let i = TokenIssuer::new(TokenSigner::generate("k"), "http://127.0.0.1:9/");
        assert_eq!(
            i.issuer_url("arn:aws:sso:::instance/ssoins-0123456789abcdef"),
            "http://127.0.0.1:9/_identity-center/ssoins-0123456789abcdef"
        );
        let d = i
            .document("/_identity-center/ssoins-0123456789abcdef/.well-known/openid-configuration")
            .unwrap();
        assert_eq!(
            d["issuer"],
            "http://127.0.0.1:9/_identity-center/ssoins-0123456789abcdef"
        );
        assert_eq!(
            d["jwks_uri"],
            "http://127.0.0.1:9/_identity-center/jwks.json"
        );
        assert_eq!(
            i.document("/_identity-center/jwks.json").unwrap()["keys"][0]["kid"],
            "k"
        );
        assert!(
            i.document("/_identity-center/../x/.well-known/openid-configuration")
                .is_none()
        );
        assert!(
            i.document("/_identity-center/ssoins-1/.well-known/openid-configuration")
                .is_none()
        );
        assert!(i.document("/other").is_none());
    }
}
