-- put_room_key --
INSERT INTO room_keys (room_id, provider, ciphertext, last4, base_url)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (room_id, provider) DO UPDATE
SET ciphertext = excluded.ciphertext, last4 = excluded.last4, base_url = excluded.base_url,
    updated_at = now();

-- delete_room_key --
DELETE FROM room_keys WHERE room_id = $1 AND provider = $2;

-- list_room_keys --
SELECT provider, ciphertext, last4, base_url, updated_at FROM room_keys WHERE room_id = $1;

-- room_usage --
SELECT coalesce(requested_by, '') AS person, tool, coalesce(model, '') AS model,
       (created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') AS today,
       count(*) AS jobs,
       coalesce(sum(coalesce(cost_usd, 0)), 0) AS cost_usd,
       coalesce(sum(coalesce((usage ->> 'input_tokens')::numeric, 0)), 0) AS input_tokens,
       coalesce(sum(coalesce((usage ->> 'output_tokens')::numeric, 0)), 0) AS output_tokens,
       coalesce(sum(coalesce((usage ->> 'images')::numeric, 0)), 0) AS images
FROM jobs
WHERE room_id = $1 AND status IN ('done', 'error', 'cancelled')
GROUP BY 1, 2, 3, 4;
