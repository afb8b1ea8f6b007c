-- healthcode schema, SQLite edition. Times are Unix seconds (UTC). Keep in step with
-- ../postgres/0001_init.sql: the store runs the same statements on both.

CREATE TABLE providers (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL UNIQUE,
    key_hash    BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- Personal fields are AEAD ciphertexts (see docs/SECURITY.md); doc_index is the keyed blind
-- index used for lookups by document number.
CREATE TABLE people (
    id              INTEGER PRIMARY KEY,
    doc_index       BLOB    NOT NULL UNIQUE,
    doc_type        TEXT    NOT NULL,
    doc_number_enc  BLOB    NOT NULL,
    name_enc        BLOB    NOT NULL,
    phone_enc       BLOB,
    subject         BLOB    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash  BLOB    PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- Evidence is keyed by the subject's blind index, not by person, so that evidence for someone
-- who has not registered yet is kept and applies when they do. Each submission of a record is
-- a revision; exactly one revision per (provider, record) is current.
CREATE TABLE evidence (
    id                INTEGER PRIMARY KEY,
    provider_id       INTEGER NOT NULL REFERENCES providers(id),
    record_id         TEXT    NOT NULL,
    revision          INTEGER NOT NULL,
    is_current        INTEGER NOT NULL,
    subject_index     BLOB    NOT NULL,
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
CREATE UNIQUE INDEX evidence_one_current ON evidence (provider_id, record_id) WHERE is_current = 1;
CREATE INDEX evidence_by_subject ON evidence (subject_index) WHERE is_current = 1;
