"""On-call notices: whether a schedule's on-call set changed, and when it next may. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from app.oncall.model import Shift


def state_of(users: Iterable[str]) -> list[str]:
    """The stored form of an on-call set (schedules.notice_state): sorted user ids."""
    return sorted(set(users))


def announced(notice_state: Any) -> list[str] | None:
    """The set the last notice announced, or None before the first look (nothing stored)."""
    if notice_state is None:
        return None
    return state_of(str(user) for user in notice_state)


def next_boundary(shifts: Sequence[Shift], now: datetime, horizon: datetime) -> datetime | None:
    """The soonest shift start or end after `now` and before `horizon` (the end of the computed
    range, where shifts are clipped rather than really ending)."""
    edges = [t for shift in shifts for t in (shift.start, shift.end) if now < t < horizon]
    return min(edges, default=None)


def seconds_to(when: datetime | None, now: datetime, cap: timedelta) -> float:
    """Seconds from `now` until `when`, at most `cap` (also when there is no `when`)."""
    if when is None:
        return cap.total_seconds()
    return max(0.0, min((when - now).total_seconds(), cap.total_seconds()))
