"""Why each final shift exists: the parts of a schedule's shifts that come from its rules, from
a temporary schedule, or from an override (add or replace), and the overrides that removed
someone — what a schedule's calendar tells apart (app.http.pages.schedule_calendar).

Pure, and built on app.oncall.compute itself, so the shifts are exactly the API's: the final
shifts are `schedule_shifts` of the whole schedule; a part of one is an override's when its
user was not on call there before the overrides were applied (the same computation without
them), else a temporary schedule's inside one's span, else a rule's.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from app.oncall import compute
from app.oncall.model import Override, Rotation, Schedule, Shift

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
    final = compute.schedule_shifts(schedule, rotations, start, end)
    before = compute.schedule_shifts(replace(schedule, overrides=()), rotations, start, end)
    planned: dict[str, list[Shift]] = {}
    for shift in before:
        planned.setdefault(shift.user_id, []).append(shift)
    return [SourcedShift(s, _parts(s, schedule, planned.get(s.user_id, []))) for s in final]


def removals(schedule: Schedule, start: datetime, end: datetime) -> list[Removal]:
    """The overrides taking someone off call that overlap [start, end), clipped, by start."""
    found = [
        Removal(max(o.start, start), min(o.end, end), o.remove_user_id, o.kind, o.add_user_id)
        for o in schedule.overrides
        if o.remove_user_id and o.start < end and o.end > start
    ]
    return sorted(found, key=lambda r: (r.start, r.user_id))


def _parts(shift: Shift, schedule: Schedule, planned: list[Shift]) -> tuple[Part, ...]:
    """The shift cut where its source may change, each piece labelled, like neighbours merged."""
    mine = [o for o in schedule.overrides if o.add_user_id == shift.user_id]
    edges = {shift.start, shift.end}
    spans = [(s.start, s.end) for s in planned]
    spans += [(t.start, t.end) for t in schedule.temporary_schedules]
    spans += [(o.start, o.end) for o in mine]
    for low, high in spans:
        edges |= {low, high}
    cuts = sorted(e for e in edges if shift.start <= e <= shift.end)
    parts: list[Part] = []
    for low, high in itertools.pairwise(cuts):
        source = _source(low, schedule, planned, mine)
        if parts and parts[-1].source == source:
            parts[-1] = Part(parts[-1].start, high, source)
        else:
            parts.append(Part(low, high, source))
    return tuple(parts)


def _source(at: datetime, schedule: Schedule, planned: list[Shift], mine: list[Override]) -> str:
    """Why the shift's user is on call from `at` (the start of a piece with one source)."""
    if not any(s.start <= at < s.end for s in planned):
        # The last override (in the order they apply) that put this user on at `at`.
        covering = [o for o in sorted(mine, key=lambda o: o.start) if o.start <= at < o.end]
        return covering[-1].kind if covering else "add"
    if any(t.start <= at < t.end for t in schedule.temporary_schedules):
        return "temporary"
    return "rule"
