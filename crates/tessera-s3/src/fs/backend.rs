//! The backend port over the filesystem: buckets, objects and multipart uploads.

use super::uploads::ClaimedDir;
use super::*;

#[async_trait::async_trait]
impl Backend for FsBackend {
    async fn ready(&self) -> Result<(), String> {
        match tokio::fs::metadata(self.root.join("buckets")).await {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err("the object directory is not a directory".into()),
            Err(e) => Err(format!("the object directory: {e}")),
        }
    }

    async fn create_bucket(&self, name: &str, owner: &str) -> S3Result<BucketInfo> {
        if let Some(b) = self.buckets.read().expect("bucket map lock").get(name) {
            return Err(if b.info.owner == owner {
                s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                )
            } else {
                s3_error!(
                    BucketAlreadyExists,
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
                )
            });
        }
        let info = BucketInfo {
            name: name.to_owned(),
            owner: owner.to_owned(),
            created_ms: now_ms(),
        };
        let staging = self.temp_path();
        let dest = self.root.join("buckets").join(name);
        let (info2, staging2, dest2) = (info.clone(), staging.clone(), dest.clone());
        let made = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            std::fs::create_dir(&staging2)?;
            let o = staging2.join("o");
            std::fs::create_dir(&o)?;
            for i in 0..=255u8 {
                let d = o.join(hex::encode([i]));
                std::fs::create_dir(&d)?;
                sync_dir(&d)?;
            }
            sync_dir(&o)?;
            std::fs::create_dir(staging2.join("mpu"))?;
            let mut f = std::fs::File::create(staging2.join("bucket.json"))?;
            std::io::Write::write_all(
                &mut f,
                &serde_json::to_vec(&info2).map_err(std::io::Error::other)?,
            )?;
            f.sync_all()?;
            sync_dir(&staging2)?;
            if dest2.exists() {
                std::fs::remove_dir_all(&staging2)?;
                return Ok(false);
            }
            std::fs::rename(&staging2, &dest2)?;
            sync_dir(dest2.parent().expect("buckets dir"))?;
            Ok(true)
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?
        .map_err(io_err)?;
        if !made {
            return Err(s3_error!(BucketAlreadyExists));
        }
        self.buckets.write().expect("bucket map lock").insert(
            name.to_owned(),
            Arc::new(Bucket {
                info: info.clone(),
                dir: dest,
                objects: RwLock::new(BTreeMap::new()),
                commit: tokio::sync::Mutex::new(()),
            }),
        );
        Ok(info)
    }

    async fn delete_bucket(&self, name: &str) -> S3Result<()> {
        let b = self.get_bucket(name)?;
        let _order = b.commit.lock().await;
        if !b.objects.read().expect("object index lock").is_empty() {
            return Err(s3_error!(
                BucketNotEmpty,
                "The bucket you tried to delete is not empty"
            ));
        }
        let graveyard = self.temp_path();
        tokio::fs::rename(&b.dir, &graveyard)
            .await
            .map_err(io_err)?;
        self.buckets.write().expect("bucket map lock").remove(name);
        let root = self.root.join("buckets");
        // Removed before the reply, so a deleted bucket leaves nothing behind in `tmp/`.
        tokio::task::spawn_blocking(move || {
            let _ = sync_dir(&root);
            let _ = std::fs::remove_dir_all(&graveyard);
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?;
        Ok(())
    }

    fn bucket(&self, name: &str) -> Option<BucketInfo> {
        self.buckets
            .read()
            .expect("bucket map lock")
            .get(name)
            .map(|b| b.info.clone())
    }

    fn buckets(&self) -> Vec<BucketInfo> {
        self.buckets
            .read()
            .expect("bucket map lock")
            .values()
            .map(|b| b.info.clone())
            .collect()
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: ByteStream,
        new: NewObject,
    ) -> S3Result<ObjectMeta> {
        let b = self.get_bucket(bucket)?;
        let w = self.write_temp(body, MAX_PUT_BYTES).await?;
        if let Some(len) = new.length
            && len != w.size
        {
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            ));
        }
        let meta = ObjectMeta {
            key: key.to_owned(),
            size: w.size,
            etag: hex::encode(w.md5),
            last_modified_ms: now_ms(),
            headers: new.headers,
            checksums: new.checksums,
            parts: None,
            part_sizes: Vec::new(),
        };
        self.commit_object(&b, w, meta).await
    }

    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        cond: &Conditions,
    ) -> S3Result<ObjectMeta> {
        let b = self.get_bucket(bucket)?;
        let found = b
            .objects
            .read()
            .expect("object index lock")
            .get(key)
            .cloned();
        let m = found
            .map(|m| (*m).clone())
            .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))?;
        cond.check(&m)?;
        Ok(m)
    }

    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
        range: Option<RangeSpec>,
        cond: &Conditions,
    ) -> S3Result<ObjectRead> {
        let b = self.get_bucket(bucket)?;
        let indexed = b
            .objects
            .read()
            .expect("object index lock")
            .get(key)
            .cloned()
            .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))?;
        let (path, _) = Self::object_path(&b, key);
        let not_found = || s3_error!(NoSuchKey, "The specified key does not exist.");
        if indexed.size <= SMALL_READ {
            let read = if indexed.size <= INLINE_READ {
                std::fs::read(&path)
            } else {
                tokio::fs::read(&path).await
            };
            let data = match read {
                Ok(d) => bytes::Bytes::from(d),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
                Err(e) => return Err(io_err(e)),
            };
            // The file, not the index, is the truth (it may have been replaced meanwhile).
            let (meta, body_len) = parse_trailer_bytes::<ObjectMeta>(&data).map_err(io_err)?;
            cond.check(&meta)?;
            let r = resolve(range, meta.size)?;
            let body = data.slice(r.start as usize..(r.end as usize).min(body_len));
            return Ok(ObjectRead {
                meta,
                range: r,
                body: Box::pin(futures::stream::once(async move { Ok(body) })),
            });
        }
        let cond = cond.clone();
        let (meta, file, r) = tokio::task::spawn_blocking(move || -> S3Result<_> {
            let mut file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
                Err(e) => return Err(io_err(e)),
            };
            let (meta, _) = read_trailer::<ObjectMeta>(&mut file).map_err(io_err)?;
            cond.check(&meta)?;
            let r = resolve(range, meta.size)?;
            file.seek(SeekFrom::Start(r.start)).map_err(io_err)?;
            Ok((meta, file, r))
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))??;
        Ok(ObjectRead {
            meta,
            range: r,
            body: file_stream(file, r.start, r.end),
        })
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        let b = self.get_bucket(bucket)?;
        let (path, dir) = Self::object_path(&b, key);
        {
            let _order = b.commit.lock().await;
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(io_err(e)),
            }
            b.objects.write().expect("object index lock").remove(key);
        }
        sync_dir_async(dir).await
    }

    async fn list(&self, bucket: &str, q: &ListQuery<'_>) -> S3Result<Listing> {
        let b = self.get_bucket(bucket)?;
        let objects = b.objects.read().expect("object index lock");
        Ok(list_index(&objects, q))
    }

    async fn create_upload(
        &self,
        bucket: &str,
        key: &str,
        headers: ObjectHeaders,
        checksum_algorithm: Option<String>,
    ) -> S3Result<UploadInfo> {
        let b = self.get_bucket(bucket)?;
        let info = UploadInfo {
            upload_id: uuid::Uuid::new_v4().simple().to_string(),
            key: key.to_owned(),
            initiated_ms: now_ms(),
            headers,
            checksum_algorithm,
        };
        let staging = self.temp_path();
        let dest = b.dir.join("mpu").join(&info.upload_id);
        let text = serde_json::to_vec(&info).map_err(|e| io_err(std::io::Error::other(e)))?;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir(&staging)?;
            let mut f = std::fs::File::create(staging.join("upload.json"))?;
            std::io::Write::write_all(&mut f, &text)?;
            f.sync_all()?;
            sync_dir(&staging)?;
            std::fs::rename(&staging, &dest)?;
            sync_dir(dest.parent().expect("mpu dir"))
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                s3_error!(NoSuchBucket, "The specified bucket does not exist")
            } else {
                io_err(e)
            }
        })?;
        Ok(info)
    }

    async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        part: u32,
        body: ByteStream,
        new: NewObject,
    ) -> S3Result<PartInfo> {
        let b = self.get_bucket(bucket)?;
        let (dir, _) = Self::read_upload(&b, key, upload_id).await?;
        let mut w = self.write_temp(body, MAX_PUT_BYTES).await?;
        if let Some(len) = new.length
            && len != w.size
        {
            return Err(s3_error!(
                IncompleteBody,
                "You did not provide the number of bytes specified by the Content-Length HTTP header."
            ));
        }
        let info = PartInfo {
            number: part,
            size: w.size,
            etag: hex::encode(w.md5),
            last_modified_ms: now_ms(),
            checksums: new.checksums,
        };
        w.file
            .write_all(&trailer_bytes(&info))
            .await
            .map_err(io_err)?;
        w.file.sync_all().await.map_err(io_err)?;
        match tokio::fs::rename(&w.temp.path, dir.join(format!("part-{part:05}"))).await {
            Ok(()) => w.temp.armed = false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
            Err(e) => return Err(io_err(e)),
        }
        sync_dir_async(dir).await?;
        Ok(info)
    }

    async fn complete_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> S3Result<ObjectMeta> {
        let b = self.get_bucket(bucket)?;
        let (dir, upload) = Self::read_upload(&b, key, upload_id).await?;
        let d = dir.clone();
        let stored = tokio::task::spawn_blocking(move || FsBackend::read_parts(&d))
            .await
            .map_err(|e| io_err(std::io::Error::other(e)))?
            .map_err(io_err)?;
        let infos: Vec<PartInfo> = stored.iter().map(|(p, _)| p.clone()).collect();
        let picked = choose_parts(parts, &infos)?;
        let chosen: Vec<&(PartInfo, u64)> = picked.iter().map(|i| &stored[*i]).collect();
        // Claim the upload: a concurrent abort or completion now finds nothing.
        let claimed = self.temp_path();
        match tokio::fs::rename(&dir, &claimed).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
            Err(e) => return Err(io_err(e)),
        }
        let claimed_guard = ClaimedDir(claimed.clone());
        match self
            .join_parts(&b, key, &claimed, &chosen, upload.headers)
            .await
        {
            Ok(meta) => {
                drop(claimed_guard);
                sync_dir_async(b.dir.join("mpu")).await?;
                Ok(meta)
            }
            Err(e) => {
                // A failed completion leaves the upload as it was (S3 keeps it, so the
                // client can retry or abort): put the claimed parts back.
                if tokio::fs::rename(&claimed, &dir).await.is_ok() {
                    std::mem::forget(claimed_guard);
                }
                Err(e)
            }
        }
    }

    async fn abort_upload(&self, bucket: &str, key: &str, upload_id: &str) -> S3Result<()> {
        let b = self.get_bucket(bucket)?;
        let (dir, _) = Self::read_upload(&b, key, upload_id).await?;
        let claimed = self.temp_path();
        match tokio::fs::rename(&dir, &claimed).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_upload()),
            Err(e) => return Err(io_err(e)),
        }
        drop(ClaimedDir(claimed));
        sync_dir_async(b.dir.join("mpu")).await
    }

    async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> S3Result<(UploadInfo, Vec<PartInfo>)> {
        let b = self.get_bucket(bucket)?;
        let (dir, info) = Self::read_upload(&b, key, upload_id).await?;
        let parts = tokio::task::spawn_blocking(move || FsBackend::read_parts(&dir))
            .await
            .map_err(|e| io_err(std::io::Error::other(e)))?
            .map_err(io_err)?;
        Ok((info, parts.into_iter().map(|(p, _)| p).collect()))
    }

    async fn list_uploads(&self, bucket: &str, prefix: &str) -> S3Result<Vec<UploadInfo>> {
        let b = self.get_bucket(bucket)?;
        let dir = b.dir.join("mpu");
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || -> std::io::Result<Vec<UploadInfo>> {
            let mut out = Vec::new();
            for e in std::fs::read_dir(&dir)? {
                let p = e?.path().join("upload.json");
                let Ok(text) = std::fs::read(&p) else {
                    continue;
                };
                let info: UploadInfo =
                    serde_json::from_slice(&text).map_err(std::io::Error::other)?;
                if info.key.starts_with(&prefix) {
                    out.push(info);
                }
            }
            out.sort_by(|a, b| (&a.key, a.initiated_ms).cmp(&(&b.key, b.initiated_ms)));
            Ok(out)
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?
        .map_err(io_err)
    }
}
