-- Who grew a post (issue 23): the names, at publishing time, of the people whose blocks are
-- in its lineage (the published block's author first), and how many more authors had no
-- name to show then (not connected). Posts published before this have no credits.
ALTER TABLE posts ADD COLUMN credit_names text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(credit_names) <= 12);
ALTER TABLE posts ADD COLUMN credit_others integer NOT NULL DEFAULT 0 CHECK (credit_others >= 0);
