"""On-call: a creation sequence on overrides and temporary schedules, to order ties.

Revision ID: 0005_oncall_order
Revises: 0004
Create Date: 2026-12-07
"""

from alembic import op

revision = "0005_oncall_order"
down_revision = "0004"
branch_labels = None
depends_on = None

# Overrides and temporary schedules that start at the same instant are applied in the order they
# were made (so the newest temporary schedule wins, as in GoAlert). An identity column records
# that order: unlike created_at it never ties, even for rows made in one transaction (which share
# now()), and unlike the random uuid it means something. Existing rows are numbered by
# (created_at, id), the best record of their order there is.
_ADD = """
ALTER TABLE {table} ADD COLUMN created_seq bigint;
UPDATE {table} t SET created_seq = n.seq
  FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS seq FROM {table}) n
 WHERE n.id = t.id;
ALTER TABLE {table} ALTER COLUMN created_seq SET NOT NULL;
ALTER TABLE {table} ALTER COLUMN created_seq ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('{table}', 'created_seq'),
              coalesce(max(created_seq), 0) + 1, false) FROM {table};
"""
TABLES = ("schedule_overrides", "temporary_schedules")


def upgrade() -> None:
    for table in TABLES:
        op.execute(_ADD.format(table=table))


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN created_seq")
