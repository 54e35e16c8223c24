-- Models, spend and keys.
-- A job keeps what it was expected to use (estimate), what it did cost (cost_usd, from the
-- price table and the provider's usage), the daily budget counters it spent from when it
-- was queued (reservation: {day, spent: {counter key: amount}}) and when those were settled
-- with its real usage (settled_at; each job is settled once).
ALTER TABLE jobs
    ADD COLUMN estimate jsonb,
    ADD COLUMN cost_usd double precision,
    ADD COLUMN reservation jsonb,
    ADD COLUMN settled_at timestamptz;

-- The API keys a canvas brings for its own jobs, encrypted with the server secret
-- (AES-GCM, bound to room and provider). Only the last four characters are kept in clear.
CREATE TABLE room_keys (
    room_id text NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    provider text NOT NULL CHECK (provider IN ('openai', 'gemini')),
    ciphertext bytea NOT NULL,
    last4 text NOT NULL,
    base_url text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, provider)
);
