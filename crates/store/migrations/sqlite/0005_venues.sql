-- Venues, gate devices, check-ins, risk areas and the access log. Keep in step with
-- ../postgres/0005_venues.sql.

-- The visit a venue-derived designation follows from (JSON of healthcode_domain::Exposure),
-- so that its reason can name the place and the time.
ALTER TABLE evidence ADD COLUMN exposure TEXT;

CREATE TABLE venues (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    district    TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX venues_by_district ON venues (district);

-- A gate device belongs to one venue and authenticates with its own key (hash stored).
CREATE TABLE devices (
    id          INTEGER PRIMARY KEY,
    venue_id    INTEGER NOT NULL REFERENCES venues(id),
    name        TEXT    NOT NULL,
    key_hash    BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- Who (the pseudonymous subject of their code), where and when. No foreign key and no CHECK:
-- the store checks venues before writing, and a bulk insert that cannot abort needs no
-- statement journal. A gate's check-ins are unique by (device, sequence number), which makes
-- uploading a batch again harmless. Rows are deleted, not flagged, after the retention window.
CREATE TABLE checkins (
    id          INTEGER PRIMARY KEY,
    venue_id    INTEGER NOT NULL,
    subject     BLOB    NOT NULL,
    at          INTEGER NOT NULL,
    method      TEXT    NOT NULL,
    passed      INTEGER NOT NULL,
    device_id   INTEGER,
    seq         INTEGER,
    received_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX checkins_by_device_seq ON checkins (device_id, seq);
CREATE INDEX checkins_by_venue ON checkins (venue_id, at);
CREATE INDEX checkins_by_subject ON checkins (subject, at);
CREATE INDEX checkins_by_time ON checkins (at);

-- Each purge of check-ins: which day's run, how many rows, the cut-off. No personal data.
CREATE TABLE purges (
    id          INTEGER PRIMARY KEY,
    day         TEXT    NOT NULL,
    deleted     INTEGER NOT NULL,
    cutoff      INTEGER NOT NULL,
    at          INTEGER NOT NULL
);

CREATE TABLE risk_areas (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    district    TEXT,
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER,
    released_at INTEGER,
    provider_id INTEGER NOT NULL REFERENCES providers(id),
    created_at  INTEGER NOT NULL
);
CREATE TABLE risk_area_venues (
    area_id     INTEGER NOT NULL REFERENCES risk_areas(id),
    venue_id    INTEGER NOT NULL REFERENCES venues(id),
    PRIMARY KEY (area_id, venue_id)
);

-- Reads of personal data by staff and devices (a sentinel lookup, a contact list), with their
-- purpose, and the refusals of such reads. Who read, never whose data.
CREATE TABLE access_log (
    id          INTEGER PRIMARY KEY,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    purpose     TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    records     INTEGER NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX access_log_by_actor ON access_log (actor, at);
