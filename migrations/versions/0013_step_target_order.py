"""A step's targets keep the order they were given in.

Revision ID: 0013_step_target_order
Revises: 0012_shift_swaps
Create Date: 2026-12-07
"""

from alembic import op

revision = "0013_step_target_order"
down_revision = "0012_shift_swaps"
branch_labels = None
depends_on = None

# Targets were read back ordered by their random id, so a step written as "Ada, then Primary"
# could read "Primary and Ada" (the web app's sentences and previews show them in order). Rows
# written before keep position 0 and their old order among themselves.
UPGRADE = r"""
ALTER TABLE escalation_step_targets ADD COLUMN position integer NOT NULL DEFAULT 0;
"""

DOWNGRADE = r"""
ALTER TABLE escalation_step_targets DROP COLUMN position;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
