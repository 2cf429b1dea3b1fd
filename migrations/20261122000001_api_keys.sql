-- API keys: only a SHA-256 of the secret is stored. The lookup id is the non-secret part of the
-- key, so a request finds its row by id and then compares hashes in constant time.
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    lookup_id    text NOT NULL UNIQUE,
    secret_hash  bytea NOT NULL CHECK (length(secret_hash) = 32),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role         text NOT NULL CHECK (role IN ('scorer', 'viewer', 'admin')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Names identify keys in the CLI; a revoked key's name may be reused.
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
