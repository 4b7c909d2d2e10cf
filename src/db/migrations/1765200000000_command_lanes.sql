-- Up Migration
-- GitHub's author_association of a `/bosun` comment (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE,
-- …; null for a dashboard button): an outsider's command is refused from it without a token.
ALTER TABLE commands ADD COLUMN author_association text;
-- Commands are claimed per repository (and `cancel` in a lane of its own): the unhandled ones by repository.
CREATE INDEX commands_unhandled_by_repo ON commands (repo_id, id) WHERE handled_at IS NULL;
-- When a commenter who may not give commands was last answered on an issue: at most once an hour.
CREATE TABLE command_refusals (
  repo_id bigint NOT NULL,
  issue_number integer NOT NULL,
  author text NOT NULL,
  answered_at timestamptz NOT NULL,
  PRIMARY KEY (repo_id, issue_number, author)
);

-- Down Migration
DROP TABLE command_refusals;
DROP INDEX commands_unhandled_by_repo;
ALTER TABLE commands DROP COLUMN author_association;
