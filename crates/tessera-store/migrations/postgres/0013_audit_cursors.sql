-- How far each server's local audit log (tessera_audit::segment) has been appended to the
-- trail: moved in the transaction that appends the records, so that after a crash the log is
-- replayed from here and every record reaches the trail exactly once.
CREATE TABLE audit_cursors (
    origin TEXT PRIMARY KEY,
    lsn BIGINT NOT NULL
);
