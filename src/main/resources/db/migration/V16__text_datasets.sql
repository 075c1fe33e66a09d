-- Text datasets (kind TEXT): the kind is allowed, and the lengths of their texts are recorded.
ALTER TABLE dataset DROP CONSTRAINT dataset_kind_ck;
ALTER TABLE dataset ADD CONSTRAINT dataset_kind_ck CHECK (kind IN ('IMAGE', 'FEATURES', 'TEXT'));
ALTER TABLE dataset ADD COLUMN text_max_chars BIGINT;
ALTER TABLE dataset ADD COLUMN text_mean_chars DOUBLE PRECISION;
