-- Up Migration
-- One id per Bosun deployment (per database), put on every container and volume it makes, so the
-- start-up sweep of leftovers only ever touches this deployment's, on a Docker host that others
-- (another deployment, a test suite) use too.
CREATE TABLE bosun_instance (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  singleton boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton)
);
INSERT INTO bosun_instance DEFAULT VALUES;

-- Down Migration
DROP TABLE bosun_instance;
