"""The `schedule_overrides` table: a user added to, removed from or replacing another in a
schedule for a span."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.oncall.model import Override
from app.oncall.rows import After, Conn, Row, one
from app.platform.sql_fragments import keyset_page

OVERRIDE_COLUMNS = (
    "id::text AS id, schedule_id::text AS schedule_id, kind, add_user_id::text AS add_user_id, "
    "remove_user_id::text AS remove_user_id, start_at AS start, end_at AS end, created_at"
)


def create_override(conn: Conn, schedule_id: str, fields: dict[str, Any]) -> Row:
    row = one(
        conn.execute(
            "INSERT INTO schedule_overrides (schedule_id, kind, add_user_id, remove_user_id, "
            "start_at, end_at) VALUES (%(schedule_id)s, %(kind)s, %(add_user_id)s, "
            f"%(remove_user_id)s, %(start)s, %(end)s) RETURNING {OVERRIDE_COLUMNS}",
            {**fields, "schedule_id": schedule_id},
        )
    )
    assert row is not None
    return row


def get_override(conn: Conn, schedule_id: str, override_id: str) -> Row | None:
    return one(
        conn.execute(
            f"SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides WHERE id = %s AND schedule_id = %s",
            (override_id, schedule_id),
        )
    )


def list_overrides(conn: Conn, schedule_id: str, after: After = None, limit: int = 50) -> list[Row]:
    return keyset_page(
        conn,
        OVERRIDE_COLUMNS,
        "schedule_overrides",
        after,
        limit,
        "schedule_id = %(schedule_id)s",
        schedule_id=schedule_id,
    )


def update_override(
    conn: Conn, schedule_id: str, override_id: str, fields: dict[str, Any]
) -> Row | None:
    """Set the override's kind, users and span (all of them: the caller merged the change)."""
    return one(
        conn.execute(
            "UPDATE schedule_overrides SET kind = %(kind)s, add_user_id = %(add_user_id)s, "
            "remove_user_id = %(remove_user_id)s, start_at = %(start)s, end_at = %(end)s "
            "WHERE id = %(_id)s AND schedule_id = %(_schedule_id)s "
            f"RETURNING {OVERRIDE_COLUMNS}",
            {**fields, "_id": override_id, "_schedule_id": schedule_id},
        )
    )


def lock_override(conn: Conn, schedule_id: str, override_id: str) -> Row | None:
    """The override, locked for update (a PATCH merges its change into what is stored)."""
    return one(
        conn.execute(
            f"SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides "
            "WHERE id = %s AND schedule_id = %s FOR UPDATE",
            (override_id, schedule_id),
        )
    )


def delete_override(conn: Conn, schedule_id: str, override_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM schedule_overrides WHERE id = %s AND schedule_id = %s",
            (override_id, schedule_id),
        ).rowcount
        > 0
    )


def overrides_between(
    conn: Conn, schedule_id: str, start: datetime, end: datetime, limit: int
) -> tuple[list[Row], int]:
    """The schedule's overrides overlapping [start, end), by start (at most `limit`), and how
    many there are in all (a calendar lists those it shows)."""
    where = "schedule_id = %(s)s AND start_at < %(end)s AND end_at > %(start)s"
    args = {"s": schedule_id, "start": start, "end": end, "limit": limit}
    rows = conn.execute(
        f"SELECT {OVERRIDE_COLUMNS}, count(*) OVER () AS total FROM schedule_overrides "
        f"WHERE {where} ORDER BY start_at, created_seq LIMIT %(limit)s",
        args,
    ).fetchall()
    return [dict(row) for row in rows], (rows[0]["total"] if rows else 0)


def override_values(conn: Conn, schedule_id: str) -> tuple[Override, ...]:
    """All the schedule's overrides as model values, by start; ties in the order they were made
    (compute keeps the given order, so a later override acts on an earlier one)."""
    rows = conn.execute(
        f"SELECT {OVERRIDE_COLUMNS} FROM schedule_overrides WHERE schedule_id = %s "
        "ORDER BY start_at, created_seq",
        (schedule_id,),
    ).fetchall()
    return tuple(_value(row) for row in rows)


def override_values_many(conn: Conn, schedule_ids: list[str]) -> dict[str, tuple[Override, ...]]:
    """`override_values` of several schedules in one query, by schedule id."""
    rows = conn.execute(
        f"SELECT schedule_id::text AS sid, {OVERRIDE_COLUMNS} FROM schedule_overrides "
        "WHERE schedule_id = ANY(%s::uuid[]) ORDER BY start_at, created_seq",
        (schedule_ids,),
    ).fetchall()
    found: dict[str, list[Override]] = {sid: [] for sid in schedule_ids}
    for row in rows:
        found[row["sid"]].append(_value(row))
    return {sid: tuple(values) for sid, values in found.items()}


def _value(row: Row) -> Override:
    return Override(
        kind=row["kind"],
        start=row["start"],
        end=row["end"],
        add_user_id=row["add_user_id"],
        remove_user_id=row["remove_user_id"],
    )
