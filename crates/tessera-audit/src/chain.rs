//! Tamper evidence for the audit trail: a hash chain over the records and signed digests over
//! the chain, in the spirit of CloudTrail log-file integrity validation.
//!
//! - Every stored record has a sequence number (1, 2, 3, … with no gaps), its body (the exact
//!   JSON bytes written) and the hash of its predecessor. Its own hash is
//!   `SHA-256("tessera-audit-record-v1\n" ‖ seq ‖ "\n" ‖ hex(prev) ‖ "\n" ‖ body)`, so changing
//!   a byte of a body, renumbering a record or moving it breaks the chain at that record.
//! - A [`Digest`] seals a run of records (`start_seq..=end_seq`) by naming the last record's
//!   hash and the previous digest's hash, and is signed with the audit signing key (Ed25519).
//!   Deleting records at the end of the log, which the chain alone cannot show, is caught by
//!   the digest that covered them; deleting a digest breaks the digest chain.
//! - [`verify`] walks records and digests and reports every [`Problem`] it finds, each with
//!   the sequence number or digest it concerns.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The hash a chain starts from.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hash of record `seq` with body `body`, following the record whose hash is `prev`.
pub fn record_hash(seq: u64, prev: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tessera-audit-record-v1\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(hex::encode(prev).as_bytes());
    h.update(b"\n");
    h.update(body);
    h.finalize().into()
}

/// One record as stored: what [`verify`] reads back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub seq: u64,
    pub body: Vec<u8>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Appends records to a chain: gives each its sequence number and hashes.
#[derive(Debug, Clone)]
pub struct Chain {
    next_seq: u64,
    head: [u8; 32],
}

impl Chain {
    /// A chain whose last record is `last_seq` with hash `head` (`0` and [`GENESIS`] when empty).
    pub fn resume(last_seq: u64, head: [u8; 32]) -> Chain {
        Chain {
            next_seq: last_seq + 1,
            head,
        }
    }

    /// Link `body` as the next record.
    pub fn append(&mut self, body: Vec<u8>) -> StoredRecord {
        let seq = self.next_seq;
        let hash = record_hash(seq, &self.head, &body);
        let rec = StoredRecord {
            seq,
            body,
            prev_hash: self.head,
            hash,
        };
        self.next_seq += 1;
        self.head = hash;
        rec
    }

    /// The last record's sequence number and hash.
    pub fn head(&self) -> (u64, [u8; 32]) {
        (self.next_seq - 1, self.head)
    }
}

/// A signed seal over records `start_seq..=end_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    /// 1, 2, 3, … in the order digests were made.
    pub digest_seq: u64,
    pub start_seq: u64,
    pub end_seq: u64,
    /// RFC 3339.
    pub digest_time: String,
    /// Hex hash of record `end_seq` (of the chain head when the digest covers no record).
    pub last_record_hash: String,
    /// Hex SHA-256 of the previous digest's signed bytes (zeros for the first digest).
    pub previous_digest_hash: String,
    /// Hex SHA-256 of the public key that signed it.
    pub key_fingerprint: String,
    /// Base64 Ed25519 signature over [`Digest::signed_bytes`].
    pub signature: String,
}

impl Digest {
    /// The bytes the signature covers: every field but the signature, one per line.
    pub fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "tessera-audit-digest-v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.digest_seq,
            self.start_seq,
            self.end_seq,
            self.digest_time,
            self.last_record_hash,
            self.previous_digest_hash,
            self.key_fingerprint
        )
        .into_bytes()
    }

    /// The hash the next digest names as its predecessor.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.signed_bytes()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the audit signing key is not a valid Ed25519 key")]
    Invalid,
}

/// The audit signing key (Ed25519, PKCS#8).
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl SigningKey {
    /// A new random key; returns it and its PKCS#8 document (to store).
    pub fn generate() -> (SigningKey, Vec<u8>) {
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .expect("Ed25519 key generation");
        let bytes = doc.as_ref().to_vec();
        let key = SigningKey::from_pkcs8(&bytes).expect("a freshly generated key parses");
        (key, bytes)
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, KeyError> {
        Ed25519KeyPair::from_pkcs8(pkcs8)
            .map(|pair| SigningKey { pair })
            .map_err(|_| KeyError::Invalid)
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public_key())
    }

    /// Seal records `start_seq..=end_seq` (whose last hash is `last_hash`) after `previous`.
    pub fn digest(
        &self,
        previous: Option<&Digest>,
        start_seq: u64,
        end_seq: u64,
        last_hash: &[u8; 32],
        digest_time: String,
    ) -> Digest {
        let mut d = Digest {
            digest_seq: previous.map_or(1, |p| p.digest_seq + 1),
            start_seq,
            end_seq,
            digest_time,
            last_record_hash: hex::encode(last_hash),
            previous_digest_hash: previous.map_or_else(|| hex::encode([0u8; 32]), Digest::hash),
            key_fingerprint: self.fingerprint(),
            signature: String::new(),
        };
        let sig = self.pair.sign(&d.signed_bytes());
        d.signature = base64::engine::general_purpose::STANDARD.encode(sig.as_ref());
        d
    }
}

/// The hex SHA-256 of a raw public key.
pub fn fingerprint(public_key: &[u8]) -> String {
    hex::encode(Sha256::digest(public_key))
}

/// Something [`verify`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Records are missing: after `after`, the next record present is `next`.
    Gap { after: u64, next: u64 },
    /// The record's stored hash does not match its contents: it was edited.
    Edited { seq: u64 },
    /// The record does not follow its predecessor: records were reordered, or one was
    /// removed and the rest renumbered.
    BrokenLink { seq: u64 },
    /// A digest's signature does not verify with any known key.
    BadSignature { digest_seq: u64 },
    /// A digest names a record hash the log does not have.
    DigestMismatch { digest_seq: u64, end_seq: u64 },
    /// Digests are missing: after digest `after`, the next present is `next` (or its chain
    /// link or covered range does not continue from its predecessor).
    DigestMissing { after: u64, next: u64 },
    /// A digest covers records beyond the end of the log: records were deleted at the end.
    TruncatedLog {
        digest_seq: u64,
        end_seq: u64,
        last_seq: u64,
    },
    /// A column the store keeps beside a record for queries (event name, principal, user,
    /// request id, time, source) does not say what the record's chained body says: it was
    /// edited, so queries would miss or misattribute the record.
    IndexMismatch { seq: u64, column: &'static str },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Gap { after, next } => write!(
                f,
                "records {}..={} are missing (gap after record {after})",
                after + 1,
                next - 1
            ),
            Problem::Edited { seq } => {
                write!(
                    f,
                    "record {seq} was modified: its hash does not match its contents"
                )
            }
            Problem::BrokenLink { seq } => write!(
                f,
                "record {seq} does not follow record {}: records were reordered or replaced",
                seq.saturating_sub(1)
            ),
            Problem::BadSignature { digest_seq } => {
                write!(f, "digest {digest_seq} has an invalid signature")
            }
            Problem::DigestMismatch {
                digest_seq,
                end_seq,
            } => write!(
                f,
                "digest {digest_seq} does not match record {end_seq}: the records it sealed were changed"
            ),
            Problem::DigestMissing { after, next } => {
                write!(
                    f,
                    "digests after digest {after} are missing (next is {next})"
                )
            }
            Problem::TruncatedLog {
                digest_seq,
                end_seq,
                last_seq,
            } => write!(
                f,
                "digest {digest_seq} seals records up to {end_seq}, but the log ends at {last_seq}: records were deleted"
            ),
            Problem::IndexMismatch { seq, column } => write!(
                f,
                "record {seq}: its {column} column does not match the record: it was edited, and queries on it would miss or misattribute the record"
            ),
        }
    }
}

/// What a verification covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub records: u64,
    pub digests: u64,
    /// Records after the last digest (chained, not yet sealed).
    pub unsealed: u64,
    pub problems: Vec<Problem>,
}

/// Verify `records` (in sequence order, the run that should start at record `first_seq`: 1 for
/// the whole log) against `digests` (in digest order), trusting signatures made with one of
/// `public_keys`. A digest whose last record is outside the run given is checked for its
/// signature and its place in the digest chain only.
pub fn verify<'a>(
    records: impl IntoIterator<Item = &'a StoredRecord>,
    first_seq: u64,
    digests: &[Digest],
    public_keys: &[Vec<u8>],
) -> Report {
    let mut v = Verifier::new(first_seq, digests);
    for r in records {
        v.record(r);
    }
    v.finish(public_keys)
}

/// [`verify`], fed one record at a time (a log too large to hold in memory is read in pages).
#[derive(Debug)]
pub struct Verifier<'d> {
    first_seq: u64,
    digests: &'d [Digest],
    /// The sequence numbers digests end at, and the hashes found there.
    ends: std::collections::BTreeMap<u64, Option<[u8; 32]>>,
    prev: Option<(u64, [u8; 32])>,
    report: Report,
}

impl<'d> Verifier<'d> {
    pub fn new(first_seq: u64, digests: &'d [Digest]) -> Verifier<'d> {
        Verifier {
            first_seq,
            digests,
            ends: digests.iter().map(|d| (d.end_seq, None)).collect(),
            prev: None,
            report: Report::default(),
        }
    }

    /// The next record, in sequence order.
    pub fn record(&mut self, r: &StoredRecord) {
        let report = &mut self.report;
        report.records += 1;
        if record_hash(r.seq, &r.prev_hash, &r.body) != r.hash {
            report.problems.push(Problem::Edited { seq: r.seq });
        }
        match self.prev {
            None if r.seq > self.first_seq => report.problems.push(Problem::Gap {
                after: self.first_seq.saturating_sub(1),
                next: r.seq,
            }),
            None if r.seq == 1 && r.prev_hash != GENESIS => {
                report.problems.push(Problem::BrokenLink { seq: r.seq })
            }
            None => {}
            Some((seq, hash)) => {
                if r.seq > seq + 1 {
                    report.problems.push(Problem::Gap {
                        after: seq,
                        next: r.seq,
                    });
                } else if r.seq <= seq || r.prev_hash != hash {
                    report.problems.push(Problem::BrokenLink { seq: r.seq });
                }
            }
        }
        if let Some(slot) = self.ends.get_mut(&r.seq) {
            *slot = Some(r.hash);
        }
        self.prev = Some((r.seq, r.hash));
    }

    /// Check the digests against what was read, trusting signatures by `public_keys`.
    pub fn finish(mut self, public_keys: &[Vec<u8>]) -> Report {
        let report = &mut self.report;
        // The end of what was read (a range that holds no record ends just before it starts).
        let last_seq = self.prev.map_or(self.first_seq.saturating_sub(1), |p| p.0);
        let fingerprints: Vec<(String, &Vec<u8>)> =
            public_keys.iter().map(|k| (fingerprint(k), k)).collect();
        let mut previous: Option<&Digest> = None;
        let mut sealed_to = 0;
        for d in self.digests {
            report.digests += 1;
            let key = fingerprints.iter().find(|(f, _)| *f == d.key_fingerprint);
            let sig = base64::engine::general_purpose::STANDARD
                .decode(&d.signature)
                .unwrap_or_default();
            let signed = key.is_some_and(|(_, k)| {
                UnparsedPublicKey::new(&ED25519, k.as_slice())
                    .verify(&d.signed_bytes(), &sig)
                    .is_ok()
            });
            if !signed {
                report.problems.push(Problem::BadSignature {
                    digest_seq: d.digest_seq,
                });
            }
            let (want_seq, want_prev, want_start) = match previous {
                None => (1, hex::encode([0u8; 32]), 1),
                Some(p) => (p.digest_seq + 1, p.hash(), p.end_seq + 1),
            };
            // A digest of an idle period covers no record (`end_seq = start_seq - 1`).
            let covers_gap = d.start_seq != want_start && d.end_seq >= d.start_seq;
            if d.digest_seq != want_seq || d.previous_digest_hash != want_prev || covers_gap {
                report.problems.push(Problem::DigestMissing {
                    after: want_seq - 1,
                    next: d.digest_seq,
                });
            }
            if d.end_seq > last_seq {
                report.problems.push(Problem::TruncatedLog {
                    digest_seq: d.digest_seq,
                    end_seq: d.end_seq,
                    last_seq,
                });
            } else if let Some(Some(h)) = self.ends.get(&d.end_seq)
                && hex::encode(h) != d.last_record_hash
            {
                report.problems.push(Problem::DigestMismatch {
                    digest_seq: d.digest_seq,
                    end_seq: d.end_seq,
                });
            }
            sealed_to = sealed_to.max(d.end_seq);
            previous = Some(d);
        }
        report.unsealed = last_seq.saturating_sub(sealed_to);
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: u64) -> Vec<StoredRecord> {
        let mut c = Chain::resume(0, GENESIS);
        (1..=n)
            .map(|i| c.append(format!(r#"{{"eventName":"GetObject","n":{i}}}"#).into_bytes()))
            .collect()
    }

    fn sealed(records: &[StoredRecord], key: &SigningKey, every: usize) -> Vec<Digest> {
        let mut out: Vec<Digest> = Vec::new();
        for chunk in records.chunks(every) {
            let last = chunk.last().unwrap();
            let d = key.digest(
                out.last(),
                chunk[0].seq,
                last.seq,
                &last.hash,
                "2026-12-02T12:00:00Z".into(),
            );
            out.push(d);
        }
        out
    }

    fn check(records: &[StoredRecord], digests: &[Digest], key: &SigningKey) -> Vec<Problem> {
        verify(records, 1, digests, &[key.public_key()]).problems
    }

    #[test]
    fn an_intact_log_verifies() {
        let (key, _) = SigningKey::generate();
        let records = log(10);
        let digests = sealed(&records[..8], &key, 4);
        let r = verify(&records, 1, &digests, &[key.public_key()]);
        assert_eq!(r.problems, vec![]);
        assert_eq!((r.records, r.digests, r.unsealed), (10, 2, 2));
    }

    #[test]
    fn one_changed_byte_is_an_edit() {
        let (key, _) = SigningKey::generate();
        let mut records = log(10);
        let digests = sealed(&records, &key, 5);
        records[3].body[5] ^= 1;
        assert_eq!(
            check(&records, &digests, &key),
            vec![Problem::Edited { seq: 4 }]
        );
    }

    #[test]
    fn an_edit_with_a_recomputed_hash_breaks_the_next_link_and_the_digest() {
        let (key, _) = SigningKey::generate();
        let mut records = log(10);
        let digests = sealed(&records, &key, 5);
        records[4].body[5] ^= 1;
        records[4].hash = record_hash(5, &records[4].prev_hash, &records[4].body);
        let p = check(&records, &digests, &key);
        assert!(p.contains(&Problem::BrokenLink { seq: 6 }), "{p:?}");
        assert!(
            p.contains(&Problem::DigestMismatch {
                digest_seq: 1,
                end_seq: 5
            }),
            "{p:?}"
        );
    }

    #[test]
    fn a_deleted_record_is_a_gap() {
        let (key, _) = SigningKey::generate();
        let mut records = log(10);
        let digests = sealed(&records, &key, 5);
        records.remove(6);
        assert_eq!(
            check(&records, &digests, &key),
            vec![Problem::Gap { after: 6, next: 8 }]
        );
    }

    #[test]
    fn a_deleted_first_record_is_a_gap() {
        let (key, _) = SigningKey::generate();
        let mut records = log(10);
        let digests = sealed(&records, &key, 5);
        records.remove(0);
        assert_eq!(
            check(&records, &digests, &key),
            vec![Problem::Gap { after: 0, next: 2 }]
        );
    }

    #[test]
    fn a_range_is_checked_against_its_own_digests() {
        let (key, _) = SigningKey::generate();
        let records = log(12);
        let digests = sealed(&records, &key, 4);
        // Records 5..=12 with every digest: those ending before 5 are checked for their
        // signature and place in the chain only.
        assert_eq!(
            verify(&records[4..], 5, &digests, &[key.public_key()]).problems,
            vec![]
        );
        // An empty range past the end.
        assert_eq!(
            verify(&[], 13, &digests, &[key.public_key()]).problems,
            vec![]
        );
    }

    #[test]
    fn deleting_the_sealed_tail_is_caught_by_its_digest() {
        let (key, _) = SigningKey::generate();
        let mut records = log(10);
        let digests = sealed(&records, &key, 5);
        records.truncate(8);
        assert_eq!(
            check(&records, &digests, &key),
            vec![Problem::TruncatedLog {
                digest_seq: 2,
                end_seq: 10,
                last_seq: 8
            }]
        );
    }

    #[test]
    fn swapped_records_break_the_chain() {
        let (key, _) = SigningKey::generate();
        let mut records = log(10);
        let digests = sealed(&records, &key, 5);
        records.swap(2, 3);
        let p = check(&records, &digests, &key);
        assert!(p.contains(&Problem::BrokenLink { seq: 3 }), "{p:?}");
        // Swapping the bodies under the original sequence numbers is an edit of both.
        let mut records = log(10);
        let (a, b) = (records[2].body.clone(), records[3].body.clone());
        records[2].body = b;
        records[3].body = a;
        let p = check(&records, &digests, &key);
        assert!(p.contains(&Problem::Edited { seq: 3 }), "{p:?}");
        assert!(p.contains(&Problem::Edited { seq: 4 }), "{p:?}");
    }

    #[test]
    fn a_removed_digest_breaks_the_digest_chain() {
        let (key, _) = SigningKey::generate();
        let records = log(12);
        let mut digests = sealed(&records, &key, 4);
        digests.remove(1);
        assert_eq!(
            check(&records, &digests, &key),
            vec![Problem::DigestMissing { after: 1, next: 3 }]
        );
    }

    #[test]
    fn a_forged_or_foreign_digest_is_refused() {
        let (key, _) = SigningKey::generate();
        let (other, _) = SigningKey::generate();
        let records = log(4);
        let mut digests = sealed(&records, &key, 4);
        digests[0].end_seq = 3;
        let p = check(&records, &digests, &key);
        assert!(
            p.contains(&Problem::BadSignature { digest_seq: 1 }),
            "{p:?}"
        );
        let digests = sealed(&records, &other, 4);
        assert_eq!(
            check(&records, &digests, &key),
            vec![Problem::BadSignature { digest_seq: 1 }]
        );
    }

    proptest::proptest! {
        /// Any one changed byte of any record, or any one record removed, is reported.
        #[test]
        fn any_single_tamper_is_reported(n in 1u64..40, pick in 0usize..1000, byte in 0usize..64, remove: bool) {
            let (key, _) = SigningKey::generate();
            let mut records = log(n);
            let digests = sealed(&records, &key, 7);
            let i = pick % records.len();
            if remove {
                records.remove(i);
            } else {
                let j = byte % records[i].body.len();
                records[i].body[j] ^= 0x20;
            }
            proptest::prop_assert!(!check(&records, &digests, &key).is_empty());
        }
    }

    #[test]
    fn the_key_round_trips_through_pkcs8() {
        let (key, doc) = SigningKey::generate();
        let again = SigningKey::from_pkcs8(&doc).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        assert!(SigningKey::from_pkcs8(b"not a key").is_err());
    }

    #[test]
    fn problems_read_precisely() {
        assert_eq!(
            Problem::Gap { after: 6, next: 8 }.to_string(),
            "records 7..=7 are missing (gap after record 6)"
        );
        assert_eq!(
            Problem::Edited { seq: 4 }.to_string(),
            "record 4 was modified: its hash does not match its contents"
        );
    }
}
