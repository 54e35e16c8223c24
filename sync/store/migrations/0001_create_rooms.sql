-- Rooms, their share-link capabilities (hashes only) and their Yjs state:
-- one snapshot per room plus the log of updates appended since.
CREATE TABLE rooms (
    id text PRIMARY KEY,
    edit_token_hash bytea NOT NULL,
    view_token_hash bytea NOT NULL,
    links_rotated_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE room_snapshots (
    room_id text PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    data bytea NOT NULL,
    updates_merged bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE room_updates (
    seq bigserial PRIMARY KEY,
    room_id text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    data bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX room_updates_room_seq ON room_updates (room_id, seq);
