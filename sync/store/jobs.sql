-- insert_job --
INSERT INTO jobs (id, room_id, tool, inputs, outputs, params, status, max_attempts,
                  requester_ip_hash, requested_by, estimate, reservation)
VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11)
RETURNING *;

-- get_job --
SELECT * FROM jobs WHERE id = $1;

-- get_room_job --
SELECT * FROM jobs WHERE id = $1 AND room_id = $2;

-- job_fence --
SELECT status, attempt FROM jobs WHERE id = $1;

-- list_room_jobs --
SELECT * FROM jobs WHERE room_id = $1 ORDER BY created_at DESC LIMIT $2;

-- queue_position --
-- Queued jobs ahead of one queued at $1 in room $2: all of its own room's, and at most the
-- per-room cap ($3) from each other room (the rest of a room at its cap wait behind).
SELECT coalesce(sum(CASE WHEN room_id = $2 THEN n ELSE least(n, $3) END), 0)::int
FROM (SELECT room_id, count(*) AS n FROM jobs
      WHERE status = 'queued' AND queued_at < $1 GROUP BY room_id) AS ahead;

-- claim_job --
UPDATE jobs
SET status = 'running', attempt = attempt + 1, worker = $2, started_at = now(),
    heartbeat_at = now(), error = NULL
WHERE id = $1 AND status = 'queued'
  AND (SELECT count(*) FROM jobs r WHERE r.room_id = jobs.room_id AND r.status = 'running') < $3
RETURNING *;

-- heartbeat_jobs --
UPDATE jobs SET heartbeat_at = now()
WHERE id = ANY($1::text[]) AND status = 'running' AND worker = $2;

-- requeue_job --
UPDATE jobs SET status = 'queued', queued_at = now() + make_interval(secs => $3), worker = NULL,
    error = $4
WHERE id = $1 AND attempt = $2 AND status = 'running'
RETURNING *;

-- finish_job --
UPDATE jobs SET status = $3, error = $4, usage = $5, model = coalesce($6, model),
    cost_usd = $7, finished_at = now()
WHERE id = $1 AND attempt = $2 AND status = 'running'
RETURNING *;

-- cancel_job --
UPDATE jobs SET status = 'cancelled', finished_at = now(), cancelled_by = $2
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING *;

-- cancel_jobs_of_blocks --
UPDATE jobs SET status = 'cancelled', finished_at = now()
WHERE room_id = $1 AND status IN ('queued', 'running') AND outputs ?| $2::text[]
RETURNING *;

-- stale_running_jobs --
SELECT * FROM jobs
WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1)
ORDER BY heartbeat_at
LIMIT 100;

-- forgotten_queued_jobs --
SELECT * FROM jobs
WHERE status = 'queued' AND queued_at < now() - make_interval(secs => $1)
ORDER BY queued_at
LIMIT 100;

-- touch_queued_job --
UPDATE jobs SET queued_at = now() WHERE id = $1 AND status = 'queued';

-- fail_stale_job --
UPDATE jobs SET status = 'error', error = $3, finished_at = now()
WHERE id = $1 AND attempt = $2 AND status = 'running'
RETURNING *;

-- reset_stale_job --
UPDATE jobs SET status = 'queued', queued_at = now(), worker = NULL
WHERE id = $1 AND attempt = $2 AND status = 'running'
RETURNING *;

-- record_job_spend --
UPDATE jobs SET usage = $2, model = coalesce($3, model), cost_usd = $4 WHERE id = $1;

-- settle_job --
UPDATE jobs SET settled_at = now()
WHERE id = $1 AND settled_at IS NULL AND reservation IS NOT NULL
RETURNING reservation;
