"""Abuse hardening: heartbeat check-in secrets, coalesced duplicate logs, Twilio MessageSid
dedup, verification codes scrubbed on every terminal state.

Revision ID: 0006_abuse_limits
Revises: 0005_oncall_order
Create Date: 2026-12-07
"""

from alembic import op

revision = "0006_abuse_limits"
down_revision = "0005_oncall_order"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- A heartbeat monitor's check-in secret, separate from its id (which read keys can see). Only
-- its SHA-256 digest is kept. Existing monitors keep working: their secret is their old id (the
-- URL their senders already use) until the secret is rotated.
ALTER TABLE heartbeat_monitors ADD COLUMN checkin_secret_hash bytea;
UPDATE heartbeat_monitors SET checkin_secret_hash = sha256(convert_to(id::text, 'UTF8'));
ALTER TABLE heartbeat_monitors ALTER COLUMN checkin_secret_hash SET NOT NULL;
CREATE UNIQUE INDEX heartbeat_monitors_checkin_secret ON heartbeat_monitors (checkin_secret_hash);

-- Duplicates of an open alert are logged once per window (a minute): the alert row, which
-- every duplicate locks in turn, decides when a window opens, so concurrent repeats cannot open
-- two; the window's log row (its id taken in advance) carries the window's count.
ALTER TABLE alerts
    ADD COLUMN duplicate_window_at timestamptz,
    ADD COLUMN duplicate_window_count integer NOT NULL DEFAULT 0,
    ADD COLUMN duplicate_log_id bigint;

-- Inbound Twilio messages already acted on, by MessageSid: a replayed webhook acts once. Kept
-- for a few days (Twilio's retries end within hours); pruned as new messages arrive.
CREATE TABLE twilio_inbound_messages (
    message_sid text PRIMARY KEY CHECK (length(message_sid) BETWEEN 1 AND 64),
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX twilio_inbound_messages_received ON twilio_inbound_messages (received_at);

-- A verification code lives in its message's payload only until the message is done with,
-- whichever way: sent, delivered or failed. A trigger, so no writer can forget.
CREATE FUNCTION scrub_verification_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'verification' AND NEW.status IN ('sent', 'delivered', 'failed') THEN
        NEW.payload := NEW.payload - 'code';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER outgoing_messages_scrub_code
    BEFORE INSERT OR UPDATE OF status, payload ON outgoing_messages
    FOR EACH ROW EXECUTE FUNCTION scrub_verification_code();
UPDATE outgoing_messages SET payload = payload - 'code'
WHERE kind = 'verification' AND status IN ('sent', 'delivered', 'failed') AND payload ? 'code';
"""

DOWNGRADE = r"""
DROP TRIGGER outgoing_messages_scrub_code ON outgoing_messages;
DROP FUNCTION scrub_verification_code();
DROP TABLE twilio_inbound_messages;
ALTER TABLE alerts
    DROP COLUMN duplicate_window_at,
    DROP COLUMN duplicate_window_count,
    DROP COLUMN duplicate_log_id;
DROP INDEX heartbeat_monitors_checkin_secret;
ALTER TABLE heartbeat_monitors DROP COLUMN checkin_secret_hash;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
