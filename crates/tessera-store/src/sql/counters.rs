//! The change counters' statements ([`crate::ChangeCounters`]), expanded for both backends in `mod.rs`.

macro_rules! change_counters {
    ($store:ty, $row:ty, $dialect:literal) => {
        #[async_trait]
        impl ChangeCounters for $store {
            async fn bump_generation(&self, name: &str) -> Result<i64> {
                let row = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                match row {
                    Some(r) => Ok(r.try_get("value")?),
                    None => {
                        sqlx::query("INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1")
                            .bind(name)
                            .execute(&self.pool)
                            .await?;
                        self.generation(name).await
                    }
                }
            }

            async fn generation(&self, name: &str) -> Result<i64> {
                let row = sqlx::query("SELECT value FROM counters WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match row {
                    Some(r) => r.try_get("value")?,
                    None => 0,
                })
            }
        }
    };
}
