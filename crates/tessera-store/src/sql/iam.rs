//! The IAM context's statements ([`crate::IamStore`]), expanded for both backends in `mod.rs`.

macro_rules! iam_store {
    ($store:ty, $row:ty, $dialect:literal) => {
        #[async_trait]
        impl IamStore for $store {
            async fn create_account(&self, account_id: &str, now: i64) -> Result<()> {
                sqlx::query("INSERT INTO accounts (account_id, created_at) VALUES ($1, $2)")
                    .bind(account_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn account_exists(&self, account_id: &str) -> Result<bool> {
                let row = sqlx::query("SELECT 1 FROM accounts WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.is_some())
            }

            async fn set_account_organization(&self, account_id: &str, organization_id: Option<&str>) -> Result<()> {
                let res = sqlx::query("UPDATE accounts SET organization_id = $2 WHERE account_id = $1")
                    .bind(account_id)
                    .bind(organization_id)
                    .execute(&self.pool)
                    .await?;
                if res.rows_affected() == 0 {
                    return Err(crate::StoreError::Constraint(format!("no account {account_id}")));
                }
                Ok(())
            }

            async fn list_accounts(&self) -> Result<Vec<String>> {
                let rows = sqlx::query("SELECT account_id FROM accounts ORDER BY account_id")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| Ok(r.try_get("account_id")?)).collect()
            }

            async fn put_access_key(&self, k: &AccessKeyRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO access_keys ({KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6)")))
                    .bind(&k.access_key_id)
                    .bind(&k.account_id)
                    .bind(&k.user_name_key)
                    .bind(&k.secret_sealed)
                    .bind(&k.status)
                    .bind(k.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {KEY_COLS} FROM access_keys WHERE access_key_id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(key_from).transpose()
            }

            async fn list_access_keys(&self, account_id: &str, user: Option<&str>) -> Result<Vec<AccessKeyRecord>> {
                let rows = match user {
                    Some(u) => sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {KEY_COLS} FROM access_keys WHERE account_id = $1 AND user_name_key = $2 ORDER BY created_at, access_key_id"
                    )))
                    .bind(account_id)
                    .bind(name_key(u))
                    .fetch_all(&self.pool)
                    .await?,
                    None => sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT {KEY_COLS} FROM access_keys WHERE account_id = $1 AND user_name_key IS NULL ORDER BY created_at, access_key_id"
                    )))
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?,
                };
                rows.iter().map(key_from).collect()
            }

            async fn delete_access_key(&self, account_id: &str, id: &str) -> Result<bool> {
                let r = sqlx::query("DELETE FROM access_keys WHERE account_id = $1 AND access_key_id = $2")
                    .bind(account_id)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            }

            async fn create_role(&self, r: &RoleRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO roles (name_key, {ROLE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                )))
                .bind(name_key(&r.name))
                .bind(&r.account_id)
                .bind(&r.name)
                .bind(&r.role_id)
                .bind(&r.path)
                .bind(&r.description)
                .bind(&r.trust_policy)
                .bind(r.max_session_duration)
                .bind(&r.permissions_boundary)
                .bind(tags_to_json(&r.tags))
                .bind(r.created_at)
                .bind(r.trust_principal_ids.as_deref().map(tags_to_json))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_role(&self, account_id: &str, name: &str) -> Result<Option<RoleRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ROLE_COLS} FROM roles WHERE account_id = $1 AND name_key = $2")))
                    .bind(account_id)
                    .bind(name_key(name))
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(role_from).transpose()
            }

            async fn list_roles(&self, account_id: &str) -> Result<Vec<RoleRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ROLE_COLS} FROM roles WHERE account_id = $1 ORDER BY name_key")))
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(role_from).collect()
            }

            async fn update_role(&self, r: &RoleRecord) -> Result<bool> {
                let res = sqlx::query(
                    "UPDATE roles SET description = $1, trust_policy = $2, max_session_duration = $3, permissions_boundary = $4, tags = $5, trust_principal_ids = $6 WHERE account_id = $7 AND name_key = $8",
                )
                .bind(&r.description)
                .bind(&r.trust_policy)
                .bind(r.max_session_duration)
                .bind(&r.permissions_boundary)
                .bind(tags_to_json(&r.tags))
                .bind(r.trust_principal_ids.as_deref().map(tags_to_json))
                .bind(&r.account_id)
                .bind(name_key(&r.name))
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn delete_role(&self, account_id: &str, name: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM roles WHERE account_id = $1 AND name_key = $2")
                    .bind(account_id)
                    .bind(name_key(name))
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn put_role_policy(&self, account_id: &str, role: &str, policy_name: &str, doc: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO role_policies (account_id, role_name_key, policy_name, document) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (account_id, role_name_key, policy_name) DO UPDATE SET document = excluded.document",
                )
                .bind(account_id)
                .bind(name_key(role))
                .bind(policy_name)
                .bind(doc)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_role_policy(&self, account_id: &str, role: &str, policy_name: &str) -> Result<Option<String>> {
                let row = sqlx::query(
                    "SELECT document FROM role_policies WHERE account_id = $1 AND role_name_key = $2 AND policy_name = $3",
                )
                .bind(account_id)
                .bind(name_key(role))
                .bind(policy_name)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| r.try_get("document")).transpose()?)
            }

            async fn delete_role_policy(&self, account_id: &str, role: &str, policy_name: &str) -> Result<bool> {
                let res = sqlx::query(
                    "DELETE FROM role_policies WHERE account_id = $1 AND role_name_key = $2 AND policy_name = $3",
                )
                .bind(account_id)
                .bind(name_key(role))
                .bind(policy_name)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn list_role_policies(&self, account_id: &str, role: &str) -> Result<Vec<(String, String)>> {
                let rows = sqlx::query(
                    "SELECT policy_name, document FROM role_policies WHERE account_id = $1 AND role_name_key = $2 ORDER BY policy_name",
                )
                .bind(account_id)
                .bind(name_key(role))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("policy_name")?, r.try_get("document")?)))
                    .collect()
            }

            async fn create_managed_policy(&self, p: &ManagedPolicyRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO managed_policies ({POLICY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")))
                    .bind(&p.arn)
                    .bind(&p.account_id)
                    .bind(&p.name)
                    .bind(&p.policy_id)
                    .bind(&p.path)
                    .bind(&p.description)
                    .bind(&p.document)
                    .bind(p.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicyRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {POLICY_COLS} FROM managed_policies WHERE arn = $1")))
                    .bind(arn)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(policy_from).transpose()
            }

            async fn list_managed_policies(&self, account_id: &str) -> Result<Vec<ManagedPolicyRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {POLICY_COLS} FROM managed_policies WHERE account_id = $1 ORDER BY name")))
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(policy_from).collect()
            }

            async fn delete_managed_policy(&self, arn: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM managed_policies WHERE arn = $1")
                    .bind(arn)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn count_policy_attachments(&self, arn: &str) -> Result<i64> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM role_policy_attachments WHERE policy_arn = $1")
                    .bind(arn)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("n")?)
            }

            async fn attach_role_policy(&self, account_id: &str, role: &str, arn: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO role_policy_attachments (account_id, role_name_key, policy_arn) VALUES ($1, $2, $3) \
                     ON CONFLICT (account_id, role_name_key, policy_arn) DO NOTHING",
                )
                .bind(account_id)
                .bind(name_key(role))
                .bind(arn)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn detach_role_policy(&self, account_id: &str, role: &str, arn: &str) -> Result<bool> {
                let res = sqlx::query(
                    "DELETE FROM role_policy_attachments WHERE account_id = $1 AND role_name_key = $2 AND policy_arn = $3",
                )
                .bind(account_id)
                .bind(name_key(role))
                .bind(arn)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn list_attached_role_policies(&self, account_id: &str, role: &str) -> Result<Vec<ManagedPolicyRecord>> {
                let rows = sqlx::query(
                    "SELECT p.arn, p.account_id, p.name, p.policy_id, p.path, p.description, p.document, p.created_at \
                     FROM role_policy_attachments a JOIN managed_policies p ON p.arn = a.policy_arn \
                     WHERE a.account_id = $1 AND a.role_name_key = $2 ORDER BY p.name",
                )
                .bind(account_id)
                .bind(name_key(role))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(policy_from).collect()
            }

            async fn create_user(&self, u: &UserRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO users (name_key, {USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")))
                    .bind(name_key(&u.name))
                    .bind(&u.account_id)
                    .bind(&u.name)
                    .bind(&u.user_id)
                    .bind(&u.path)
                    .bind(&u.permissions_boundary)
                    .bind(tags_to_json(&u.tags))
                    .bind(u.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<UserRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLS} FROM users WHERE account_id = $1 AND name_key = $2")))
                    .bind(account_id)
                    .bind(name_key(name))
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(user_from).transpose()
            }

            async fn list_users(&self, account_id: &str) -> Result<Vec<UserRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLS} FROM users WHERE account_id = $1 ORDER BY name_key")))
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(user_from).collect()
            }

            async fn delete_user(&self, account_id: &str, name: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM users WHERE account_id = $1 AND name_key = $2")
                    .bind(account_id)
                    .bind(name_key(name))
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn put_user_policy(&self, account_id: &str, user: &str, policy_name: &str, doc: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO user_policies (account_id, user_name_key, policy_name, document) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (account_id, user_name_key, policy_name) DO UPDATE SET document = excluded.document",
                )
                .bind(account_id)
                .bind(name_key(user))
                .bind(policy_name)
                .bind(doc)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn get_user_policy(&self, account_id: &str, user: &str, policy_name: &str) -> Result<Option<String>> {
                let row = sqlx::query(
                    "SELECT document FROM user_policies WHERE account_id = $1 AND user_name_key = $2 AND policy_name = $3",
                )
                .bind(account_id)
                .bind(name_key(user))
                .bind(policy_name)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(|r| r.try_get("document")).transpose()?)
            }

            async fn delete_user_policy(&self, account_id: &str, user: &str, policy_name: &str) -> Result<bool> {
                let res = sqlx::query(
                    "DELETE FROM user_policies WHERE account_id = $1 AND user_name_key = $2 AND policy_name = $3",
                )
                .bind(account_id)
                .bind(name_key(user))
                .bind(policy_name)
                .execute(&self.pool)
                .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn list_user_policies(&self, account_id: &str, user: &str) -> Result<Vec<(String, String)>> {
                let rows = sqlx::query(
                    "SELECT policy_name, document FROM user_policies WHERE account_id = $1 AND user_name_key = $2 ORDER BY policy_name",
                )
                .bind(account_id)
                .bind(name_key(user))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("policy_name")?, r.try_get("document")?)))
                    .collect()
            }

            async fn create_oidc_provider(&self, p: &OidcProviderRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO oidc_providers ({OIDC_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)")))
                    .bind(&p.arn)
                    .bind(&p.account_id)
                    .bind(&p.url)
                    .bind(list_to_json(&p.client_ids))
                    .bind(list_to_json(&p.thumbprints))
                    .bind(tags_to_json(&p.tags))
                    .bind(p.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_oidc_provider(&self, arn: &str) -> Result<Option<OidcProviderRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {OIDC_COLS} FROM oidc_providers WHERE arn = $1")))
                    .bind(arn)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(oidc_from).transpose()
            }

            async fn list_oidc_providers(&self, account_id: &str) -> Result<Vec<OidcProviderRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {OIDC_COLS} FROM oidc_providers WHERE account_id = $1 ORDER BY arn")))
                    .bind(account_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(oidc_from).collect()
            }

            async fn delete_oidc_provider(&self, arn: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM oidc_providers WHERE arn = $1")
                    .bind(arn)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn iam_tables(&self) -> Result<IamTables> {
                let mut tx = self.begin_tx().await?;
                if $dialect == "postgres" {
                    // One snapshot for all six reads (PostgreSQL's default gives each statement its own).
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await?;
                }
                let managed_policies = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {POLICY_COLS} FROM managed_policies ORDER BY arn")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(policy_from)
                    .collect::<Result<Vec<_>>>()?;
                let roles = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {ROLE_COLS} FROM roles ORDER BY account_id, name_key")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(role_from)
                    .collect::<Result<Vec<_>>>()?;
                let inline = |r: &$row, owner: &str| -> Result<InlinePolicyRow> {
                    Ok(InlinePolicyRow {
                        account_id: r.try_get("account_id")?,
                        owner_key: r.try_get(owner)?,
                        name: r.try_get("policy_name")?,
                        document: r.try_get("document")?,
                    })
                };
                let role_policies = sqlx::query("SELECT account_id, role_name_key, policy_name, document FROM role_policies ORDER BY account_id, role_name_key, policy_name")
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| inline(r, "role_name_key"))
                    .collect::<Result<Vec<_>>>()?;
                let role_attachments = sqlx::query("SELECT a.account_id, a.role_name_key, a.policy_arn FROM role_policy_attachments a JOIN managed_policies p ON p.arn = a.policy_arn ORDER BY a.account_id, a.role_name_key, p.name")
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(AttachmentRow {
                            account_id: r.try_get("account_id")?,
                            role_key: r.try_get("role_name_key")?,
                            policy_arn: r.try_get("policy_arn")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let users = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {USER_COLS} FROM users ORDER BY account_id, name_key")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(user_from)
                    .collect::<Result<Vec<_>>>()?;
                let user_policies = sqlx::query("SELECT account_id, user_name_key, policy_name, document FROM user_policies ORDER BY account_id, user_name_key, policy_name")
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| inline(r, "user_name_key"))
                    .collect::<Result<Vec<_>>>()?;
                tx.commit().await?;
                Ok(IamTables {
                    managed_policies,
                    roles,
                    role_policies,
                    role_attachments,
                    users,
                    user_policies,
                })
            }
        }
    };
}
