-- Facts about the database itself. `vault_check` is a value sealed with the master key when
-- the database was created: a node started with another key refuses to run.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  BLOB NOT NULL
);
