//! AWS SDK for Rust clients pointed at Tessera: static credentials (long-term or a session),
//! the endpoint, path-style S3, and an S3 Control client that does not put the account in
//! front of the host name (every S3 Control client does; a name like
//! `111111111111.127.0.0.1` resolves nowhere).

use aws_credential_types::Credentials;
use aws_sdk_s3control::config::endpoint::{
    DefaultResolver, EndpointFuture, Params, ResolveEndpoint,
};

/// Where Tessera is and whose credentials to call it with.
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint: String,
    pub region: String,
}

/// An access key, with its session token for temporary credentials.
#[derive(Clone)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// Unix seconds, for temporary credentials.
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Keys {
    pub fn long_term(id: &str, secret: &str) -> Keys {
        Keys {
            access_key_id: id.to_owned(),
            secret_access_key: secret.to_owned(),
            session_token: None,
            expires_at: None,
        }
    }

    fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "tessera-dev",
        )
    }

    /// Still valid for at least `margin` seconds.
    pub fn fresh(&self, margin: i64) -> bool {
        self.expires_at
            .is_none_or(|e| e - margin > chrono::Utc::now().timestamp())
    }
}

/// Drops the `{AccountId}.` label the S3 Control endpoint rules put in front of the host.
#[derive(Debug)]
struct WithoutAccountLabel(DefaultResolver);

impl ResolveEndpoint for WithoutAccountLabel {
    fn resolve_endpoint<'a>(&'a self, params: &'a Params) -> EndpointFuture<'a> {
        let label = params.account_id().map(|a| format!("://{a}."));
        let resolved = self.0.resolve_endpoint(params);
        EndpointFuture::new(async move {
            let endpoint = resolved.await?;
            match label {
                Some(l) if endpoint.url().contains(&l) => {
                    let url = endpoint.url().replacen(&l, "://", 1);
                    Ok(endpoint.into_builder().url(url).build())
                }
                _ => Ok(endpoint),
            }
        })
    }
}

macro_rules! client {
    ($name:ident, $krate:ident) => {
        pub fn $name(t: &Target, k: &Keys) -> $krate::Client {
            let cfg = $krate::Config::builder()
                .behavior_version($krate::config::BehaviorVersion::latest())
                .region($krate::config::Region::new(t.region.clone()))
                .endpoint_url(&t.endpoint)
                .credentials_provider(k.credentials())
                .build();
            $krate::Client::from_conf(cfg)
        }
    };
}

client!(iam, aws_sdk_iam);
client!(sts, aws_sdk_sts);
client!(sso_admin, aws_sdk_ssoadmin);
client!(sso_oidc, aws_sdk_ssooidc);

pub fn s3(t: &Target, k: &Keys) -> aws_sdk_s3::Client {
    let cfg = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(t.region.clone()))
        .endpoint_url(&t.endpoint)
        .force_path_style(true)
        .credentials_provider(k.credentials())
        .build();
    aws_sdk_s3::Client::from_conf(cfg)
}

pub fn s3control(t: &Target, k: &Keys) -> aws_sdk_s3control::Client {
    let cfg = aws_sdk_s3control::Config::builder()
        .behavior_version(aws_sdk_s3control::config::BehaviorVersion::latest())
        .region(aws_sdk_s3control::config::Region::new(t.region.clone()))
        .endpoint_url(&t.endpoint)
        .endpoint_resolver(WithoutAccountLabel(DefaultResolver::new()))
        .credentials_provider(k.credentials())
        .build();
    aws_sdk_s3control::Client::from_conf(cfg)
}

/// Temporary credentials from an STS or GetDataAccess answer.
pub fn session_keys(
    id: Option<&str>,
    secret: Option<&str>,
    token: Option<&str>,
    expiration: Option<&aws_smithy_types_date::DateTime>,
) -> Option<Keys> {
    Some(Keys {
        access_key_id: id?.to_owned(),
        secret_access_key: secret?.to_owned(),
        session_token: Some(token?.to_owned()),
        expires_at: expiration.map(|d| d.secs()),
    })
}

/// The SDKs' date type (re-exported by each of them).
pub mod aws_smithy_types_date {
    pub use aws_sdk_sts::primitives::DateTime;
}
