"""Alerting core: users, services, integration keys, heartbeat monitors, alerts, log, API keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Plain SQL: the invariants (dedup index, status machine) are the point, and read best as SQL.
UPGRADE = """
CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    role text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    time_zone text NOT NULL DEFAULT 'UTC',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE services (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 4096),
    escalation_policy_id uuid,  -- a foreign key arrives with escalation policies
    maintenance_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX services_name_key ON services (lower(name));

CREATE TABLE integration_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    service_id uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    type text NOT NULL
        CHECK (type IN ('generic', 'grafana', 'prometheusAlertmanager', 'email')),
    name text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    secret_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX integration_keys_service ON integration_keys (service_id);

CREATE TABLE heartbeat_monitors (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    service_id uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timeout_seconds integer NOT NULL CHECK (timeout_seconds BETWEEN 60 AND 9 * 24 * 3600),
    state text NOT NULL DEFAULT 'inactive' CHECK (state IN ('inactive', 'healthy', 'unhealthy')),
    last_checkin_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX heartbeat_monitors_service ON heartbeat_monitors (service_id);

CREATE TABLE alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service_id uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 1024 AND summary !~ '[\\n\\r]'),
    details text NOT NULL DEFAULT '' CHECK (octet_length(details) <= 6144),
    status text NOT NULL DEFAULT 'triggered'
        CHECK (status IN ('triggered', 'acknowledged', 'closed')),
    dedup_key text NOT NULL CHECK (length(dedup_key) BETWEEN 1 AND 512),
    source text NOT NULL DEFAULT 'api',
    duplicate_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
-- The dedup invariant: at most one open alert per (service, dedup key).
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (service_id, dedup_key) WHERE status <> 'closed';
CREATE INDEX alerts_service_created ON alerts (service_id, id DESC);
CREATE INDEX alerts_status ON alerts (status, id DESC) WHERE status <> 'closed';

-- Status only moves forward: triggered -> acknowledged -> closed; never reopened.
CREATE FUNCTION alerts_status_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.status = 'closed' AND NEW.status <> 'closed')
       OR (OLD.status = 'acknowledged' AND NEW.status = 'triggered') THEN
        RAISE EXCEPTION 'alert % cannot move from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER alerts_status_forward BEFORE UPDATE OF status ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_status_forward();

CREATE TABLE alert_logs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event text NOT NULL CHECK (event IN (
        'created', 'acknowledged', 'closed', 'escalated', 'escalation_requested',
        'duplicate_suppressed', 'notification_sent', 'no_one_on_call'
    )),
    actor_type text NOT NULL
        CHECK (actor_type IN ('system', 'user', 'api_key', 'integration_key', 'heartbeat')),
    actor_id text,
    message text NOT NULL DEFAULT '',
    meta jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_logs_alert ON alert_logs (alert_id, id);

CREATE TABLE api_keys (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    scope text NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
    secret_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
"""

DOWNGRADE = """
DROP TABLE api_keys;
DROP TABLE alert_logs;
DROP TABLE alerts;
DROP FUNCTION alerts_status_forward();
DROP TABLE heartbeat_monitors;
DROP TABLE integration_keys;
DROP TABLE services;
DROP TABLE users;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
