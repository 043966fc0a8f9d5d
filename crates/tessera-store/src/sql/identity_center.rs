//! The Identity Center context's statements ([`crate::IdentityCenterStore`]), expanded for
//! both backends in `mod.rs`.

macro_rules! identity_center_store {
    ($store:ty, $row:ty, $dialect:literal) => {
        #[async_trait]
        impl IdentityCenterStore for $store {
            async fn create_instance(&self, i: &InstanceRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO sso_instances ({INSTANCE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")))
                    .bind(&i.instance_arn)
                    .bind(&i.identity_store_id)
                    .bind(&i.owner_account_id)
                    .bind(&i.name)
                    .bind(&i.status)
                    .bind(&i.client_token)
                    .bind(tags_to_json(&i.tags))
                    .bind(i.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_instance(&self, arn: &str) -> Result<Option<InstanceRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INSTANCE_COLS} FROM sso_instances WHERE instance_arn = $1")))
                    .bind(arn)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(instance_from).transpose()
            }

            async fn account_organization(&self, account_id: &str) -> Result<Option<String>> {
                let row = sqlx::query("SELECT organization_id FROM accounts WHERE account_id = $1")
                    .bind(account_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match row {
                    Some(r) => r.try_get("organization_id")?,
                    None => None,
                })
            }

            async fn list_instances(&self, owner: &str) -> Result<Vec<InstanceRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INSTANCE_COLS} FROM sso_instances WHERE owner_account_id = $1 ORDER BY instance_arn")))
                    .bind(owner)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(instance_from).collect()
            }

            async fn instance_by_identity_store(&self, id: &str) -> Result<Option<InstanceRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INSTANCE_COLS} FROM sso_instances WHERE identity_store_id = $1")))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(instance_from).transpose()
            }

            async fn create_identity_user(&self, u: &IdentityUserRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO identity_users (user_name_key, {IDENTITY_USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")))
                    .bind(u.user_name.to_lowercase())
                    .bind(&u.user_id)
                    .bind(&u.identity_store_id)
                    .bind(&u.user_name)
                    .bind(&u.email_key)
                    .bind(&u.attributes)
                    .bind(u.created_at)
                    .bind(&u.created_by)
                    .bind(u.updated_at)
                    .bind(&u.updated_by)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_identity_user(&self, store: &str, user_id: &str) -> Result<Option<IdentityUserRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {IDENTITY_USER_COLS} FROM identity_users WHERE identity_store_id = $1 AND user_id = $2")))
                    .bind(store)
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(identity_user_from).transpose()
            }

            async fn list_identity_users(&self, store: &str) -> Result<Vec<IdentityUserRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {IDENTITY_USER_COLS} FROM identity_users WHERE identity_store_id = $1 ORDER BY user_id")))
                    .bind(store)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(identity_user_from).collect()
            }

            async fn delete_identity_user(&self, store: &str, user_id: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM identity_users WHERE identity_store_id = $1 AND user_id = $2")
                    .bind(store)
                    .bind(user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn update_identity_user(&self, u: &IdentityUserRecord) -> Result<bool> {
                let res = sqlx::query("UPDATE identity_users SET user_name = $1, user_name_key = $2, email_key = $3, attributes = $4, updated_at = $5, updated_by = $6 WHERE identity_store_id = $7 AND user_id = $8")
                    .bind(&u.user_name)
                    .bind(u.user_name.to_lowercase())
                    .bind(&u.email_key)
                    .bind(&u.attributes)
                    .bind(u.updated_at)
                    .bind(&u.updated_by)
                    .bind(&u.identity_store_id)
                    .bind(&u.user_id)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn identity_user_by_name(&self, store: &str, name: &str) -> Result<Option<IdentityUserRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {IDENTITY_USER_COLS} FROM identity_users WHERE identity_store_id = $1 AND user_name_key = $2")))
                    .bind(store)
                    .bind(name.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(identity_user_from).transpose()
            }

            async fn identity_users_by_email(&self, store: &str, email: &str) -> Result<Vec<IdentityUserRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {IDENTITY_USER_COLS} FROM identity_users WHERE identity_store_id = $1 AND email_key = $2 ORDER BY user_id")))
                    .bind(store)
                    .bind(email.to_lowercase())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(identity_user_from).collect()
            }

            async fn create_identity_group(&self, g: &IdentityGroupRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO identity_groups (display_name_key, {IDENTITY_GROUP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")))
                    .bind(g.display_name.to_lowercase())
                    .bind(&g.group_id)
                    .bind(&g.identity_store_id)
                    .bind(&g.display_name)
                    .bind(&g.description)
                    .bind(g.created_at)
                    .bind(&g.created_by)
                    .bind(g.updated_at)
                    .bind(&g.updated_by)
                    .bind(&g.external_ids)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_identity_group(&self, store: &str, group_id: &str) -> Result<Option<IdentityGroupRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {IDENTITY_GROUP_COLS} FROM identity_groups WHERE identity_store_id = $1 AND group_id = $2")))
                    .bind(store)
                    .bind(group_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(identity_group_from).transpose()
            }

            async fn list_identity_groups(&self, store: &str) -> Result<Vec<IdentityGroupRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {IDENTITY_GROUP_COLS} FROM identity_groups WHERE identity_store_id = $1 ORDER BY group_id")))
                    .bind(store)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(identity_group_from).collect()
            }

            async fn update_identity_group(&self, g: &IdentityGroupRecord) -> Result<bool> {
                let res = sqlx::query("UPDATE identity_groups SET display_name = $1, display_name_key = $2, description = $3, updated_at = $4, updated_by = $5, external_ids = $8 WHERE identity_store_id = $6 AND group_id = $7")
                    .bind(&g.display_name)
                    .bind(g.display_name.to_lowercase())
                    .bind(&g.description)
                    .bind(g.updated_at)
                    .bind(&g.updated_by)
                    .bind(&g.identity_store_id)
                    .bind(&g.group_id)
                    .bind(&g.external_ids)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn delete_identity_group(&self, store: &str, group_id: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM identity_groups WHERE identity_store_id = $1 AND group_id = $2")
                    .bind(store)
                    .bind(group_id)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn identity_group_by_name(&self, store: &str, name: &str) -> Result<Option<IdentityGroupRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {IDENTITY_GROUP_COLS} FROM identity_groups WHERE identity_store_id = $1 AND display_name_key = $2")))
                    .bind(store)
                    .bind(name.to_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(identity_group_from).transpose()
            }

            async fn create_membership(&self, m: &MembershipRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO identity_memberships ({MEMBERSHIP_COLS}) VALUES ($1, $2, $3, $4, $5, $6)")))
                    .bind(&m.membership_id)
                    .bind(&m.identity_store_id)
                    .bind(&m.group_id)
                    .bind(&m.user_id)
                    .bind(m.created_at)
                    .bind(&m.created_by)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_membership(&self, store: &str, id: &str) -> Result<Option<MembershipRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MEMBERSHIP_COLS} FROM identity_memberships WHERE identity_store_id = $1 AND membership_id = $2")))
                    .bind(store)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(membership_from).transpose()
            }

            async fn membership_of(&self, store: &str, group_id: &str, user_id: &str) -> Result<Option<MembershipRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MEMBERSHIP_COLS} FROM identity_memberships WHERE identity_store_id = $1 AND group_id = $2 AND user_id = $3")))
                    .bind(store)
                    .bind(group_id)
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(membership_from).transpose()
            }

            async fn delete_membership(&self, store: &str, id: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM identity_memberships WHERE identity_store_id = $1 AND membership_id = $2")
                    .bind(store)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn group_memberships(&self, store: &str, group_id: &str) -> Result<Vec<MembershipRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MEMBERSHIP_COLS} FROM identity_memberships WHERE identity_store_id = $1 AND group_id = $2 ORDER BY membership_id")))
                    .bind(store)
                    .bind(group_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(membership_from).collect()
            }

            async fn user_memberships(&self, store: &str, user_id: &str) -> Result<Vec<MembershipRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MEMBERSHIP_COLS} FROM identity_memberships WHERE identity_store_id = $1 AND user_id = $2 ORDER BY membership_id")))
                    .bind(store)
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(membership_from).collect()
            }

            async fn create_sso_object(&self, o: &SsoObjectRecord) -> Result<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO sso_objects ({SSO_OBJECT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)")))
                    .bind(&o.arn)
                    .bind(&o.instance_arn)
                    .bind(&o.kind)
                    .bind(&o.name_key)
                    .bind(&o.client_token)
                    .bind(&o.document)
                    .bind(o.created_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_sso_object(&self, arn: &str) -> Result<Option<SsoObjectRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SSO_OBJECT_COLS} FROM sso_objects WHERE arn = $1")))
                    .bind(arn)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(sso_object_from).transpose()
            }

            async fn list_sso_objects(&self, instance_arn: &str, kind: &str) -> Result<Vec<SsoObjectRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SSO_OBJECT_COLS} FROM sso_objects WHERE instance_arn = $1 AND kind = $2 ORDER BY arn")))
                    .bind(instance_arn)
                    .bind(kind)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(sso_object_from).collect()
            }

            async fn update_sso_object(&self, o: &SsoObjectRecord) -> Result<bool> {
                let res = sqlx::query("UPDATE sso_objects SET name_key = $1, document = $2 WHERE arn = $3")
                    .bind(&o.name_key)
                    .bind(&o.document)
                    .bind(&o.arn)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn delete_sso_object(&self, arn: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM sso_objects WHERE arn = $1")
                    .bind(arn)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn put_app_setting(&self, s: &AppSettingRecord) -> Result<()> {
                sqlx::query("INSERT INTO sso_app_settings (application_arn, kind, setting_key, document) VALUES ($1, $2, $3, $4) ON CONFLICT (application_arn, kind, setting_key) DO UPDATE SET document = excluded.document")
                    .bind(&s.application_arn)
                    .bind(&s.kind)
                    .bind(&s.key)
                    .bind(&s.document)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_app_setting(&self, app: &str, kind: &str, key: &str) -> Result<Option<AppSettingRecord>> {
                let row = sqlx::query("SELECT application_arn, kind, setting_key, document FROM sso_app_settings WHERE application_arn = $1 AND kind = $2 AND setting_key = $3")
                    .bind(app)
                    .bind(kind)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(app_setting_from).transpose()
            }

            async fn list_app_settings(&self, app: &str, kind: &str) -> Result<Vec<AppSettingRecord>> {
                let rows = sqlx::query("SELECT application_arn, kind, setting_key, document FROM sso_app_settings WHERE application_arn = $1 AND kind = $2 ORDER BY setting_key")
                    .bind(app)
                    .bind(kind)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(app_setting_from).collect()
            }

            async fn delete_app_setting(&self, app: &str, kind: &str, key: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM sso_app_settings WHERE application_arn = $1 AND kind = $2 AND setting_key = $3")
                    .bind(app)
                    .bind(kind)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn sso_config_tables(&self) -> Result<SsoConfigTables> {
                let mut tx = self.begin_tx().await?;
                if $dialect == "postgres" {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await?;
                }
                let instances = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INSTANCE_COLS} FROM sso_instances ORDER BY instance_arn")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(instance_from)
                    .collect::<Result<Vec<_>>>()?;
                let objects = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {SSO_OBJECT_COLS} FROM sso_objects ORDER BY arn")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(sso_object_from)
                    .collect::<Result<Vec<_>>>()?;
                let settings = sqlx::query("SELECT application_arn, kind, setting_key, document FROM sso_app_settings ORDER BY application_arn, kind, setting_key")
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(app_setting_from)
                    .collect::<Result<Vec<_>>>()?;
                tx.commit().await?;
                Ok(SsoConfigTables { instances, objects, settings })
            }

            async fn write_group(&self, g: &IdentityGroupRecord, mode: GroupWrite, add: &[MembershipRecord], remove: &[String]) -> Result<bool> {
                let mut tx = self.begin_tx().await?;
                let exists = match mode {
                    GroupWrite::Create => {
                        sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO identity_groups (display_name_key, {IDENTITY_GROUP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")))
                            .bind(g.display_name.to_lowercase())
                            .bind(&g.group_id)
                            .bind(&g.identity_store_id)
                            .bind(&g.display_name)
                            .bind(&g.description)
                            .bind(g.created_at)
                            .bind(&g.created_by)
                            .bind(g.updated_at)
                            .bind(&g.updated_by)
                            .bind(&g.external_ids)
                            .execute(&mut *tx)
                            .await?;
                        true
                    }
                    GroupWrite::Update => {
                        sqlx::query("UPDATE identity_groups SET display_name = $1, display_name_key = $2, description = $3, updated_at = $4, updated_by = $5, external_ids = $8 WHERE identity_store_id = $6 AND group_id = $7")
                            .bind(&g.display_name)
                            .bind(g.display_name.to_lowercase())
                            .bind(&g.description)
                            .bind(g.updated_at)
                            .bind(&g.updated_by)
                            .bind(&g.identity_store_id)
                            .bind(&g.group_id)
                            .bind(&g.external_ids)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected() > 0
                    }
                    GroupWrite::Keep => sqlx::query("SELECT group_id FROM identity_groups WHERE identity_store_id = $1 AND group_id = $2")
                        .bind(&g.identity_store_id)
                        .bind(&g.group_id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some(),
                };
                if !exists {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for id in remove {
                    sqlx::query("DELETE FROM identity_memberships WHERE identity_store_id = $1 AND group_id = $2 AND membership_id = $3")
                        .bind(&g.identity_store_id)
                        .bind(&g.group_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                for m in add {
                    sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO identity_memberships ({MEMBERSHIP_COLS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (group_id, user_id) DO NOTHING")))
                        .bind(&m.membership_id)
                        .bind(&m.identity_store_id)
                        .bind(&m.group_id)
                        .bind(&m.user_id)
                        .bind(m.created_at)
                        .bind(&m.created_by)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn directory_tables(&self) -> Result<DirectoryTables> {
                let mut tx = self.begin_tx().await?;
                if $dialect == "postgres" {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        .execute(&mut *tx)
                        .await?;
                }
                let users = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {IDENTITY_USER_COLS} FROM identity_users ORDER BY user_id")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(identity_user_from)
                    .collect::<Result<Vec<_>>>()?;
                let memberships = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {MEMBERSHIP_COLS} FROM identity_memberships ORDER BY membership_id")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(membership_from)
                    .collect::<Result<Vec<_>>>()?;
                tx.commit().await?;
                Ok(DirectoryTables { users, memberships })
            }

            async fn add_scim_token(&self, t: &ScimTokenRecord) -> Result<()> {
                sqlx::query("INSERT INTO scim_tokens (token_id, identity_store_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&t.token_id)
                    .bind(&t.identity_store_id)
                    .bind(&t.token_hash)
                    .bind(t.created_at)
                    .bind(t.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn scim_token_by_hash(&self, token_hash: &str) -> Result<Option<ScimTokenRecord>> {
                let row = sqlx::query("SELECT token_id, identity_store_id, token_hash, created_at, expires_at FROM scim_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok(ScimTokenRecord {
                        token_id: r.try_get("token_id")?,
                        identity_store_id: r.try_get("identity_store_id")?,
                        token_hash: r.try_get("token_hash")?,
                        created_at: r.try_get("created_at")?,
                        expires_at: r.try_get("expires_at")?,
                    })
                })
                .transpose()
            }

            async fn delete_scim_token(&self, token_id: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM scim_tokens WHERE token_id = $1")
                    .bind(token_id)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }
        }
    };
}
