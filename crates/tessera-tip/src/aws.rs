//! AWS SDK clients for a profile: its endpoint (Tessera's, or AWS's own when none is set) and
//! region, with exactly the credentials given — never the environment's or `~/.aws`'s, so a
//! `credential_process` run of tip cannot pick up the profile that runs it.

use crate::config::Profile;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// The SDK configuration for `profile`, signing with `creds` (or unsigned).
pub fn sdk_config(profile: &Profile, creds: Option<Credentials>) -> SdkConfig {
    let mut b = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new(profile.region()));
    if let Some(e) = &profile.endpoint_url {
        b = b.endpoint_url(e);
    }
    if let Some(c) = creds {
        b = b.credentials_provider(SharedCredentialsProvider::new(c));
    }
    b.build()
}

pub fn sts(profile: &Profile, creds: Option<Credentials>) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::new(&sdk_config(profile, creds))
}

pub fn sso_oidc(profile: &Profile, creds: Credentials) -> aws_sdk_ssooidc::Client {
    aws_sdk_ssooidc::Client::new(&sdk_config(profile, Some(creds)))
}

pub fn s3control(profile: &Profile, creds: Option<Credentials>) -> aws_sdk_s3control::Client {
    tessera_s3ag_credentials::s3control_client(&sdk_config(profile, creds))
}

/// The service's error code of an SDK failure, if it answered one.
pub fn code_of<E, R>(e: &SdkError<E, R>) -> Option<String>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match e {
        SdkError::ServiceError(s) => s.err().code().map(str::to_owned),
        _ => None,
    }
}

/// `CODE: message` of a service error, or why no answer came.
pub fn message_of<E, R>(e: &SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e {
        SdkError::ServiceError(s) => format!(
            "{}: {}",
            s.err().code().unwrap_or("Unknown"),
            s.err().message().unwrap_or("")
        ),
        other => aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
    }
}
