-- Refresh-token families revoked (a reused token, or the user revoked): kept so that a rotation
-- racing the revocation cannot leave a live token in the family.
CREATE TABLE refresh_families_revoked (
    family_id TEXT PRIMARY KEY,
    revoked_at BIGINT NOT NULL
);
