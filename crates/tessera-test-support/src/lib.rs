//! What the crates' tests share: a request's metadata, the account root as caller, a scratch
//! directory, a migrated store, awsQuery parameters and a look into an XML reply. Test code
//! only (a dev-dependency); nothing here is used by the server.

use std::sync::Arc;
use tessera_core::{AccountId, Caller, Principal, RequestMeta};
use tessera_store::Store;
use tessera_wire::query::QueryParams;

/// A request's metadata: from loopback, now, with request id `r`.
pub fn meta() -> RequestMeta {
    RequestMeta {
        request_id: "r".into(),
        source_ip: "127.0.0.1".parse().expect("an address"),
        user_agent: String::new(),
        now: chrono::Utc::now(),
        secure_transport: false,
        decisions: Default::default(),
    }
}

/// [`meta`], as over TLS (`aws:SecureTransport` is true).
pub fn tls_meta() -> RequestMeta {
    RequestMeta {
        secure_transport: true,
        ..meta()
    }
}

/// The root user of `account` (12 digits), as an authenticated caller.
pub fn root(account: &str) -> Caller {
    Caller {
        account: AccountId::parse(account).expect("a 12-digit account id"),
        principal: Principal::Root,
        access_key_id: "AKIAROOTROOTROOT0000".into(),
        session: None,
    }
}

/// A fresh directory for one case's files: in memory-backed `/dev/shm` where there is one
/// (the store syncs every write, and a fixture makes dozens), else the system's temporary
/// directory.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("a temporary directory")
}

/// The store at `url`, migrated.
pub async fn migrated(url: &str) -> Arc<dyn Store> {
    let store = tessera_store::connect(url).await.expect("store connects");
    store.migrate().await.expect("store migrates");
    store
}

/// A migrated SQLite store in file `name` under `dir`.
pub async fn sqlite(dir: &std::path::Path, name: &str) -> Arc<dyn Store> {
    migrated(&format!("sqlite://{}", dir.join(name).display())).await
}

/// The test command's PostgreSQL server (`TESSERA_TEST_POSTGRES_URL`). `None`, to skip the
/// PostgreSQL half, only when `TESSERA_SKIP_POSTGRES=1` says so: a missing URL is otherwise a
/// mistake, and the test fails rather than passing without PostgreSQL.
pub fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
        if std::env::var("TESSERA_SKIP_POSTGRES").as_deref() == Ok("1") {
            eprintln!("skipping PostgreSQL: TESSERA_SKIP_POSTGRES=1");
            return None;
        }
        panic!(
            "TESSERA_TEST_POSTGRES_URL is not set: run ./scripts/test, or set TESSERA_SKIP_POSTGRES=1 to skip the PostgreSQL half on purpose"
        );
    };
    Some(base)
}

/// awsQuery parameters from pairs, encoded and decoded as on the wire.
pub fn query(kv: &[(&str, &str)]) -> QueryParams {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in kv {
        s.append_pair(k, v);
    }
    QueryParams::parse(&[s.finish().as_bytes()]).expect("parameters parse")
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}
