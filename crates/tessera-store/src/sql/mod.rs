//! The two sqlx adapters. Each bounded context's statements live in one file (`iam.rs`,
//! `identity_center.rs`, `tokens.rs`, `keys.rs`, `counters.rs`, `access_grants.rs`, `audit.rs`) as one macro body that is expanded for both backends, so SQLite and
//! PostgreSQL run the same statements; only connection set-up and migrations differ. To find
//! a statement, open the context's file and search for the method name.

use crate::{
    AccessGrantsStore, AccessGrantsTables, AccessKeyRecord, AgGrantRecord, AgInstanceDelta,
    AgInstanceRecord, AgLocationRecord, AgLogEntry, AgResource, AppSettingRecord, AttachmentRow,
    AuditDigestRow, AuditFilter, AuditKeyRecord, AuditRow, AuditStore, ChangeCounters,
    DirectoryTables, GroupWrite, IamStore, IamTables, IdentityCenterStore, IdentityGroupRecord,
    IdentityUserRecord, InlinePolicyRow, InstanceRecord, ManagedPolicyRecord, MembershipRecord,
    OidcProviderRecord, OperatorTokenRecord, RefreshTokenRecord, RefreshUse, Result, RoleRecord,
    ScimTokenRecord, SessionKeyRecord, SessionKeyStore, SigningKeyRecord, SsoConfigTables,
    SsoObjectRecord, StoreAdmin, TokenStore, UserRecord, name_key,
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
    /// The audit trail's appends have a connection of their own. A pooled connection that
    /// another one wrote behind drops its page cache and reads the pages back (in WAL mode a
    /// changed log resets it): appends alternating over the pool read ~30 pages each; on a
    /// connection of their own they find the table's and indexes' pages cached.
    audit_pool: SqlitePool,
}

/// The database, its write-ahead log and shared-memory file readable and writable by their
/// owner only: a new database is created that way (SQLite gives the `-wal` and `-shm` files
/// the database's permissions), and an existing one is restricted.
#[cfg(unix)]
fn restrict_sqlite_files(path: &str) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if path.is_empty() || path.starts_with(':') || path.contains("mode=memory") {
        return Ok(());
    }
    let file = path.split('?').next().unwrap_or(path);
    let io = |e: std::io::Error| crate::StoreError::Backend(format!("{file}: {e}"));
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(io(e));
    }
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{file}{suffix}");
        match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_sqlite_files(_path: &str) -> Result<()> {
    Ok(())
}

impl SqliteStore {
    pub async fn open(path: &str) -> Result<SqliteStore> {
        restrict_sqlite_files(path)?;
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
            .connect_with(opts.clone())
            .await?;
        // The audit trail's rows are built behind the server's local audit log, which is
        // their durability point: their commits need not wait for the disk
        // ([`crate::AuditStore::audit_sync`] makes them durable before the log lets go).
        let audit_pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.synchronous(SqliteSynchronous::Normal))
            .await?;
        Ok(SqliteStore { pool, audit_pool })
    }
}

impl SqliteStore {
    /// A write transaction that takes SQLite's write lock at its start (`BEGIN IMMEDIATE`):
    /// a deferred one that read first would fail at its first write (`SQLITE_BUSY`, no busy
    /// wait) whenever another connection (the audit trail's, say) committed in between.
    async fn begin_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn begin_audit_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.audit_pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl PgStore {
    async fn begin_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }

    async fn begin_audit_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.audit_pool.begin().await?)
    }
}

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The audit trail's appends have a connection of their own (as [`SqliteStore`]'s).
    audit_pool: PgPool,
}

impl PgStore {
    pub async fn open(url: &str) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // Unlike SQLite's, the audit rows' commits wait for the WAL flush: PostgreSQL can crash
        // while this server runs on, and a lost lazy commit would leave the log's records
        // behind the indexer, which has moved past them. (The indexer's batches are large:
        // one flush per batch.)
        let audit_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PgStore { pool, audit_pool })
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
const INSTANCE_COLS: &str = "instance_arn, identity_store_id, owner_account_id, name, status, client_token, tags, created_at";
const IDENTITY_USER_COLS: &str = "user_id, identity_store_id, user_name, email_key, attributes, created_at, created_by, updated_at, updated_by";
const IDENTITY_GROUP_COLS: &str = "group_id, identity_store_id, display_name, description, created_at, created_by, updated_at, updated_by, external_ids";
const MEMBERSHIP_COLS: &str =
    "membership_id, identity_store_id, group_id, user_id, created_at, created_by";
const SSO_OBJECT_COLS: &str =
    "arn, instance_arn, kind, name_key, client_token, document, created_at";
/// Access Grants log entries kept per instance (older ones are pruned as versions advance).
const AG_LOG_KEEP: i64 = 200_000;
const AG_INSTANCE_COLS: &str = "account_id, identity_center_arn, application_arn, resource_policy, policy_organization, policy_created_at, tags, created_at";
const AG_LOCATION_COLS: &str =
    "account_id, location_id, location_scope, iam_role_arn, tags, created_at";
const AG_GRANT_COLS: &str = "account_id, grant_id, location_id, sub_prefix, grant_scope, grantee_type, grantee_id, permission, application_arn, prefix_type, tags, created_at";
const AUDIT_COLS: &str = "seq, event_time, event_source, event_name, principal_arn, on_behalf_of, request_id, body, prev_hash, hash";
const OIDC_COLS: &str = "arn, account_id, url, client_ids, thumbprints, tags, created_at";

macro_rules! row_mappers {
    ($row:ty) => {
        fn operator_token_from(r: &$row) -> Result<OperatorTokenRecord> {
            Ok(OperatorTokenRecord {
                token_id: r.try_get("token_id")?,
                token_hash: r.try_get("token_hash")?,
                description: r.try_get("description")?,
                created_at: r.try_get("created_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        }

        fn sso_object_from(r: &$row) -> Result<SsoObjectRecord> {
            Ok(SsoObjectRecord {
                arn: r.try_get("arn")?,
                instance_arn: r.try_get("instance_arn")?,
                kind: r.try_get("kind")?,
                name_key: r.try_get("name_key")?,
                client_token: r.try_get("client_token")?,
                document: r.try_get("document")?,
                created_at: r.try_get("created_at")?,
            })
        }

        fn app_setting_from(r: &$row) -> Result<AppSettingRecord> {
            Ok(AppSettingRecord {
                application_arn: r.try_get("application_arn")?,
                kind: r.try_get("kind")?,
                key: r.try_get("setting_key")?,
                document: r.try_get("document")?,
            })
        }

        fn identity_group_from(r: &$row) -> Result<IdentityGroupRecord> {
            Ok(IdentityGroupRecord {
                identity_store_id: r.try_get("identity_store_id")?,
                group_id: r.try_get("group_id")?,
                display_name: r.try_get("display_name")?,
                description: r.try_get("description")?,
                external_ids: r.try_get("external_ids")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                updated_at: r.try_get("updated_at")?,
                updated_by: r.try_get("updated_by")?,
            })
        }

        fn membership_from(r: &$row) -> Result<MembershipRecord> {
            Ok(MembershipRecord {
                identity_store_id: r.try_get("identity_store_id")?,
                membership_id: r.try_get("membership_id")?,
                group_id: r.try_get("group_id")?,
                user_id: r.try_get("user_id")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
            })
        }

        fn identity_user_from(r: &$row) -> Result<IdentityUserRecord> {
            Ok(IdentityUserRecord {
                identity_store_id: r.try_get("identity_store_id")?,
                user_id: r.try_get("user_id")?,
                user_name: r.try_get("user_name")?,
                email_key: r.try_get("email_key")?,
                attributes: r.try_get("attributes")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                updated_at: r.try_get("updated_at")?,
                updated_by: r.try_get("updated_by")?,
            })
        }

        fn instance_from(r: &$row) -> Result<InstanceRecord> {
            Ok(InstanceRecord {
                instance_arn: r.try_get("instance_arn")?,
                identity_store_id: r.try_get("identity_store_id")?,
                owner_account_id: r.try_get("owner_account_id")?,
                name: r.try_get("name")?,
                status: r.try_get("status")?,
                client_token: r.try_get("client_token")?,
                tags: json_to_tags(&r.try_get::<String, _>("tags")?),
                created_at: r.try_get("created_at")?,
            })
        }

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
    };
}

macro_rules! store_admin {
    ($store:ty, $dialect:literal, $migrator:expr) => {
        #[async_trait]
        impl StoreAdmin for $store {
            async fn migrate(&self) -> Result<()> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            fn dialect(&self) -> &'static str {
                $dialect
            }

            async fn add_operator_token(&self, t: &OperatorTokenRecord) -> Result<()> {
                sqlx::query("INSERT INTO operator_tokens (token_id, token_hash, description, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&t.token_id)
                    .bind(&t.token_hash)
                    .bind(&t.description)
                    .bind(t.created_at)
                    .bind(t.expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn operator_token_by_hash(&self, token_hash: &str) -> Result<Option<OperatorTokenRecord>> {
                let row = sqlx::query("SELECT token_id, token_hash, description, created_at, expires_at FROM operator_tokens WHERE token_hash = $1")
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(operator_token_from).transpose()
            }

            async fn list_operator_tokens(&self) -> Result<Vec<OperatorTokenRecord>> {
                let rows = sqlx::query("SELECT token_id, token_hash, description, created_at, expires_at FROM operator_tokens ORDER BY created_at, token_id")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(operator_token_from).collect()
            }

            async fn delete_operator_token(&self, token_id: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM operator_tokens WHERE token_id = $1")
                    .bind(token_id)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() == 1)
            }
        }
    };
}

#[macro_use]
mod iam;
#[macro_use]
mod identity_center;
#[macro_use]
mod keys;
#[macro_use]
mod counters;
#[macro_use]
mod tokens;
#[macro_use]
mod access_grants;
#[macro_use]
mod audit;

mod sqlite_impl {
    use super::*;
    row_mappers!(sqlx::sqlite::SqliteRow);
    store_admin!(SqliteStore, "sqlite", SQLITE_MIGRATIONS);
    iam_store!(SqliteStore, sqlx::sqlite::SqliteRow, "sqlite");
    identity_center_store!(SqliteStore, sqlx::sqlite::SqliteRow, "sqlite");
    session_key_store!(SqliteStore, sqlx::sqlite::SqliteRow, "sqlite");
    change_counters!(SqliteStore, sqlx::sqlite::SqliteRow, "sqlite");
    token_store!(SqliteStore, sqlx::sqlite::SqliteRow, "sqlite");
    access_grants_store!(SqliteStore, sqlx::sqlite::SqliteRow, "sqlite");
    audit_store!(SqliteStore, sqlx::sqlite::SqliteRow, sqlx::Sqlite, "sqlite");
}

mod pg_impl {
    use super::*;
    row_mappers!(sqlx::postgres::PgRow);
    store_admin!(PgStore, "postgres", PG_MIGRATIONS);
    iam_store!(PgStore, sqlx::postgres::PgRow, "postgres");
    identity_center_store!(PgStore, sqlx::postgres::PgRow, "postgres");
    session_key_store!(PgStore, sqlx::postgres::PgRow, "postgres");
    change_counters!(PgStore, sqlx::postgres::PgRow, "postgres");
    token_store!(PgStore, sqlx::postgres::PgRow, "postgres");
    access_grants_store!(PgStore, sqlx::postgres::PgRow, "postgres");
    audit_store!(PgStore, sqlx::postgres::PgRow, sqlx::Postgres, "postgres");
}
