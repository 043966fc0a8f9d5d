//! The two sqlx adapters. Both are generated from one body by `sql_store!`, so they run the
//! same statements; only connection set-up and migrations differ.

use crate::{
    AccessKeyRecord, ManagedPolicyRecord, OidcProviderRecord, Result, RoleRecord, SessionKeyRecord,
    Store, UserRecord, name_key,
};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &str) -> Result<SqliteStore> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
            .map_err(|e| crate::StoreError::BadUrl(e.to_string()))?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a transaction acknowledged to a client survives power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await?;
        Ok(SqliteStore { pool })
    }
}

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PgStore { pool })
    }
}

fn tags_to_json(tags: &[(String, String)]) -> String {
    serde_json::to_string(tags).expect("tags serialise")
}

fn json_to_tags(s: &str) -> Vec<(String, String)> {
    serde_json::from_str(s).unwrap_or_default()
}

fn list_to_json(l: &[String]) -> String {
    serde_json::to_string(l).expect("list serialises")
}

fn json_to_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

const ROLE_COLS: &str = "account_id, name, role_id, path, description, trust_policy, max_session_duration, permissions_boundary, tags, created_at, trust_principal_ids";
const POLICY_COLS: &str =
    "arn, account_id, name, policy_id, path, description, document, created_at";
const USER_COLS: &str = "account_id, name, user_id, path, permissions_boundary, tags, created_at";
const KEY_COLS: &str =
    "access_key_id, account_id, user_name_key, secret_sealed, status, created_at";
const OIDC_COLS: &str = "arn, account_id, url, client_ids, thumbprints, tags, created_at";

macro_rules! sql_store {
    ($store:ty, $row:ty, $dialect:literal, $migrator:expr) => {
        fn role_from(r: &$row) -> Result<RoleRecord> {
            Ok(RoleRecord {
                account_id: r.try_get("account_id")?,
                name: r.try_get("name")?,
                role_id: r.try_get("role_id")?,
                path: r.try_get("path")?,
                description: r.try_get("description")?,
                trust_policy: r.try_get("trust_policy")?,
                trust_principal_ids: r
                    .try_get::<Option<String>, _>("trust_principal_ids")?
                    .map(|s| json_to_tags(&s)),
                max_session_duration: r.try_get("max_session_duration")?,
                permissions_boundary: r.try_get("permissions_boundary")?,
                tags: json_to_tags(&r.try_get::<String, _>("tags")?),
                created_at: r.try_get("created_at")?,
            })
        }

        fn policy_from(r: &$row) -> Result<ManagedPolicyRecord> {
            Ok(ManagedPolicyRecord {
                arn: r.try_get("arn")?,
                account_id: r.try_get("account_id")?,
                name: r.try_get("name")?,
                policy_id: r.try_get("policy_id")?,
                path: r.try_get("path")?,
                description: r.try_get("description")?,
                document: r.try_get("document")?,
                created_at: r.try_get("created_at")?,
            })
        }

        fn user_from(r: &$row) -> Result<UserRecord> {
            Ok(UserRecord {
                account_id: r.try_get("account_id")?,
                name: r.try_get("name")?,
                user_id: r.try_get("user_id")?,
                path: r.try_get("path")?,
                permissions_boundary: r.try_get("permissions_boundary")?,
                tags: json_to_tags(&r.try_get::<String, _>("tags")?),
                created_at: r.try_get("created_at")?,
            })
        }

        fn key_from(r: &$row) -> Result<AccessKeyRecord> {
            Ok(AccessKeyRecord {
                access_key_id: r.try_get("access_key_id")?,
                account_id: r.try_get("account_id")?,
                user_name_key: r.try_get("user_name_key")?,
                secret_sealed: r.try_get("secret_sealed")?,
                status: r.try_get("status")?,
                created_at: r.try_get("created_at")?,
            })
        }

        fn oidc_from(r: &$row) -> Result<OidcProviderRecord> {
            Ok(OidcProviderRecord {
                arn: r.try_get("arn")?,
                account_id: r.try_get("account_id")?,
                url: r.try_get("url")?,
                client_ids: json_to_list(&r.try_get::<String, _>("client_ids")?),
                thumbprints: json_to_list(&r.try_get::<String, _>("thumbprints")?),
                tags: json_to_tags(&r.try_get::<String, _>("tags")?),
                created_at: r.try_get("created_at")?,
            })
        }

        #[async_trait]
        impl Store for $store {
            async fn migrate(&self) -> Result<()> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            fn dialect(&self) -> &'static str {
                $dialect
            }

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

            async fn list_session_keys(&self) -> Result<Vec<SessionKeyRecord>> {
                let rows = sqlx::query("SELECT id, secret_sealed, created_at FROM session_keys ORDER BY id")
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
                sqlx::query("INSERT INTO session_keys (id, secret_sealed, created_at) VALUES ($1, $2, $3)")
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
        }
    };
}

mod sqlite_impl {
    use super::*;
    sql_store!(
        SqliteStore,
        sqlx::sqlite::SqliteRow,
        "sqlite",
        SQLITE_MIGRATIONS
    );
}

mod pg_impl {
    use super::*;
    sql_store!(PgStore, sqlx::postgres::PgRow, "postgres", PG_MIGRATIONS);
}
