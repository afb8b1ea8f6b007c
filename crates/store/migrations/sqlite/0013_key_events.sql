-- Changes to the region's code-signing keys (`healthcode keys rotate`, docs/SECURITY.md): a key
-- staged (published in the trust list before it signs anything), activated (signs from `at`)
-- or retired (signs nothing issued after `at`). Each is a leaf of the transparency log
-- (docs/FORMAT.md §10). Keep in step with ../postgres/0013_key_events.sql.
CREATE TABLE key_events (
    id          INTEGER PRIMARY KEY,
    event       TEXT    NOT NULL,
    kid         BLOB    NOT NULL,
    public_key  BLOB    NOT NULL,
    at          INTEGER NOT NULL
);
