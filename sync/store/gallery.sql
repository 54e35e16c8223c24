-- create_person --
INSERT INTO people (id, handle, display_name, created_from) VALUES ($1, $2, $3, $4)
RETURNING *;

-- create_secret_credential --
INSERT INTO credentials (person_id, kind, secret_hash, last_used_at)
VALUES ($1, 'secret', $2, now());

-- person_by_secret --
SELECT p.*, c.id AS credential_id
FROM credentials c JOIN people p ON p.id = c.person_id
WHERE c.kind = 'secret' AND c.secret_hash = $1;

-- touch_credential --
UPDATE credentials SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 hour');

-- person_by_handle --
SELECT * FROM people WHERE lower(handle) = lower($1);

-- update_profile --
UPDATE people SET display_name = coalesce($2, display_name), bio = coalesce($3, bio)
WHERE id = $1
RETURNING *;

-- set_avatar --
UPDATE people p SET avatar_key = $2
FROM (SELECT avatar_key AS previous_avatar_key FROM people WHERE id = $1 FOR UPDATE) old
WHERE p.id = $1
RETURNING p.*, old.previous_avatar_key;

-- person_follow_counts --
SELECT (SELECT count(*) FROM follows WHERE followee_id = $1) AS followers,
       (SELECT count(*) FROM follows WHERE follower_id = $1) AS following,
       EXISTS (SELECT 1 FROM follows WHERE follower_id = $2 AND followee_id = $1)
           AS followed_by_me;

-- follow --
INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)
ON CONFLICT DO NOTHING;

-- unfollow --
DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2;

-- insert_post --
INSERT INTO posts (id, author_id, room_id, block_id, title, description, include_prompts,
                   lineage, image_key, image_width, image_height, image_mime, parent_post_id,
                   credit_names, credit_others, model)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING id;

-- get_post --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       a.avatar_key AS author_avatar_key,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE p.id = $1;

-- list_posts_new --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       a.avatar_key AS author_avatar_key,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE NOT p.hidden AND NOT p.deleted
  AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3::timestamptz, $4::text))
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1;

-- list_posts_top --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       a.avatar_key AS author_avatar_key,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE NOT p.hidden AND NOT p.deleted
  AND ($6::timestamptz IS NULL OR p.created_at > $6::timestamptz)
  AND ($3::integer IS NULL
       OR (p.like_count, p.created_at, p.id) < ($3::integer, $4::timestamptz, $5::text))
ORDER BY p.like_count DESC, p.created_at DESC, p.id DESC
LIMIT $1;

-- list_posts_by_author --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       a.avatar_key AS author_avatar_key,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE NOT p.hidden AND NOT p.deleted AND p.author_id = $5
  AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3::timestamptz, $4::text))
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1;

-- list_posts_following --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       a.avatar_key AS author_avatar_key,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE NOT p.hidden AND NOT p.deleted
  AND p.author_id IN (SELECT f.followee_id FROM follows f WHERE f.follower_id = $2)
  AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3::timestamptz, $4::text))
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1;

-- count_newer_posts --
-- How many listed posts came after post $1 (in the order of list_posts_new), counting no
-- further than $2: what the feed's "new posts" notice polls. With $3 (a person), only
-- posts of the people they follow (the Following feed). NULL when $1 is no post.
SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM posts WHERE id = $1) THEN NULL ELSE (
    SELECT count(*) FROM (
        SELECT 1 FROM posts p
        WHERE NOT p.hidden AND NOT p.deleted
          AND (p.created_at, p.id) > (SELECT created_at, id FROM posts WHERE id = $1)
          AND ($3::text IS NULL OR p.author_id IN (
                SELECT f.followee_id FROM follows f WHERE f.follower_id = $3))
        LIMIT $2) newer)
END AS newer;

-- unpublish_post --
UPDATE posts SET deleted = true
WHERE id = $1 AND author_id = $2 AND NOT deleted
RETURNING id;

-- lock_post --
-- Taken first, in the transaction of a like, unlike or report: the next statement starts
-- after every earlier writer of this post committed, so its reads see their rows.
SELECT id FROM posts WHERE id = $1 FOR UPDATE;

-- like_post --
-- like_count counts addresses, not people (see GalleryStore.like): the like adds one only
-- if no other like of this post came from its address ($3). The sub-select cannot see the
-- row inserted here (one snapshot per statement), so "another like" needs no person filter.
WITH added AS (
    INSERT INTO post_likes (post_id, person_id, address_hash) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
UPDATE posts SET like_count = like_count + (
    SELECT count(*) FROM added
    WHERE NOT EXISTS (SELECT 1 FROM post_likes l
                      WHERE l.post_id = $1 AND l.address_hash = $3))
WHERE id = $1
RETURNING like_count;

-- unlike_post --
-- Takes one off only if no other like of this post comes from the removed like's address
-- (a like from before migration 0007 has none and counted alone).
WITH removed AS (
    DELETE FROM post_likes WHERE post_id = $1 AND person_id = $2
    RETURNING address_hash
)
UPDATE posts SET like_count = like_count - (
    SELECT count(*) FROM removed r
    WHERE r.address_hash IS NULL
       OR NOT EXISTS (SELECT 1 FROM post_likes l
                      WHERE l.post_id = $1 AND l.address_hash = r.address_hash
                        AND l.person_id <> $2))
WHERE id = $1
RETURNING like_count;

-- report_post --
INSERT INTO post_reports (post_id, person_id, reason, address_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- weigh_post_reports --
-- See GalleryStore.report: only reports by handles at least $3 seconds old when they
-- reported count; the post hides once those came from $2 different addresses AND their
-- handles were claimed at $2 different addresses. Rows from before migration 0007 (no
-- address) stand for their person alone.
WITH counted AS (
    SELECT coalesce(encode(r.address_hash, 'hex'), 'person:' || r.person_id) AS sent_from,
           coalesce(encode(p.created_from, 'hex'), 'person:' || p.id) AS claimed_at
    FROM post_reports r JOIN people p ON p.id = r.person_id
    WHERE r.post_id = $1
      AND r.created_at - p.created_at >= make_interval(secs => $3::double precision)
)
UPDATE posts
SET report_count = (SELECT count(*) FROM post_reports WHERE post_id = $1),
    hidden = hidden OR ((SELECT count(DISTINCT sent_from) FROM counted) >= $2
                        AND (SELECT count(DISTINCT claimed_at) FROM counted) >= $2)
WHERE id = $1
RETURNING report_count, hidden;

-- record_remix --
INSERT INTO room_remixes (room_id, post_id) VALUES ($1, $2);

-- remix_source --
SELECT post_id FROM room_remixes WHERE room_id = $1;

-- list_hidden_posts --
SELECT p.id, p.title, p.report_count, p.created_at, a.handle,
       (SELECT string_agg(r.reason, ' | ') FROM post_reports r WHERE r.post_id = p.id) AS reasons
FROM posts p JOIN people a ON a.id = p.author_id
WHERE p.hidden AND NOT p.deleted
ORDER BY p.created_at;

-- clear_post_reports --
DELETE FROM post_reports WHERE post_id = $1;

-- reinstate_post --
UPDATE posts SET hidden = false, report_count = 0
WHERE id = $1 AND NOT deleted
RETURNING id;

-- remove_post --
UPDATE posts SET deleted = true, hidden = true
WHERE id = $1 AND NOT deleted
RETURNING id;
