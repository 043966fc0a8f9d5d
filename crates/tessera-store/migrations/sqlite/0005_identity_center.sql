-- Identity Center instances. An account owns at most one (an account instance); the
-- instance owns one identity store (`d-…`).
CREATE TABLE sso_instances (
    instance_arn TEXT PRIMARY KEY,
    identity_store_id TEXT NOT NULL UNIQUE,
    owner_account_id TEXT NOT NULL UNIQUE REFERENCES accounts(account_id),
    name TEXT,
    status TEXT NOT NULL,
    -- The CreateInstance idempotency token, so a retried CreateInstance returns the instance.
    client_token TEXT,
    -- JSON array of [key, value] pairs.
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
