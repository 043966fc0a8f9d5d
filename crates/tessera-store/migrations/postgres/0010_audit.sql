-- The audit trail: records hash-chained by sequence number (tessera_audit::chain), the signed
-- digests that seal runs of them, and the audit signing keys. `seq` is the chain position:
-- its uniqueness is what keeps two replicas from forking the chain.
CREATE TABLE audit_records (
    seq BIGINT PRIMARY KEY,
    event_time TEXT NOT NULL,
    event_source TEXT NOT NULL,
    event_name TEXT NOT NULL,
    principal_arn TEXT NOT NULL,
    on_behalf_of TEXT,
    request_id TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_records_time ON audit_records (event_time);
CREATE INDEX audit_records_request ON audit_records (request_id);
CREATE INDEX audit_records_user ON audit_records (on_behalf_of);

CREATE TABLE audit_digests (
    digest_seq BIGINT PRIMARY KEY,
    end_seq BIGINT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE audit_keys (
    fingerprint TEXT PRIMARY KEY,
    public_key BYTEA NOT NULL,
    private_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
