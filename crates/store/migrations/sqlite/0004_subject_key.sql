-- The first 8 bytes of the subject's blind index as a column of their own, written by the
-- store, instead of an index on the expression substr(subject_index, 1, 8). SQLite treats an
-- indexed expression as able to fail, and so keeps a statement journal for every multi-row
-- INSERT into the table: a copy of each index page the statement touches, a fifth of a bulk
-- import's time. Keep in step with ../postgres/0004_subject_key.sql.
ALTER TABLE evidence ADD COLUMN subject_key BLOB;
UPDATE evidence SET subject_key = substr(subject_index, 1, 8);
DROP INDEX evidence_by_subject;
CREATE INDEX evidence_by_subject ON evidence (subject_key) WHERE is_current = 1;
