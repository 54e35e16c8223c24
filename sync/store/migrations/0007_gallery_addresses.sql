-- Where gallery actions came from, so handles minted in a burst from one address count as
-- one voice (issue 20, item 6). Each column holds a keyed hash of the client's address
-- (HMAC-SHA256 under a key derived from the server secret, IPv6 by its /64), never the
-- address itself. NULL: the row predates this migration; such rows count once per person,
-- as they did before.

-- The address a handle was claimed from.
ALTER TABLE people ADD COLUMN created_from bytea;

-- The address a like came from: likes from one address count once in ``like_count``.
ALTER TABLE post_likes ADD COLUMN address_hash bytea;

-- The address a report came from: reports from one address count once toward hiding.
ALTER TABLE post_reports ADD COLUMN address_hash bytea;

-- "Does another like of this post come from this address?" at every like and unlike.
CREATE INDEX post_likes_address ON post_likes (post_id, address_hash);
