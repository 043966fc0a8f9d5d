CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    user_name_key TEXT,
    secret_sealed BYTEA NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX access_keys_owner ON access_keys(account_id, user_name_key);

CREATE TABLE roles (
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    role_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    description TEXT,
    trust_policy TEXT NOT NULL,
    max_session_duration BIGINT NOT NULL,
    permissions_boundary TEXT,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name_key)
);

CREATE TABLE role_policies (
    account_id TEXT NOT NULL,
    role_name_key TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account_id, role_name_key, policy_name),
    FOREIGN KEY (account_id, role_name_key) REFERENCES roles(account_id, name_key) ON DELETE CASCADE
);

CREATE TABLE managed_policies (
    arn TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    name TEXT NOT NULL,
    policy_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    description TEXT,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE role_policy_attachments (
    account_id TEXT NOT NULL,
    role_name_key TEXT NOT NULL,
    policy_arn TEXT NOT NULL REFERENCES managed_policies(arn),
    PRIMARY KEY (account_id, role_name_key, policy_arn),
    FOREIGN KEY (account_id, role_name_key) REFERENCES roles(account_id, name_key) ON DELETE CASCADE
);

CREATE TABLE users (
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    name_key TEXT NOT NULL,
    name TEXT NOT NULL,
    user_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    permissions_boundary TEXT,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name_key)
);

CREATE TABLE user_policies (
    account_id TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (account_id, user_name_key, policy_name),
    FOREIGN KEY (account_id, user_name_key) REFERENCES users(account_id, name_key) ON DELETE CASCADE
);

CREATE TABLE oidc_providers (
    arn TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    url TEXT NOT NULL,
    client_ids TEXT NOT NULL,
    thumbprints TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
