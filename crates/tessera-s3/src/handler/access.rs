//! Authorisation of S3 requests: the grant scope of an Access Grants session, then the
//! caller's policies, for each bucket, object, listing and copy source a request names.

use super::*;

pub(super) fn access_denied(msg: impl Into<String>) -> S3Error {
    S3Error::with_message(S3ErrorCode::AccessDenied, msg.into())
}

/// An Access Grants session asked for more than its grant: refused, and why kept for the
/// audit record (the grant that vended the credentials, and what it allows).
pub(super) fn outside_grant(
    a: &Authenticated,
    action: &str,
    resource: &str,
    msg: String,
) -> S3Error {
    if let Some(g) = a.caller.session.as_ref().and_then(|s| s.grant.as_ref()) {
        a.meta.decisions.push(serde_json::json!({
            "decision": "OutsideGrantScope",
            "action": action,
            "resource": resource,
            "grantId": g.grant_id,
            "grantScope": g.target(),
            "permission": g.permission.as_str(),
            "getDataAccessRequestId": g.request_id,
        }));
    }
    access_denied(msg)
}

impl S3Handler {
    pub(super) fn grant(a: &Authenticated) -> Option<&GrantScope> {
        a.caller.session.as_ref().and_then(|s| s.grant.as_ref())
    }

    pub(super) fn policy(
        &self,
        a: &Authenticated,
        action: &str,
        resource: &str,
        owner: &str,
        extra: ContextKeys,
    ) -> S3Result<()> {
        self.authz
            .check(
                &a.caller,
                &a.meta,
                Access {
                    action,
                    resource,
                    resource_account: owner,
                    resource_policy: None,
                    extra,
                },
            )
            .map_err(|d| access_denied(d.message))
    }

    pub(super) fn bucket(&self, name: &str) -> S3Result<BucketMeta> {
        if !valid_bucket_name(name) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid."
            ));
        }
        self.backend
            .bucket(name)
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    pub(super) fn object_arn(&self, bucket: &str, key: &str) -> String {
        format!("arn:{}:s3:::{bucket}/{key}", self.partition)
    }

    pub(super) fn bucket_arn(&self, bucket: &str) -> String {
        format!("arn:{}:s3:::{bucket}", self.partition)
    }

    /// `action` on one object: the grant scope (for Access Grants sessions), then policy.
    pub(super) fn object_access(
        &self,
        a: &Authenticated,
        action: &str,
        b: &BucketMeta,
        key: &str,
        need: GrantPermission,
    ) -> S3Result<()> {
        check_key(key)?;
        if let Some(g) = Self::grant(a)
            && !(g.permission.covers(need) && g.covers_object(&b.name, key))
        {
            return Err(outside_grant(
                a,
                action,
                &self.object_arn(&b.name, key),
                format!(
                    "Access Denied: {action} on s3://{}/{key} is outside the scope {} ({}) of these Access Grants credentials",
                    b.name,
                    g.target(),
                    g.permission.as_str()
                ),
            ));
        }
        self.policy(
            a,
            action,
            &self.object_arn(&b.name, key),
            &b.owner,
            ContextKeys::new(),
        )
    }

    /// A bucket-level action (not allowed to Access Grants sessions, whose scope is objects).
    pub(super) fn bucket_access(
        &self,
        a: &Authenticated,
        action: &str,
        b: &BucketMeta,
    ) -> S3Result<()> {
        if Self::grant(a).is_some() {
            return Err(outside_grant(
                a,
                action,
                &self.bucket_arn(&b.name),
                format!(
                    "Access Denied: {action} is outside the scope of these Access Grants credentials"
                ),
            ));
        }
        self.policy(
            a,
            action,
            &self.bucket_arn(&b.name),
            &b.owner,
            ContextKeys::new(),
        )
    }

    /// ListBucket under `prefix`.
    pub(super) fn list_access(
        &self,
        a: &Authenticated,
        b: &BucketMeta,
        prefix: &str,
        delimiter: Option<&str>,
        max_keys: Option<i32>,
    ) -> S3Result<()> {
        self.list_access_as(a, "s3:ListBucket", b, prefix, delimiter, max_keys)
    }

    /// A listing action (`s3:ListBucket`, `s3:ListBucketVersions`) under `prefix`.
    pub(super) fn list_access_as(
        &self,
        a: &Authenticated,
        action: &str,
        b: &BucketMeta,
        prefix: &str,
        delimiter: Option<&str>,
        max_keys: Option<i32>,
    ) -> S3Result<()> {
        if let Some(g) = Self::grant(a)
            && !(g.permission.covers(GrantPermission::Read) && g.covers_listing(&b.name, prefix))
        {
            return Err(outside_grant(
                a,
                action,
                &self.bucket_arn(&b.name),
                format!(
                    "Access Denied: listing s3://{}/{prefix} is outside the scope {} of these Access Grants credentials",
                    b.name,
                    g.target()
                ),
            ));
        }
        let mut extra = ContextKeys::new();
        extra.insert("s3:prefix", prefix.to_owned());
        if let Some(d) = delimiter {
            extra.insert("s3:delimiter", d.to_owned());
        }
        if let Some(m) = max_keys {
            extra.insert("s3:max-keys", m.to_string());
        }
        self.policy(a, action, &self.bucket_arn(&b.name), &b.owner, extra)
    }

    /// A missing key is `NoSuchKey` only to a caller who may list the bucket; to others it
    /// is `AccessDenied`, as in S3 (which does not reveal what exists to who cannot list).
    pub(super) fn missing_key(
        &self,
        a: &Authenticated,
        b: &BucketMeta,
        key: &str,
        e: S3Error,
    ) -> S3Error {
        if *e.code() != S3ErrorCode::NoSuchKey {
            return e;
        }
        if self.list_access(a, b, key, None, None).is_ok() {
            e
        } else {
            access_denied("Access Denied")
        }
    }

    /// A copy source the caller may read: its bucket, key, and the bucket's description.
    pub(super) fn source(
        &self,
        a: &Authenticated,
        src: &CopySource,
    ) -> S3Result<(BucketMeta, String)> {
        let (sb, sk) = Self::copy_source(src)?;
        let b = self.bucket(&sb)?;
        self.object_access(a, "s3:GetObject", &b, &sk, GrantPermission::Read)?;
        a.event
            .lock()
            .expect("event lock")
            .other_objects
            .push((sb, sk.clone()));
        Ok((b, sk))
    }

    pub(super) fn copy_source(src: &CopySource) -> S3Result<(String, String)> {
        match src {
            CopySource::Bucket {
                bucket,
                key,
                version_id,
            } => {
                unversioned(version_id.as_deref())?;
                Ok((bucket.to_string(), key.to_string()))
            }
            _ => Err(s3_error!(
                NotImplemented,
                "Access point copy sources are not supported by this server."
            )),
        }
    }
}
