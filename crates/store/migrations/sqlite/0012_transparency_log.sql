-- The transparency log (docs/FORMAT.md §10). Keep in step with ../postgres/0012_transparency_log.sql.

-- One row per logged change, written in the same transaction as the change itself: no record
-- without its leaf, no leaf without its record. `source` and `source_id` name the record
-- (`evidence` and its row id, `risk_area`, `risk_area_release`, `purge`), `salt` is
-- the commitment's salt and `entry` the leaf's public bytes. `leaf_index` is the entry's
-- place in the tree, NULL until the sequencer takes it in.
CREATE TABLE log_leaves (
    id          INTEGER PRIMARY KEY,
    leaf_index  INTEGER,
    source      TEXT    NOT NULL,
    source_id   INTEGER NOT NULL,
    salt        BLOB    NOT NULL,
    entry       BLOB    NOT NULL
);
CREATE INDEX log_leaves_pending ON log_leaves (id) WHERE leaf_index IS NULL;
CREATE INDEX log_leaves_by_source ON log_leaves (source_id, source);

-- The tree as C2SP tlog-tiles serves it: each hash tile (`level` 0 and up) and entry bundle
-- (`level` -1) at the width the latest checkpoint gives it. A full tile never changes.
CREATE TABLE log_tiles (
    level   INTEGER NOT NULL,
    idx     INTEGER NOT NULL,
    width   INTEGER NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
);

-- Every signed checkpoint, by tree size; the largest is the one served.
CREATE TABLE log_checkpoints (
    size        INTEGER PRIMARY KEY,
    root        BLOB    NOT NULL,
    signed      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
