-- Generation jobs. The row is the truth about a job; the arq queue only carries it.
-- Each attempt is fenced by its number: a worker writes only while the row still names
-- its attempt and says 'running'.
CREATE TABLE jobs (
    id text PRIMARY KEY,
    room_id text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    tool text NOT NULL,
    inputs jsonb NOT NULL,
    outputs jsonb NOT NULL,
    params jsonb NOT NULL,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'error', 'cancelled')),
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 3,
    error text,
    worker text,
    model text,
    usage jsonb,
    requester_ip_hash bytea,
    requested_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    queued_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    heartbeat_at timestamptz,
    finished_at timestamptz
);

CREATE INDEX jobs_room_created ON jobs (room_id, created_at DESC);
CREATE INDEX jobs_active ON jobs (status, queued_at) WHERE status IN ('queued', 'running');
