"""Migration 0009 (the audit log) downgrades cleanly and upgrades again."""

from __future__ import annotations

from typing import Any

import psycopg
from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from app.platform import migrate


def test_the_audit_log_migration_downgrades_and_upgrades_again(database_url: str) -> None:
    conn = psycopg.connect(database_url)
    engine = create_engine("postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool)

    def run(step: Any, revision: str) -> None:
        config = migrate._config()
        with engine.connect() as sa_conn:
            config.attributes["connection"] = sa_conn
            step(config, revision)
            sa_conn.commit()

    try:
        run(command.downgrade, "0008_teams_ownership")
        gone = conn.execute("SELECT to_regclass('audit_events'), to_regclass('audit_staged')")
        assert gone.fetchone() == (None, None)
        triggers = conn.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%\\_audit'")
        assert triggers.fetchone() == (0,)
        conn.execute("UPDATE services SET name = name")  # no trigger left calling a lost function
        conn.commit()
        run(command.upgrade, "0009_audit_log")
        conn.execute("INSERT INTO services (name) VALUES ('after the round trip')")
        conn.commit()
        assert conn.execute("SELECT action FROM audit_events").fetchall() == [("insert_services",)]
    finally:
        engine.dispose()
        conn.close()
