"""Sign-in links: one-time, expiring links that invite a person or reset their password.

Revision ID: 0011_signin_links
Revises: 0010_oidc_identities
Create Date: 2026-12-07
"""

from alembic import op

revision = "0011_signin_links"
down_revision = "0010_oidc_identities"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- A link emailed to a person: an invitation (set a first password) or a password reset. Its
-- token is never stored, only the token's SHA-256 digest, so a copy of this table opens no
-- link. A link is live until the first of: its expiry, its use, its voiding (re-issued,
-- revoked by an admin, or the user's password changed) or its user being disabled or deleted.
CREATE TABLE signin_links (
    id uuid PRIMARY KEY,
    purpose text NOT NULL CHECK (purpose IN ('invitation', 'password_reset')),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    voided_at timestamptz,
    void_reason text CHECK (void_reason IN ('reissued', 'revoked', 'password_changed')),
    emailed_at timestamptz,
    CHECK (expires_at > created_at),
    CHECK ((voided_at IS NULL) = (void_reason IS NULL)),
    CHECK (used_at IS NULL OR voided_at IS NULL)
);
-- At most one unused, unvoided link per user and purpose: issuing a new one voids the old one
-- first, and Postgres refuses a second.
CREATE UNIQUE INDEX signin_links_one_open ON signin_links (user_id, purpose)
    WHERE used_at IS NULL AND voided_at IS NULL;
CREATE INDEX signin_links_listing ON signin_links (purpose, created_at, id);

-- A changed password kills every open link of its user, whoever changed it and however.
CREATE FUNCTION signin_links_void_on_password() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE signin_links SET voided_at = now(), void_reason = 'password_changed'
    WHERE user_id = NEW.id AND used_at IS NULL AND voided_at IS NULL;
    RETURN NEW;
END $$;
CREATE TRIGGER users_password_voids_signin_links
    AFTER UPDATE OF password_hash ON users
    FOR EACH ROW WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash)
    EXECUTE FUNCTION signin_links_void_on_password();

-- Inviting someone and revoking an invitation are configuration changes an admin makes through
-- the API (an actor is declared: migration 0009's audit log). A password-reset link the worker
-- issues, and a link being used, are not.
CREATE TRIGGER signin_links_audit AFTER INSERT OR UPDATE OF voided_at ON signin_links
    FOR EACH ROW WHEN (coalesce(current_setting('klaxon.audit', true), '') <> '')
    EXECUTE FUNCTION audit_stage();
"""

DOWNGRADE = r"""
DROP TRIGGER signin_links_audit ON signin_links;
DROP TRIGGER users_password_voids_signin_links ON users;
DROP FUNCTION signin_links_void_on_password();
DROP TABLE signin_links;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
