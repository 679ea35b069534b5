"""Alembic environment: Klaxon always hands it an open connection (see app/platform/migrate.py)."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
