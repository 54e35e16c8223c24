-- A short bio on a person's profile (issue 23): their own words under their name, edited
-- through PATCH /api/identity. Bounded here as well as at the edge, so no path around the
-- API stores a longer one.
ALTER TABLE people ADD COLUMN bio text NOT NULL DEFAULT '' CHECK (char_length(bio) <= 280);
