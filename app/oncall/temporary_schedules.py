"""The `temporary_schedules` table and its `temporary_schedule_shifts`: hand-made shifts that
replace a schedule's rules during a span."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.oncall.model import Shift, TemporarySchedule
from app.oncall.rows import After, Conn, Row, one
from app.platform.sql_fragments import keyset_page

TEMPORARY_COLUMNS = (
    "id::text AS id, schedule_id::text AS schedule_id, start_at AS start, end_at AS end, created_at"
)


def _shifts(conn: Conn, temporary_ids: Sequence[str]) -> dict[str, list[Row]]:
    rows = conn.execute(
        "SELECT temporary_schedule_id::text AS temporary_schedule_id, user_id::text AS user_id, "
        "start_at AS start, end_at AS end FROM temporary_schedule_shifts "
        "WHERE temporary_schedule_id = ANY(%s::uuid[]) ORDER BY start_at, user_id",
        (list(temporary_ids),),
    ).fetchall()
    found: dict[str, list[Row]] = {temporary_id: [] for temporary_id in temporary_ids}
    for row in rows:
        found[row["temporary_schedule_id"]].append(
            {"user_id": row["user_id"], "start": row["start"], "end": row["end"]}
        )
    return found


def _with_shifts(conn: Conn, rows: list[Row]) -> list[Row]:
    shifts = _shifts(conn, [row["id"] for row in rows])
    return [{**row, "shifts": shifts[row["id"]]} for row in rows]


def _insert_shifts(
    conn: Conn, temporary_id: str, start: datetime, end: datetime, shifts: Sequence[Row]
) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO temporary_schedule_shifts (temporary_schedule_id, span_start, span_end, "
            "user_id, start_at, end_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [(temporary_id, start, end, s["user_id"], s["start"], s["end"]) for s in shifts],
        )


def create_temporary_schedule(
    conn: Conn, schedule_id: str, start: datetime, end: datetime, shifts: Sequence[Row]
) -> Row:
    """A temporary schedule and its shifts (each {user_id, start, end}, within [start, end))."""
    row = one(
        conn.execute(
            "INSERT INTO temporary_schedules (schedule_id, start_at, end_at) VALUES (%s, %s, %s) "
            f"RETURNING {TEMPORARY_COLUMNS}",
            (schedule_id, start, end),
        )
    )
    assert row is not None
    _insert_shifts(conn, row["id"], start, end, shifts)
    return _with_shifts(conn, [row])[0]


def lock_temporary_schedule(conn: Conn, schedule_id: str, temporary_id: str) -> Row | None:
    """The temporary schedule with its shifts, locked for update (a PATCH merges into it)."""
    row = one(
        conn.execute(
            f"SELECT {TEMPORARY_COLUMNS} FROM temporary_schedules "
            "WHERE id = %s AND schedule_id = %s FOR UPDATE",
            (temporary_id, schedule_id),
        )
    )
    return _with_shifts(conn, [row])[0] if row else None


def update_temporary_schedule(
    conn: Conn,
    temporary_id: str,
    start: datetime,
    end: datetime,
    shifts: Sequence[Row] | None,
) -> Row:
    """Move the span to [start, end) and, if given, replace the shifts wholesale.

    Kept shifts follow the span through the ON UPDATE CASCADE key and its CHECK re-tests them;
    replaced ones are deleted first so that the old shifts never have to fit the new span.
    """
    if shifts is not None:
        conn.execute(
            "DELETE FROM temporary_schedule_shifts WHERE temporary_schedule_id = %s",
            (temporary_id,),
        )
    row = one(
        conn.execute(
            "UPDATE temporary_schedules SET start_at = %s, end_at = %s WHERE id = %s "
            f"RETURNING {TEMPORARY_COLUMNS}",
            (start, end, temporary_id),
        )
    )
    assert row is not None
    if shifts is not None:
        _insert_shifts(conn, temporary_id, start, end, shifts)
    return _with_shifts(conn, [row])[0]


def get_temporary_schedule(conn: Conn, schedule_id: str, temporary_id: str) -> Row | None:
    row = one(
        conn.execute(
            f"SELECT {TEMPORARY_COLUMNS} FROM temporary_schedules "
            "WHERE id = %s AND schedule_id = %s",
            (temporary_id, schedule_id),
        )
    )
    return _with_shifts(conn, [row])[0] if row else None


def list_temporary_schedules(
    conn: Conn, schedule_id: str, after: After = None, limit: int = 50
) -> list[Row]:
    rows = keyset_page(
        conn,
        TEMPORARY_COLUMNS,
        "temporary_schedules",
        after,
        limit,
        "schedule_id = %(schedule_id)s",
        schedule_id=schedule_id,
    )
    return _with_shifts(conn, [dict(row) for row in rows])


def delete_temporary_schedule(conn: Conn, schedule_id: str, temporary_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM temporary_schedules WHERE id = %s AND schedule_id = %s",
            (temporary_id, schedule_id),
        ).rowcount
        > 0
    )


def temporary_schedule_values(conn: Conn, schedule_id: str) -> tuple[TemporarySchedule, ...]:
    """All the schedule's temporary schedules as model values, by start; ties in the order they
    were made (compute keeps the given order, so the newer of two wins)."""
    rows = conn.execute(
        f"SELECT {TEMPORARY_COLUMNS} FROM temporary_schedules WHERE schedule_id = %s "
        "ORDER BY start_at, created_seq",
        (schedule_id,),
    ).fetchall()
    return tuple(_value(row) for row in _with_shifts(conn, [dict(row) for row in rows]))


def temporary_schedule_values_many(
    conn: Conn, schedule_ids: list[str]
) -> dict[str, tuple[TemporarySchedule, ...]]:
    """`temporary_schedule_values` of several schedules in two queries, by schedule id."""
    rows = conn.execute(
        f"SELECT schedule_id::text AS sid, {TEMPORARY_COLUMNS} FROM temporary_schedules "
        "WHERE schedule_id = ANY(%s::uuid[]) ORDER BY start_at, created_seq",
        (schedule_ids,),
    ).fetchall()
    found: dict[str, list[TemporarySchedule]] = {sid: [] for sid in schedule_ids}
    for row in _with_shifts(conn, [dict(row) for row in rows]) if rows else []:
        found[row["sid"]].append(_value(row))
    return {sid: tuple(values) for sid, values in found.items()}


def _value(row: Row) -> TemporarySchedule:
    shifts = tuple(Shift(s["start"], s["end"], s["user_id"]) for s in row["shifts"])
    return TemporarySchedule(start=row["start"], end=row["end"], shifts=shifts)
