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

            async fn list_instances(&self, owner: &str) -> Result<Vec<InstanceRecord>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INSTANCE_COLS} FROM sso_instances WHERE owner_account_id = $1 ORDER BY instance_arn")))
                    .bind(owner)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(instance_from).collect()
            }
        }
    };
}
