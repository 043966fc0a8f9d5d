CREATE TABLE session_keys (
    id BIGINT PRIMARY KEY,
    secret_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('iam', 0);
