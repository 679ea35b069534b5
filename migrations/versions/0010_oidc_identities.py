"""OpenID Connect identities: which Klaxon user an identity provider's account signs in as.

Revision ID: 0010_oidc_identities
Revises: 0009_audit_log
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010_oidc_identities"
down_revision = "0009_audit_log"
branch_labels = None
depends_on = None

# An account is (issuer, subject): OpenID Connect promises `sub` is unique and never reassigned
# within one issuer, whereas an email address can change hands. `email` is what the provider
# said when the account was linked, kept for people reading the table, never for matching.
UPGRADE = r"""
CREATE TABLE oidc_identities (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    issuer text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 2048),
    subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email text NOT NULL DEFAULT '' CHECK (length(email) <= 320),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_signed_in_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (issuer, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);
"""

DOWNGRADE = "DROP TABLE oidc_identities;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
