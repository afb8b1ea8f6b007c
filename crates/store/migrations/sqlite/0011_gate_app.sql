-- What the gate app keeps: devices enrolled from a browser by a one-time link, devices
-- revoked, and the people who manage a venue. Keep in step with ../postgres/0011_gate_app.sql.

-- `enrolled_at`: when a browser or key holder took the device's credential; NULL while the
-- device waits for its enrolment link, when its `key_hash` is random bytes nobody knows.
-- `revoked_at`: when a manager revoked it; its key stops working at once, and for good.
-- Devices added before were handed their key when they were added.
ALTER TABLE devices ADD COLUMN enrolled_at INTEGER;
ALTER TABLE devices ADD COLUMN revoked_at INTEGER;
UPDATE devices SET enrolled_at = created_at;
CREATE INDEX devices_by_venue ON devices (venue_id);

-- A device's one-time enrolment link, by the hash of its token: one pending link a device,
-- which a renewal replaces. Deleted when redeemed or when the device is revoked.
CREATE TABLE device_enrolments (
    token_hash  BLOB    PRIMARY KEY,
    device_id   INTEGER NOT NULL UNIQUE REFERENCES devices(id),
    expires_at  INTEGER NOT NULL
);

-- The people who manage a venue in the gate app, each once. Deleted with the person.
CREATE TABLE venue_managers (
    id          INTEGER PRIMARY KEY,
    venue_id    INTEGER NOT NULL REFERENCES venues(id),
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    assigned_at INTEGER NOT NULL,
    UNIQUE (venue_id, person_id)
);
CREATE INDEX venue_managers_by_person ON venue_managers (person_id);
