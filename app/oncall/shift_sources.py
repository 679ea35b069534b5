"""Why each final shift exists: the parts of a schedule's shifts that come from its rules, from
a temporary schedule, or from an override (add or replace), and the overrides that removed
someone — what a schedule's calendar tells apart (app.http.pages.schedule_calendar).

Pure, and built on app.oncall.compute itself, so the shifts are exactly the API's: the final
shifts are `schedule_shifts`' (compute.schedule_layers); a part of one is an override's when its
user was not on call there before the overrides were applied (the same computation's earlier
layer), else a temporary schedule's inside one's span, else a rule's.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from app.oncall import compute
from app.oncall.model import Rotation, Schedule, Shift

Span = tuple[datetime, datetime]
Add = tuple[datetime, datetime, str]  # an override putting someone on call: start, end, kind
SOURCES = ("rule", "temporary", "add", "replace")  # a part's source; add/replace: overrides


@dataclass(frozen=True)
class Part:
    """A stretch of a shift with one source (one of SOURCES)."""

    start: datetime
    end: datetime
    source: str


@dataclass(frozen=True)
class SourcedShift:
    """A final shift (as GET …/shifts answers it) and its parts, in order, covering it."""

    shift: Shift
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Removal:
    """An override taking `user_id` off call during [start, end) (clipped to the range)."""

    start: datetime
    end: datetime
    user_id: str
    kind: str  # "remove" or "replace"
    by_user_id: str | None  # who replaces them


def sourced_shifts(
    schedule: Schedule, rotations: Mapping[str, Rotation], start: datetime, end: datetime
) -> list[SourcedShift]:
    """The schedule's shifts over [start, end) (compute.schedule_shifts), each with its parts."""
    before, final = compute.schedule_layers(schedule, rotations, start, end)
    planned: dict[str, list[Shift]] = {}
    for shift in before:  # per user sorted by start and disjoint (merged): their ends sort too
        planned.setdefault(shift.user_id, []).append(shift)
    starts = {user: [s.start for s in shifts] for user, shifts in planned.items()}
    ends = {user: [s.end for s in shifts] for user, shifts in planned.items()}
    adding: dict[str, list[Add]] = {}
    for override in sorted(schedule.overrides, key=lambda o: o.start):  # the order they apply
        if override.add_user_id and override.start < end and override.end > start:
            # In UTC, as the shifts are: comparing instants of one tzinfo is the cheap kind.
            utc = (override.start.astimezone(UTC), override.end.astimezone(UTC), override.kind)
            adding.setdefault(override.add_user_id, []).append(utc)
    temporaries = [
        (t.start.astimezone(UTC), t.end.astimezone(UTC)) for t in schedule.temporary_schedules
    ]
    found = []
    for shift in final:
        user = shift.user_id
        first = bisect_right(ends.get(user, []), shift.start)
        last = bisect_left(starts.get(user, []), shift.end, lo=first)
        near = planned.get(user, [])[first:last]
        adds = [a for a in adding.get(user, []) if a[0] < shift.end and a[1] > shift.start]
        found.append(SourcedShift(shift, _parts(shift, near, temporaries, adds)))
    return found


def removals(schedule: Schedule, start: datetime, end: datetime) -> list[Removal]:
    """The overrides taking someone off call that overlap [start, end), clipped, by start."""
    found = [
        Removal(max(o.start, start), min(o.end, end), o.remove_user_id, o.kind, o.add_user_id)
        for o in schedule.overrides
        if o.remove_user_id and o.start < end and o.end > start
    ]
    return sorted(found, key=lambda r: (r.start, r.user_id))


def _parts(
    shift: Shift, planned: list[Shift], temporaries: list[Span], adds: list[Add]
) -> tuple[Part, ...]:
    """The shift cut where its source may change, each piece labelled, like neighbours merged.
    `planned`: its user's shifts before overrides that overlap it; `adds`: the overrides
    putting its user on call that overlap it, in the order they apply."""
    low, high = shift.start, shift.end
    if not adds and planned and planned[0].start <= low and planned[0].end >= high:
        # Most shifts: the rules had this user on call for all of it and no override put them
        # there. Its one source is a temporary schedule's if one spans it, else the rules'
        # (a temporary edge inside it cuts it: the general case below).
        inside = [t for t in temporaries if t[0] < high and t[1] > low]
        if not inside:
            return (Part(low, high, "rule"),)
        if len(inside) == 1 and inside[0][0] <= low and inside[0][1] >= high:
            return (Part(low, high, "temporary"),)
    edges = {low, high}
    for span in [*((s.start, s.end) for s in planned), *temporaries, *((a[0], a[1]) for a in adds)]:
        edges.update(span)
    cuts = sorted(e for e in edges if low <= e <= high)
    parts: list[Part] = []
    for begin, finish in itertools.pairwise(cuts):
        source = _source(begin, planned, temporaries, adds)
        if parts and parts[-1].source == source:
            parts[-1] = Part(parts[-1].start, finish, source)
        else:
            parts.append(Part(begin, finish, source))
    return tuple(parts)


def _source(at: datetime, planned: list[Shift], temporaries: list[Span], adds: list[Add]) -> str:
    """Why the shift's user is on call from `at` (the start of a piece with one source)."""
    if not any(s.start <= at < s.end for s in planned):
        # The last override (in the order they apply) that put this user on at `at`.
        covering = [a for a in adds if a[0] <= at < a[1]]
        return covering[-1][2] if covering else "add"
    if any(begin <= at < finish for begin, finish in temporaries):
        return "temporary"
    return "rule"
