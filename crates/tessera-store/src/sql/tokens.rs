//! The token endpoint's statements ([`crate::TokenStore`]), expanded for both backends in `mod.rs`.

macro_rules! token_store {
    ($store:ty, $row:ty, $dialect:literal) => {
        #[async_trait]
        impl TokenStore for $store {
            async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
                let rows = sqlx::query("SELECT kid, key_sealed, created_at FROM token_signing_keys ORDER BY created_at, kid")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(SigningKeyRecord {
                            kid: r.try_get("kid")?,
                            key_sealed: r.try_get("key_sealed")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect()
            }

            async fn add_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
                sqlx::query("INSERT INTO token_signing_keys (kid, key_sealed, created_at) VALUES ($1, $2, $3)")
                    .bind(&k.kid)
                    .bind(&k.key_sealed)
                    .bind(k.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn record_jti(&self, issuer_arn: &str, jti: &str, expires_at: i64) -> Result<bool> {
                let res = sqlx::query("INSERT INTO token_jtis (issuer_arn, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (issuer_arn, jti) DO NOTHING")
                    .bind(issuer_arn)
                    .bind(jti)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() == 1)
            }

            async fn record_jtis(&self, entries: &[(String, String, i64)]) -> Result<Vec<bool>> {
                // Inserted in key order, so that two replicas' batches sharing ids never wait
                // on each other in opposite orders (a deadlock on PostgreSQL).
                let mut order: Vec<usize> = (0..entries.len()).collect();
                order.sort_by(|a, b| (&entries[*a].0, &entries[*a].1, *a).cmp(&(&entries[*b].0, &entries[*b].1, *b)));
                let mut tx = self.begin_tx().await?;
                let mut out = vec![false; entries.len()];
                for i in order {
                    let (issuer, jti, exp) = &entries[i];
                    let res = sqlx::query("INSERT INTO token_jtis (issuer_arn, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (issuer_arn, jti) DO NOTHING")
                        .bind(issuer)
                        .bind(jti)
                        .bind(exp)
                        .execute(&mut *tx)
                        .await?;
                    out[i] = res.rows_affected() == 1;
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn prune_jtis(&self, keep_secs: i64) -> Result<u64> {
                // The store's clock, not the pruning replica's: replicas whose clocks differ
                // agree on one "now" here, so none forgets an id another still accepts.
                let sql = if $dialect == "postgres" {
                    "DELETE FROM token_jtis WHERE expires_at < CAST(EXTRACT(EPOCH FROM now()) AS BIGINT) - $1"
                } else {
                    "DELETE FROM token_jtis WHERE expires_at < CAST(strftime('%s', 'now') AS INTEGER) - $1"
                };
                let res = sqlx::query(sql)
                    .bind(keep_secs)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected())
            }

            async fn add_refresh_token(&self, t: &RefreshTokenRecord) -> Result<()> {
                sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, user_id, document, issued_at, expires_at, used) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&t.token_hash)
                    .bind(&t.family_id)
                    .bind(&t.user_id)
                    .bind(&t.document)
                    .bind(t.issued_at)
                    .bind(t.expires_at)
                    .bind(i32::from(t.used))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_refresh_token(&self, token_hash: &str) -> Result<RefreshUse> {
                let row = sqlx::query("SELECT t.token_hash, t.family_id, t.user_id, t.document, t.issued_at, t.expires_at, t.used FROM refresh_tokens t WHERE t.token_hash = $1 AND NOT EXISTS (SELECT 1 FROM refresh_families_revoked r WHERE r.family_id = t.family_id)")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(r) = row else {
                    return Ok(RefreshUse::Unknown);
                };
                let used: i32 = r.try_get("used")?;
                let rec = RefreshTokenRecord {
                    token_hash: r.try_get("token_hash")?,
                    family_id: r.try_get("family_id")?,
                    user_id: r.try_get("user_id")?,
                    document: r.try_get("document")?,
                    issued_at: r.try_get("issued_at")?,
                    expires_at: r.try_get("expires_at")?,
                    used: used != 0,
                };
                Ok(if rec.used {
                    RefreshUse::Reused { family_id: rec.family_id }
                } else {
                    RefreshUse::Fresh(rec)
                })
            }

            async fn rotate_refresh_token(&self, token_hash: &str, next: &RefreshTokenRecord) -> Result<RefreshUse> {
                let mut tx = self.begin_tx().await?;
                let row = sqlx::query("UPDATE refresh_tokens SET used = 1 WHERE token_hash = $1 AND used = 0 AND NOT EXISTS (SELECT 1 FROM refresh_families_revoked r WHERE r.family_id = refresh_tokens.family_id) RETURNING token_hash, family_id, user_id, document, issued_at, expires_at")
                    .bind(token_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(r) = row else {
                    tx.rollback().await?;
                    return self.get_refresh_token(token_hash).await.map(|u| match u {
                        // Used meanwhile by someone else: a replay.
                        RefreshUse::Fresh(rec) => RefreshUse::Reused { family_id: rec.family_id },
                        other => other,
                    });
                };
                let used = RefreshTokenRecord {
                    token_hash: r.try_get("token_hash")?,
                    family_id: r.try_get("family_id")?,
                    user_id: r.try_get("user_id")?,
                    document: r.try_get("document")?,
                    issued_at: r.try_get("issued_at")?,
                    expires_at: r.try_get("expires_at")?,
                    used: true,
                };
                sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, user_id, document, issued_at, expires_at, used) VALUES ($1, $2, $3, $4, $5, $6, 0)")
                    .bind(&next.token_hash)
                    .bind(&next.family_id)
                    .bind(&next.user_id)
                    .bind(&next.document)
                    .bind(next.issued_at)
                    .bind(next.expires_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(RefreshUse::Fresh(used))
            }

            async fn revoke_refresh_family(&self, family_id: &str, at: i64) -> Result<u64> {
                let mut tx = self.begin_tx().await?;
                sqlx::query("INSERT INTO refresh_families_revoked (family_id, revoked_at) VALUES ($1, $2) ON CONFLICT (family_id) DO NOTHING")
                    .bind(family_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                let res = sqlx::query("DELETE FROM refresh_tokens WHERE family_id = $1")
                    .bind(family_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(res.rows_affected())
            }

            async fn revoke_user(&self, user_id: &str, at: i64) -> Result<()> {
                let mut tx = self.begin_tx().await?;
                sqlx::query("INSERT INTO user_revocations (user_id, revoked_at) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET revoked_at = excluded.revoked_at")
                    .bind(user_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO refresh_families_revoked (family_id, revoked_at) SELECT DISTINCT family_id, $2 FROM refresh_tokens WHERE user_id = $1 ON CONFLICT (family_id) DO NOTHING")
                    .bind(user_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_revocations(&self) -> Result<Vec<(String, i64)>> {
                let rows = sqlx::query("SELECT user_id, revoked_at FROM user_revocations ORDER BY user_id")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("user_id")?, r.try_get("revoked_at")?)))
                    .collect()
            }
        }
    };
}
