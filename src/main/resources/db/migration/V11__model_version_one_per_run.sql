-- A training run publishes at most one model version: publishing is one transaction, and a
-- resumed run that publishes again finds its version instead of registering a duplicate.
-- Versions registered without a run (tests, imports) are not constrained.
DROP INDEX model_version_run_idx;
CREATE UNIQUE INDEX model_version_run_uk ON model_version (run_id) WHERE run_id IS NOT NULL;
