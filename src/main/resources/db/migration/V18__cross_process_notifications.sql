-- Cross-process notifications (LISTEN/NOTIFY) between the Graft processes of one installation.

-- Run events too big for a NOTIFY payload (PostgreSQL refuses 8000 bytes or more): the publisher
-- stores the event's JSON here and notifies graft_run_events with the row's id. Rows older than an
-- hour are deleted by the publisher.
CREATE TABLE run_event (
    id         BIGSERIAL PRIMARY KEY,
    run_id     BIGINT      NOT NULL,
    sequence   BIGINT      NOT NULL,
    payload    TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX run_event_created_at_idx ON run_event (created_at);

-- Model registry changes, whichever process makes them: delivered at commit to every listener
-- of graft_models, so that serving processes reload an alias's target at once.
CREATE FUNCTION graft_notify_model_alias() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('graft_models',
            json_build_object('op', 'delete', 'model', OLD.model_name, 'alias', OLD.alias)::text);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('graft_models',
        json_build_object('op', lower(TG_OP), 'model', NEW.model_name, 'alias', NEW.alias,
                          'version_id', NEW.model_version_id)::text);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER model_alias_notify
    AFTER INSERT OR UPDATE OR DELETE ON model_alias
    FOR EACH ROW EXECUTE FUNCTION graft_notify_model_alias();

CREATE FUNCTION graft_notify_model_version() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('graft_models',
            json_build_object('op', 'delete', 'model', OLD.model_name, 'version', OLD.version)::text);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('graft_models',
        json_build_object('op', 'insert', 'model', NEW.model_name, 'version', NEW.version)::text);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER model_version_notify
    AFTER INSERT OR DELETE ON model_version
    FOR EACH ROW EXECUTE FUNCTION graft_notify_model_version();
