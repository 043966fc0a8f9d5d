-- Bearer tokens for the admin listener's operator endpoints (the audit trail, session
-- revocation), made by `tessera operator-token create`; stored by the SHA-256 of their value.
CREATE TABLE operator_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
