-- Finding a subject's evidence without an index that grows with every row in random order:
-- see ../sqlite/0006_subject_files.sql, and keep in step with it.
CREATE TABLE subject_recent (
    subject_key  BYTEA  NOT NULL,
    evidence_id  BIGINT NOT NULL,
    PRIMARY KEY (subject_key, evidence_id)
);
CREATE TABLE subject_filed (
    subject_key  BYTEA  NOT NULL,
    evidence_id  BIGINT NOT NULL,
    PRIMARY KEY (subject_key, evidence_id)
);
INSERT INTO subject_filed (subject_key, evidence_id)
SELECT subject_key, id FROM evidence ORDER BY subject_key, id;
DROP INDEX evidence_by_subject;
