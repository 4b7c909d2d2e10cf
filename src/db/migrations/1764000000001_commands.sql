-- Up Migration
-- `/bosun …` comments, recorded by the webhook handler and carried out by any replica's worker.
CREATE TABLE commands (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL UNIQUE REFERENCES deliveries (id),
  installation_id bigint NOT NULL,
  repo_id bigint NOT NULL,
  owner text NOT NULL,
  repo text NOT NULL,
  issue_number integer NOT NULL,
  comment_id bigint NOT NULL,
  author text NOT NULL,
  author_type text NOT NULL,
  verb text NOT NULL,
  args text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  handled_at timestamptz,
  reply text,
  claimed_by text,
  claimed_until timestamptz
);
CREATE INDEX commands_unhandled ON commands (created_at) WHERE handled_at IS NULL;

-- Down Migration
DROP TABLE commands;
