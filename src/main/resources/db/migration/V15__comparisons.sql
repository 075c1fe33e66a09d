-- CompareStrategies: a stored comparison groups ordinary runs, one per (strategy, training-set
-- size, repeat), so it survives restarts and its runs stay visible to GetRun, ListRuns, search.
CREATE TABLE comparison (
    id            BIGSERIAL PRIMARY KEY,
    experiment_id BIGINT       NOT NULL REFERENCES experiment (id),
    name          VARCHAR(128) NOT NULL,
    base_model    VARCHAR(128) NOT NULL,
    dataset       VARCHAR(128) NOT NULL,
    strategies    JSONB        NOT NULL,
    sizes         JSONB        NOT NULL,
    repeats       INTEGER      NOT NULL,
    cancelled     BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ  NOT NULL
);
CREATE INDEX comparison_experiment_idx ON comparison (experiment_id, id DESC);

CREATE TABLE comparison_run (
    comparison_id     BIGINT      NOT NULL REFERENCES comparison (id) ON DELETE CASCADE,
    run_id            BIGINT      NOT NULL REFERENCES run (id),
    strategy          VARCHAR(32) NOT NULL,
    training_examples INTEGER     NOT NULL,
    repeat_index      INTEGER     NOT NULL,
    PRIMARY KEY (comparison_id, run_id),
    CONSTRAINT comparison_run_cell_uk UNIQUE (comparison_id, strategy, training_examples, repeat_index)
);
CREATE INDEX comparison_run_run_idx ON comparison_run (run_id);
