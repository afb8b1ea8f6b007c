-- Rebuilds `evidence` so that SQLite needs no statement journal for a multi-row INSERT.
-- SQLite keeps one (a copy of every page the statement changes that the transaction had
-- changed before: a fifth of a bulk import's time) whenever a statement writing several rows
-- may abort halfway. Three things made ours such a statement, and this removes two:
-- - the index on the expression substr(subject_index, 1, 8), as an expression may fail: the
--   prefix is now the column `subject_key`, written by the store;
-- - the immediate foreign key to providers: it is now checked at COMMIT (deferred), which
--   still refuses a row naming no provider, with the whole transaction;
-- the third, NOT NULL's default conflict action, the bulk insert avoids with INSERT OR IGNORE.
-- Nothing references `evidence`, so it can be copied, dropped and renamed.
-- Keep in step with ../postgres/0004_subject_key.sql.
CREATE TABLE evidence_new (
    id                INTEGER PRIMARY KEY,
    provider_id       INTEGER NOT NULL REFERENCES providers(id) DEFERRABLE INITIALLY DEFERRED,
    record_id         TEXT    NOT NULL,
    revision          INTEGER NOT NULL,
    is_current        INTEGER NOT NULL,
    subject_index     BLOB    NOT NULL,
    subject_key       BLOB    NOT NULL,
    category          TEXT    NOT NULL,
    test_kind         TEXT,
    test_outcome      TEXT,
    sampled_at        INTEGER,
    resulted_at       INTEGER,
    dose_number       INTEGER,
    product           TEXT,
    designation_kind  TEXT,
    started_at        INTEGER,
    ends_at           INTEGER,
    released_at       INTEGER,
    at                INTEGER,
    content_hash      BLOB    NOT NULL,
    received_at       INTEGER NOT NULL,
    UNIQUE (provider_id, record_id, revision)
);
INSERT INTO evidence_new (id, provider_id, record_id, revision, is_current, subject_index,
    subject_key, category, test_kind, test_outcome, sampled_at, resulted_at, dose_number,
    product, designation_kind, started_at, ends_at, released_at, at, content_hash, received_at)
SELECT id, provider_id, record_id, revision, is_current, subject_index,
    substr(subject_index, 1, 8), category, test_kind, test_outcome, sampled_at, resulted_at,
    dose_number, product, designation_kind, started_at, ends_at, released_at, at,
    content_hash, received_at
FROM evidence;
DROP TABLE evidence;
ALTER TABLE evidence_new RENAME TO evidence;
CREATE UNIQUE INDEX evidence_one_current ON evidence (provider_id, record_id) WHERE is_current = 1;
CREATE INDEX evidence_by_subject ON evidence (subject_key) WHERE is_current = 1;
