"""Running an on-call computation for a request: loading the schedule with the rotations its
rules name, and what a schedule that cannot be computed answers (409, or nothing for one
schedule among many)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import psycopg
import structlog

from app.http.api.routing import NotFound
from app.oncall import compute, loading
from app.oncall import rotations as stored_rotations
from app.oncall.model import Schedule as ScheduleValue
from app.oncall.model import Shift as ShiftValue
from app.platform.errors import Conflict

log = structlog.get_logger(__name__)
T = TypeVar("T")


class NotComputable(Conflict):
    code = "schedule_not_computable"


def computed(work: Callable[..., T], *args: Any) -> T:
    """Run an on-call computation. The request was checked already, so its ValueError is about
    the stored schedule (e.g. a rotation lost its last participant): a 409, not a 422."""
    try:
        return work(*args)
    except ValueError as exc:
        raise NotComputable(f"the schedule cannot be computed: {exc}") from None


def shifts_or_none(
    schedule: ScheduleValue, rotations: dict[str, Any], start: datetime, end: datetime
) -> list[ShiftValue]:
    """The schedule's shifts, or none (logged) when it cannot be computed — e.g. a rotation of
    it lost its last participant: one broken schedule must not blank a user's whole feed."""
    try:
        return compute.schedule_shifts(schedule, rotations, start, end)
    except ValueError as exc:
        log.warning("oncall_schedule_skipped", schedule_id=schedule.id, reason=str(exc))
        return []


def load_for_computation(
    conn: psycopg.Connection[Any], schedule_id: UUID
) -> tuple[ScheduleValue, dict[str, Any]]:
    """The schedule as a model value, and the rotations its rules name."""
    value = loading.load_schedule(conn, str(schedule_id))
    if value is None:
        raise NotFound(f"no schedule with id {schedule_id}")
    return value, stored_rotations.load_rotations(conn, loading.rotation_ids_of(value))
