//! The audit trail's statements ([`crate::AuditStore`]), expanded for both backends in `mod.rs`.

macro_rules! audit_store {
    ($store:ty, $row:ty, $db:ty, $dialect:literal) => {
        fn audit_row_from(r: &$row) -> Result<AuditRow> {
            Ok(AuditRow {
                seq: r.try_get("seq")?,
                event_time: r.try_get("event_time")?,
                event_source: r.try_get("event_source")?,
                event_name: r.try_get("event_name")?,
                principal_arn: r.try_get("principal_arn")?,
                on_behalf_of: r.try_get("on_behalf_of")?,
                request_id: r.try_get("request_id")?,
                body: r.try_get("body")?,
                prev_hash: r.try_get("prev_hash")?,
                hash: r.try_get("hash")?,
            })
        }

        // Multi-row INSERTs: a batch costs a few statements, not one per record. SQLite's
        // placeholders are anonymous (`?`): sqlx looks each named one up among all of the
        // statement's (SQLite keeps them in a list), so with `$N` the cost per row grew with
        // the statement's width; PostgreSQL's are numbered.
        const CHUNK: usize = match $dialect.as_bytes() {
            b"postgres" => 25,
            _ => 100,
        };

        fn audit_insert(chunk: &[AuditRow]) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments> {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    if $dialect == "postgres" {
                        let b = i * 10;
                        format!(
                            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                            b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10
                        )
                    } else {
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)".to_owned()
                    }
                })
                .collect();
            let sql = format!("INSERT INTO audit_records ({AUDIT_COLS}) VALUES {}", values.join(", "));
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.seq)
                    .bind(&r.event_time)
                    .bind(&r.event_source)
                    .bind(&r.event_name)
                    .bind(&r.principal_arn)
                    .bind(&r.on_behalf_of)
                    .bind(&r.request_id)
                    .bind(&r.body)
                    .bind(&r.prev_hash)
                    .bind(&r.hash);
            }
            q
        }

        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, rows: &[AuditRow]) -> Result<()> {
                // Durable on commit: the main pool (an operator's append has no local log).
                if rows.len() <= CHUNK {
                    // One statement is atomic on its own: no BEGIN / COMMIT round trips.
                    audit_insert(rows).execute(&self.pool).await?;
                    return Ok(());
                }
                let mut tx = self.begin_tx().await?;
                for chunk in rows.chunks(CHUNK) {
                    audit_insert(chunk).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn append_audit_from(&self, rows: &[AuditRow], origin: &str, lsn: i64) -> Result<bool> {
                let mut tx = self.begin_audit_tx().await?;
                // The cursor first: a batch already in the trail (its commit went through
                // but its answer was lost) is not appended again.
                let moved = sqlx::query(
                    "INSERT INTO audit_cursors (origin, lsn) VALUES ($1, $2) \
                     ON CONFLICT (origin) DO UPDATE SET lsn = excluded.lsn \
                     WHERE audit_cursors.lsn < excluded.lsn",
                )
                .bind(origin)
                .bind(lsn)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved == 0 {
                    return Ok(false);
                }
                for chunk in rows.chunks(CHUNK) {
                    audit_insert(chunk).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn audit_sync(&self, origin: &str) -> Result<()> {
                // A durable commit (the main pool) that writes: it makes every commit before
                // it durable too, the audit pool's lazy ones included.
                sqlx::query("UPDATE audit_cursors SET lsn = lsn WHERE origin = $1")
                    .bind(origin)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn audit_cursor(&self, origin: &str) -> Result<i64> {
                let row = sqlx::query("SELECT lsn FROM audit_cursors WHERE origin = $1")
                    .bind(origin)
                    .fetch_optional(&self.audit_pool)
                    .await?;
                Ok(row.map(|r| r.try_get("lsn")).transpose()?.unwrap_or(0))
            }

            async fn audit_head(&self) -> Result<Option<(i64, String)>> {
                let row = sqlx::query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| Ok((r.try_get("seq")?, r.try_get("hash")?))).transpose()
            }

            async fn audit_range(&self, from_seq: i64, limit: i64) -> Result<Vec<AuditRow>> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {AUDIT_COLS} FROM audit_records WHERE seq >= $1 ORDER BY seq LIMIT $2"
                )))
                .bind(from_seq)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(audit_row_from)
                .collect()
            }

            async fn audit_seq_at(&self, time: &str) -> Result<Option<i64>> {
                let row = sqlx::query("SELECT MIN(seq) AS seq FROM audit_records WHERE event_time >= $1")
                    .bind(time)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("seq")?)
            }

            async fn audit_query(&self, f: &AuditFilter, limit: i64) -> Result<Vec<AuditRow>> {
                // Each filter is `($n IS NULL OR column = $n)`: one statement for every combination.
                let cast = if $dialect == "postgres" { "::TEXT" } else { "" };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {AUDIT_COLS} FROM audit_records WHERE \
                     ($1{cast} IS NULL OR on_behalf_of = $1) AND \
                     ($2{cast} IS NULL OR principal_arn = $2) AND \
                     ($3{cast} IS NULL OR event_name = $3) AND \
                     ($4{cast} IS NULL OR request_id = $4) AND \
                     ($5{cast} IS NULL OR event_time >= $5) AND \
                     ($6{cast} IS NULL OR event_time < $6) \
                     ORDER BY seq DESC LIMIT $7"
                )))
                .bind(&f.on_behalf_of)
                .bind(&f.principal_arn)
                .bind(&f.event_name)
                .bind(&f.request_id)
                .bind(&f.since)
                .bind(&f.until)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(audit_row_from)
                .collect()
            }

            async fn put_audit_digest(&self, d: &AuditDigestRow) -> Result<()> {
                sqlx::query("INSERT INTO audit_digests (digest_seq, end_seq, body) VALUES ($1, $2, $3)")
                    .bind(d.digest_seq)
                    .bind(d.end_seq)
                    .bind(&d.body)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn audit_digests(&self) -> Result<Vec<AuditDigestRow>> {
                sqlx::query("SELECT digest_seq, end_seq, body FROM audit_digests ORDER BY digest_seq")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(AuditDigestRow {
                            digest_seq: r.try_get("digest_seq")?,
                            end_seq: r.try_get("end_seq")?,
                            body: r.try_get("body")?,
                        })
                    })
                    .collect()
            }

            async fn put_audit_key(&self, k: &AuditKeyRecord) -> Result<()> {
                sqlx::query("INSERT INTO audit_keys (fingerprint, public_key, private_sealed, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&k.fingerprint)
                    .bind(&k.public_key)
                    .bind(&k.private_sealed)
                    .bind(k.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn audit_keys(&self) -> Result<Vec<AuditKeyRecord>> {
                sqlx::query("SELECT fingerprint, public_key, private_sealed, created_at FROM audit_keys ORDER BY created_at, fingerprint")
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(AuditKeyRecord {
                            fingerprint: r.try_get("fingerprint")?,
                            public_key: r.try_get("public_key")?,
                            private_sealed: r.try_get("private_sealed")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect()
            }
        }
    };
}
