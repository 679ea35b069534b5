"""A user's shifts in every schedule that could put them on call, over a window: what
`GET /api/v1/users/<id>/on-call-next` answers from (the earliest) and the web app's on-call
page shows (the current ones and the next)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from app.oncall import compute, loading
from app.oncall.rotations import load_rotations
from app.oncall.rows import Conn

log = structlog.get_logger(__name__)


@dataclass(frozen=True, order=True)
class UserShift:
    start: datetime
    end: datetime
    schedule_id: str


def user_shifts(conn: Conn, user_id: str, start: datetime, end: datetime) -> list[UserShift]:
    """The user's shifts overlapping [start, end) in any schedule, by (start, end, schedule).
    A schedule that cannot be computed (a rotation lost its last participant) is skipped and
    logged: one broken schedule must not blank a user's whole answer."""
    found: list[UserShift] = []
    for schedule_id in loading.schedule_ids_for_user(conn, user_id):
        schedule = loading.load_schedule(conn, schedule_id)
        if schedule is None:
            continue
        rotations = load_rotations(conn, loading.rotation_ids_of(schedule))
        try:
            shifts = compute.schedule_shifts(schedule, rotations, start, end)
        except ValueError as exc:
            log.warning("oncall_schedule_skipped", schedule_id=schedule_id, reason=str(exc))
            continue
        found.extend(UserShift(s.start, s.end, schedule_id) for s in shifts if s.user_id == user_id)
    return sorted(found)


def current_and_next(
    shifts: list[UserShift], now: datetime
) -> tuple[list[UserShift], UserShift | None]:
    """The shifts going on at `now`, and the first one starting after it."""
    current = [s for s in shifts if s.start <= now < s.end]
    later = [s for s in shifts if s.start > now]
    return current, (later[0] if later else None)
