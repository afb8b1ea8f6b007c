-- Declarations (自主申报): evidence a person gives about themselves. Keep in step with
-- ../postgres/0010_declarations.sql.

-- What was declared (JSON of healthcode_domain::Declared: the symptoms and their onset day, or
-- where from and when), on rows of category 'declaration'; `at` holds when it was declared.
ALTER TABLE evidence ADD COLUMN declaration TEXT;

-- The source of every declaration: the people themselves, as one provider of kind 'self'. No
-- key hashes to 32 zero bytes, so nobody can act as it over the API; declarations are written
-- only through a resident's own session. It takes id 0, which no provider added before or
-- after has: their ids count from 1 as they always did.
INSERT INTO providers (id, kind, name, key_hash, created_at)
VALUES (0, 'self', '(self-declared)', zeroblob(32), 0);
