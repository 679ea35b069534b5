"""Escalation and delivery: contact methods, notification rules, channels, escalation policies,
per-alert escalation state, the outgoing-message state machine and its history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Plain SQL, like 0002/0003. The invariants that keep a page from being lost or sent twice live
# here: one message row per (alert, rule, engagement) through `dedup_key`, a status machine that
# only moves forward, and triggers that keep escalation state in step with the alert's status.
UPGRADE = r"""
-- ---------------------------------------------------------------- people: how to reach them

CREATE TABLE contact_methods (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type text NOT NULL CHECK (type IN ('email', 'sms', 'voice', 'webhook', 'slack')),
    -- email address, E.164 phone number, https URL, or Slack member id
    address text NOT NULL CHECK (length(address) BETWEEN 1 AND 2048),
    -- webhook: the HMAC-SHA256 key of the signature header (shown to the owner once)
    signing_secret text,
    verified_at timestamptz,
    disabled boolean NOT NULL DEFAULT false,
    -- SMS/voice: the number replied STOP (carriers require us to honour it until START)
    stopped_at timestamptz,
    -- also send acknowledge/close notices for alerts this method was paged about
    status_updates boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, user_id),  -- the target of notification_rules' (contact method, user) key
    CONSTRAINT contact_methods_webhook_secret
        CHECK ((type = 'webhook') = (signing_secret IS NOT NULL))
);
-- One owner per destination: an inbound SMS reply must map to exactly one contact method.
CREATE UNIQUE INDEX contact_methods_destination ON contact_methods (type, lower(address));
CREATE INDEX contact_methods_user ON contact_methods (user_id);

-- A pending verification: only a hash of the code is kept; attempts are bounded.
CREATE TABLE contact_method_verifications (
    contact_method_id uuid PRIMARY KEY REFERENCES contact_methods (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- "Reach me through this method `delay_minutes` after I am engaged on an alert."
CREATE TABLE notification_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    contact_method_id uuid NOT NULL,
    delay_minutes integer NOT NULL CHECK (delay_minutes BETWEEN 0 AND 10080),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- a rule may only use its own user's contact methods
    FOREIGN KEY (contact_method_id, user_id)
        REFERENCES contact_methods (id, user_id) ON DELETE CASCADE,
    UNIQUE (contact_method_id, delay_minutes)
);
CREATE INDEX notification_rules_user ON notification_rules (user_id, delay_minutes);

-- Shared destinations that are not a person: a team's webhook or Slack channel.
CREATE TABLE notification_channels (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type text NOT NULL CHECK (type IN ('webhook', 'slack')),
    address text NOT NULL CHECK (length(address) BETWEEN 1 AND 2048),  -- URL or channel id
    signing_secret text,
    status_updates boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_channels_webhook_secret
        CHECK ((type = 'webhook') = (signing_secret IS NOT NULL))
);
CREATE UNIQUE INDEX notification_channels_name_key ON notification_channels (lower(name));

-- -------------------------------------------------------------------- escalation policies

CREATE TABLE escalation_policies (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 4096),
    -- how many more times the whole list of steps runs after the first pass
    repeat_count integer NOT NULL DEFAULT 0 CHECK (repeat_count BETWEEN 0 AND 20),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX escalation_policies_name_key ON escalation_policies (lower(name));

-- Step k fires, then after its delay_minutes step k+1 fires (GoAlert's meaning of the delay).
CREATE TABLE escalation_steps (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_id uuid NOT NULL REFERENCES escalation_policies (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position >= 0),
    delay_minutes integer NOT NULL CHECK (delay_minutes BETWEEN 1 AND 10080),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT escalation_steps_position UNIQUE (policy_id, position) DEFERRABLE INITIALLY DEFERRED
);

-- One target per row; each kind has its own foreign key, so deleting a user, schedule,
-- rotation or channel removes it from every step.
CREATE TABLE escalation_step_targets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    step_id uuid NOT NULL REFERENCES escalation_steps (id) ON DELETE CASCADE,
    target_type text NOT NULL CHECK (target_type IN ('user', 'schedule', 'rotation', 'channel')),
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    schedule_id uuid REFERENCES schedules (id) ON DELETE CASCADE,
    rotation_id uuid REFERENCES rotations (id) ON DELETE CASCADE,
    channel_id uuid REFERENCES notification_channels (id) ON DELETE CASCADE,
    CONSTRAINT escalation_step_targets_one CHECK (
        num_nonnulls(user_id, schedule_id, rotation_id, channel_id) = 1
        AND CASE target_type
            WHEN 'user' THEN user_id IS NOT NULL
            WHEN 'schedule' THEN schedule_id IS NOT NULL
            WHEN 'rotation' THEN rotation_id IS NOT NULL
            ELSE channel_id IS NOT NULL
        END
    )
);
CREATE UNIQUE INDEX escalation_step_targets_unique ON escalation_step_targets
    (step_id, target_type, coalesce(user_id, schedule_id, rotation_id, channel_id));
CREATE INDEX escalation_step_targets_user ON escalation_step_targets (user_id)
    WHERE user_id IS NOT NULL;
CREATE INDEX escalation_step_targets_schedule ON escalation_step_targets (schedule_id)
    WHERE schedule_id IS NOT NULL;
CREATE INDEX escalation_step_targets_rotation ON escalation_step_targets (rotation_id)
    WHERE rotation_id IS NOT NULL;
CREATE INDEX escalation_step_targets_channel ON escalation_step_targets (channel_id)
    WHERE channel_id IS NOT NULL;

-- A policy in use cannot be deleted out from under its services (the API answers 409).
ALTER TABLE services ADD CONSTRAINT services_escalation_policy
    FOREIGN KEY (escalation_policy_id) REFERENCES escalation_policies (id) ON DELETE RESTRICT;
CREATE INDEX services_escalation_policy ON services (escalation_policy_id)
    WHERE escalation_policy_id IS NOT NULL;

-- On-call notices: post to a channel at each shift change of the schedule.
ALTER TABLE schedules ADD COLUMN notice_channel_id uuid
    REFERENCES notification_channels (id) ON DELETE SET NULL;
ALTER TABLE schedules ADD COLUMN notice_state jsonb;  -- who the last notice announced

-- --------------------------------------------------------------- per-alert escalation state

-- One row per alert, made by a trigger when the alert is inserted. The policy is read as it
-- stands each time a step fires; this row only remembers where the alert is in it.
CREATE TABLE alert_escalations (
    alert_id bigint PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
    service_id uuid NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    step_index integer NOT NULL DEFAULT 0 CHECK (step_index >= 0),  -- the next step to fire
    repeats_done integer NOT NULL DEFAULT 0 CHECK (repeats_done >= 0),
    next_step_at timestamptz,  -- NULL: nothing more to fire (acknowledged, closed, exhausted)
    forced boolean NOT NULL DEFAULT false,  -- an escalation was requested through the API
    held boolean NOT NULL DEFAULT false,  -- waiting for the service's maintenance to end
    last_step_at timestamptz,
    -- the status the status-update module last announced; differs from the alert's status
    -- exactly when an acknowledge/close notice is still owed
    notified_status text NOT NULL DEFAULT 'triggered',
    status_changed boolean NOT NULL DEFAULT false
);
CREATE INDEX alert_escalations_due ON alert_escalations (next_step_at)
    WHERE next_step_at IS NOT NULL;
CREATE INDEX alert_escalations_status_changed ON alert_escalations (alert_id)
    WHERE status_changed;
CREATE INDEX alert_escalations_service ON alert_escalations (service_id)
    WHERE next_step_at IS NOT NULL OR held;

-- Who has been engaged on an alert. `seq` counts engagements (a repeat or a later step
-- engages again), so each engagement's notification rules fire once: messages are keyed on it.
CREATE TABLE alert_engagements (
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq integer NOT NULL DEFAULT 1,
    engaged_at timestamptz NOT NULL DEFAULT now(),
    active boolean NOT NULL DEFAULT true,  -- false once the alert is acknowledged or closed
    next_rule_at timestamptz,  -- the earliest unfired rule's due time; NULL: none left
    PRIMARY KEY (alert_id, user_id)
);
CREATE INDEX alert_engagements_due ON alert_engagements (next_rule_at) WHERE active;
CREATE INDEX alert_engagements_user ON alert_engagements (user_id) WHERE active;

-- The trigger pair that keeps escalation state in step with alerts.
CREATE FUNCTION alerts_escalation_start() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_escalations (alert_id, service_id, next_step_at)
    VALUES (NEW.id, NEW.service_id, CASE WHEN NEW.status = 'triggered' THEN now() END);
    RETURN NULL;
END $$;
CREATE TRIGGER alerts_escalation_start AFTER INSERT ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_escalation_start();

-- Acknowledge or close: timed escalation stops, engaged people stop being paged, and a status
-- notice becomes owed. A forced escalation (API) may still fire one step on an acknowledged
-- alert; the escalation module decides that, not this trigger.
CREATE FUNCTION alerts_escalation_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        UPDATE alert_escalations
           SET next_step_at = CASE WHEN forced AND NEW.status <> 'closed'
                                   THEN next_step_at END,
               forced = forced AND NEW.status <> 'closed',
               held = false,
               status_changed = true
         WHERE alert_id = NEW.id;
        UPDATE alert_engagements SET active = false WHERE alert_id = NEW.id AND active;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER alerts_escalation_status AFTER UPDATE OF status ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_escalation_status();

INSERT INTO alert_escalations (alert_id, service_id, next_step_at, notified_status)
SELECT id, service_id, CASE WHEN status = 'triggered' THEN now() END, status FROM alerts;

-- ---------------------------------------------------------------------- outgoing messages

CREATE TABLE outgoing_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL
        CHECK (kind IN ('alert', 'status_update', 'verification', 'test', 'oncall_notice')),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'failed')),
    -- the destination: one of a person's contact methods, or a channel
    contact_method_id uuid REFERENCES contact_methods (id) ON DELETE CASCADE,
    channel_id uuid REFERENCES notification_channels (id) ON DELETE CASCADE,
    dest_type text NOT NULL CHECK (dest_type IN ('email', 'sms', 'voice', 'webhook', 'slack')),
    provider text NOT NULL CHECK (provider IN ('webhook', 'smtp', 'twilio', 'slack')),
    user_id uuid REFERENCES users (id) ON DELETE SET NULL,
    alert_id bigint REFERENCES alerts (id) ON DELETE CASCADE,
    schedule_id uuid REFERENCES schedules (id) ON DELETE CASCADE,
    rule_id uuid REFERENCES notification_rules (id) ON DELETE SET NULL,
    -- kind-specific content: {"status": …} for status updates, {"code": …} for a verification
    -- (scrubbed once sent), {"users": […]} for on-call notices
    payload jsonb NOT NULL DEFAULT '{}',
    -- What makes a message unique, e.g. alert:<alert>:<rule>:<engagement seq>; inserting with
    -- ON CONFLICT DO NOTHING makes every producer idempotent across crashes and failovers.
    dedup_key text NOT NULL UNIQUE CHECK (length(dedup_key) BETWEEN 1 AND 512),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),  -- sends started
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
    not_before timestamptz NOT NULL DEFAULT now(),  -- retry backoff and throttles defer this
    enqueued_at timestamptz,  -- last time an RQ job was queued for it
    enqueue_count integer NOT NULL DEFAULT 0,  -- part of its RQ job id
    job_id text,  -- the RQ job queued for it; NULL: none (never queued, or a retry is due)
    claimed_until timestamptz,  -- while sending: past this the engine takes it back
    claimed_by text,
    provider_message_id text,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    delivered_at timestamptz,
    failed_at timestamptz,
    CONSTRAINT outgoing_messages_destination CHECK (num_nonnulls(contact_method_id, channel_id) = 1)
);
CREATE INDEX outgoing_messages_pending ON outgoing_messages (not_before) WHERE status = 'pending';
CREATE INDEX outgoing_messages_sending ON outgoing_messages (claimed_until)
    WHERE status = 'sending';
CREATE INDEX outgoing_messages_alert ON outgoing_messages (alert_id) WHERE alert_id IS NOT NULL;
CREATE INDEX outgoing_messages_contact_method ON outgoing_messages (contact_method_id, created_at)
    WHERE contact_method_id IS NOT NULL;
CREATE INDEX outgoing_messages_channel ON outgoing_messages (channel_id, created_at)
    WHERE channel_id IS NOT NULL;
CREATE INDEX outgoing_messages_created ON outgoing_messages (created_at, id);

-- Status moves forward only; `sending -> pending` is the one way back (a retry, or the engine
-- taking back a send whose worker died).
CREATE FUNCTION outgoing_messages_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
        (OLD.status = 'pending' AND NEW.status IN ('sending', 'failed'))
        OR (OLD.status = 'sending' AND NEW.status IN ('pending', 'sent', 'delivered', 'failed'))
        OR (OLD.status = 'sent' AND NEW.status IN ('delivered', 'failed'))
    ) THEN
        RAISE EXCEPTION 'message % cannot move from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER outgoing_messages_forward BEFORE UPDATE OF status ON outgoing_messages
    FOR EACH ROW EXECUTE FUNCTION outgoing_messages_forward();

-- Every status a message passes through, with the attempt and error: the message log's history.
CREATE TABLE message_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id bigint NOT NULL REFERENCES outgoing_messages (id) ON DELETE CASCADE,
    status text NOT NULL,
    attempt integer NOT NULL,
    error text,
    provider_message_id text,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_events_message ON message_events (message_id, id);

CREATE FUNCTION outgoing_messages_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO message_events (message_id, status, attempt, error, provider_message_id)
        VALUES (NEW.id, NEW.status, NEW.attempts,
                CASE WHEN NEW.status IN ('pending', 'failed') THEN NEW.last_error END,
                NEW.provider_message_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER outgoing_messages_history AFTER INSERT OR UPDATE OF status ON outgoing_messages
    FOR EACH ROW EXECUTE FUNCTION outgoing_messages_history();

-- SMS replies name an alert by a short per-number code ("1a" acknowledges the alert that number
-- was sent as code 1), as GoAlert does: alert ids grow long, a code stays one or two digits.
CREATE TABLE sms_reply_codes (
    contact_method_id uuid NOT NULL REFERENCES contact_methods (id) ON DELETE CASCADE,
    code integer NOT NULL CHECK (code BETWEEN 1 AND 999),
    alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_method_id, code),
    UNIQUE (contact_method_id, alert_id)
);

-- --------------------------------------------------------------------- alert log events

ALTER TABLE alert_logs DROP CONSTRAINT alert_logs_event_check;
ALTER TABLE alert_logs ADD CONSTRAINT alert_logs_event_check CHECK (event IN (
    'created', 'acknowledged', 'closed', 'escalated', 'escalation_requested',
    'duplicate_suppressed', 'notification_sent', 'no_one_on_call',
    'notification_failed', 'escalation_held', 'no_escalation_policy', 'status_update_sent'
));
ALTER TABLE alert_logs DROP CONSTRAINT alert_logs_actor_type_check;
ALTER TABLE alert_logs ADD CONSTRAINT alert_logs_actor_type_check CHECK (actor_type IN (
    'system', 'user', 'api_key', 'integration_key', 'heartbeat', 'engine'
));

-- A heartbeat monitor's alert: one open alert per monitor through the dedup key.
ALTER TABLE heartbeat_monitors ADD COLUMN alert_id bigint
    REFERENCES alerts (id) ON DELETE SET NULL;
"""

DOWNGRADE = """
ALTER TABLE heartbeat_monitors DROP COLUMN alert_id;
DELETE FROM alert_logs WHERE event IN
    ('notification_failed', 'escalation_held', 'no_escalation_policy', 'status_update_sent');
UPDATE alert_logs SET actor_type = 'system' WHERE actor_type = 'engine';
ALTER TABLE alert_logs DROP CONSTRAINT alert_logs_actor_type_check;
ALTER TABLE alert_logs ADD CONSTRAINT alert_logs_actor_type_check CHECK (actor_type IN (
    'system', 'user', 'api_key', 'integration_key', 'heartbeat'
));
ALTER TABLE alert_logs DROP CONSTRAINT alert_logs_event_check;
ALTER TABLE alert_logs ADD CONSTRAINT alert_logs_event_check CHECK (event IN (
    'created', 'acknowledged', 'closed', 'escalated', 'escalation_requested',
    'duplicate_suppressed', 'notification_sent', 'no_one_on_call'
));
DROP TABLE sms_reply_codes;
DROP TABLE message_events;
DROP TABLE outgoing_messages;
DROP FUNCTION outgoing_messages_history();
DROP FUNCTION outgoing_messages_forward();
DROP TRIGGER alerts_escalation_status ON alerts;
DROP TRIGGER alerts_escalation_start ON alerts;
DROP FUNCTION alerts_escalation_status();
DROP FUNCTION alerts_escalation_start();
DROP TABLE alert_engagements;
DROP TABLE alert_escalations;
ALTER TABLE schedules DROP COLUMN notice_state;
ALTER TABLE schedules DROP COLUMN notice_channel_id;
ALTER TABLE services DROP CONSTRAINT services_escalation_policy;
DROP INDEX services_escalation_policy;
DROP TABLE escalation_step_targets;
DROP TABLE escalation_steps;
DROP TABLE escalation_policies;
DROP TABLE notification_channels;
DROP TABLE notification_rules;
DROP TABLE contact_method_verifications;
DROP TABLE contact_methods;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
