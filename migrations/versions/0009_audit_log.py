"""The audit log: every change to configuration writes one audit_events row in its transaction.

Row triggers on the configuration tables stage each changed row (secrets removed) in
audit_staged; a deferred constraint trigger folds a transaction's staged rows into one
audit_events row as it commits, and deletes them. Who acted, what they did and to what comes
from the transaction's `klaxon.audit` setting (app.audit.context), set by the API's
`transaction()` and the command line; without it the actor is `system` named by the
connection's application_name (docs/architecture.md, Audit log).

Revision ID: 0009_audit_log
Revises: 0008_teams_ownership
Create Date: 2026-12-07
"""

from alembic import op

revision = "0009_audit_log"
down_revision = "0008_teams_ownership"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_type text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id text,
    action text NOT NULL CHECK (length(action) BETWEEN 1 AND 200),
    target_type text NOT NULL,
    target_id text,
    -- [{table, op, id, before, after, redacted}], the first MAX_CHANGES of change_count
    changes jsonb NOT NULL,
    change_count integer NOT NULL
);
-- The reads filter by who (an id), by what (an id), by time, or page newest first by id alone;
-- a filter by type only is few distinct values and walks the primary key.
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_target ON audit_events (target_id, id);

-- A transaction's changed rows until it commits. Rows live only inside their transaction (the
-- fold deletes them before the commit completes; a rollback discards them), so a transaction
-- sees no rows but its own: no transaction id is needed. UNLOGGED: nothing in it outlives a
-- transaction, so a crash loses nothing and no write-ahead log is spent on it.
CREATE UNLOGGED TABLE audit_staged (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name text NOT NULL,
    op text NOT NULL,
    row_id text,
    before jsonb,
    after jsonb,
    redacted text[] NOT NULL
);

-- Stage one changed row. Secret columns (any name holding hash, secret, token or code) never
-- leave the row: only their names, when set or changed. Columns that change on every write
-- (updated_at) are left out. An UPDATE keeps only the columns that changed, and one that
-- changed nothing stages nothing. Arguments: the row's key columns (default id).
CREATE FUNCTION audit_stage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    whole jsonb := coalesce(new_row, old_row);
    keys text[] := CASE WHEN TG_NARGS > 0 THEN TG_ARGV ELSE ARRAY['id'] END;
    secrets text[];
    changed text[];
    redacted text[];
    row_id text;
BEGIN
    SELECT coalesce(array_agg(k), '{}') INTO secrets
    FROM jsonb_object_keys(whole) AS k WHERE k ~ '(hash|secret|token|code)';
    SELECT string_agg(whole ->> k, '/' ORDER BY n) INTO row_id
    FROM unnest(keys) WITH ORDINALITY AS u(k, n);
    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(array_agg(k), '{}') INTO changed FROM jsonb_object_keys(new_row) AS k
        WHERE k <> 'updated_at' AND new_row -> k IS DISTINCT FROM old_row -> k;
        IF changed = '{}' THEN
            RETURN NULL;
        END IF;
        redacted := ARRAY(SELECT unnest(changed) INTERSECT SELECT unnest(secrets) ORDER BY 1);
        changed := ARRAY(SELECT unnest(changed) EXCEPT SELECT unnest(secrets));
        old_row := (SELECT coalesce(jsonb_object_agg(k, old_row -> k), '{}')
                    FROM unnest(changed) AS k);
        new_row := (SELECT coalesce(jsonb_object_agg(k, new_row -> k), '{}')
                    FROM unnest(changed) AS k);
    ELSE
        redacted := ARRAY(
            SELECT k FROM unnest(secrets) AS k WHERE whole -> k <> 'null'::jsonb ORDER BY 1
        );
        old_row := old_row - secrets - 'updated_at';
        new_row := new_row - secrets - 'updated_at';
    END IF;
    INSERT INTO audit_staged (table_name, op, row_id, before, after, redacted)
    VALUES (TG_TABLE_NAME, lower(TG_OP), row_id, old_row, new_row, redacted);
    RETURN NULL;
END
$$;

-- Fold the transaction's staged rows into one audit_events row. Each staged row queues this
-- trigger for commit time; the first to fire folds them all and the rest find nothing.
CREATE FUNCTION audit_fold() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    max_changes CONSTANT integer := 200;  -- changes kept in one event (a cascade can be large)
    ctx jsonb := nullif(current_setting('klaxon.audit', true), '')::jsonb;
    first_row audit_staged;
    created audit_staged;
    target_type text;
    target_id text;
    changes jsonb;
    total integer;
BEGIN
    SELECT * INTO first_row FROM audit_staged ORDER BY seq LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF (ctx ->> 'creates')::boolean THEN
        -- The first row inserted into the table the create is about (a POST /invitations
        -- may insert its user first), else the first row inserted at all.
        SELECT * INTO created FROM audit_staged WHERE op = 'insert'
        ORDER BY table_name IS NOT DISTINCT FROM ctx ->> 'created_type' DESC, seq LIMIT 1;
        target_type := created.table_name;
        target_id := created.row_id;
    END IF;
    IF target_type IS NULL AND ctx ->> 'target_type' IS NOT NULL THEN
        target_type := ctx ->> 'target_type';
        target_id := ctx ->> 'target_id';
    END IF;
    IF target_type IS NULL THEN
        target_type := first_row.table_name;
        target_id := first_row.row_id;
    END IF;
    WITH gone AS (DELETE FROM audit_staged RETURNING *)
    SELECT count(*),
           coalesce(jsonb_agg(jsonb_build_object(
               'table', table_name, 'op', op, 'id', row_id, 'before', before, 'after', after,
               'redacted', to_jsonb(redacted)) ORDER BY seq) FILTER (WHERE n <= max_changes), '[]')
    INTO total, changes
    FROM (SELECT *, row_number() OVER (ORDER BY seq) AS n FROM gone) AS numbered;
    INSERT INTO audit_events
        (actor_type, actor_id, action, target_type, target_id, changes, change_count)
    VALUES (
        coalesce(ctx ->> 'actor_type', 'system'),
        CASE WHEN ctx ->> 'actor_type' IS NULL
             THEN nullif(current_setting('application_name'), '')
             ELSE ctx ->> 'actor_id' END,
        coalesce(ctx ->> 'action', first_row.op || '_' || first_row.table_name),
        target_type, target_id, changes, total
    );
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER audit_fold AFTER INSERT ON audit_staged
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_fold();
"""

# Configuration tables whose every change is audited: (table, key columns).
EVERY_CHANGE = (
    ("users", ()),
    ("teams", ()),
    ("team_members", ("team_id", "user_id")),
    ("services", ()),
    ("escalation_policies", ()),
    ("escalation_steps", ()),
    ("escalation_step_targets", ()),
    ("rotations", ()),
    ("rotation_participants", ("rotation_id", "position")),
    ("schedule_rules", ()),
    ("schedule_overrides", ()),
    ("temporary_schedules", ()),
    ("temporary_schedule_shifts", ()),
    ("contact_methods", ()),
    ("notification_rules", ()),
    ("notification_channels", ()),
    ("calendar_subscriptions", ()),
)

# Tables whose rows also change with use, not configuration (a key's last use, a check-in, the
# engine's record of its last on-call notice): only these columns' updates are audited, so the
# ingest and check-in paths fire no trigger at all. A column added to one of these tables is
# audited only once it is listed here (tests/integration/test_audit_triggers.py checks the lists).
UPDATES_OF = {
    "api_keys": ("name", "scope", "secret_hash", "revoked_at", "owner_user_id", "owner_team_id"),
    "integration_keys": ("service_id", "type", "name", "secret_hash", "revoked_at"),
    "heartbeat_monitors": ("service_id", "name", "timeout_seconds", "checkin_secret_hash"),
    "schedules": ("name", "description", "time_zone", "notice_channel_id", "team_id"),
}

TRIGGER = """
CREATE TRIGGER {table}_audit AFTER {events} ON {table}
    FOR EACH ROW {when} EXECUTE FUNCTION audit_stage({args});
"""

# Sign-in sessions are not configuration: only a revocation someone asks for through the API or
# the command line (an actor is declared) is audited; signing in and out at /auth is not.
SESSIONS = """
CREATE TRIGGER sessions_audit AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (
        OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
        AND coalesce(current_setting('klaxon.audit', true), '') <> ''
    ) EXECUTE FUNCTION audit_stage();
"""


def _trigger(table: str, events: str, keys: tuple[str, ...] = ()) -> str:
    args = ", ".join(f"'{key}'" for key in keys)
    return TRIGGER.format(table=table, events=events, when="", args=args)


def upgrade() -> None:
    op.execute(UPGRADE)
    for table, keys in EVERY_CHANGE:
        op.execute(_trigger(table, "INSERT OR UPDATE OR DELETE", keys))
    for table, columns in UPDATES_OF.items():
        op.execute(_trigger(table, f"INSERT OR DELETE OR UPDATE OF {', '.join(columns)}"))
    op.execute(SESSIONS)


def downgrade() -> None:
    tables = [table for table, _ in EVERY_CHANGE] + [*UPDATES_OF, "sessions"]
    for table in tables:
        op.execute(f"DROP TRIGGER {table}_audit ON {table}")
    op.execute("DROP TABLE audit_staged, audit_events")
    op.execute("DROP FUNCTION audit_stage(), audit_fold()")
