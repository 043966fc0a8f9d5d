//! The S3 operations: authorise every bucket and key a request names, then call the backend.
//!
//! **Authorisation.** IAM callers (account root, users, role sessions) by policy through
//! [`Authorizer::check`]: the S3 action on `arn:…:s3:::bucket` or `arn:…:s3:::bucket/key`, the
//! bucket's owner as the resource account (there are no bucket policies, so another
//! account's bucket is out of reach), `s3:prefix` / `s3:delimiter` / `s3:max-keys` on
//! ListBucket. A session vended by S3 Access Grants is held to its typed grant scope first
//! (READ: get, head, list within the scope; WRITE: put, delete, multipart; copy needs READ on
//! the source and WRITE on the destination) and then to its role's policies, as AWS
//! intersects the grant's session policy with the role's. Every key is checked: copy
//! sources, part-copy sources, and each key of DeleteObjects.

mod access;
mod buckets;
mod listing;
mod multipart;
mod objects;
#[cfg(test)]
mod tests;
mod values;
use access::{access_denied, outside_grant};
use listing::*;
use values::*;
pub use values::{strip_aws_chunked, valid_bucket_name};

use crate::backend::{
    Backend, BucketInfo as BucketMeta, Conditions, ListQuery, Listing, MAX_PART_NUMBER,
    MAX_PUT_BYTES, NewObject, ObjectHeaders, PartInfo, RangeSpec, UploadInfo,
};
use crate::body::{ByteStream, Checked, ChecksumAlgo, Expect, valid_checksum_value};
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tessera_authz::{Access, Authorizer};
use tessera_core::{Caller, GrantPermission, GrantScope, RequestMeta};
use tessera_policy::ContextKeys;

/// What the pipeline learns of an S3 request from its handler, for the audit record.
#[derive(Debug, Default, Clone)]
pub struct S3Event {
    pub operation: &'static str,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub read_only: bool,
    /// Object keys a multi-key request named (DeleteObjects) or a copy's source.
    pub other_objects: Vec<(String, String)>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The authenticated caller and the request's facts, in the request's extensions.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    pub meta: RequestMeta,
    pub event: Arc<Mutex<S3Event>>,
}

/// The S3 handlers over one backend.
#[derive(Debug, Clone)]
pub struct S3Handler {
    backend: Arc<dyn Backend>,
    authz: Authorizer,
    partition: String,
    region: String,
}

impl S3Handler {
    pub fn new(backend: Arc<dyn Backend>, authz: Authorizer) -> S3Handler {
        let d = authz.deployment().clone();
        S3Handler {
            backend,
            authz,
            partition: d.partition.clone(),
            region: d.region.clone(),
        }
    }

    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn who<T>(req: &S3Request<T>) -> S3Result<&Authenticated> {
        req.extensions
            .get::<Authenticated>()
            .ok_or_else(|| access_denied("Access Denied"))
    }

    fn note(a: &Authenticated, op: &'static str, bucket: &str, key: Option<&str>, read_only: bool) {
        let mut e = a.event.lock().expect("event lock");
        e.operation = op;
        e.bucket = Some(bucket.to_owned());
        e.key = key.map(str::to_owned);
        e.read_only = read_only;
    }

    fn owner(&self, account: &str) -> Owner {
        use sha2::Digest as _;
        Owner {
            display_name: Some(account.to_owned()),
            id: Some(hex::encode(sha2::Sha256::digest(account.as_bytes()))),
        }
    }
}

/// The `S3` trait, each operation served by the method of the same name in its family's
/// module (an inherent method, which `S3Handler::op` names before the trait's).
macro_rules! s3_operations {
    ($($op:ident: $input:ident => $output:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for S3Handler {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    S3Handler::$op(self, req).await
                }
            )*
        }
    };
}

s3_operations! {
    // buckets.rs
    list_buckets: ListBucketsInput => ListBucketsOutput;
    create_bucket: CreateBucketInput => CreateBucketOutput;
    delete_bucket: DeleteBucketInput => DeleteBucketOutput;
    head_bucket: HeadBucketInput => HeadBucketOutput;
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
    get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput;
    // listing.rs
    list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
    list_objects: ListObjectsInput => ListObjectsOutput;
    list_object_versions: ListObjectVersionsInput => ListObjectVersionsOutput;
    // objects.rs
    get_object: GetObjectInput => GetObjectOutput;
    head_object: HeadObjectInput => HeadObjectOutput;
    put_object: PutObjectInput => PutObjectOutput;
    delete_object: DeleteObjectInput => DeleteObjectOutput;
    delete_objects: DeleteObjectsInput => DeleteObjectsOutput;
    copy_object: CopyObjectInput => CopyObjectOutput;
    // multipart.rs
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
    upload_part: UploadPartInput => UploadPartOutput;
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
    list_parts: ListPartsInput => ListPartsOutput;
    list_multipart_uploads: ListMultipartUploadsInput => ListMultipartUploadsOutput;
}
