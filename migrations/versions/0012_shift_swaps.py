"""Shift swaps: a person on call asks for cover for part or all of a shift; someone takes it.

Revision ID: 0012_shift_swaps
Revises: 0011_signin_links
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012_shift_swaps"
down_revision = "0011_signin_links"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- A request for cover during [start_at, end_at) of a schedule, by a user on call for all of it
-- (app.oncall.swaps checks that against the computed shifts). It is open until taken (an
-- override replacing the requester by the taker is created in the same transaction) or
-- withdrawn. "Expired" is not stored: an open swap whose end has passed is expired, a fact of
-- the clock that needs no job to write it (the list queries and take read it off end_at).
CREATE TABLE shift_swaps (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    requester_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    note text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'taken', 'withdrawn')),
    -- the taker and their override; kept (as NULL) when either is deleted later
    taken_by uuid REFERENCES users (id) ON DELETE SET NULL,
    override_id uuid REFERENCES schedule_overrides (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    taken_at timestamptz,
    withdrawn_at timestamptz,
    CONSTRAINT shift_swaps_span
        CHECK (end_at > start_at AND end_at - start_at <= interval '31 days'),
    CONSTRAINT shift_swaps_state CHECK (
        (status = 'open' AND taken_at IS NULL AND withdrawn_at IS NULL
            AND taken_by IS NULL AND override_id IS NULL)
        OR (status = 'taken' AND taken_at IS NOT NULL AND withdrawn_at IS NULL)
        OR (status = 'withdrawn' AND withdrawn_at IS NOT NULL AND taken_at IS NULL
            AND taken_by IS NULL AND override_id IS NULL)
    )
);
-- A schedule's open swaps by start, and its others newest first; open swaps across schedules;
-- a requester's own.
CREATE INDEX shift_swaps_schedule ON shift_swaps (schedule_id, status, start_at);
CREATE INDEX shift_swaps_schedule_created ON shift_swaps (schedule_id, created_at DESC, id);
CREATE INDEX shift_swaps_open ON shift_swaps (start_at, id) WHERE status = 'open';
CREATE INDEX shift_swaps_requester ON shift_swaps (requester_id, created_at DESC, id);

-- Asking for, taking and withdrawing cover change who is on call: audited like overrides
-- (migration 0009's log; a take's override is folded into the same event).
CREATE TRIGGER shift_swaps_audit AFTER INSERT OR UPDATE OR DELETE ON shift_swaps
    FOR EACH ROW EXECUTE FUNCTION audit_stage();

-- Swap notices travel through the outbox like on-call notices.
ALTER TABLE outgoing_messages DROP CONSTRAINT outgoing_messages_kind_check;
ALTER TABLE outgoing_messages ADD CONSTRAINT outgoing_messages_kind_check CHECK (
    kind IN ('alert', 'status_update', 'verification', 'test', 'oncall_notice', 'shift_swap')
);
"""

DOWNGRADE = r"""
DELETE FROM outgoing_messages WHERE kind = 'shift_swap';
ALTER TABLE outgoing_messages DROP CONSTRAINT outgoing_messages_kind_check;
ALTER TABLE outgoing_messages ADD CONSTRAINT outgoing_messages_kind_check CHECK (
    kind IN ('alert', 'status_update', 'verification', 'test', 'oncall_notice')
);
DROP TRIGGER shift_swaps_audit ON shift_swaps;
DROP TABLE shift_swaps;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
