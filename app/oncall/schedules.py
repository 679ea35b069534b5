"""The `schedules` table: a schedule's row, its on-call notice channel, and the on-call set its
last notice announced (schedules.notice_state)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from app.oncall.rows import After, Conn, Row, one, update_by_id
from app.platform.sql_fragments import keyset_page

SCHEDULE_COLUMNS = (
    "id::text AS id, name, description, time_zone, team_id::text AS team_id, created_at, updated_at"
)


def create_schedule(
    conn: Conn, name: str, time_zone: str, description: str = "", team_id: str | None = None
) -> Row:
    row = one(
        conn.execute(
            "INSERT INTO schedules (name, time_zone, description, team_id) VALUES (%s, %s, %s, %s) "
            f"RETURNING {SCHEDULE_COLUMNS}",
            (name, time_zone, description, team_id),
        )
    )
    assert row is not None
    return row


def get_schedule(conn: Conn, schedule_id: str) -> Row | None:
    return one(
        conn.execute(f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = %s", (schedule_id,))
    )


def list_schedules(conn: Conn, after: After = None, limit: int = 50) -> list[Row]:
    return keyset_page(conn, SCHEDULE_COLUMNS, "schedules", after, limit)


def get_schedules(conn: Conn, schedule_ids: list[str]) -> dict[str, Row]:
    """Several schedules by id, in one query (missing ids are left out)."""
    rows = conn.execute(
        f"SELECT {SCHEDULE_COLUMNS} FROM schedules WHERE id = ANY(%s::uuid[])", (schedule_ids,)
    ).fetchall()
    return {row["id"]: dict(row) for row in rows}


def update_schedule(conn: Conn, schedule_id: str, changes: dict[str, Any]) -> Row | None:
    return update_by_id(conn, "schedules", SCHEDULE_COLUMNS, schedule_id, changes)


def delete_schedule(conn: Conn, schedule_id: str) -> bool:
    return conn.execute("DELETE FROM schedules WHERE id = %s", (schedule_id,)).rowcount > 0


# ---- the on-call notice channel and what its last notice said ----------------------------------


def notice_channels(conn: Conn, schedule_ids: list[str]) -> dict[str, str | None]:
    """schedule id -> its notice channel id (or None)."""
    rows = conn.execute(
        "SELECT id::text AS id, notice_channel_id::text AS channel_id FROM schedules "
        "WHERE id = ANY(%s::uuid[])",
        (schedule_ids,),
    ).fetchall()
    return {row["id"]: row["channel_id"] for row in rows}


def set_notice_channel(conn: Conn, schedule_id: str, channel_id: str | None) -> None:
    conn.execute(
        "UPDATE schedules SET notice_channel_id = %s, updated_at = now() WHERE id = %s",
        (channel_id, schedule_id),
    )


def store_notice_state(conn: Conn, schedule_id: str, state: list[str]) -> None:
    """Remember the on-call set the schedule's last notice announced (schedules.notice_state)."""
    conn.execute(
        "UPDATE schedules SET notice_state = %(state)s WHERE id = %(id)s",
        {"state": Jsonb(state), "id": schedule_id},
    )
