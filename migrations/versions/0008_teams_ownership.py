"""Teams, their members and managers; what each team owns; who each API key belongs to.

Revision ID: 0008_teams_ownership
Revises: 0007_signin_sessions
Create Date: 2026-12-07
"""

from alembic import op

revision = "0008_teams_ownership"
down_revision = "0007_signin_sessions"
branch_labels = None
depends_on = None

OWNED = ("services", "escalation_policies", "schedules", "rotations", "notification_channels")

UPGRADE = r"""
CREATE TABLE teams (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 4096),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX teams_name_key ON teams (lower(name));

-- A manager changes what the team owns; a member reads it like everyone else (and is who the
-- team's pages are for).
CREATE TABLE team_members (
    team_id uuid NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'manager')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

-- A personal key acts as its user (its scope caps the user's permissions); a team key acts for
-- its team; a key with neither is a service key, made and managed by admins. Every key that
-- existed before teams is a service key, so nothing in use stops working.
ALTER TABLE api_keys
    ADD COLUMN owner_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    ADD COLUMN owner_team_id uuid REFERENCES teams (id) ON DELETE CASCADE,
    ADD CONSTRAINT api_keys_one_owner CHECK (num_nonnulls(owner_user_id, owner_team_id) <= 1);
CREATE INDEX api_keys_owner_user ON api_keys (owner_user_id) WHERE owner_user_id IS NOT NULL;
CREATE INDEX api_keys_owner_team ON api_keys (owner_team_id) WHERE owner_team_id IS NOT NULL;
"""

# A team that still owns something cannot be deleted (RESTRICT): its things would silently
# become admin-only. NULL team_id: owned by no team, changed by admins only.
OWNERSHIP = """
ALTER TABLE {table} ADD COLUMN team_id uuid REFERENCES teams (id) ON DELETE RESTRICT;
CREATE INDEX {table}_team ON {table} (team_id) WHERE team_id IS NOT NULL;
"""

DOWNGRADE = r"""
ALTER TABLE api_keys DROP COLUMN owner_user_id, DROP COLUMN owner_team_id;
DROP TABLE team_members;
DROP TABLE teams;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    for table in OWNED:
        op.execute(OWNERSHIP.format(table=table))


def downgrade() -> None:
    for table in OWNED:
        op.execute(f"ALTER TABLE {table} DROP COLUMN team_id")
    op.execute(DOWNGRADE)
