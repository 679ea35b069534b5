"""Schema migrations (Alembic), applied under a Postgres advisory lock with a bounded wait."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import structlog
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.platform import postgres

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# "klxn" as an int: the advisory-lock key every Klaxon process takes to migrate.
MIGRATE_LOCK_KEY = 0x6B6C786E
# A table-lock wait inside a migration fails instead of queueing behind a long transaction.
MIGRATION_LOCK_TIMEOUT = "10s"


class MigrationError(RuntimeError):
    """The schema cannot be brought to, or is not at, the code's head revision."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    known: bool  # False: the database has a revision this code does not know (it is newer)

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise MigrationError("no migrations found in " + str(MIGRATIONS_DIR))
    return head


def schema_state(conn: psycopg.Connection[Any], timeout: float) -> SchemaState:
    """Compare the database's revision with the code's head, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    exists = postgres.bounded_query(conn, "SELECT to_regclass('public.alembic_version')", timeout)
    current = None
    if exists and exists[0][0] is not None:
        rows = postgres.bounded_query(
            conn,
            "SELECT string_agg(version_num, ',') FROM alembic_version",
            max(deadline - time.monotonic(), 0.001),
        )
        current = rows[0][0] if rows else None
    script = ScriptDirectory.from_config(_config())
    head = head_revision()
    known = current is None or all(_known(script, rev) for rev in current.split(","))
    return SchemaState(current=current, head=head, known=known)


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:
        return False


def describe(state: SchemaState) -> str:
    """What is wrong with `state`, and what to run about it."""
    if not state.known:
        return (
            f"database is at revision {state.current}, newer than this code (head {state.head}); "
            "deploy the newer Klaxon or restore the database"
        )
    return (
        f"database is at revision {state.current or 'none'}, code expects {state.head}; "
        "run `klaxon migrate`"
    )


def upgrade(url: str, connect_timeout: float, lock_wait: float) -> SchemaState:
    """Apply pending migrations while holding the migration lock; return the final state."""
    conn = postgres.connect(
        url, connect_timeout, autocommit=True, application_name="klaxon-migrate"
    )
    try:
        _take_lock(conn, lock_wait)
        state = schema_state(conn, connect_timeout)
        if not state.known:
            raise MigrationError(describe(state))
        if not state.at_head:
            _run_alembic_upgrade(conn)
            log.info("migrations_applied", previous=state.current, head=state.head)
        return schema_state(conn, connect_timeout)
    finally:
        conn.close()  # closing the session releases the advisory lock


def _take_lock(conn: psycopg.Connection[Any], lock_wait: float) -> None:
    """Take the migration lock, retrying with backoff for at most `lock_wait` seconds."""
    deadline = time.monotonic() + lock_wait
    delay = 0.05
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATE_LOCK_KEY,)).fetchone()
        if row and row[0]:
            return
        if time.monotonic() + delay > deadline:
            raise MigrationError(
                f"another process held the migration lock for more than {lock_wait:g}s"
            )
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 1.0)


def _run_alembic_upgrade(conn: psycopg.Connection[Any]) -> None:
    # Alembic runs on SQLAlchemy; hand it the very connection that holds the lock.
    from alembic import command
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    conn.execute(f"SET lock_timeout = '{MIGRATION_LOCK_TIMEOUT}'")
    conn.autocommit = False  # each migration runs in its own transaction
    engine = create_engine("postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool)
    config = _config()
    with engine.connect() as sa_conn:
        config.attributes["connection"] = sa_conn
        command.upgrade(config, "head")
        sa_conn.commit()
    conn.autocommit = True
