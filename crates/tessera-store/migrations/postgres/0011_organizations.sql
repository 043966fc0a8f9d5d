-- The organization an account belongs to (`o-…`), or none. An Identity Center instance is
-- usable by the accounts of its owner's organization (as an organization instance is in
-- AWS); an account outside any organization uses only its own instance.
ALTER TABLE accounts ADD COLUMN organization_id TEXT;
