"""Migrations under the advisory lock: concurrent starters, newer databases, check mode."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from app.platform import migrate, postgres


def test_concurrent_upgrades_all_succeed_and_apply_once(empty_database_url):
    with ThreadPoolExecutor(max_workers=4) as pool:
        states = list(pool.map(lambda _: migrate.upgrade(empty_database_url, 5, 20), range(4)))
    assert all(state.at_head for state in states)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM installation").fetchone() == (1,)


def test_a_database_newer_than_the_code_is_refused(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    with pytest.raises(migrate.MigrationError, match="newer than this code"):
        migrate.upgrade(database_url, 5, 5)


def test_schema_state_reports_an_unmigrated_database(empty_database_url):
    conn = postgres.connect(empty_database_url, 5)
    try:
        state = migrate.schema_state(conn, 5)
    finally:
        conn.close()
    assert state.current is None and not state.at_head and state.known
    assert "run `klaxon migrate`" in migrate.describe(state)


def test_lock_wait_is_bounded_when_another_process_holds_the_lock(empty_database_url):
    with psycopg.connect(empty_database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrate.MIGRATE_LOCK_KEY,))
        with pytest.raises(
            migrate.MigrationError, match=r"held the migration lock for more than 0\.5s"
        ):
            migrate.upgrade(empty_database_url, 5, 0.5)
