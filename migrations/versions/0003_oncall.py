"""On-call: rotations, schedules with rules, overrides, temporary schedules, calendar feeds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Plain SQL, like 0002: each table's invariants are CHECKs and keys the database enforces. Time
# zone names are text here; the API validates them against the IANA database (zoneinfo).
UPGRADE = """
CREATE TABLE rotations (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 4096),
    type text NOT NULL CHECK (type IN ('hourly', 'daily', 'weekly', 'monthly')),
    shift_length integer NOT NULL CHECK (shift_length BETWEEN 1 AND 1000),
    start_at timestamptz NOT NULL,
    -- Who is on call at start_at (a position in rotation_participants' order); "set active"
    -- and "advance" re-base start_at and start_index rather than keep a mutable pointer.
    start_index integer NOT NULL DEFAULT 0 CHECK (start_index >= 0),
    time_zone text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Ordered participants; a user may appear more than once, a position only once.
CREATE TABLE rotation_participants (
    rotation_id uuid NOT NULL REFERENCES rotations (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position >= 0),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (rotation_id, position)
);
CREATE INDEX rotation_participants_user ON rotation_participants (user_id);

CREATE TABLE schedules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 4096),
    time_zone text NOT NULL CHECK (length(time_zone) BETWEEN 1 AND 64),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX schedules_name_key ON schedules (lower(name));

-- Weekdays are a bitmask: bit 0 = Monday … bit 6 = Sunday; at least one day.
CREATE TABLE schedule_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    target_type text NOT NULL CHECK (target_type IN ('user', 'rotation')),
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    rotation_id uuid REFERENCES rotations (id) ON DELETE CASCADE,
    weekdays smallint NOT NULL DEFAULT 127 CHECK (weekdays BETWEEN 1 AND 127),
    start_time time NOT NULL DEFAULT '00:00',
    end_time time NOT NULL DEFAULT '00:00',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedule_rules_target CHECK (
        (target_type = 'user' AND user_id IS NOT NULL AND rotation_id IS NULL)
        OR (target_type = 'rotation' AND rotation_id IS NOT NULL AND user_id IS NULL)
    )
);
CREATE INDEX schedule_rules_schedule ON schedule_rules (schedule_id, created_at, id);
CREATE INDEX schedule_rules_user ON schedule_rules (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX schedule_rules_rotation ON schedule_rules (rotation_id) WHERE rotation_id IS NOT NULL;

-- Overrides may overlap one another: they apply together (compute decides how).
CREATE TABLE schedule_overrides (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('add', 'remove', 'replace')),
    add_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    remove_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedule_overrides_span CHECK (end_at > start_at),
    CONSTRAINT schedule_overrides_users CHECK (
        (kind = 'add' AND add_user_id IS NOT NULL AND remove_user_id IS NULL)
        OR (kind = 'remove' AND remove_user_id IS NOT NULL AND add_user_id IS NULL)
        OR (kind = 'replace' AND add_user_id IS NOT NULL AND remove_user_id IS NOT NULL)
    )
);
CREATE INDEX schedule_overrides_schedule ON schedule_overrides (schedule_id, end_at);

CREATE TABLE temporary_schedules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT temporary_schedules_span CHECK (end_at > start_at),
    UNIQUE (id, start_at, end_at)  -- the target of the shifts' span key below
);
CREATE INDEX temporary_schedules_schedule ON temporary_schedules (schedule_id, end_at);

-- Each shift carries its temporary schedule's span through a composite foreign key, so "the
-- shift lies within the span" is a plain CHECK (and changing the span re-checks every shift).
CREATE TABLE temporary_schedule_shifts (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    temporary_schedule_id uuid NOT NULL,
    span_start timestamptz NOT NULL,
    span_end timestamptz NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    FOREIGN KEY (temporary_schedule_id, span_start, span_end)
        REFERENCES temporary_schedules (id, start_at, end_at)
        ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT temporary_schedule_shifts_span
        CHECK (end_at > start_at AND start_at >= span_start AND end_at <= span_end)
);
CREATE INDEX temporary_schedule_shifts_schedule
    ON temporary_schedule_shifts (temporary_schedule_id, start_at);
CREATE INDEX temporary_schedule_shifts_user ON temporary_schedule_shifts (user_id);

-- iCalendar feeds: the URL carries `klc_<id>_<secret>`; only SHA-256 of the secret is kept.
CREATE TABLE calendar_subscriptions (
    id uuid PRIMARY KEY,
    user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    schedule_id uuid REFERENCES schedules (id) ON DELETE CASCADE,
    secret_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT calendar_subscriptions_owner CHECK (num_nonnulls(user_id, schedule_id) = 1)
);
CREATE INDEX calendar_subscriptions_user ON calendar_subscriptions (user_id)
    WHERE user_id IS NOT NULL;
CREATE INDEX calendar_subscriptions_schedule ON calendar_subscriptions (schedule_id)
    WHERE schedule_id IS NOT NULL;
"""

DOWNGRADE = """
DROP TABLE calendar_subscriptions;
DROP TABLE temporary_schedule_shifts;
DROP TABLE temporary_schedules;
DROP TABLE schedule_overrides;
DROP TABLE schedule_rules;
DROP TABLE schedules;
DROP TABLE rotation_participants;
DROP TABLE rotations;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
