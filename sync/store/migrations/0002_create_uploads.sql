-- Pending image uploads: a presigned target was handed out, the bytes are (or will be)
-- at ``key``, and ``POST .../uploads/{id}/complete`` has not yet verified them.
-- status: pending -> processing (complete running) -> done | rejected.
CREATE TABLE uploads (
    id text PRIMARY KEY,
    room_id text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    key text NOT NULL,
    filename text NOT NULL DEFAULT '',
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size > 0),
    block_id text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'done', 'rejected')),
    image_key text,
    expires_at timestamptz NOT NULL,
    claimed_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX uploads_status_expiry ON uploads (status, expires_at);
