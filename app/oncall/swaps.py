"""The `shift_swaps` table (its one writer): a person on call asks for cover for part or all of
a shift, someone takes it, or the person withdraws it.

A swap is open until taken or withdrawn; an open swap whose end has passed is *expired* — not
stored, read off the clock (`status_of`), so no job has to write it. Taking one creates a
**replace** override (requester -> taker) for the swap's span through app.oncall.overrides, and
marks the swap taken, in the caller's one transaction with the swap row locked: of two people
taking at once, the second waits for the lock, then finds it taken (409).

Who is told of each step is app.oncall.swap_notices' business.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.oncall import compute, loading, overrides
from app.oncall import rotations as stored_rotations
from app.oncall.rows import Conn, Row, one
from app.platform.errors import Conflict, NotFound, invalid

MAX_SPAN = timedelta(days=31)  # longest stretch one swap covers (the table's check says so too)
MAX_NOTE = 1000  # characters
MAX_LIST = 200  # swaps one list returns at most
STATUSES = ("open", "taken", "withdrawn", "expired")

SWAP_COLUMNS = (
    "s.id::text AS id, s.schedule_id::text AS schedule_id, s.requester_id::text AS requester_id, "
    "s.start_at AS start, s.end_at AS end, s.note, s.status, s.taken_by::text AS taken_by, "
    "s.override_id::text AS override_id, s.created_at, s.taken_at, s.withdrawn_at"
)


class NotOnCall(Conflict):
    code = "not_on_call"

    def __init__(self, message: str, since: datetime) -> None:
        super().__init__(message)
        self.since = since  # the first instant the requester is not on call


class SwapClosed(Conflict):
    code = "swap_not_open"


def status_of(row: Row, now: datetime) -> str:
    """open, taken, withdrawn, or expired (open, but its end has passed)."""
    if row["status"] == "open" and row["end"] <= now:
        return "expired"
    return str(row["status"])


def with_status(rows: list[Row], now: datetime) -> list[Row]:
    return [{**row, "status": status_of(row, now)} for row in rows]


# ---- asking ------------------------------------------------------------------------------------


def check_span(start: datetime, end: datetime, now: datetime) -> datetime:
    """The span's 422s naming the field; the start to store (a past start becomes now: cover is
    for the part of a shift still to come)."""
    if end <= start:
        raise invalid("end", "must be after start")
    if end <= now:
        raise invalid("end", "must be in the future")
    if end - start > MAX_SPAN:
        raise invalid("end", f"must be at most {MAX_SPAN.days} days after start")
    return max(start, now)


def uncovered(shifts: list[Any], user_id: str, start: datetime, end: datetime) -> datetime | None:
    """The first instant of [start, end) at which `user_id` has no shift; None: all covered."""
    reached = start
    for shift in sorted(s for s in shifts if s.user_id == user_id):
        if shift.start > reached:
            break
        reached = max(reached, shift.end)
        if reached >= end:
            return None
    return reached if reached < end else None


def require_on_call(
    conn: Conn, schedule_id: str, user_id: str, start: datetime, end: datetime
) -> None:
    """NotOnCall unless `user_id` is on call in the schedule for all of [start, end), by its
    final shifts (rules, overrides and temporary schedules: app.oncall.compute)."""
    schedule = loading.load_schedule(conn, schedule_id)
    if schedule is None:
        raise NotFound(f"no schedule with id {schedule_id}")
    rotations = stored_rotations.load_rotations(conn, loading.rotation_ids_of(schedule))
    try:
        shifts = compute.schedule_shifts(schedule, rotations, start, end)
    except ValueError as exc:
        raise Conflict(f"the schedule cannot be computed: {exc}") from None
    gap = uncovered(shifts, user_id, start, end)
    if gap is not None:
        raise NotOnCall(
            f"you are not on call in this schedule from {gap.isoformat()}: ask for cover only "
            "for a stretch you are on call for",
            gap,
        )


def request_swap(
    conn: Conn, schedule_id: str, requester_id: str, span: tuple[datetime, datetime], note: str,
    now: datetime,
) -> Row:  # fmt: skip
    """Ask for cover during `span`; the requester must be on call for all of it, and have no
    open swap overlapping it in this schedule (409 otherwise)."""
    start, end = span
    start = check_span(start, end, now)
    if len(note) > MAX_NOTE:
        raise invalid("note", f"must be at most {MAX_NOTE} characters")
    require_on_call(conn, schedule_id, requester_id, start, end)
    clash = conn.execute(
        "SELECT 1 FROM shift_swaps WHERE schedule_id = %s AND requester_id = %s "
        "AND status = 'open' AND start_at < %s AND end_at > %s LIMIT 1",
        (schedule_id, requester_id, end, start),
    ).fetchone()
    if clash is not None:
        raise Conflict("you already asked for cover during part of this stretch; withdraw that")
    row = one(
        conn.execute(
            "INSERT INTO shift_swaps AS s (schedule_id, requester_id, start_at, end_at, note) "
            f"VALUES (%s, %s, %s, %s, %s) RETURNING {SWAP_COLUMNS}",
            (schedule_id, requester_id, start, end, note),
        )
    )
    assert row is not None
    return {**row, "status": status_of(row, now)}


# ---- reading -----------------------------------------------------------------------------------


def get_swap(conn: Conn, schedule_id: str, swap_id: str) -> Row | None:
    return one(
        conn.execute(
            f"SELECT {SWAP_COLUMNS} FROM shift_swaps s WHERE s.id = %s AND s.schedule_id = %s",
            (swap_id, schedule_id),
        )
    )


def list_swaps(
    conn: Conn, schedule_id: str, now: datetime, limit: int = 50, status: str | None = None
) -> list[Row]:
    """A schedule's swaps: open ones first (soonest first), then the rest (newest first); at
    most `limit` (<= MAX_LIST), or only those of `status` (one of STATUSES)."""
    limit = min(limit, MAX_LIST)
    found: list[Row] = []
    if status in (None, "open"):
        found = _open(conn, "s.schedule_id = %(sid)s", {"sid": schedule_id}, now, limit)
    if status != "open" and len(found) < limit:
        where = {
            None: "NOT (s.status = 'open' AND s.end_at > %(now)s)",
            "taken": "s.status = 'taken'",
            "withdrawn": "s.status = 'withdrawn'",
            "expired": "s.status = 'open' AND s.end_at <= %(now)s",
        }[status]
        rows = conn.execute(
            f"SELECT {SWAP_COLUMNS} FROM shift_swaps s WHERE s.schedule_id = %(sid)s AND {where} "
            "ORDER BY s.created_at DESC, s.id LIMIT %(limit)s",
            {"sid": schedule_id, "now": now, "limit": limit - len(found)},
        ).fetchall()
        found += [dict(r) for r in rows]
    return with_status(found, now)


def open_swaps(conn: Conn, now: datetime, limit: int = 50) -> list[Row]:
    """Open swaps across every schedule, soonest first."""
    return with_status(_open(conn, "TRUE", {}, now, min(limit, MAX_LIST)), now)


def swaps_of(conn: Conn, user_id: str, now: datetime, limit: int = 50) -> list[Row]:
    """Swaps a user asked for or took, newest first."""
    rows = conn.execute(
        f"SELECT {SWAP_COLUMNS} FROM shift_swaps s WHERE s.requester_id = %(u)s "
        f"UNION SELECT {SWAP_COLUMNS} FROM shift_swaps s WHERE s.taken_by = %(u)s "
        "ORDER BY created_at DESC, id LIMIT %(limit)s",
        {"u": user_id, "limit": min(limit, MAX_LIST)},
    ).fetchall()
    return with_status([dict(r) for r in rows], now)


def _open(conn: Conn, where: str, params: dict[str, Any], now: datetime, limit: int) -> list[Row]:
    rows = conn.execute(
        f"SELECT {SWAP_COLUMNS} FROM shift_swaps s WHERE {where} AND s.status = 'open' "
        "AND s.end_at > %(now)s ORDER BY s.start_at, s.id LIMIT %(limit)s",
        {**params, "now": now, "limit": limit},
    ).fetchall()
    return [dict(r) for r in rows]


# ---- taking and withdrawing --------------------------------------------------------------------


def _lock(conn: Conn, schedule_id: str, swap_id: str, now: datetime) -> Row:
    """The swap, locked; 404 if there is none, 409 unless it is open."""
    row = one(
        conn.execute(
            f"SELECT {SWAP_COLUMNS} FROM shift_swaps s WHERE s.id = %s AND s.schedule_id = %s "
            "FOR UPDATE",
            (swap_id, schedule_id),
        )
    )
    if row is None:
        raise NotFound(f"no shift swap with id {swap_id} in schedule {schedule_id}")
    status = status_of(row, now)
    if status != "open":
        raise SwapClosed(f"this shift swap is {status}, no longer open")
    return row


def take_swap(conn: Conn, schedule_id: str, swap_id: str, taker_id: str, now: datetime) -> Row:
    """Take an open swap: a replace override (requester -> taker) for its span, and the swap
    marked taken — both in the caller's transaction, or neither."""
    swap = _lock(conn, schedule_id, swap_id, now)
    if swap["requester_id"] == taker_id:
        raise Conflict("you asked for this cover yourself: withdraw it instead")
    override = overrides.create_override(
        conn,
        schedule_id,
        {
            "kind": "replace",
            "add_user_id": taker_id,
            "remove_user_id": swap["requester_id"],
            "start": swap["start"],
            "end": swap["end"],
        },
    )
    row = one(
        conn.execute(
            "UPDATE shift_swaps AS s SET status = 'taken', taken_by = %s, taken_at = now(), "
            f"override_id = %s WHERE s.id = %s RETURNING {SWAP_COLUMNS}",
            (taker_id, override["id"], swap_id),
        )
    )
    assert row is not None  # locked above
    return row


def withdraw_swap(conn: Conn, schedule_id: str, swap_id: str, now: datetime) -> Row:
    """Withdraw an open swap (who may is the caller's rule: its requester, or TEAM)."""
    _lock(conn, schedule_id, swap_id, now)
    row = one(
        conn.execute(
            "UPDATE shift_swaps AS s SET status = 'withdrawn', withdrawn_at = now() "
            f"WHERE s.id = %s RETURNING {SWAP_COLUMNS}",
            (swap_id,),
        )
    )
    assert row is not None
    return row
