-- IAM names are unique within an account without regard to case: a customer managed policy
-- called "Managed" and one called "managed" cannot both exist (the ARN, the primary key,
-- keeps the original spelling and the path).
CREATE UNIQUE INDEX managed_policies_name_key ON managed_policies (account_id, lower(name));
