-- SCIM provisioning: bearer tokens per identity store (by SHA-256 of the token), and group
-- external ids (users keep theirs in their attribute document, as ExternalIds).
CREATE TABLE scim_tokens (
    token_id TEXT PRIMARY KEY,
    identity_store_id TEXT NOT NULL REFERENCES sso_instances(identity_store_id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX scim_tokens_store ON scim_tokens (identity_store_id);

ALTER TABLE identity_groups ADD COLUMN external_ids TEXT;
