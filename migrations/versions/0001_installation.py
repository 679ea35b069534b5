"""Installation record: one row naming this Klaxon installation.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "installation_id", sa.Uuid, nullable=False, server_default=sa.text("gen_random_uuid()")
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("id = 1", name="installation_single_row"),
    )
    op.execute("INSERT INTO installation (id) VALUES (1)")


def downgrade() -> None:
    op.drop_table("installation")
