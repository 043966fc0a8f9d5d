//! Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
//! GetBucketLocation and GetBucketVersioning.

use super::*;

impl S3Handler {
    pub(super) async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let a = Self::who(&req)?;
        {
            let mut e = a.event.lock().expect("event lock");
            e.operation = "ListBuckets";
            e.read_only = true;
        }
        if Self::grant(a).is_some() {
            return Err(outside_grant(
                a,
                "s3:ListAllMyBuckets",
                "*",
                "Access Denied: ListBuckets is outside the scope of these Access Grants credentials"
                    .into(),
            ));
        }
        self.policy(
            a,
            "s3:ListAllMyBuckets",
            "*",
            a.caller.account.as_str(),
            ContextKeys::new(),
        )?;
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let mut mine: Vec<BucketMeta> = self
            .backend
            .buckets()
            .into_iter()
            .filter(|b| b.owner == a.caller.account.as_str() && b.name.starts_with(&prefix))
            .collect();
        mine.sort_by(|x, y| x.name.cmp(&y.name));
        let after = match &req.input.continuation_token {
            Some(t) => Some(continuation_decode(t)?),
            None => None,
        };
        let max = req.input.max_buckets.unwrap_or(10_000).clamp(1, 10_000) as usize;
        let rest: Vec<BucketMeta> = mine
            .into_iter()
            .filter(|b| after.as_ref().is_none_or(|a| b.name > *a))
            .collect();
        let more = rest.len() > max;
        let page: Vec<Bucket> = rest
            .iter()
            .take(max)
            .map(|b| Bucket {
                bucket_region: Some(self.region.clone()),
                creation_date: Some(ts(b.created_ms)),
                name: Some(b.name.clone()),
            })
            .collect();
        let token = more.then(|| continuation_encode(&rest[max - 1].name));
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(page),
            continuation_token: token,
            owner: Some(self.owner(a.caller.account.as_str())),
            prefix: req.input.prefix.clone(),
        }))
    }

    pub(super) async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let a = Self::who(&req)?;
        let name = &req.input.bucket;
        Self::note(a, "CreateBucket", name, None, false);
        if !valid_bucket_name(name) {
            return Err(s3_error!(
                InvalidBucketName,
                "The specified bucket is not valid."
            ));
        }
        if Self::grant(a).is_some() {
            return Err(outside_grant(
                a,
                "s3:CreateBucket",
                &self.bucket_arn(name),
                "Access Denied: CreateBucket is outside the scope of these Access Grants credentials"
                    .into(),
            ));
        }
        let account = a.caller.account.as_str().to_owned();
        self.policy(
            a,
            "s3:CreateBucket",
            &self.bucket_arn(name),
            &account,
            ContextKeys::new(),
        )?;
        let wanted = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_owned());
        match wanted.as_deref() {
            None | Some("") if self.region == "us-east-1" => {}
            Some(r) if r == self.region && r != "us-east-1" => {}
            _ => {
                return Err(s3_error!(
                    IllegalLocationConstraintException,
                    "The {} location constraint is incompatible for the region specific endpoint this request was sent to.",
                    wanted.as_deref().unwrap_or("unspecified")
                ));
            }
        }
        match self.backend.create_bucket(name, &account).await {
            Ok(_) => {}
            // us-east-1 answers 200 to its owner re-creating a bucket (S3's legacy behaviour).
            Err(e)
                if *e.code() == S3ErrorCode::BucketAlreadyOwnedByYou
                    && self.region == "us-east-1" => {}
            Err(e) => return Err(e),
        }
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    pub(super) async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let a = Self::who(&req)?;
        Self::note(a, "DeleteBucket", &req.input.bucket, None, false);
        let b = self.bucket(&req.input.bucket)?;
        self.bucket_access(a, "s3:DeleteBucket", &b)?;
        self.backend.delete_bucket(&b.name).await?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    pub(super) async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let a = Self::who(&req)?;
        Self::note(a, "HeadBucket", &req.input.bucket, None, true);
        let b = self.bucket(&req.input.bucket)?;
        if Self::grant(a).is_some() {
            return Err(access_denied("Access Denied"));
        }
        self.policy(
            a,
            "s3:ListBucket",
            &self.bucket_arn(&b.name),
            &b.owner,
            ContextKeys::new(),
        )?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..Default::default()
        }))
    }

    pub(super) async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let a = Self::who(&req)?;
        Self::note(a, "GetBucketLocation", &req.input.bucket, None, true);
        let b = self.bucket(&req.input.bucket)?;
        self.bucket_access(a, "s3:GetBucketLocation", &b)?;
        // us-east-1 is the empty constraint.
        let loc = (self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: loc,
        }))
    }

    /// Buckets are never versioned here: an empty configuration (no `Status`), as S3 answers
    /// for a bucket whose versioning was never set.
    pub(super) async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let a = Self::who(&req)?;
        let i = &req.input;
        Self::note(a, "GetBucketVersioning", &i.bucket, None, true);
        let b = self.bucket(&i.bucket)?;
        self.bucket_access(a, "s3:GetBucketVersioning", &b)?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }
}
