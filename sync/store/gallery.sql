-- create_person --
INSERT INTO people (id, handle, display_name) VALUES ($1, $2, $3)
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
                   lineage, image_key, image_width, image_height, image_mime, parent_post_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING id;

-- get_post --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE p.id = $1;

-- list_posts_new --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE NOT p.hidden AND NOT p.deleted
  AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3::timestamptz, $4::text))
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1;

-- list_posts_top --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE NOT p.hidden AND NOT p.deleted
  AND p.created_at > now() - make_interval(secs => $6::double precision)
  AND ($3::integer IS NULL
       OR (p.like_count, p.created_at, p.id) < ($3::integer, $4::timestamptz, $5::text))
ORDER BY p.like_count DESC, p.created_at DESC, p.id DESC
LIMIT $1;

-- list_posts_by_author --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE NOT p.hidden AND NOT p.deleted AND p.author_id = $5
  AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3::timestamptz, $4::text))
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1;

-- list_posts_following --
SELECT p.*, a.handle AS author_handle, a.display_name AS author_display_name,
       EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id AND l.person_id = $2)
           AS liked_by_me
FROM posts p JOIN people a ON a.id = p.author_id
WHERE NOT p.hidden AND NOT p.deleted
  AND p.author_id IN (SELECT f.followee_id FROM follows f WHERE f.follower_id = $2)
  AND ($3::timestamptz IS NULL OR (p.created_at, p.id) < ($3::timestamptz, $4::text))
ORDER BY p.created_at DESC, p.id DESC
LIMIT $1;

-- unpublish_post --
UPDATE posts SET deleted = true
WHERE id = $1 AND author_id = $2 AND NOT deleted
RETURNING id;

-- like_post --
-- One statement: the like and the counter change together, and the UPDATE re-reads the
-- row under its lock, so concurrent likes from many people all count.
WITH added AS (
    INSERT INTO post_likes (post_id, person_id) VALUES ($1, $2)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
UPDATE posts SET like_count = like_count + (SELECT count(*) FROM added)
WHERE id = $1
RETURNING like_count;

-- unlike_post --
WITH removed AS (
    DELETE FROM post_likes WHERE post_id = $1 AND person_id = $2
    RETURNING 1
)
UPDATE posts SET like_count = like_count - (SELECT count(*) FROM removed)
WHERE id = $1
RETURNING like_count;

-- report_post --
WITH added AS (
    INSERT INTO post_reports (post_id, person_id, reason) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
UPDATE posts
SET report_count = report_count + (SELECT count(*) FROM added),
    hidden = hidden OR report_count + (SELECT count(*) FROM added) >= $4
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
