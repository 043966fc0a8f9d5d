-- sso-admin configuration objects of an instance: trusted token issuers (kind 'tti') and
-- applications (kind 'app'). `document` is the object's AWS-shaped description as JSON; the
-- columns beside it are what lookups and uniqueness need.
CREATE TABLE sso_objects (
    arn TEXT PRIMARY KEY,
    instance_arn TEXT NOT NULL REFERENCES sso_instances(instance_arn) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    -- Lower-cased name where names are unique within an instance (trusted token issuers).
    name_key TEXT,
    -- The idempotency token of the Create call that made it.
    client_token TEXT,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (instance_arn, kind, name_key)
);
CREATE INDEX sso_objects_instance ON sso_objects (instance_arn, kind);

-- An application's settings, one row each: grants (kind 'grant', key = grant type), access
-- scopes ('scope', key = scope), authentication methods ('auth', key = 'IAM'), the assignment
-- configuration ('assignment-config', key '') and assignments ('assignment', key =
-- 'USER:<id>' or 'GROUP:<id>'). They go with the application.
CREATE TABLE sso_app_settings (
    application_arn TEXT NOT NULL REFERENCES sso_objects(arn) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    setting_key TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (application_arn, kind, setting_key)
);

-- Tessera's token-issuer signing keys (PKCS#8, sealed under the master key); the newest signs.
CREATE TABLE token_signing_keys (
    kid TEXT PRIMARY KEY,
    key_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- Assertion ids (`jti`) already exchanged, per trusted token issuer, kept until the assertion
-- expires: the replay check holds across replicas.
CREATE TABLE token_jtis (
    issuer_arn TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (issuer_arn, jti)
);
CREATE INDEX token_jtis_expiry ON token_jtis (expires_at);

-- Refresh tokens (by SHA-256 of the token). A used token stays, marked used, until its family
-- is revoked, so that a replayed one is recognised and revokes the family.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    document TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Users whose sessions and tokens issued at or before `revoked_at` are void.
CREATE TABLE user_revocations (
    user_id TEXT PRIMARY KEY,
    revoked_at BIGINT NOT NULL
);
