-- The first 8 bytes of the subject's blind index as a column of their own, written by the
-- store, indexed instead of the expression; see ../sqlite/0004_subject_key.sql for why SQLite
-- needs it. Queries are the same on both.
ALTER TABLE evidence ADD COLUMN subject_key BYTEA;
UPDATE evidence SET subject_key = substr(subject_index, 1, 8);
ALTER TABLE evidence ALTER COLUMN subject_key SET NOT NULL;
DROP INDEX evidence_by_subject;
CREATE INDEX evidence_by_subject ON evidence (subject_key) WHERE is_current = 1;
