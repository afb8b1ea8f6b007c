-- The first 8 bytes of the subject's blind index as a column of their own, written by the
-- store; see ../sqlite/0004_subject_key.sql for why. The statements are the same on both.
ALTER TABLE evidence ADD COLUMN subject_key BYTEA;
UPDATE evidence SET subject_key = substr(subject_index, 1, 8);
DROP INDEX evidence_by_subject;
CREATE INDEX evidence_by_subject ON evidence (subject_key) WHERE is_current = 1;
