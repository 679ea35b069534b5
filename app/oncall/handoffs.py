"""A rotation's outlook: who it has on call now (since and until when) and its next handoffs,
read from app.oncall.compute's rotation shifts, so the times are the computation's own
(correct across daylight-saving changes), never worked out again by hand.

The look-ahead is bounded by compute.MAX_RANGE: a rotation whose shifts last longer than that
(a 1000-month shift) shows the handoffs that fall inside it, and an unknown "until".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from app.oncall import compute
from app.oncall.model import Rotation

NEXT_HANDOFFS = 10  # handoffs a rotation's page lists
# A shift's longest wall-clock span per unit of its type, with room for a DST change.
_UNIT = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=31),
}
_DST_SLACK = timedelta(hours=2)
_LOOK_BACK_CAP = timedelta(days=366)  # the rest of MAX_RANGE is for looking ahead


@dataclass(frozen=True)
class Handoff:
    """At `at`, `user_id` (the participant at `position`) comes on call."""

    at: datetime
    user_id: str
    position: int


@dataclass(frozen=True)
class Outlook:
    """Who is on call at `now` (None: nobody, before the rotation starts), since and until
    when (None: beyond what was looked at), and the next handoffs after `now`."""

    now: datetime
    on_call: str | None
    position: int | None  # of `on_call` in the participants (a person may hold two)
    since: datetime | None
    until: datetime | None
    handoffs: tuple[Handoff, ...]


def longest_shift(rotation: Rotation) -> timedelta:
    """An upper bound of one shift's length (a DST change makes a day 25 hours)."""
    return rotation.shift_length * _UNIT[rotation.type] + _DST_SLACK


def outlook(rotation: Rotation, now: datetime, count: int = NEXT_HANDOFFS) -> Outlook:
    """The rotation's current shift and its next `count` handoffs after `now` (a rotation
    without participants has neither)."""
    if not rotation.participants:
        return Outlook(now, None, None, None, None, ())
    span = longest_shift(rotation)
    back = min(span, _LOOK_BACK_CAP)
    begin = now - back
    ahead = max(now, rotation.start)  # a rotation yet to start: from its start
    end = min(ahead + span * (count + 1), begin + compute.MAX_RANGE)
    positioned = by_position(rotation)
    shifts = compute.rotation_shifts(positioned, begin, end)
    current = next((s for s in shifts if s.start <= now < s.end), None)
    handoffs = tuple(
        Handoff(s.start, rotation.participants[int(s.user_id)], int(s.user_id))
        for s in shifts
        if s.start > now
    )[:count]
    if current is None:
        return Outlook(now, None, None, None, None, handoffs)
    clipped_start = current.start == begin and begin > rotation.start
    return Outlook(
        now=now,
        on_call=rotation.participants[int(current.user_id)],
        position=int(current.user_id),
        since=None if clipped_start else current.start,
        until=None if current.end == end else current.end,
        handoffs=handoffs,
    )


def position_at(rotation: Rotation, at: datetime) -> int | None:
    """Which position is on call at `at` (None before the rotation starts)."""
    on_call = compute.rotation_on_call_at(by_position(rotation), at)
    return None if on_call is None else int(on_call)


def by_position(rotation: Rotation) -> Rotation:
    """The rotation with positions ("0", "1", …) for users: a user may appear twice, and a
    turn is a position, not just a person."""
    return replace(rotation, participants=tuple(str(i) for i in range(len(rotation.participants))))
