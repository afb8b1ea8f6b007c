-- What the resident web app keeps beside a person: passkeys, WebAuthn ceremonies in progress,
-- dependants and paper passes. Keep in step with ../postgres/0009_resident_app.sql.

-- A resident's WebAuthn credentials. `passkey` is the serialized credential as the server's
-- WebAuthn library writes it (public key, sign counter), opaque to the store. A revoked one
-- is kept with the person, so that its credential id cannot be enrolled again.
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    person_id     INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    credential_id BLOB    NOT NULL UNIQUE,
    passkey       BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE INDEX passkeys_by_person ON passkeys (person_id, created_at);

-- A WebAuthn registration or sign-in between its two requests, so that any node can finish
-- what another started. Used once; purged once expired, or with the person it is for.
-- `state` is opaque to the store.
CREATE TABLE ceremonies (
    id          BLOB    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    person_id   INTEGER REFERENCES people(id) ON DELETE CASCADE,
    state       BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX ceremonies_by_expiry ON ceremonies (expires_at);

-- A guardian shows the codes of the people they added (他人代查).
CREATE TABLE dependants (
    guardian_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    dependant_id  INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (guardian_id, dependant_id)
);
CREATE INDEX dependants_by_dependant ON dependants (dependant_id);

-- A printed pass for someone with no phone: its QR names the random serial, which is looked
-- up online for the current status. One live pass per person; a reprint revokes the one before.
CREATE TABLE paper_passes (
    serial      BLOB    PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX paper_passes_by_person ON paper_passes (person_id);
CREATE UNIQUE INDEX paper_passes_one_live ON paper_passes (person_id) WHERE revoked_at IS NULL;
