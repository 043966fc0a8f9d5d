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

-- Users of an identity store. `attributes` is the user's AWS-shaped attribute document
-- (Name, DisplayName, Emails, …) as JSON; the columns beside it are what lookups need.
CREATE TABLE identity_users (
    user_id TEXT PRIMARY KEY,
    identity_store_id TEXT NOT NULL REFERENCES sso_instances(identity_store_id) ON DELETE CASCADE,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    email_key TEXT,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (identity_store_id, user_name_key)
);
CREATE INDEX identity_users_email ON identity_users (identity_store_id, email_key);

-- Groups of an identity store; display names are unique without regard to case.
CREATE TABLE identity_groups (
    group_id TEXT PRIMARY KEY,
    identity_store_id TEXT NOT NULL REFERENCES sso_instances(identity_store_id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (identity_store_id, display_name_key)
);

-- A user's membership of a group; it goes with either.
CREATE TABLE identity_memberships (
    membership_id TEXT PRIMARY KEY,
    identity_store_id TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES identity_groups(group_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES identity_users(user_id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (group_id, user_id)
);
CREATE INDEX identity_memberships_user ON identity_memberships (user_id);
