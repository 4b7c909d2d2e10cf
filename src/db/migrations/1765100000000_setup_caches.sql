-- Up Migration
-- Saved setup results, one per repository and key (a hash of the image, the setup command and the
-- files it reads). The files live in a Docker volume; this row is what makes the volume a cache:
-- a volume without a row is a save that never finished, and the sweep removes it.
CREATE TABLE setup_caches (
  id uuid PRIMARY KEY,
  installation_id bigint NOT NULL,
  owner text NOT NULL,
  repo_id bigint NOT NULL,
  repository text NOT NULL,
  key text NOT NULL,
  volume text NOT NULL UNIQUE,
  bytes bigint NOT NULL,
  -- What the key was made of (image id, command, files and their blob ids), for the transcript.
  inputs jsonb NOT NULL,
  -- Names of the secrets the setup that made it was given: a setup that may not have them never gets its files.
  secrets text[] NOT NULL,
  saved_by_run uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- The org's limit on all its caches together when this one was saved; the sweep holds the
  -- installation to its newest cache's.
  org_limit_bytes bigint NOT NULL,
  UNIQUE (installation_id, repo_id, key)
);
CREATE INDEX setup_caches_installation ON setup_caches (installation_id, last_used_at);

-- Down Migration
DROP TABLE setup_caches;
