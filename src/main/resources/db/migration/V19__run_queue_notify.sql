-- Trainers wake at once when a run becomes QUEUED (StartRun, ResumeRun, an automatic resume, a
-- run released by a trainer's SIGTERM), whichever process queued it: NOTIFY graft_run_queue with
-- the run id, delivered at commit. Polling (graft.training.poll-interval) stays the safety net.
CREATE FUNCTION run_queue_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('graft_run_queue', NEW.id::text);
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER run_queued_insert AFTER INSERT ON run
  FOR EACH ROW WHEN (NEW.status = 'QUEUED') EXECUTE FUNCTION run_queue_notify();

CREATE TRIGGER run_queued_update AFTER UPDATE OF status ON run
  FOR EACH ROW WHEN (NEW.status = 'QUEUED' AND OLD.status IS DISTINCT FROM 'QUEUED')
  EXECUTE FUNCTION run_queue_notify();
