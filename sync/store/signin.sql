-- Signing in with an OpenID Connect provider (sync/signin.py). A provider's account is a
-- ``credentials`` row of kind 'oauth' (migration 0004): provider = the issuer URL,
-- subject = the id token's ``sub``. Nothing else from the token is kept.

-- person_by_oauth --
SELECT p.*, c.id AS credential_id
FROM credentials c JOIN people p ON p.id = c.person_id
WHERE c.kind = 'oauth' AND coalesce(c.provider, '') = $1 AND c.subject = $2;

-- link_oauth --
INSERT INTO credentials (person_id, kind, provider, subject, last_used_at)
VALUES ($1, 'oauth', $2, $3, now())
ON CONFLICT DO NOTHING;

-- add_secret --
INSERT INTO credentials (person_id, kind, secret_hash, last_used_at)
VALUES ($1, 'secret', $2, now());
