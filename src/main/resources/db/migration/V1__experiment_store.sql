-- Graft experiment store. Flyway owns the schema: this file and its successors are
-- the only DDL. Artifacts (datasets, checkpoints, ONNX files) live under the data
-- directory; the database holds their paths and hashes.

CREATE TABLE experiment (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(128) NOT NULL,
    description TEXT         NOT NULL DEFAULT '',
    tags        TEXT[]       NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ  NOT NULL,
    updated_at  TIMESTAMPTZ  NOT NULL,
    CONSTRAINT experiment_name_uk UNIQUE (name)
);
CREATE INDEX experiment_created_at_idx ON experiment (created_at DESC, id DESC);
CREATE INDEX experiment_tags_idx ON experiment USING GIN (tags);

CREATE TABLE dataset (
    id            BIGSERIAL PRIMARY KEY,
    name          VARCHAR(128) NOT NULL,
    kind          VARCHAR(16)  NOT NULL,
    source        VARCHAR(16)  NOT NULL,
    status        VARCHAR(16)  NOT NULL,
    class_names   JSONB        NOT NULL,
    class_counts  JSONB        NOT NULL,
    example_count BIGINT       NOT NULL,
    example_shape JSONB        NOT NULL,
    sha256        CHAR(64),
    storage_path  TEXT         NOT NULL,
    size_bytes    BIGINT       NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ  NOT NULL,
    CONSTRAINT dataset_name_uk UNIQUE (name),
    CONSTRAINT dataset_kind_ck CHECK (kind IN ('IMAGE', 'FEATURES'))
);
CREATE INDEX dataset_created_at_idx ON dataset (created_at DESC);

CREATE TABLE base_model (
    id              BIGSERIAL PRIMARY KEY,
    name            VARCHAR(128) NOT NULL,
    architecture    VARCHAR(64)  NOT NULL,
    source          VARCHAR(16)  NOT NULL,
    onnx_path       TEXT         NOT NULL,
    sha256          CHAR(64)     NOT NULL,
    feature_tensor  VARCHAR(256) NOT NULL,
    input_spec      JSONB        NOT NULL,
    preprocessing   JSONB        NOT NULL,
    class_names     JSONB        NOT NULL DEFAULT '[]',
    metrics         JSONB        NOT NULL DEFAULT '{}',
    pretrain_run_id BIGINT,
    created_at      TIMESTAMPTZ  NOT NULL,
    CONSTRAINT base_model_name_uk UNIQUE (name)
);
CREATE INDEX base_model_pretrain_run_idx ON base_model (pretrain_run_id);
CREATE INDEX base_model_created_at_idx ON base_model (created_at DESC);

CREATE TABLE run (
    id                BIGSERIAL PRIMARY KEY,
    experiment_id     BIGINT       NOT NULL REFERENCES experiment (id),
    name              VARCHAR(128) NOT NULL,
    strategy          VARCHAR(32)  NOT NULL,
    status            VARCHAR(16)  NOT NULL,
    base_model_id     BIGINT REFERENCES base_model (id),
    dataset_id        BIGINT REFERENCES dataset (id),
    parent_run_id     BIGINT REFERENCES run (id),
    config            JSONB        NOT NULL,
    seed              BIGINT       NOT NULL,
    requested_device  VARCHAR(32)  NOT NULL,
    device            VARCHAR(64),
    versions          JSONB        NOT NULL DEFAULT '{}',
    split_hash        CHAR(64),
    trainable_params  BIGINT,
    total_params      BIGINT,
    peak_memory_bytes BIGINT,
    summary           JSONB        NOT NULL DEFAULT '{}',
    error             TEXT,
    created_at        TIMESTAMPTZ  NOT NULL,
    started_at        TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ  NOT NULL,
    CONSTRAINT run_status_ck CHECK (status IN
        ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'INTERRUPTED'))
);
CREATE INDEX run_experiment_idx ON run (experiment_id, created_at DESC);
CREATE INDEX run_base_model_idx ON run (base_model_id);
CREATE INDEX run_dataset_idx ON run (dataset_id);
CREATE INDEX run_parent_idx ON run (parent_run_id);
CREATE INDEX run_status_idx ON run (status, created_at);

ALTER TABLE base_model
    ADD CONSTRAINT base_model_pretrain_run_fk FOREIGN KEY (pretrain_run_id) REFERENCES run (id);

CREATE TABLE metric_point (
    id          BIGSERIAL PRIMARY KEY,
    run_id      BIGINT           NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    key         VARCHAR(128)     NOT NULL,
    step        BIGINT           NOT NULL,
    epoch       INTEGER          NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    recorded_at TIMESTAMPTZ      NOT NULL
);
CREATE INDEX metric_point_run_key_step_idx ON metric_point (run_id, key, step);

CREATE TABLE model_version (
    id                  BIGSERIAL PRIMARY KEY,
    model_name          VARCHAR(128)     NOT NULL,
    version             INTEGER          NOT NULL,
    run_id              BIGINT REFERENCES run (id),
    onnx_path           TEXT             NOT NULL,
    sha256              CHAR(64)         NOT NULL,
    input_spec          JSONB            NOT NULL,
    labels              JSONB            NOT NULL,
    parity_max_abs_diff DOUBLE PRECISION NOT NULL,
    metadata            JSONB            NOT NULL DEFAULT '{}',
    created_at          TIMESTAMPTZ      NOT NULL,
    CONSTRAINT model_version_uk UNIQUE (model_name, version)
);
CREATE INDEX model_version_run_idx ON model_version (run_id);
CREATE INDEX model_version_created_at_idx ON model_version (model_name, created_at DESC);

CREATE TABLE model_alias (
    id               BIGSERIAL PRIMARY KEY,
    model_name       VARCHAR(128) NOT NULL,
    alias            VARCHAR(64)  NOT NULL,
    model_version_id BIGINT       NOT NULL REFERENCES model_version (id),
    updated_at       TIMESTAMPTZ  NOT NULL,
    CONSTRAINT model_alias_uk UNIQUE (model_name, alias)
);
CREATE INDEX model_alias_version_idx ON model_alias (model_version_id);
