-- insert_checkpoint --
INSERT INTO room_checkpoints (room_id, reason, authors, size, data, restored_by, restored_to,
                              restored_to_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, room_id, reason, authors, size, created_at, restored_by, restored_to, restored_to_at;

-- list_checkpoints --
SELECT id, room_id, reason, authors, size, created_at, restored_by, restored_to, restored_to_at
FROM room_checkpoints WHERE room_id = $1
ORDER BY created_at DESC, id DESC LIMIT $2;

-- get_checkpoint --
SELECT id, room_id, reason, authors, size, created_at, restored_by, restored_to, restored_to_at, data
FROM room_checkpoints WHERE room_id = $1 AND id = $2;

-- get_checkpoint_info --
SELECT id, room_id, reason, authors, size, created_at, restored_by, restored_to, restored_to_at
FROM room_checkpoints WHERE room_id = $1 AND id = $2;

-- thin_checkpoints --
-- Every checkpoint of the last day stays; older ones are thinned to the newest of each
-- hour up to a week back, of each day up to 30 days back, and of each week before that.
DELETE FROM room_checkpoints
WHERE room_id = $1 AND created_at < now() - interval '1 day'
  AND id NOT IN (
    SELECT DISTINCT ON (tier, bucket) id
    FROM (
      SELECT id, created_at,
             CASE WHEN created_at >= now() - interval '7 days' THEN 1
                  WHEN created_at >= now() - interval '30 days' THEN 2
                  ELSE 3 END AS tier,
             CASE WHEN created_at >= now() - interval '7 days' THEN date_trunc('hour', created_at)
                  WHEN created_at >= now() - interval '30 days' THEN date_trunc('day', created_at)
                  ELSE date_trunc('week', created_at) END AS bucket
      FROM room_checkpoints
      WHERE room_id = $1 AND created_at < now() - interval '1 day'
    ) b
    ORDER BY tier, bucket, created_at DESC, id DESC);
