"""Sign-in: a password hash and a disabled mark on users; server-side sessions.

Revision ID: 0007_signin_sessions
Revises: 0006_abuse_limits
Create Date: 2026-12-07
"""

from alembic import op

revision = "0007_signin_sessions"
down_revision = "0006_abuse_limits"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- An Argon2id hash in PHC form ($argon2id$v=19$m=…); NULL: the user cannot sign in with a
-- password (they are paged all the same).
ALTER TABLE users
    ADD COLUMN password_hash text CHECK (password_hash LIKE '$argon2%'),
    ADD COLUMN disabled_at timestamptz;

-- A signed-in browser or script. The cookie carries a random 256-bit token; only its SHA-256
-- digest is kept, so a copy of this table signs nobody in. A session ends at the first of: its
-- idle expiry (moved forward as it is used), its absolute expiry, revocation, or its user being
-- disabled or deleted.
CREATE TABLE sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    user_agent text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    address text NOT NULL DEFAULT '' CHECK (length(address) <= 64),
    revoked_at timestamptz,
    CHECK (idle_expires_at <= expires_at AND expires_at > created_at)
);
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id, created_at);
"""

DOWNGRADE = r"""
DROP TABLE sessions;
ALTER TABLE users DROP COLUMN password_hash, DROP COLUMN disabled_at;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
