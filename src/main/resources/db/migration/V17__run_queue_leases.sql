-- The run table is the queue of every trainer process: a trainer claims the oldest QUEUED run
-- (SELECT ... FOR UPDATE SKIP LOCKED), records itself as its owner and holds a lease that it
-- renews while it trains. A run RUNNING whose lease expired belongs to a trainer that died:
-- any trainer marks it INTERRUPTED and, while attempts < max_attempts, queues it again.
ALTER TABLE run ADD COLUMN owner            TEXT;
ALTER TABLE run ADD COLUMN lease_expires_at TIMESTAMPTZ;
ALTER TABLE run ADD COLUMN attempts         INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run ADD COLUMN max_attempts     INTEGER NOT NULL DEFAULT 1;
ALTER TABLE run ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;

-- Runs recorded before this migration that started once.
UPDATE run SET attempts = 1 WHERE started_at IS NOT NULL;

-- The claim query: the oldest QUEUED run of a device kind.
CREATE INDEX run_queue_idx ON run (requested_device, id) WHERE status = 'QUEUED';
-- The expiry sweep: RUNNING runs by lease.
CREATE INDEX run_lease_idx ON run (lease_expires_at) WHERE status = 'RUNNING';
