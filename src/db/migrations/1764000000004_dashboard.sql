-- Up Migration
-- Dashboard sign-ins. The cookie holds a random id; only its hash is stored, so someone who reads
-- the database cannot use a session. The user's GitHub token is sealed (AES-GCM) with a key
-- the database never sees.
CREATE TABLE web_sessions (
  id_hash text PRIMARY KEY,
  login text NOT NULL,
  user_id bigint NOT NULL,
  token_sealed text NOT NULL,
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);

-- Where a command came from: a `/bosun` comment, or a button on the dashboard.
ALTER TABLE commands ADD COLUMN via text NOT NULL DEFAULT 'comment';

-- The runs list filters by repository, state, requester and age.
CREATE INDEX runs_created ON runs (created_at DESC);

-- Down Migration
DROP INDEX runs_created;
ALTER TABLE commands DROP COLUMN via;
DROP TABLE web_sessions;
