-- A person's avatar (issue 23): the key of its 256 px square WebP, under the person's own
-- prefix (sync/blobs/layout.py). NULL: no avatar. The shape is checked here too, so no
-- path around PATCH/PUT /api/identity stores a key naming anything else.
ALTER TABLE people ADD COLUMN avatar_key text
    CHECK (avatar_key IS NULL OR avatar_key ~ ('^people/' || id || '/avatar-[0-9a-f]{64}\.webp$'));
