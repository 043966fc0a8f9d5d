-- S3 Access Grants: one instance per account, its locations and its grants. The instance row
-- counts its locations and grants, so that a quota check and the insert it guards are one
-- atomic step on every replica (the count is updated, and so locked, in the insert's
-- transaction).
CREATE TABLE ag_instances (
    account_id TEXT PRIMARY KEY,
    identity_center_arn TEXT,
    application_arn TEXT,
    resource_policy TEXT,
    policy_organization TEXT,
    policy_created_at BIGINT,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    location_count BIGINT NOT NULL DEFAULT 0,
    grant_count BIGINT NOT NULL DEFAULT 0,
    -- Bumped by every write to the instance, its locations or its grants, in the write's
    -- transaction; the write holds the row's lock until it commits, so versions commit in
    -- order and a reader that sees version V sees every change up to V.
    version BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE ag_locations (
    account_id TEXT NOT NULL REFERENCES ag_instances(account_id),
    location_id TEXT NOT NULL,
    location_scope TEXT NOT NULL,
    iam_role_arn TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, location_id),
    UNIQUE (account_id, location_scope)
);

-- A grant's identity (scope, grantee, permission, application) is unique per instance:
-- AccessGrantAlreadyExists. `application_arn` is '' for grants usable through any application.
CREATE TABLE ag_grants (
    account_id TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    location_id TEXT NOT NULL,
    sub_prefix TEXT,
    grant_scope TEXT NOT NULL,
    grantee_type TEXT NOT NULL,
    grantee_id TEXT NOT NULL,
    permission TEXT NOT NULL,
    application_arn TEXT NOT NULL,
    prefix_type TEXT,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, grant_id),
    FOREIGN KEY (account_id, location_id) REFERENCES ag_locations(account_id, location_id),
    UNIQUE (account_id, grant_scope, grantee_type, grantee_id, permission, application_arn)
);
CREATE INDEX ag_grants_location ON ag_grants (account_id, location_id);

-- What each version changed, for replicas that catch up incrementally: `put` / `delete` of a
-- grant (with its scope, so a deletion can be found in the index), or `config` (the instance
-- row or its locations). The newest entries are kept; a replica further behind reloads.
CREATE TABLE ag_log (
    account_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    op TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    grant_scope TEXT NOT NULL,
    PRIMARY KEY (account_id, version)
);
