-- The unique ids of the users and roles a trust policy named when it was saved, as a JSON
-- array of [ARN, unique id] pairs. NULL for trust policies saved before this column existed
-- (their principals keep matching by name).
ALTER TABLE roles ADD COLUMN trust_principal_ids TEXT;
