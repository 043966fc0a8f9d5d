//! The session key ring's statements ([`crate::SessionKeyStore`]), expanded for both backends in `mod.rs`.

macro_rules! session_key_store {
    ($store:ty, $row:ty, $dialect:literal) => {
        #[async_trait]
        impl SessionKeyStore for $store {
            async fn list_session_keys(&self) -> Result<Vec<SessionKeyRecord>> {
                let rows = sqlx::query(
                    "SELECT id, secret_sealed, created_at FROM session_keys ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok(SessionKeyRecord {
                            id: r.try_get("id")?,
                            secret_sealed: r.try_get("secret_sealed")?,
                            created_at: r.try_get("created_at")?,
                        })
                    })
                    .collect()
            }

            async fn add_session_key(&self, k: &SessionKeyRecord) -> Result<()> {
                sqlx::query(
                    "INSERT INTO session_keys (id, secret_sealed, created_at) VALUES ($1, $2, $3)",
                )
                .bind(k.id)
                .bind(&k.secret_sealed)
                .bind(k.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_session_key(&self, id: i64) -> Result<bool> {
                let res = sqlx::query("DELETE FROM session_keys WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }
        }
    };
}
