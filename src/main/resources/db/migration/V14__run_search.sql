-- Run search (SearchRuns, GET /api/runs): a per-run summary of every metric key, kept by a
-- trigger so listing and filtering never read per-epoch points, and a flat copy of each
-- run's configuration under the names the filter language uses (params.learning_rate ...).

-- One point per (run, key, step): a resumed epoch replaces its points (RunStore.epoch), so
-- duplicates can only be leftovers; keep the newest of each.
DELETE FROM metric_point p
 USING metric_point q
 WHERE p.run_id = q.run_id AND p.key = q.key AND p.step = q.step AND p.id < q.id;
DROP INDEX metric_point_run_key_step_idx;
ALTER TABLE metric_point
    ADD CONSTRAINT metric_point_run_key_step_uk UNIQUE (run_id, key, step);

CREATE TABLE run_metric_summary (
    run_id     BIGINT           NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    key        VARCHAR(128)     NOT NULL,
    last_step  BIGINT           NOT NULL,
    last_value DOUBLE PRECISION NOT NULL,
    min_value  DOUBLE PRECISION NOT NULL,
    max_value  DOUBLE PRECISION NOT NULL,
    points     INTEGER          NOT NULL,
    PRIMARY KEY (run_id, key)
);
-- Orderings and range filters on one metric across runs.
CREATE INDEX run_metric_summary_key_max_idx ON run_metric_summary (key, max_value, run_id);
CREATE INDEX run_metric_summary_key_min_idx ON run_metric_summary (key, min_value, run_id);
CREATE INDEX run_metric_summary_key_last_idx ON run_metric_summary (key, last_value, run_id);

-- Recomputes the summary of one (run, key) from its points: correct for inserts, the
-- delete-and-reinsert of a resumed epoch, and deletes.
CREATE FUNCTION run_metric_summary_refresh(p_run BIGINT, p_key VARCHAR) RETURNS void AS $$
BEGIN
    DELETE FROM run_metric_summary WHERE run_id = p_run AND key = p_key;
    INSERT INTO run_metric_summary (run_id, key, last_step, last_value, min_value, max_value, points)
    SELECT p_run, p_key,
           (array_agg(step ORDER BY step DESC))[1],
           (array_agg(value ORDER BY step DESC))[1],
           min(value), max(value), count(*)
      FROM metric_point
     WHERE run_id = p_run AND key = p_key
    HAVING count(*) > 0;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION metric_point_summarize() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- The common case (a new last epoch) in one upsert.
        INSERT INTO run_metric_summary AS s
               (run_id, key, last_step, last_value, min_value, max_value, points)
        VALUES (NEW.run_id, NEW.key, NEW.step, NEW.value, NEW.value, NEW.value, 1)
        ON CONFLICT (run_id, key) DO UPDATE SET
            last_step  = GREATEST(s.last_step, EXCLUDED.last_step),
            last_value = CASE WHEN EXCLUDED.last_step >= s.last_step
                              THEN EXCLUDED.last_value ELSE s.last_value END,
            min_value  = LEAST(s.min_value, EXCLUDED.min_value),
            max_value  = GREATEST(s.max_value, EXCLUDED.max_value),
            points     = s.points + 1;
        RETURN NEW;
    END IF;
    PERFORM run_metric_summary_refresh(OLD.run_id, OLD.key);
    IF TG_OP = 'UPDATE' THEN
        PERFORM run_metric_summary_refresh(NEW.run_id, NEW.key);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER metric_point_summary_ins AFTER INSERT ON metric_point
    FOR EACH ROW EXECUTE FUNCTION metric_point_summarize();
CREATE TRIGGER metric_point_summary_upd_del AFTER UPDATE OR DELETE ON metric_point
    FOR EACH ROW EXECUTE FUNCTION metric_point_summarize();

INSERT INTO run_metric_summary (run_id, key, last_step, last_value, min_value, max_value, points)
SELECT run_id, key,
       (array_agg(step ORDER BY step DESC))[1],
       (array_agg(value ORDER BY step DESC))[1],
       min(value), max(value), count(*)
  FROM metric_point
 GROUP BY run_id, key;

-- The configuration under the filter language's names; filled by the service when a run is
-- queued (and, for runs stored before this migration, once at start-up).
ALTER TABLE run ADD COLUMN params JSONB;

-- Orderings SearchRuns pages through (id is always the last key).
CREATE INDEX run_created_id_idx ON run (created_at DESC, id DESC);
CREATE INDEX run_experiment_id_idx ON run (experiment_id, id DESC);
