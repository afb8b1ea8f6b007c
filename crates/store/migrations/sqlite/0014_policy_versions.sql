-- The status policies a region's nodes have put in force: a row whenever a node starts with a
-- policy whose version or document differs from the last one recorded, with the SHA-256 of the
-- document (docs/POLICY.md). Each is a leaf of the transparency log (docs/FORMAT.md §10).
-- Keep in step with ../postgres/0014_policy_versions.sql.
CREATE TABLE policy_versions (
    id          INTEGER PRIMARY KEY,
    version     TEXT    NOT NULL,
    digest      BLOB    NOT NULL,
    at          INTEGER NOT NULL
);
