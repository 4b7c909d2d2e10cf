-- Up Migration
-- Sandbox time, one row per setup, agent or test container, for the daily sandbox-minute budgets.
-- Kept apart from `runs` so accounting never contends with a run's fenced state writes.
CREATE TABLE sandbox_usage (
  id bigserial PRIMARY KEY,
  run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  repo_id bigint NOT NULL,
  owner text NOT NULL,
  phase text NOT NULL,
  started_at timestamptz NOT NULL,
  seconds double precision NOT NULL CHECK (seconds >= 0)
);
CREATE INDEX sandbox_usage_by_day ON sandbox_usage (started_at);

-- Down Migration
DROP TABLE sandbox_usage;
