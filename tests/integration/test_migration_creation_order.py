"""Migration 0005_oncall_order: overrides and temporary schedules get a creation sequence; rows
made before it are numbered in the order they were made, and rows made after it follow them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from alembic import command
from psycopg.rows import dict_row
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from app.platform import migrate

REVISION = "0005_oncall_order"


@pytest.fixture
def migrate_to(empty_database_url: str) -> Iterator[Any]:
    """migrate_to(revision): upgrade or downgrade the empty database to that revision."""
    conn = psycopg.connect(empty_database_url)
    engine = create_engine("postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool)

    def to(revision: str, down: bool = False) -> None:
        config = migrate._config()
        with engine.connect() as sa_conn:
            config.attributes["connection"] = sa_conn
            (command.downgrade if down else command.upgrade)(config, revision)
            sa_conn.commit()

    yield to
    engine.dispose()
    conn.close()


def test_existing_rows_are_numbered_by_creation_and_new_ones_follow(migrate_to, empty_database_url):
    migrate_to("0004")
    with psycopg.connect(empty_database_url, autocommit=True, row_factory=dict_row) as conn:
        schedule = conn.execute(
            "INSERT INTO schedules (name, time_zone) VALUES ('s', 'UTC') RETURNING id"
        ).fetchone()["id"]
        user = conn.execute(
            "INSERT INTO users (name, email) VALUES ('a', 'a@example.com') RETURNING id"
        ).fetchone()["id"]
        # Made in the reverse of their created_at order, so the uuid or insertion order can't pass.
        for ago in (1, 3, 2):
            conn.execute(
                "INSERT INTO temporary_schedules (schedule_id, start_at, end_at, created_at) "
                "VALUES (%s, now(), now() + interval '1 day', now() - make_interval(hours => %s))",
                (schedule, ago),
            )
            conn.execute(
                "INSERT INTO schedule_overrides (schedule_id, kind, add_user_id, start_at, end_at, "
                "created_at) VALUES (%s, 'add', %s, now(), now() + interval '1 day', "
                "now() - make_interval(hours => %s))",
                (schedule, user, ago),
            )
    migrate_to(REVISION)
    with psycopg.connect(empty_database_url, autocommit=True, row_factory=dict_row) as conn:
        for table, insert in (
            ("temporary_schedules", "(schedule_id, start_at, end_at) VALUES (%s, now(), now() + "
             "interval '1 day')"),
            ("schedule_overrides", "(schedule_id, kind, add_user_id, start_at, end_at) VALUES "
             "(%s, 'add', %s, now(), now() + interval '1 day')"),
        ):  # fmt: skip
            params = (schedule,) if table == "temporary_schedules" else (schedule, user)
            conn.execute(f"INSERT INTO {table} {insert}", params)
            rows = conn.execute(
                f"SELECT created_seq, created_at FROM {table} ORDER BY created_seq"
            ).fetchall()
            assert [row["created_seq"] for row in rows] == [1, 2, 3, 4]
            times = [row["created_at"] for row in rows]
            assert times == sorted(times), table
            with pytest.raises(psycopg.errors.GeneratedAlways):
                conn.execute(f"UPDATE {table} SET created_seq = 99")

    migrate_to("0004", down=True)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'created_seq'"
        ).fetchone()
        assert columns == (0,)
    migrate_to(REVISION)
