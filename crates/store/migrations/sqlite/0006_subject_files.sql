-- Finding a subject's evidence without an index that grows with every row in random order.
-- `evidence_by_subject` took each new row's subject key at a random place in one B-tree; once
-- that tree outgrew the writer's page cache, nearly every row of a bulk import read a page
-- back and wrote it out again at the next commit, and a 5-million-row import took twice as
-- long as without the index. Its place is taken by two tables of (subject key, evidence id):
-- - `subject_recent`, where each new row is filed as it is written; it stays small enough to
--   be held in the page cache;
-- - `subject_filed`, into which the store moves the recent entries once there are enough of
--   them, in key order and slice by slice (sql/subjects.rs), so that each page of the large
--   table is written once per move rather than once per row.
-- A subject's evidence is what either table names, read with `is_current = 1`; entries of
-- superseded revisions stay and are filtered out there. Keep in step with
-- ../postgres/0006_subject_files.sql.
CREATE TABLE subject_recent (
    subject_key  BLOB    NOT NULL,
    evidence_id  INTEGER NOT NULL,
    PRIMARY KEY (subject_key, evidence_id)
) WITHOUT ROWID;
CREATE TABLE subject_filed (
    subject_key  BLOB    NOT NULL,
    evidence_id  INTEGER NOT NULL,
    PRIMARY KEY (subject_key, evidence_id)
) WITHOUT ROWID;
INSERT INTO subject_filed (subject_key, evidence_id)
SELECT subject_key, id FROM evidence ORDER BY subject_key, id;
DROP INDEX evidence_by_subject;
