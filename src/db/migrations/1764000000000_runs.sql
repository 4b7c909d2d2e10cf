-- Up Migration
-- Webhook deliveries by GitHub's delivery id: a redelivery of the same id is a no-op.
CREATE TABLE deliveries (
  id text PRIMARY KEY,
  event text NOT NULL,
  action text,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- One row per unit of agent work. Every state change is written here before its side effects.
CREATE TABLE runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  installation_id bigint NOT NULL,
  repo_id bigint NOT NULL,
  owner text NOT NULL,
  repo text NOT NULL,
  issue_number integer NOT NULL,
  mode text NOT NULL CHECK (mode IN ('pull_request', 'plan')),
  state text NOT NULL,
  requested_by text NOT NULL,
  trigger_delivery text REFERENCES deliveries (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  state_changed_at timestamptz NOT NULL DEFAULT now(),
  attempt integer NOT NULL DEFAULT 0,
  -- Lease: the replica working on the run, until when, and a fencing epoch every write checks.
  lease_owner text,
  lease_expires_at timestamptz,
  epoch integer NOT NULL DEFAULT 0,
  progress_comment_id bigint,
  base_branch text,
  base_sha text,
  branch text,
  head_sha text,
  pr_number integer,
  pr_url text,
  check_run_id bigint,
  review_check_run_id bigint,
  -- What the steps found out (agent exit, diff summary, test outcome, …) and the user-facing outcome.
  facts jsonb NOT NULL DEFAULT '{}'::jsonb,
  outcome text,
  last_error text
);
-- One active run per issue: labelling twice does not start two agents.
CREATE UNIQUE INDEX runs_one_active_per_issue ON runs (repo_id, issue_number)
  WHERE state NOT IN ('succeeded', 'failed', 'cancelled', 'refused');
CREATE INDEX runs_claimable ON runs (lease_expires_at) WHERE state NOT IN ('succeeded', 'failed', 'cancelled', 'refused');

-- The transcript: append-only, in order, redacted before it is stored.
CREATE TABLE run_events (
  run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind text NOT NULL,
  payload jsonb NOT NULL,
  PRIMARY KEY (run_id, seq)
);

-- Down Migration
DROP TABLE run_events;
DROP TABLE runs;
DROP TABLE deliveries;
