-- create_room --
INSERT INTO rooms (id, edit_token_hash, view_token_hash)
VALUES ($1, $2, $3)
RETURNING id, edit_token_hash, view_token_hash, links_rotated_at, created_at;

-- get_room --
SELECT id, edit_token_hash, view_token_hash, links_rotated_at, created_at
FROM rooms WHERE id = $1;

-- rotate_room_tokens --
UPDATE rooms SET edit_token_hash = $2, view_token_hash = $3, links_rotated_at = now()
WHERE id = $1
RETURNING id, edit_token_hash, view_token_hash, links_rotated_at, created_at;

-- get_snapshot --
SELECT data FROM room_snapshots WHERE room_id = $1;

-- get_updates --
SELECT seq, data FROM room_updates WHERE room_id = $1 ORDER BY seq;

-- append_update --
INSERT INTO room_updates (room_id, data) VALUES ($1, $2) RETURNING seq;

-- append_updates --
INSERT INTO room_updates (room_id, data)
SELECT * FROM unnest($1::text[], $2::bytea[]);

-- count_updates --
SELECT count(*) FROM room_updates WHERE room_id = $1;

-- lock_room_for_compaction --
SELECT id FROM rooms WHERE id = $1 FOR NO KEY UPDATE;

-- upsert_snapshot --
INSERT INTO room_snapshots (room_id, data, updates_merged, updated_at)
VALUES ($1, $2, $3, now())
ON CONFLICT (room_id) DO UPDATE
SET data = EXCLUDED.data,
    updates_merged = room_snapshots.updates_merged + EXCLUDED.updates_merged,
    updated_at = now();

-- delete_updates --
DELETE FROM room_updates WHERE room_id = $1 AND seq = ANY($2::bigint[]);

-- create_upload --
INSERT INTO uploads (id, room_id, key, filename, content_type, size, block_id, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
RETURNING id, room_id, key, filename, content_type, size, block_id, status, image_key,
          expires_at, created_at;

-- get_upload --
SELECT id, room_id, key, filename, content_type, size, block_id, status, image_key,
       expires_at, created_at
FROM uploads WHERE id = $1;

-- claim_upload --
UPDATE uploads SET status = 'processing', claimed_at = now()
WHERE id = $1 AND room_id = $2 AND status = 'pending' AND expires_at > now()
RETURNING id, room_id, key, filename, content_type, size, block_id, status, image_key,
          expires_at, created_at;

-- release_upload --
UPDATE uploads SET status = 'pending', claimed_at = NULL
WHERE id = $1 AND status = 'processing';

-- finish_upload --
UPDATE uploads SET status = $2, image_key = $3, finished_at = now()
WHERE id = $1;

-- refuse_upload --
UPDATE uploads SET status = 'rejected', finished_at = now()
WHERE id = $1 AND status = 'pending'
RETURNING id;

-- delete_stale_uploads --
DELETE FROM uploads WHERE id IN (
    SELECT id FROM uploads
    WHERE (status = 'pending' AND expires_at < now() - make_interval(secs => $1))
       OR (status = 'processing' AND claimed_at < now() - make_interval(secs => $2)
           AND expires_at < now() - make_interval(secs => $1))
       OR (status IN ('done', 'rejected') AND finished_at < now() - make_interval(secs => $3))
    ORDER BY expires_at
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)
RETURNING id, room_id, key, status;
