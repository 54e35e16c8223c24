-- Automatic checkpoints of a room's whole state, so a person can go back to any earlier
-- canvas: every ARBOR_CHECKPOINT_MINUTES of activity, when a room unloads after changes,
-- and before each restore.
CREATE TABLE room_checkpoints (
    id bigserial PRIMARY KEY,
    room_id text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    reason text NOT NULL CHECK (reason IN ('auto', 'unload', 'before_restore', 'manual')),
    authors jsonb NOT NULL DEFAULT '[]',
    size integer NOT NULL,
    data bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX room_checkpoints_room ON room_checkpoints (room_id, created_at DESC);
