-- Up Migration
-- Who gave a command, by GitHub's numeric id as well as login: a login can be renamed, so "the
-- person who asked for the run may not approve it" compares ids.
ALTER TABLE commands ADD COLUMN author_id bigint;

-- Down Migration
ALTER TABLE commands DROP COLUMN author_id;
