CREATE TABLE session_keys (
    id INTEGER PRIMARY KEY,
    secret_sealed BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('iam', 0);
