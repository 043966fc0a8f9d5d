//! The durable audit trail: records appended to the store, hash-chained
//! (`tessera_audit::chain`), sealed by signed digests, and verified by `tessera audit verify`.
//!
//! [`StoreSink`] is the audit queue's sink: each batch is chained onto the store's head and
//! appended in one transaction. The head is cached; when another replica appended first the
//! append is refused (the sequence number is taken) and the batch is re-chained on the new
//! head, so replicas sharing a store keep one chain. The export for SIEMs follows the store
//! on its own ([`crate::export`]).

use crate::{Result, TrailError};
use std::sync::{Arc, Mutex};
use tessera_audit::chain::{self, Chain, Digest, SigningKey, StoredRecord};
use tessera_audit::segment::{AuditIndex, Columns, Entry};
use tessera_audit::{AuditError, AuditRecord, AuditSink};
use tessera_crypto::MasterKey;
use tessera_store::{AuditDigestRow, AuditKeyRecord, AuditRow, Store, StoreError};

/// Appends audit batches to the store's hash chain.
pub struct StoreSink {
    store: Arc<dyn Store>,
    rt: tokio::runtime::Handle,
    head: Mutex<Option<Chain>>,
}

impl std::fmt::Debug for StoreSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSink").finish_non_exhaustive()
    }
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok().map(|_| out)
}

fn store_err(e: StoreError) -> AuditError {
    AuditError::Io(std::io::Error::other(e.to_string()))
}

/// The store row for a record with `columns`, chained as `stored`. Its query columns are
/// derived from the record as [`index_problems`] derives them again from the stored body.
fn row(columns: &Columns, stored: StoredRecord) -> AuditRow {
    AuditRow {
        seq: stored.seq as i64,
        event_time: columns.event_time.clone(),
        event_source: columns.event_source.clone(),
        event_name: columns.event_name.clone(),
        principal_arn: columns.principal_arn.clone(),
        on_behalf_of: columns.on_behalf_of.clone(),
        request_id: columns.request_id.clone(),
        body: String::from_utf8(stored.body).expect("JSON is UTF-8"),
        prev_hash: hex::encode(stored.prev_hash),
        hash: hex::encode(stored.hash),
    }
}

/// The query columns of `r` that do not say what its (chained, verified) body says. The
/// body is covered by the hash chain; the columns are what `audit query` and the admin
/// listener filter on, so an edit to one would hide a record from a query or pin it on
/// someone else without touching the chain.
fn index_problems(r: &AuditRow) -> Vec<&'static str> {
    let Some(c) = Columns::of_body(r.body.as_bytes()) else {
        // An unreadable body is the chain's to report (its hash no longer matches).
        return Vec::new();
    };
    let mut bad = Vec::new();
    if r.event_time != c.event_time {
        bad.push("eventTime");
    }
    if r.event_source != c.event_source {
        bad.push("eventSource");
    }
    if r.event_name != c.event_name {
        bad.push("eventName");
    }
    if r.principal_arn != c.principal_arn {
        bad.push("principalArn");
    }
    if r.on_behalf_of != c.on_behalf_of {
        bad.push("onBehalfOf");
    }
    if r.request_id != c.request_id {
        bad.push("requestID");
    }
    bad
}

impl StoreSink {
    /// A sink for `store`, run from the audit writer thread with `rt`'s reactor.
    pub fn new(store: Arc<dyn Store>, rt: tokio::runtime::Handle) -> StoreSink {
        StoreSink {
            store,
            rt,
            head: Mutex::new(None),
        }
    }

    async fn append(&self, records: &[AuditRecord]) -> Result<(), AuditError> {
        let items: Vec<(Columns, Vec<u8>)> = records
            .iter()
            .map(|r| {
                let body = serde_json::to_vec(r).expect("audit records serialise");
                (Columns::of(r), body)
            })
            .collect();
        let items: Vec<(&Columns, &[u8])> = items.iter().map(|(c, b)| (c, b.as_slice())).collect();
        self.chain_and_append(&items, None).await
    }

    /// Chain `items` (columns, serialised record) onto the store's head and append them in
    /// one transaction, with the local log's cursor when they come from one.
    async fn chain_and_append(
        &self,
        items: &[(&Columns, &[u8])],
        cursor: Option<(&str, u64)>,
    ) -> Result<(), AuditError> {
        for _ in 0..16 {
            let cached = self.head.lock().expect("audit head").clone();
            let mut chain = match cached {
                Some(c) => c,
                None => match self.store.audit_head().await.map_err(store_err)? {
                    None => Chain::resume(0, chain::GENESIS),
                    Some((seq, hash)) => Chain::resume(
                        seq as u64,
                        hex32(&hash).ok_or_else(|| {
                            AuditError::Io(std::io::Error::other("audit head hash is not hex"))
                        })?,
                    ),
                },
            };
            let rows: Vec<AuditRow> = items
                .iter()
                .map(|(c, b)| row(c, chain.append(b.to_vec())))
                .collect();
            let appended = match cursor {
                None => self.store.append_audit(&rows).await.map(|()| true),
                Some((origin, lsn)) => {
                    self.store
                        .append_audit_from(&rows, origin, lsn as i64)
                        .await
                }
            };
            match appended {
                Ok(true) => {
                    *self.head.lock().expect("audit head") = Some(chain);
                    return Ok(());
                }
                // Already in the trail (an earlier attempt's commit went through unseen):
                // done, and the head is the store's again.
                Ok(false) => {
                    *self.head.lock().expect("audit head") = None;
                    return Ok(());
                }
                // Another replica appended first: re-chain on its head.
                Err(StoreError::Conflict) => *self.head.lock().expect("audit head") = None,
                Err(e) => {
                    *self.head.lock().expect("audit head") = None;
                    return Err(store_err(e));
                }
            }
        }
        Err(AuditError::Io(std::io::Error::other(
            "audit chain head kept moving; batch not appended",
        )))
    }
}

/// Append records to the trail from outside a running server (an operator command), chained
/// on the store's head like a server's batch.
pub async fn append(store: Arc<dyn Store>, records: &[AuditRecord]) -> Result<()> {
    let sink = StoreSink::new(store, tokio::runtime::Handle::current());
    sink.append(records).await.map_err(TrailError::Append)
}

impl AuditSink for StoreSink {
    fn write(&self, records: &[AuditRecord]) -> Result<(), AuditError> {
        self.rt.block_on(self.append(records))
    }
}

/// The index behind the local segment log: records are chained and appended with the log's
/// cursor in one transaction.
impl AuditIndex for StoreSink {
    fn indexed(&self, origin: &str) -> Result<u64, AuditError> {
        let lsn = self
            .rt
            .block_on(self.store.audit_cursor(origin))
            .map_err(store_err)?;
        Ok(lsn.max(0) as u64)
    }

    fn index(&self, origin: &str, entries: &[Entry]) -> Result<(), AuditError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let items: Vec<(&Columns, &[u8])> = entries
            .iter()
            .map(|e| (&e.columns, e.body.as_slice()))
            .collect();
        self.rt
            .block_on(self.chain_and_append(&items, Some((origin, last.lsn))))
    }

    fn sync(&self, origin: &str) -> Result<(), AuditError> {
        self.rt
            .block_on(self.store.audit_sync(origin))
            .map_err(store_err)
    }
}

/// The audit signing key: the store's newest, unsealed with the master key, or a new one
/// (stored sealed) when there is none yet. Older keys stay in the store: digests they signed
/// still verify.
pub async fn signing_key(store: &dyn Store, master: &MasterKey) -> Result<SigningKey> {
    for _ in 0..2 {
        if let Some(k) = store.audit_keys().await?.last() {
            let pkcs8 = master
                .open(&k.private_sealed, k.fingerprint.as_bytes())
                .map_err(|e| {
                    TrailError::Key(format!("cannot unseal the audit signing key: {e}"))
                })?;
            return SigningKey::from_pkcs8(&pkcs8)
                .map_err(|e| TrailError::Key(format!("the stored audit signing key: {e}")));
        }
        let (key, pkcs8) = SigningKey::generate();
        let fingerprint = key.fingerprint();
        let rec = AuditKeyRecord {
            private_sealed: master.seal(&pkcs8, fingerprint.as_bytes()),
            fingerprint,
            public_key: key.public_key(),
            created_at: chrono::Utc::now().timestamp(),
        };
        match store.put_audit_key(&rec).await {
            Ok(()) => return Ok(key),
            // Another replica made one at the same moment: use the store's first.
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(TrailError::Key(
        "no audit signing key could be loaded or made".into(),
    ))
}

fn parse_digests(rows: &[AuditDigestRow]) -> Result<Vec<Digest>> {
    rows.iter()
        .map(|r| {
            serde_json::from_str(&r.body).map_err(|e| {
                TrailError::Corrupt(format!(
                    "audit digest {} is not a digest: {e}",
                    r.digest_seq
                ))
            })
        })
        .collect()
}

/// Make a new audit signing key and store it (sealed): digests from now on are signed with
/// it. Returns its fingerprint.
pub async fn rotate_signing_key(store: &dyn Store, master: &MasterKey) -> Result<String> {
    let (key, pkcs8) = SigningKey::generate();
    let fingerprint = key.fingerprint();
    let newest = store.audit_keys().await?.last().map(|k| k.created_at);
    store
        .put_audit_key(&AuditKeyRecord {
            private_sealed: master.seal(&pkcs8, fingerprint.as_bytes()),
            fingerprint: fingerprint.clone(),
            public_key: key.public_key(),
            // Keys are ordered by creation time: a rotation within the second of the last
            // one still comes after it.
            created_at: chrono::Utc::now()
                .timestamp()
                .max(newest.map_or(0, |t| t + 1)),
        })
        .await?;
    Ok(fingerprint)
}

/// [`seal`] with the store's newest signing key.
pub async fn seal_with_newest_key(store: &dyn Store, master: &MasterKey) -> Result<Option<Digest>> {
    let key = signing_key(store, master).await?;
    seal(store, &key).await
}

/// Seal every record appended since the last digest with a new signed digest (a digest of an
/// idle period covers no record). Returns `None` when another replica sealed at the same
/// moment.
pub async fn seal(store: &dyn Store, key: &SigningKey) -> Result<Option<Digest>> {
    let digests = parse_digests(&store.audit_digests().await?)?;
    let previous = digests.last();
    let (head_seq, head_hash) = match store.audit_head().await? {
        None => (0, chain::GENESIS),
        Some((seq, hash)) => (
            seq as u64,
            hex32(&hash)
                .ok_or_else(|| TrailError::Corrupt("the audit head's hash is not hex".into()))?,
        ),
    };
    let start = previous.map_or(1, |p| p.end_seq + 1);
    let end = head_seq.max(start - 1);
    let d = key.digest(
        previous,
        start,
        end,
        &head_hash,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let row = AuditDigestRow {
        digest_seq: d.digest_seq as i64,
        end_seq: d.end_seq as i64,
        body: serde_json::to_string(&d)?,
    };
    match store.put_audit_digest(&row).await {
        Ok(()) => Ok(Some(d)),
        Err(StoreError::Conflict) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// How often a digest seals the records since the last one.
pub const DIGEST_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Verify the chain and digests, from the record at or after `from` (RFC 3339) to the last
/// record before `to` (the whole log without them).
pub async fn verify(
    store: &dyn Store,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<chain::Report> {
    let keys: Vec<Vec<u8>> = store
        .audit_keys()
        .await?
        .into_iter()
        .map(|k| k.public_key)
        .collect();
    let first = match from {
        None => Some(1),
        Some(t) => store.audit_seq_at(t).await?,
    };
    let end = match (to, store.audit_head().await?) {
        (_, None) => 0,
        (None, Some((head, _))) => head,
        (Some(t), Some((head, _))) => store.audit_seq_at(t).await?.map_or(head, |s| s - 1),
    };
    let digests = parse_digests(&store.audit_digests().await?)?;
    // A ranged check keeps the digests that end inside its range (and those before, for the
    // digest chain); the whole log is checked against every digest.
    let digests: Vec<Digest> = if to.is_some() {
        digests
            .into_iter()
            .filter(|d| d.end_seq as i64 <= end)
            .collect()
    } else {
        digests
    };
    let first = first.unwrap_or(end + 1);
    let mut v = chain::Verifier::new(first as u64, &digests);
    let mut index = Vec::new();
    let mut next = first;
    const PAGE: i64 = 10_000;
    while next <= end {
        let page = store.audit_range(next, PAGE.min(end - next + 1)).await?;
        let Some(last) = page.last() else { break };
        next = last.seq + 1;
        for r in &page {
            v.record(&StoredRecord {
                seq: r.seq as u64,
                body: r.body.as_bytes().to_vec(),
                prev_hash: hex32(&r.prev_hash).unwrap_or([0xff; 32]),
                hash: hex32(&r.hash).unwrap_or([0xff; 32]),
            });
            for column in index_problems(r) {
                index.push(chain::Problem::IndexMismatch {
                    seq: r.seq as u64,
                    column,
                });
            }
        }
    }
    let mut report = v.finish(&keys);
    report.problems.extend(index);
    Ok(report)
}

/// What [`verify_log`] found in a server's local audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogReport {
    /// Records in the log's segments (indexed ones are deleted with their segment).
    pub records: u64,
    /// Of those, in the trail with the same body.
    pub indexed: u64,
    /// Of those, not yet handed to the trail (the server indexes them behind, or at its
    /// next start).
    pub waiting: u64,
    /// Bytes (not zeros) after the newest segment's last valid record: a write a crash cut
    /// short (no request was answered on it; the next start removes them).
    pub torn_bytes: u64,
    pub problems: Vec<String>,
}

/// Check the local audit log in `dir` (a server's `DATA_DIR/audit/log`) against the trail:
/// every frame's checksum and sequence, and every record the trail's cursor for this log
/// says it has is there with the same body. No log there: an empty report.
pub async fn verify_log(store: &dyn Store, dir: &std::path::Path) -> Result<LogReport> {
    let mut report = LogReport::default();
    let origin = match std::fs::read_to_string(dir.join("ORIGIN")) {
        Ok(o) => o.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(report),
        Err(e) => return Err(TrailError::Corrupt(format!("{}: {e}", dir.display()))),
    };
    let cursor = store.audit_cursor(&origin).await?.max(0) as u64;
    let scans = tessera_audit::segment::scan_log(dir).map_err(|e| {
        TrailError::Corrupt(format!("reading the audit log {}: {e}", dir.display()))
    })?;
    let newest = scans.len();
    for (i, (_, path, scan)) in scans.iter().enumerate() {
        if let Some(why) = scan.stopped.as_ref().filter(|_| scan.trailing > 0) {
            if i + 1 == newest {
                report.torn_bytes = scan.trailing;
            } else {
                report
                    .problems
                    .push(format!("audit log segment {}: {why}", path.display()));
            }
        }
        for (lsn, body) in &scan.records {
            report.records += 1;
            if *lsn > cursor {
                report.waiting += 1;
                continue;
            }
            let Some(columns) = Columns::of_body(body) else {
                report
                    .problems
                    .push(format!("audit log record {lsn} is not a JSON record"));
                continue;
            };
            let filter = tessera_store::AuditFilter {
                request_id: Some(columns.request_id.clone()),
                ..Default::default()
            };
            let rows = store.audit_query(&filter, 100).await?;
            if rows.iter().any(|r| r.body.as_bytes() == body.as_slice()) {
                report.indexed += 1;
            } else {
                report.problems.push(format!(
                    "audit log record {lsn} (request {}) is not in the trail, though the trail's cursor for this log is at {cursor}",
                    columns.request_id
                ));
            }
        }
    }
    Ok(report)
}

/// What `tessera audit query` asks for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// A directory user: their identity-store user id, or their user name (looked up).
    pub user: Option<String>,
    pub principal_arn: Option<String>,
    pub event_name: Option<String>,
    pub request_id: Option<String>,
    /// RFC 3339, UTC.
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: i64,
}

/// The records matching `q`, newest first. A `user` that names no directory user by name is
/// taken as a user id.
pub async fn query(store: &dyn Store, q: &Query) -> Result<Vec<AuditRow>> {
    let on_behalf_of = match &q.user {
        None => None,
        Some(u) => {
            let users = store.directory_tables().await?.users;
            Some(
                users
                    .iter()
                    .find(|r| r.user_id == *u)
                    .or_else(|| users.iter().find(|r| r.user_name.eq_ignore_ascii_case(u)))
                    .map_or_else(|| u.clone(), |r| r.user_id.clone()),
            )
        }
    };
    let filter = tessera_store::AuditFilter {
        on_behalf_of,
        principal_arn: q.principal_arn.clone(),
        event_name: q.event_name.clone(),
        request_id: q.request_id.clone(),
        since: q.since.clone(),
        until: q.until.clone(),
    };
    Ok(store.audit_query(&filter, q.limit).await?)
}

/// Directory names for ids in an explanation: users and groups of every identity store.
async fn directory_names(store: &dyn Store) -> Result<std::collections::HashMap<String, String>> {
    let mut names = std::collections::HashMap::new();
    let users = store.directory_tables().await?.users;
    let mut stores: Vec<String> = users.iter().map(|u| u.identity_store_id.clone()).collect();
    stores.sort();
    stores.dedup();
    for u in users {
        names.insert(u.user_id, u.user_name);
    }
    for s in stores {
        for g in store.list_identity_groups(&s).await? {
            names.insert(g.group_id, g.display_name);
        }
    }
    Ok(names)
}

/// `tessera audit explain REQUEST_ID`: the request's record, and why it was decided as it
/// was, readably. `None` when no record has that request id.
pub async fn explain(store: &dyn Store, request_id: &str) -> Result<Option<String>> {
    let filter = tessera_store::AuditFilter {
        request_id: Some(request_id.to_owned()),
        ..Default::default()
    };
    let rows = store.audit_query(&filter, 10).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let names = directory_names(store).await?;
    let named = |id: &str| match names.get(id) {
        Some(n) => format!("{id} ({n})"),
        None => id.to_owned(),
    };
    let mut out = String::new();
    for row in rows.iter().rev() {
        let r: serde_json::Value = serde_json::from_str(&row.body)?;
        explain_record(&r, &named, &mut out);
    }
    Ok(Some(out))
}

fn explain_record(r: &serde_json::Value, named: &dyn Fn(&str) -> String, out: &mut String) {
    use std::fmt::Write;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
    let ui = &r["userIdentity"];
    let _ = writeln!(
        out,
        "Request {} at {}: {} {}",
        s(&r["requestID"]),
        s(&r["eventTime"]),
        s(&r["eventSource"]).trim_end_matches(".amazonaws.com"),
        s(&r["eventName"])
    );
    let _ = writeln!(out, "  Caller: {} ({})", s(&ui["arn"]), s(&ui["type"]));
    if let Some(u) = ui["onBehalfOf"]["userId"].as_str() {
        let _ = writeln!(out, "  On behalf of directory user: {}", named(u));
    }
    match r["errorCode"].as_str() {
        None => {
            let _ = writeln!(out, "  Result: allowed");
        }
        Some(code) => {
            let _ = writeln!(out, "  Result: {code}: {}", s(&r["errorMessage"]));
        }
    }
    let extra = &r["additionalEventData"];
    if let Some(g) = extra["accessGrants"].as_object() {
        let _ = writeln!(
            out,
            "  Access Grants credentials: grant {} ({} {}), vended by GetDataAccess request {}",
            s(&g["grantId"]),
            s(&g["grantScope"]),
            s(&g["permission"]),
            s(&g["getDataAccessRequestId"])
        );
    }
    if let Some(id) = extra["matchedGrantId"].as_str() {
        let _ = writeln!(
            out,
            "  Matched grant {id}: {} ({}) to {} {}",
            s(&extra["matchedGrantScope"]),
            s(&extra["permission"]),
            s(&extra["grantee"]["granteeType"]),
            named(&s(&extra["grantee"]["granteeIdentifier"]))
        );
    }
    let decisions = extra["authorizationDecisions"].as_array();
    if r["errorCode"].is_string() && decisions.is_none_or(|d| d.is_empty()) {
        let _ = writeln!(
            out,
            "  Decision: refused before authorisation (authentication or a malformed request)"
        );
    }
    for d in decisions.into_iter().flatten() {
        let target = d["resource"]
            .as_str()
            .or(d["target"].as_str())
            .unwrap_or("-");
        let what = format!("{} on {target}", s(&d["action"]));
        match d["decision"].as_str().unwrap_or("") {
            "ExplicitDeny" => {
                let by = &d["deniedBy"];
                let statement = match by["sid"].as_str() {
                    Some(sid) => format!(
                        "statement {} (Sid \"{sid}\")",
                        by["statementIndex"].as_u64().unwrap_or(0)
                    ),
                    None => format!(
                        "statement {} (no Sid)",
                        by["statementIndex"].as_u64().unwrap_or(0)
                    ),
                };
                let _ = writeln!(
                    out,
                    "  Decision: explicit deny of {what}\n    denied by {statement} of {} {}",
                    policy_kind(&s(&by["policyType"])),
                    s(&by["policy"])
                );
            }
            "ImplicitDeny" => {
                let _ = writeln!(out, "  Decision: implicit deny of {what}");
                if let Some(reason) = d["reason"].as_str() {
                    let _ = writeln!(out, "    {reason}");
                }
                for t in d["noAllowIn"].as_array().into_iter().flatten() {
                    let _ = writeln!(out, "    no {} allows it", policy_kind(&s(t)));
                }
                if let Some(ids) = d["identityPolicies"].as_array() {
                    let list: Vec<String> = ids.iter().map(s).collect();
                    let _ = writeln!(
                        out,
                        "    identity policies evaluated: {}",
                        if list.is_empty() {
                            "none".to_owned()
                        } else {
                            list.join(", ")
                        }
                    );
                }
            }
            "NoGrantMatched" => {
                let who = &d["callerGrantees"];
                let mut ids: Vec<String> = Vec::new();
                for a in who["iam"].as_array().into_iter().flatten() {
                    ids.push(format!("IAM {}", s(a)));
                }
                if let Some(u) = who["directoryUser"].as_str() {
                    ids.push(format!("directory user {}", named(u)));
                }
                let groups: Vec<String> = who["directoryGroups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|g| named(&s(g)))
                    .collect();
                if !groups.is_empty() {
                    ids.push(format!("groups {}", groups.join(", ")));
                }
                let _ = writeln!(
                    out,
                    "  Decision: no grant matched {} ({}) for the caller or their groups: {}",
                    s(&d["target"]),
                    s(&d["permission"]),
                    if ids.is_empty() {
                        "no grantee identity".to_owned()
                    } else {
                        ids.join("; ")
                    }
                );
                let near = d["nearestGrants"].as_array();
                if near.is_none_or(|n| n.is_empty()) {
                    let _ = writeln!(out, "    the instance has no grants");
                } else {
                    let _ = writeln!(out, "    nearest grants:");
                }
                for n in near.into_iter().flatten() {
                    let _ = writeln!(
                        out,
                        "      {} {} ({}) to {} {}: {}",
                        s(&n["grantId"]),
                        s(&n["grantScope"]),
                        s(&n["permission"]),
                        s(&n["grantee"]["granteeType"]),
                        named(&s(&n["grantee"]["granteeIdentifier"])),
                        s(&n["whyNot"])
                    );
                }
            }
            "OutsideGrantScope" => {
                let _ = writeln!(
                    out,
                    "  Decision: {what} is outside the scope of the Access Grants credentials: grant {} allows {} ({}), vended by GetDataAccess request {}",
                    s(&d["grantId"]),
                    s(&d["grantScope"]),
                    s(&d["permission"]),
                    s(&d["getDataAccessRequestId"])
                );
            }
            other => {
                let _ = writeln!(out, "  Decision: {other} of {what}");
            }
        }
    }
}

fn policy_kind(t: &str) -> &str {
    match t {
        "IdentityPolicy" => "identity-based policy",
        "ResourcePolicy" => "resource-based policy",
        "TrustPolicy" => "trust policy",
        "PermissionsBoundary" => "permissions boundary",
        "SessionPolicy" => "session policy",
        other => other,
    }
}

/// A `--since` value: a duration back from `now` (`90s`, `15m`, `2h`, `7d`) or an RFC 3339 time.
pub fn since(value: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(fmt(t.with_timezone(&chrono::Utc)));
    }
    let (n, unit) = value.split_at(value.len().saturating_sub(1));
    let n: i64 = n.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
        TrailError::Argument(format!(
            "{value:?} is neither a duration (15m, 2h, 7d) nor an RFC 3339 time"
        ))
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => {
            return Err(TrailError::Argument(format!(
                "{value:?}: a duration ends in s, m, h or d"
            )));
        }
    };
    Ok(fmt(now - chrono::Duration::seconds(secs)))
}

/// The records as a table: time, event, source, principal, on-behalf-of user, error, request id.
pub fn table(rows: &[AuditRow]) -> String {
    let mut lines = vec![[
        "TIME".to_owned(),
        "EVENT".to_owned(),
        "SOURCE".to_owned(),
        "PRINCIPAL".to_owned(),
        "ON BEHALF OF".to_owned(),
        "ERROR".to_owned(),
        "REQUEST ID".to_owned(),
    ]];
    for r in rows {
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
        lines.push([
            r.event_time.clone(),
            r.event_name.clone(),
            r.event_source.trim_end_matches(".amazonaws.com").to_owned(),
            r.principal_arn.clone(),
            r.on_behalf_of.clone().unwrap_or_else(|| "-".into()),
            body["errorCode"].as_str().unwrap_or("-").to_owned(),
            r.request_id.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_times() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(since("15m", now).unwrap(), "2026-12-02T11:45:00Z");
        assert_eq!(since("2h", now).unwrap(), "2026-12-02T10:00:00Z");
        assert_eq!(since("1d", now).unwrap(), "2026-12-01T12:00:00Z");
        assert_eq!(since("30s", now).unwrap(), "2026-12-02T11:59:30Z");
        assert_eq!(
            since("2026-12-02T13:00:00+01:00", now).unwrap(),
            "2026-12-02T12:00:00Z"
        );
        assert!(since("15x", now).is_err());
        assert!(since("-1h", now).is_err());
        assert!(since("", now).is_err());
    }
}
