-- CompareStrategies may include the linear-probe sweep (ProbeLayers) on the comparison's split:
-- what to probe is stored with the comparison, the sweep once computed (or why it failed), so a
-- restart recomputes a sweep that had not finished and never loses one that had.
ALTER TABLE comparison ADD COLUMN probe_request JSONB;
ALTER TABLE comparison ADD COLUMN probe_sweep JSONB;
ALTER TABLE comparison ADD COLUMN probe_error TEXT;
