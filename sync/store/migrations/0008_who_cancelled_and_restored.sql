-- Who cancelled a job, and who restored which version: the app tells the person whose run
-- was cancelled ("Ben cancelled your run"), and the history says "Ada restored 18:05".
-- Display names, as a job's requested_by: what people call each other on the canvas, not
-- identities.
ALTER TABLE jobs ADD COLUMN cancelled_by text;

-- On the checkpoint kept just before a restore: who restored, the checkpoint restored and
-- when that one was kept (its time stays known after thinning drops it).
ALTER TABLE room_checkpoints ADD COLUMN restored_by text;
ALTER TABLE room_checkpoints ADD COLUMN restored_to bigint;
ALTER TABLE room_checkpoints ADD COLUMN restored_to_at timestamptz;
