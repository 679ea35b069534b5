"""Who a schedule has on call: its shifts over a range, who is on call at an instant, and when a
user is next on call in any schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from app.http.api.parents import require_user
from app.http.api.routing import endpoint, transaction
from app.http.api.schedules.computation import computed, load_for_computation
from app.http.api.schedules.shared import ONE, TAG
from app.http.api.schemas.base import AtQuery, ErrorBody
from app.http.api.schemas.shifts import (
    NEXT_SHIFT_HORIZON,
    NextShift,
    RangeQuery,
    ScheduleOnCall,
    Shift,
    ShiftPage,
    UserNextShift,
)
from app.oncall import compute, user_shifts
from app.oncall.model import Shift as ShiftValue
from app.platform.errors import invalid

DEFAULT_SHIFTS_RANGE = timedelta(days=7)  # `GET …/shifts` without start/end: the next week


def _check_range(start: datetime, end: datetime) -> None:
    """A shifts query's range, as 422s naming `end` (the bound a client adjusts)."""
    if end <= start:
        raise invalid("end", "must be after start")
    if end - start > compute.MAX_RANGE:
        days = compute.MAX_RANGE.days
        raise invalid("end", f"must be at most {days} days after start; ask in pieces")


def _shift(shift: ShiftValue) -> Shift:
    return Shift(user_id=shift.user_id, start=shift.start, end=shift.end)


@endpoint(ONE + "/shifts", "GET", "read", TAG, HTTP_200=ShiftPage, HTTP_409=ErrorBody)
def list_shifts(schedule_id: UUID, query: RangeQuery) -> ShiftPage:
    """Who is on call during [start, end) (default: the next 7 days), sorted by start."""
    start = query.start or datetime.now(UTC)
    end = query.end or start + DEFAULT_SHIFTS_RANGE
    _check_range(start, end)
    with transaction() as conn:
        schedule, rotations = load_for_computation(conn, schedule_id)
    shifts = computed(compute.schedule_shifts, schedule, rotations, start, end)
    return ShiftPage(items=[_shift(s) for s in shifts], next_cursor=None, start=start, end=end)


@endpoint(ONE + "/on-call", "GET", "read", TAG, HTTP_200=ScheduleOnCall, HTTP_409=ErrorBody)
def schedule_on_call(schedule_id: UUID, query: AtQuery) -> ScheduleOnCall:
    """Who the schedule has on call now (or `at`)."""
    at = query.at or datetime.now(UTC)
    with transaction() as conn:
        schedule, rotations = load_for_computation(conn, schedule_id)
    users = computed(compute.on_call_now, schedule, rotations, at)
    return ScheduleOnCall(schedule_id=str(schedule_id), at=at, user_ids=sorted(users))


@endpoint("/users/<uuid:user_id>/on-call-next", "GET", "read", TAG, HTTP_200=UserNextShift)
def user_next_shift(user_id: UUID) -> UserNextShift:
    """When the user is next on call (their current shift if on call now), in any schedule."""
    now = datetime.now(UTC)
    with transaction() as conn:
        require_user(conn, user_id)
        shifts = user_shifts.user_shifts(conn, str(user_id), now, now + NEXT_SHIFT_HORIZON)
    if not shifts:
        return UserNextShift(user_id=str(user_id), shift=None)
    first = shifts[0]  # the earliest ending after now: a current shift comes first
    return UserNextShift(
        user_id=str(user_id),
        shift=NextShift(schedule_id=first.schedule_id, start=first.start, end=first.end),
    )
