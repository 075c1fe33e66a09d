-- Every status a run went through, in order (QUEUED, RUNNING, INTERRUPTED, QUEUED again on
-- resume, ...), so that WatchRun replays a finished run's whole history. A trigger fills it,
-- so that every write of run.status is recorded, whichever code path makes it.
CREATE TABLE run_status_change (
    id         BIGSERIAL PRIMARY KEY,
    run_id     BIGINT      NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    status     VARCHAR(16) NOT NULL,
    message    TEXT        NOT NULL DEFAULT '',
    changed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX run_status_change_run_idx ON run_status_change (run_id, id);

CREATE FUNCTION run_status_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO run_status_change (run_id, status, message, changed_at)
        VALUES (NEW.id, NEW.status,
                CASE WHEN NEW.status IN ('FAILED', 'CANCELLED', 'INTERRUPTED')
                     THEN COALESCE(NEW.error, '') ELSE '' END,
                COALESCE(NEW.updated_at, now()));
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER run_status_change_trg AFTER INSERT OR UPDATE OF status ON run
    FOR EACH ROW EXECUTE FUNCTION run_status_changed();

-- Runs recorded before this table: what is known, their creation and their current status.
INSERT INTO run_status_change (run_id, status, message, changed_at)
SELECT id, 'QUEUED', '', created_at FROM run ORDER BY id;
INSERT INTO run_status_change (run_id, status, message, changed_at)
SELECT id, status, COALESCE(error, ''), COALESCE(finished_at, updated_at)
FROM run WHERE status <> 'QUEUED' ORDER BY id;
