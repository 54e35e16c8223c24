-- insert_checkpoint --
INSERT INTO room_checkpoints (room_id, reason, authors, size, data)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, room_id, reason, authors, size, created_at;

-- list_checkpoints --
SELECT id, room_id, reason, authors, size, created_at
FROM room_checkpoints WHERE room_id = $1
ORDER BY created_at DESC, id DESC LIMIT $2;

-- get_checkpoint --
SELECT id, room_id, reason, authors, size, created_at, data
FROM room_checkpoints WHERE room_id = $1 AND id = $2;
