"""The on-call model as plain values: what the computation in app.oncall.compute consumes.

All instants are timezone-aware datetimes; wall-clock fields (rule times, rotation handoffs)
are interpreted in the IANA zone named beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

ROTATION_TYPES = ("hourly", "daily", "weekly", "monthly")
OVERRIDE_KINDS = ("add", "remove", "replace")
TARGET_TYPES = ("user", "rotation")


@dataclass(frozen=True, order=True)
class Shift:
    """`user_id` is on call from `start` (inclusive) to `end` (exclusive)."""

    start: datetime
    end: datetime
    user_id: str


@dataclass(frozen=True)
class Rotation:
    id: str
    type: str  # one of ROTATION_TYPES
    shift_length: int  # units of `type` per shift, >= 1
    start: datetime  # aware; the first handoff; later handoffs keep its local wall-clock time
    time_zone: str  # IANA name
    participants: tuple[str, ...]  # user ids, in order; a user may appear more than once
    # Index into participants of who is on call at `start` (set by "set active"/"advance").
    start_index: int = 0


@dataclass(frozen=True)
class ScheduleRule:
    """On the given local weekdays, between local start and end times, `target` is on call.

    end < start wraps past midnight; end == start means all day.
    """

    target_type: str  # "user" | "rotation"
    target_id: str
    weekdays: frozenset[int] = frozenset(range(7))  # 0 = Monday
    start_time: time = time(0)
    end_time: time = time(0)


@dataclass(frozen=True)
class Override:
    """add: `add_user_id` also on call; remove: `remove_user_id` not on call; replace: the one
    instead of the other — during [start, end)."""

    kind: str  # one of OVERRIDE_KINDS
    start: datetime
    end: datetime
    add_user_id: str | None = None
    remove_user_id: str | None = None


@dataclass(frozen=True)
class TemporarySchedule:
    """During [start, end) these shifts fully replace the schedule's rules."""

    start: datetime
    end: datetime
    shifts: tuple[Shift, ...] = ()


@dataclass(frozen=True)
class Schedule:
    id: str
    time_zone: str
    rules: tuple[ScheduleRule, ...] = ()
    overrides: tuple[Override, ...] = ()
    temporary_schedules: tuple[TemporarySchedule, ...] = field(default_factory=tuple)
