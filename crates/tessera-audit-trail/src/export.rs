//! The audit trail's export for SIEMs: JSON Lines files, one per hour of `eventTime`, and one
//! file per signed digest, under `<data dir>/audit/`.
//!
//! ```text
//! audit/records/2026-12-02T14.jsonl   one CloudTrail-shaped record per line (each line is what
//!                                     CloudTrail puts in its "Records" array), in chain order
//! audit/digests/000000000042.json     digest 42, exactly as signed (see `tessera_audit::chain`)
//! audit/position                      how far the export has got (its own bookkeeping)
//! ```
//!
//! The export follows the store: it is never on the request path (a request's record is
//! durable once it is in the store; an export that fails or lags fails no request) and catches
//! up from the store after a restart. Each round appends the records after the last exported
//! one with a write-ahead of the files' lengths: `position` first says which files are about
//! to grow and from what length, then the lines are appended and synced, then `position`
//! says how far the export got. A crash between the two leaves `position` naming the lengths,
//! and the next round truncates the files back to them: no record is exported twice or lost.

use crate::{Result, TrailError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tessera_store::Store;

/// How often the export follows the store.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Records read from the store per round trip.
const BATCH: i64 = 5000;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Position {
    /// The last record exported (0: none).
    seq: i64,
    /// The last digest exported (0: none).
    digest_seq: i64,
    /// Files about to grow in an unfinished round, with the lengths to truncate them back to.
    #[serde(default)]
    pending: BTreeMap<String, u64>,
}

/// The export under one directory.
#[derive(Debug, Clone)]
pub struct Exporter {
    dir: PathBuf,
}

/// Open for writing a file only its owner may read (the export is the audit trail: who read
/// what, on whose behalf); an existing one keeps the permissions it has.
fn private_file() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = private_file().truncate(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// The hourly file a record of `event_time` (`YYYY-MM-DDTHH:MM:SSZ`) goes to.
fn hour_file(event_time: &str) -> String {
    let hour = event_time.get(..13).filter(|h| {
        h.bytes()
            .enumerate()
            .all(|(i, b)| matches!((i, b), (4 | 7, b'-') | (10, b'T')) || b.is_ascii_digit())
    });
    format!("{}.jsonl", hour.unwrap_or("unknown-time"))
}

impl Exporter {
    pub fn new(dir: PathBuf) -> Exporter {
        Exporter { dir }
    }

    pub fn records_dir(&self) -> PathBuf {
        self.dir.join("records")
    }

    pub fn digests_dir(&self) -> PathBuf {
        self.dir.join("digests")
    }

    fn position_path(&self) -> PathBuf {
        self.dir.join("position")
    }

    fn load_position(&self) -> Result<Position> {
        match std::fs::read(self.position_path()) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                TrailError::Corrupt(format!("audit export position is not valid: {e}"))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Position::default()),
            Err(e) => Err(e.into()),
        }
    }

    fn save_position(&self, p: &Position) -> Result<()> {
        write_atomic(&self.position_path(), &serde_json::to_vec(p)?)
    }

    /// Export everything the store has that the export has not: records, then digests.
    /// Returns how many records were exported.
    pub async fn run_once(&self, store: &dyn Store) -> Result<usize> {
        for d in [self.dir.clone(), self.records_dir(), self.digests_dir()] {
            tessera_store::private_dir(&d)?;
        }
        let mut pos = self.load_position()?;
        // An unfinished round: undo its partial appends.
        if !pos.pending.is_empty() {
            for (name, len) in std::mem::take(&mut pos.pending) {
                let path = self.records_dir().join(&name);
                if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) {
                    f.set_len(len)?;
                    f.sync_all()?;
                }
            }
            self.save_position(&pos)?;
        }
        let mut exported = 0;
        loop {
            let rows = store.audit_range(pos.seq + 1, BATCH).await?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            // Gaps are for `tessera audit verify` to report; the export keeps store order.
            let mut by_file: BTreeMap<String, Vec<u8>> = BTreeMap::new();
            for r in &rows {
                let buf = by_file.entry(hour_file(&r.event_time)).or_default();
                buf.extend_from_slice(r.body.as_bytes());
                buf.push(b'\n');
            }
            for name in by_file.keys() {
                let len = std::fs::metadata(self.records_dir().join(name)).map_or(0, |m| m.len());
                pos.pending.insert(name.clone(), len);
            }
            self.save_position(&pos)?;
            for (name, bytes) in &by_file {
                let mut f = private_file()
                    .append(true)
                    .open(self.records_dir().join(name))?;
                f.write_all(bytes)?;
                f.sync_data()?;
            }
            std::fs::File::open(self.records_dir())?.sync_all()?;
            pos.pending.clear();
            pos.seq = last;
            exported += rows.len();
            self.save_position(&pos)?;
            if (rows.len() as i64) < BATCH {
                break;
            }
        }
        let digests = store.audit_digests().await?;
        let done = pos.digest_seq;
        for d in digests.iter().filter(|d| d.digest_seq > done) {
            let path = self
                .digests_dir()
                .join(format!("{:012}.json", d.digest_seq));
            write_atomic(&path, d.body.as_bytes())?;
            pos.digest_seq = d.digest_seq;
        }
        if pos.digest_seq != done {
            self.save_position(&pos)?;
        }
        Ok(exported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_to_the_file_of_their_hour() {
        assert_eq!(hour_file("2026-12-02T14:05:09Z"), "2026-12-02T14.jsonl");
        assert_eq!(hour_file("2026-12-02T23:59:59Z"), "2026-12-02T23.jsonl");
        // A time that is not one cannot name a path.
        assert_eq!(hour_file("../../etc/passwd"), "unknown-time.jsonl");
        assert_eq!(hour_file("2026-12-02"), "unknown-time.jsonl");
    }
}
