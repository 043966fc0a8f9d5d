//! The plumbing into `aws-sdk-s3`: an interceptor that reads each request's operation, bucket
//! and key or prefix just before it is serialized, and a SigV4 auth scheme whose identity resolver
//! asks [`AccessGrants`] for that target's credentials. Operations S3 Access Grants does not
//! serve, and (with fallback on) refused ones, are signed with the client's own credentials,
//! which also sign GetDataAccess itself.

use crate::cache::Ask;
use crate::model::{Permission, S3Target, common_target, permission_for_operation};
use crate::provider::AccessGrants;
use aws_credential_types::Credentials;
use aws_runtime::auth::sigv4::{SCHEME_ID, SigV4Signer};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::{AuthScheme, AuthSchemeId, Sign};
use aws_smithy_runtime_api::client::identity::{
    IdentityCacheLocation, IdentityFuture, ResolveCachedIdentity, ResolveIdentity,
    SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, Input,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::{GetIdentityResolver, RuntimeComponents};
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// What the interceptor found out about a request.
#[derive(Debug, Clone)]
struct GrantTarget {
    target: S3Target,
    permission: Permission,
}

impl Storable for GrantTarget {
    type Storer = StoreReplace<Self>;
}

/// The target of an S3 operation's input, if S3 Access Grants serves the operation.
fn target_of(operation: &str, input: &Input) -> Option<GrantTarget> {
    use aws_sdk_s3::operation as op;
    let permission = permission_for_operation(operation)?;
    macro_rules! object {
        ($t:ty) => {{
            let i = input.downcast_ref::<$t>()?;
            S3Target::object(i.bucket()?, i.key()?)
        }};
    }
    macro_rules! listing {
        ($t:ty) => {{
            let i = input.downcast_ref::<$t>()?;
            S3Target::prefix(i.bucket()?, i.prefix().unwrap_or(""))
        }};
    }
    let target = match operation {
        "GetObject" => object!(op::get_object::GetObjectInput),
        "HeadObject" => object!(op::head_object::HeadObjectInput),
        "GetObjectAcl" => object!(op::get_object_acl::GetObjectAclInput),
        "GetObjectAttributes" => object!(op::get_object_attributes::GetObjectAttributesInput),
        "PutObject" => object!(op::put_object::PutObjectInput),
        "PutObjectAcl" => object!(op::put_object_acl::PutObjectAclInput),
        "DeleteObject" => object!(op::delete_object::DeleteObjectInput),
        "CreateMultipartUpload" => {
            object!(op::create_multipart_upload::CreateMultipartUploadInput)
        }
        "UploadPart" => object!(op::upload_part::UploadPartInput),
        "CompleteMultipartUpload" => {
            object!(op::complete_multipart_upload::CompleteMultipartUploadInput)
        }
        "AbortMultipartUpload" => object!(op::abort_multipart_upload::AbortMultipartUploadInput),
        "ListParts" => object!(op::list_parts::ListPartsInput),
        "ListObjects" => listing!(op::list_objects::ListObjectsInput),
        "ListObjectsV2" => listing!(op::list_objects_v2::ListObjectsV2Input),
        "ListObjectVersions" => listing!(op::list_object_versions::ListObjectVersionsInput),
        "ListMultipartUploads" => listing!(op::list_multipart_uploads::ListMultipartUploadsInput),
        "DeleteObjects" => {
            let i = input.downcast_ref::<op::delete_objects::DeleteObjectsInput>()?;
            let keys = i.delete()?.objects().iter().map(|o| o.key());
            common_target(i.bucket()?, keys)
        }
        "CopyObject" => {
            let i = input.downcast_ref::<op::copy_object::CopyObjectInput>()?;
            let (bucket, source_key) = copy_source(i.copy_source()?)?;
            // A copy between buckets needs two grants; one set of credentials cannot serve it.
            if bucket != i.bucket()? {
                return None;
            }
            common_target(&bucket, [source_key.as_str(), i.key()?])
        }
        _ => return None,
    };
    Some(GrantTarget { target, permission })
}

/// `bucket/key[?versionId=…]`, percent-encoded, with or without a leading `/`.
fn copy_source(s: &str) -> Option<(String, String)> {
    let s = s.strip_prefix('/').unwrap_or(s);
    let s = s.split_once("?versionId=").map_or(s, |(p, _)| p);
    let decoded = percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()?
        .into_owned();
    let (bucket, key) = decoded.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key.to_owned()))
}

/// Reads the operation and its target before serialization, for the identity resolver.
#[derive(Debug)]
struct TargetInterceptor;

impl Intercept for TargetInterceptor {
    fn name(&self) -> &'static str {
        "S3AccessGrantsTarget"
    }

    // Not `read_before_execution`: a client's interceptors see that hook before the
    // operation's configuration (its `Metadata`) is in the bag.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map(|m| m.name().to_owned());
        if let Some(t) = operation.and_then(|op| target_of(&op, context.input())) {
            cfg.interceptor_state().store_put(t);
        }
        Ok(())
    }
}

/// Resolves each request's identity through Access Grants (it keeps its own cache).
#[derive(Debug)]
struct GrantsResolver {
    grants: AccessGrants,
}

impl ResolveIdentity for GrantsResolver {
    fn resolve_identity<'a>(
        &'a self,
        runtime_components: &'a RuntimeComponents,
        config_bag: &'a ConfigBag,
    ) -> IdentityFuture<'a> {
        IdentityFuture::new(async move {
            let own = runtime_components.identity_resolver(SCHEME_ID).ok_or(
                "the S3 client has no credentials of its own (set a credentials provider: they sign GetDataAccess)",
            )?;
            let own = runtime_components
                .identity_cache()
                .resolve_cached_identity(own, runtime_components, config_bag)
                .await?;
            let Some(t) = config_bag.load::<GrantTarget>() else {
                // Not an operation S3 Access Grants serves: the client's own credentials.
                return Ok(own);
            };
            let caller: Credentials = own
                .data::<Credentials>()
                .ok_or("the S3 client's own identity is not AWS credentials")?
                .clone();
            let ask: Ask = self.grants.ask(t.target.clone(), t.permission);
            match self.grants.data_access(&caller, &ask).await {
                Ok(g) => Ok(g.credentials.to_sdk().into()),
                Err(e) if self.grants.fallback() => {
                    tracing::debug!(error = %e, "falling back to the client's own credentials");
                    Ok(own)
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn cache_location(&self) -> IdentityCacheLocation {
        IdentityCacheLocation::IdentityResolver
    }
}

/// SigV4, with identities from [`GrantsResolver`].
#[derive(Debug)]
struct GrantsAuthScheme {
    resolver: SharedIdentityResolver,
    signer: SigV4Signer,
}

impl AuthScheme for GrantsAuthScheme {
    fn scheme_id(&self) -> AuthSchemeId {
        SCHEME_ID
    }

    fn identity_resolver(&self, _: &dyn GetIdentityResolver) -> Option<SharedIdentityResolver> {
        Some(self.resolver.clone())
    }

    fn signer(&self) -> &dyn Sign {
        &self.signer
    }
}

impl AccessGrants {
    /// Plug this provider into an S3 client's configuration. The builder's own credentials
    /// provider stays: it signs GetDataAccess (so it should hold the caller's identity-bearer
    /// credentials) and the operations Access Grants does not serve.
    pub fn configure(&self, builder: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
        builder
            .interceptor(TargetInterceptor)
            .push_auth_scheme(GrantsAuthScheme {
                resolver: SharedIdentityResolver::new(GrantsResolver {
                    grants: self.clone(),
                }),
                signer: SigV4Signer::new(),
            })
    }
}

/// An S3 Control client for `config`. With an endpoint URL whose host is an IP address or
/// `localhost` (Tessera on one machine), the `{AccountId}.` label the S3 Control endpoint rules
/// put in front of the host is dropped: such a name resolves nowhere, and Tessera reads the
/// account from `x-amz-account-id`. Other endpoints (AWS, or Tessera behind wildcard DNS) are
/// used as the rules make them.
pub fn s3control_client(config: &aws_types::SdkConfig) -> aws_sdk_s3control::Client {
    use aws_sdk_s3control::config::endpoint::DefaultResolver;
    let mut b = aws_sdk_s3control::config::Builder::from(config);
    if config.endpoint_url().is_some_and(host_cannot_take_labels) {
        b = b.endpoint_resolver(WithoutAccountLabel(DefaultResolver::new()));
    }
    aws_sdk_s3control::Client::from_conf(b.build())
}

fn host_cannot_take_labels(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        return v6.contains(']');
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Drops the `{AccountId}.` label from the resolved S3 Control endpoint.
#[derive(Debug)]
struct WithoutAccountLabel(aws_sdk_s3control::config::endpoint::DefaultResolver);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for WithoutAccountLabel {
    fn resolve_endpoint<'a>(
        &'a self,
        params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        use aws_sdk_s3control::config::endpoint::EndpointFuture;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        assert_eq!(
            copy_source("example-bucket/projects/red/a%20b.csv?versionId=3"),
            Some(("example-bucket".into(), "projects/red/a b.csv".into()))
        );
        assert_eq!(copy_source("/b/k"), Some(("b".into(), "k".into())));
        assert_eq!(copy_source("b"), None);
        assert_eq!(copy_source("b/"), None);
    }

    #[test]
    fn labels_are_dropped_only_where_they_cannot_resolve() {
        assert!(host_cannot_take_labels("http://127.0.0.1:4566"));
        assert!(host_cannot_take_labels("http://localhost:4566/"));
        assert!(host_cannot_take_labels("http://[::1]:4566"));
        assert!(!host_cannot_take_labels("https://tessera.example.com"));
        assert!(!host_cannot_take_labels(
            "https://s3-control.us-east-1.amazonaws.com"
        ));
    }

    #[test]
    fn inputs_name_their_targets() {
        use aws_sdk_s3::operation as op;
        let get = op::get_object::GetObjectInput::builder()
            .bucket("b")
            .key("projects/red/a.csv")
            .build()
            .unwrap();
        let t = target_of("GetObject", &Input::erase(get)).unwrap();
        assert_eq!(t.target.to_string(), "s3://b/projects/red/a.csv");
        assert_eq!(t.permission, Permission::Read);

        let list = op::list_objects_v2::ListObjectsV2Input::builder()
            .bucket("b")
            .prefix("projects/red/")
            .build()
            .unwrap();
        let t = target_of("ListObjectsV2", &Input::erase(list)).unwrap();
        assert_eq!(t.target.to_string(), "s3://b/projects/red/*");

        let all = op::list_objects_v2::ListObjectsV2Input::builder()
            .bucket("b")
            .build()
            .unwrap();
        let t = target_of("ListObjectsV2", &Input::erase(all)).unwrap();
        assert_eq!(t.target.to_string(), "s3://b/*");

        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let del = op::delete_objects::DeleteObjectsInput::builder()
            .bucket("b")
            .delete(
                Delete::builder()
                    .objects(ObjectIdentifier::builder().key("p/red/1").build().unwrap())
                    .objects(ObjectIdentifier::builder().key("p/red/2").build().unwrap())
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let t = target_of("DeleteObjects", &Input::erase(del)).unwrap();
        assert_eq!(t.target.to_string(), "s3://b/p/red/*");
        assert_eq!(t.permission, Permission::Write);

        let copy = op::copy_object::CopyObjectInput::builder()
            .bucket("b")
            .key("p/red/copy.csv")
            .copy_source("b/p/red/a.csv")
            .build()
            .unwrap();
        let t = target_of("CopyObject", &Input::erase(copy)).unwrap();
        assert_eq!(t.target.to_string(), "s3://b/p/red/*");
        assert_eq!(t.permission, Permission::ReadWrite);
        let across = op::copy_object::CopyObjectInput::builder()
            .bucket("b")
            .key("k")
            .copy_source("other/k")
            .build()
            .unwrap();
        assert!(target_of("CopyObject", &Input::erase(across)).is_none());

        let buckets = op::list_buckets::ListBucketsInput::builder()
            .build()
            .unwrap();
        assert!(target_of("ListBuckets", &Input::erase(buckets)).is_none());
    }
}
