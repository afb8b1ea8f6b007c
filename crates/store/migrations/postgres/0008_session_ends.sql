-- Sessions are ended by person (sign out everywhere, the cap on sessions per person) and
-- purged by expiry.
CREATE INDEX sessions_by_person ON sessions (person_id, created_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
