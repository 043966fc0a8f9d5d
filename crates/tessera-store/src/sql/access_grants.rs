//! S3 Access Grants statements ([`crate::AccessGrantsStore`]), expanded for both backends in
//! `mod.rs`.

/// In a write's transaction: bump the instance's version (locking its row until commit, so
/// versions commit in order), log what changed under the new version, and drop log entries
/// too old to be useful (a replica further behind reloads in full).
macro_rules! ag_log {
    ($tx:expr, $account:expr, $op:expr, $grant_id:expr, $scope:expr) => {{
        let row = sqlx::query("UPDATE ag_instances SET version = version + 1 WHERE account_id = $1 RETURNING version")
            .bind($account)
            .fetch_optional(&mut *$tx)
            .await?;
        if let Some(row) = row {
            let version: i64 = row.try_get("version")?;
            sqlx::query("INSERT INTO ag_log (account_id, version, op, grant_id, grant_scope) VALUES ($1, $2, $3, $4, $5)")
                .bind($account)
                .bind(version)
                .bind($op)
                .bind($grant_id)
                .bind($scope)
                .execute(&mut *$tx)
                .await?;
            if version % 1000 == 0 {
                sqlx::query("DELETE FROM ag_log WHERE account_id = $1 AND version <= $2")
                    .bind($account)
                    .bind(version - AG_LOG_KEEP)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}

/// In a write's transaction: count one more location or grant on the instance unless it
/// already has `max` (`LimitExceeded`; `Constraint` when there is no instance).
macro_rules! ag_reserve {
    ($tx:expr, $account:expr, $column:literal, $max:expr) => {{
        let counted = sqlx::query(concat!(
            "UPDATE ag_instances SET ",
            $column,
            " = ",
            $column,
            " + 1 WHERE account_id = $1 AND ",
            $column,
            " < $2"
        ))
        .bind($account)
        .bind($max)
        .execute(&mut *$tx)
        .await?;
        if counted.rows_affected() != 1 {
            let exists = sqlx::query("SELECT 1 FROM ag_instances WHERE account_id = $1")
                .bind($account)
                .fetch_optional(&mut *$tx)
                .await?;
            return Err(if exists.is_some() {
                crate::StoreError::LimitExceeded
            } else {
                crate::StoreError::Constraint("no Access Grants instance".into())
            });
        }
    }};
}

/// In a write's transaction: insert one grant row.
macro_rules! ag_insert_grant {
    ($tx:expr, $g:expr) => {{
        let g: &AgGrantRecord = $g;
        sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO ag_grants ({AG_GRANT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")))
            .bind(&g.account_id)
            .bind(&g.grant_id)
            .bind(&g.location_id)
            .bind(&g.sub_prefix)
            .bind(&g.grant_scope)
            .bind(&g.grantee_type)
            .bind(&g.grantee_id)
            .bind(&g.permission)
            .bind(g.application_arn.as_deref().unwrap_or(""))
            .bind(&g.prefix_type)
            .bind(tags_to_json(&g.tags))
            .bind(g.created_at)
            .execute(&mut *$tx)
            .await?;
    }};
}

macro_rules! access_grants_store {
    ($store:ty, $row:ty, $dialect:literal) => {
        fn ag_instance_from(r: &$row) -> Result<AgInstanceRecord> {
            Ok(AgInstanceRecord {
                account_id: r.try_get("account_id")?,
                identity_center_arn: r.try_get("identity_center_arn")?,
                application_arn: r.try_get("application_arn")?,
                resource_policy: r.try_get("resource_policy")?,
                policy_organization: r.try_get("policy_organization")?,
                policy_created_at: r.try_get("policy_created_at")?,
                tags: json_to_tags(&r.try_get::<String, _>("tags")?),
                created_at: r.try_get("created_at")?,
            })
        }

        fn ag_location_from(r: &$row) -> Result<AgLocationRecord> {
            Ok(AgLocationRecord {
                account_id: r.try_get("account_id")?,
                location_id: r.try_get("location_id")?,
                location_scope: r.try_get("location_scope")?,
                iam_role_arn: r.try_get("iam_role_arn")?,
                tags: json_to_tags(&r.try_get::<String, _>("tags")?),
                created_at: r.try_get("created_at")?,
            })
        }

        fn ag_grant_from(r: &$row) -> Result<AgGrantRecord> {
            let app: String = r.try_get("application_arn")?;
            Ok(AgGrantRecord {
                account_id: r.try_get("account_id")?,
                grant_id: r.try_get("grant_id")?,
                location_id: r.try_get("location_id")?,
                sub_prefix: r.try_get("sub_prefix")?,
                grant_scope: r.try_get("grant_scope")?,
                grantee_type: r.try_get("grantee_type")?,
                grantee_id: r.try_get("grantee_id")?,
                permission: r.try_get("permission")?,
                application_arn: (!app.is_empty()).then_some(app),
                prefix_type: r.try_get("prefix_type")?,
                tags: json_to_tags(&r.try_get::<String, _>("tags")?),
                created_at: r.try_get("created_at")?,
            })
        }

        #[async_trait]
        impl AccessGrantsStore for $store {
            async fn create_ag_instance(&self, i: &AgInstanceRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO ag_instances ({AG_INSTANCE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")))
                    .bind(&i.account_id)
                    .bind(&i.identity_center_arn)
                    .bind(&i.application_arn)
                    .bind(&i.resource_policy)
                    .bind(&i.policy_organization)
                    .bind(i.policy_created_at)
                    .bind(tags_to_json(&i.tags))
                    .bind(i.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_ag_instance(&self, account_id: &str) -> Result<Option<AgInstanceRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_INSTANCE_COLS} FROM ag_instances WHERE account_id = $1")))
                    .bind(account_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(ag_instance_from)
                    .transpose()
            }

            async fn update_ag_instance(&self, i: &AgInstanceRecord) -> Result<bool> {
                let mut tx = self.begin_tx().await?;
                let res = sqlx::query("UPDATE ag_instances SET identity_center_arn = $2, application_arn = $3, resource_policy = $4, policy_organization = $5, policy_created_at = $6, tags = $7 WHERE account_id = $1")
                    .bind(&i.account_id)
                    .bind(&i.identity_center_arn)
                    .bind(&i.application_arn)
                    .bind(&i.resource_policy)
                    .bind(&i.policy_organization)
                    .bind(i.policy_created_at)
                    .bind(tags_to_json(&i.tags))
                    .execute(&mut *tx)
                    .await?;
                ag_log!(tx, &i.account_id, "config", "", "");
                tx.commit().await?;
                Ok(res.rows_affected() == 1)
            }

            async fn delete_ag_instance(&self, account_id: &str) -> Result<bool> {
                let mut tx = self.begin_tx().await?;
                let res = sqlx::query("DELETE FROM ag_instances WHERE account_id = $1")
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM ag_log WHERE account_id = $1")
                    .bind(account_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(res.rows_affected() == 1)
            }

            async fn create_ag_location(&self, l: &AgLocationRecord, max: i64) -> Result<()> {
                let mut tx = self.begin_tx().await?;
                ag_reserve!(tx, &l.account_id, "location_count", max);
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO ag_locations ({AG_LOCATION_COLS}) VALUES ($1, $2, $3, $4, $5, $6)")))
                    .bind(&l.account_id)
                    .bind(&l.location_id)
                    .bind(&l.location_scope)
                    .bind(&l.iam_role_arn)
                    .bind(tags_to_json(&l.tags))
                    .bind(l.created_at)
                    .execute(&mut *tx)
                    .await?;
                ag_log!(tx, &l.account_id, "config", "", "");
                tx.commit().await?;
                Ok(())
            }

            async fn get_ag_location(&self, account_id: &str, location_id: &str) -> Result<Option<AgLocationRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_LOCATION_COLS} FROM ag_locations WHERE account_id = $1 AND location_id = $2")))
                    .bind(account_id)
                    .bind(location_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(ag_location_from)
                    .transpose()
            }

            async fn list_ag_locations(&self, account_id: &str) -> Result<Vec<AgLocationRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_LOCATION_COLS} FROM ag_locations WHERE account_id = $1 ORDER BY created_at, location_id")))
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(ag_location_from)
                    .collect()
            }

            async fn update_ag_location(&self, l: &AgLocationRecord) -> Result<bool> {
                let mut tx = self.begin_tx().await?;
                let res = sqlx::query("UPDATE ag_locations SET iam_role_arn = $3, tags = $4 WHERE account_id = $1 AND location_id = $2")
                    .bind(&l.account_id)
                    .bind(&l.location_id)
                    .bind(&l.iam_role_arn)
                    .bind(tags_to_json(&l.tags))
                    .execute(&mut *tx)
                    .await?;
                if res.rows_affected() == 1 {
                    ag_log!(tx, &l.account_id, "config", "", "");
                }
                tx.commit().await?;
                Ok(res.rows_affected() == 1)
            }

            async fn delete_ag_location(&self, account_id: &str, location_id: &str) -> Result<bool> {
                let mut tx = self.begin_tx().await?;
                let res = sqlx::query("DELETE FROM ag_locations WHERE account_id = $1 AND location_id = $2")
                    .bind(account_id)
                    .bind(location_id)
                    .execute(&mut *tx)
                    .await?;
                if res.rows_affected() == 1 {
                    sqlx::query("UPDATE ag_instances SET location_count = location_count - 1 WHERE account_id = $1")
                        .bind(account_id)
                        .execute(&mut *tx)
                        .await?;
                    ag_log!(tx, account_id, "config", "", "");
                }
                tx.commit().await?;
                Ok(res.rows_affected() == 1)
            }

            async fn create_ag_grant(&self, g: &AgGrantRecord, max: i64) -> Result<()> {
                let mut tx = self.begin_tx().await?;
                ag_reserve!(tx, &g.account_id, "grant_count", max);
                ag_insert_grant!(tx, g);
                ag_log!(tx, &g.account_id, "put", &g.grant_id, &g.grant_scope);
                tx.commit().await?;
                Ok(())
            }

            async fn import_ag_grants(&self, account_id: &str, grants: &[AgGrantRecord], max: i64) -> Result<()> {
                let mut tx = self.begin_tx().await?;
                let n = i64::try_from(grants.len()).unwrap_or(i64::MAX);
                let counted = sqlx::query("UPDATE ag_instances SET grant_count = grant_count + $2 WHERE account_id = $1 AND grant_count + $2 <= $3")
                    .bind(account_id)
                    .bind(n)
                    .bind(max)
                    .execute(&mut *tx)
                    .await?;
                if counted.rows_affected() != 1 {
                    return Err(crate::StoreError::LimitExceeded);
                }
                for g in grants {
                    if g.account_id != account_id {
                        return Err(crate::StoreError::Constraint("a grant of another account".into()));
                    }
                    ag_insert_grant!(tx, g);
                    ag_log!(tx, account_id, "put", &g.grant_id, &g.grant_scope);
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_ag_grant(&self, account_id: &str, grant_id: &str) -> Result<Option<AgGrantRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_GRANT_COLS} FROM ag_grants WHERE account_id = $1 AND grant_id = $2")))
                    .bind(account_id)
                    .bind(grant_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(ag_grant_from)
                    .transpose()
            }

            async fn list_ag_grants(&self, account_id: &str) -> Result<Vec<AgGrantRecord>> {
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_GRANT_COLS} FROM ag_grants WHERE account_id = $1 ORDER BY created_at, grant_id")))
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(ag_grant_from)
                    .collect()
            }

            async fn delete_ag_grant(&self, account_id: &str, grant_id: &str) -> Result<bool> {
                let mut tx = self.begin_tx().await?;
                let gone = sqlx::query("DELETE FROM ag_grants WHERE account_id = $1 AND grant_id = $2 RETURNING grant_scope")
                    .bind(account_id)
                    .bind(grant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(row) = &gone {
                    let scope: String = row.try_get("grant_scope")?;
                    sqlx::query("UPDATE ag_instances SET grant_count = grant_count - 1 WHERE account_id = $1")
                        .bind(account_id)
                        .execute(&mut *tx)
                        .await?;
                    ag_log!(tx, account_id, "delete", grant_id, &scope);
                }
                tx.commit().await?;
                Ok(gone.is_some())
            }

            async fn set_ag_tags(&self, account_id: &str, kind: AgResource, id: &str, tags: &[(String, String)]) -> Result<bool> {
                let q = match kind {
                    AgResource::Instance => "UPDATE ag_instances SET tags = $3 WHERE account_id = $1 AND $2 = 'default'",
                    AgResource::Location => "UPDATE ag_locations SET tags = $3 WHERE account_id = $1 AND location_id = $2",
                    AgResource::Grant => "UPDATE ag_grants SET tags = $3 WHERE account_id = $1 AND grant_id = $2",
                };
                let res = sqlx::query(q)
                    .bind(account_id)
                    .bind(id)
                    .bind(tags_to_json(tags))
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() == 1)
            }

            async fn access_grants_tables(&self) -> Result<AccessGrantsTables> {
                let mut tx = self.begin_tx().await?;
                if $dialect == "postgres" {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await?;
                }
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_INSTANCE_COLS}, version FROM ag_instances ORDER BY account_id")))
                    .fetch_all(&mut *tx)
                    .await?;
                let instances = rows.iter().map(ag_instance_from).collect::<Result<Vec<_>>>()?;
                let versions = rows
                    .iter()
                    .map(|r| Ok((r.try_get::<String, _>("account_id")?, r.try_get::<i64, _>("version")?)))
                    .collect::<Result<Vec<_>>>()?;
                let locations = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_LOCATION_COLS} FROM ag_locations ORDER BY account_id, location_id")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(ag_location_from)
                    .collect::<Result<Vec<_>>>()?;
                let grants = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_GRANT_COLS} FROM ag_grants ORDER BY account_id, grant_id")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(ag_grant_from)
                    .collect::<Result<Vec<_>>>()?;
                tx.commit().await?;
                Ok(AccessGrantsTables { instances, locations, grants, versions })
            }

            async fn access_grants_delta(&self, known: &[(String, i64)]) -> Result<Vec<(String, AgInstanceDelta)>> {
                let mut tx = self.begin_tx().await?;
                if $dialect == "postgres" {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await?;
                }
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_INSTANCE_COLS}, version FROM ag_instances ORDER BY account_id")))
                    .fetch_all(&mut *tx)
                    .await?;
                let mut out = Vec::new();
                let mut seen = std::collections::HashSet::new();
                for row in &rows {
                    let instance = ag_instance_from(row)?;
                    let version: i64 = row.try_get("version")?;
                    let account = instance.account_id.clone();
                    seen.insert(account.clone());
                    let had = known.iter().find(|(a, _)| *a == account).map(|(_, v)| *v);
                    if had == Some(version) {
                        out.push((account, AgInstanceDelta::Same));
                        continue;
                    }
                    let locations = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_LOCATION_COLS} FROM ag_locations WHERE account_id = $1 ORDER BY location_id")))
                        .bind(&account)
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(ag_location_from)
                        .collect::<Result<Vec<_>>>()?;
                    let oldest: Option<i64> = match had {
                        None => None,
                        Some(k) => sqlx::query("SELECT MIN(version) AS v FROM ag_log WHERE account_id = $1 AND version > $2")
                            .bind(&account)
                            .bind(k)
                            .fetch_one(&mut *tx)
                            .await?
                            .try_get("v")?,
                    };
                    match (had, oldest) {
                        (Some(k), Some(first)) if first == k + 1 => {
                            let log = sqlx::query("SELECT version, op, grant_id, grant_scope FROM ag_log WHERE account_id = $1 AND version > $2 ORDER BY version")
                                .bind(&account)
                                .bind(k)
                                .fetch_all(&mut *tx)
                                .await?
                                .iter()
                                .map(|r| Ok(AgLogEntry {
                                    version: r.try_get("version")?,
                                    op: r.try_get("op")?,
                                    grant_id: r.try_get("grant_id")?,
                                    grant_scope: r.try_get("grant_scope")?,
                                }))
                                .collect::<Result<Vec<_>>>()?;
                            let cols = AG_GRANT_COLS
                                .split(", ")
                                .map(|c| format!("g.{c}"))
                                .collect::<Vec<_>>()
                                .join(", ");
                            // CROSS JOIN keeps SQLite walking the log's key range first and
                            // looking each grant up by its key (not scanning every grant).
                            let grants = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {cols} FROM ag_log l CROSS JOIN ag_grants g WHERE l.account_id = $1 AND l.version > $2 AND l.op = 'put' AND g.account_id = l.account_id AND g.grant_id = l.grant_id")))
                                .bind(&account)
                                .bind(k)
                                .fetch_all(&mut *tx)
                                .await?
                                .iter()
                                .map(ag_grant_from)
                                .collect::<Result<Vec<_>>>()?;
                            out.push((account, AgInstanceDelta::Changes { instance, version, locations, log, grants }));
                        }
                        _ => {
                            let grants = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {AG_GRANT_COLS} FROM ag_grants WHERE account_id = $1 ORDER BY grant_id")))
                                .bind(&account)
                                .fetch_all(&mut *tx)
                                .await?
                                .iter()
                                .map(ag_grant_from)
                                .collect::<Result<Vec<_>>>()?;
                            out.push((account, AgInstanceDelta::Full { instance, version, locations, grants }));
                        }
                    }
                }
                for (account, _) in known {
                    if !seen.contains(account) {
                        out.push((account.clone(), AgInstanceDelta::Deleted));
                    }
                }
                tx.commit().await?;
                Ok(out)
            }
        }
    };
}
