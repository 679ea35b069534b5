"""A schedule's calendar as the page lays it out: which instants a week, a month or a list view
covers in the viewer's zone, and each shift cut into pieces at the viewer's local midnights.

Pure. Days are laid out by real local times: a day runs from one local midnight to the next, so
a daylight-saving day lasts 23 or 25 hours and a piece's hours are real hours. Local midnights
are resolved as app.oncall.compute resolves wall-clock times (a midnight inside a gap is the
gap's end), so the view's range is exactly the range it asks GET …/shifts for.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.oncall.compute import resolve
from app.oncall.shift_sources import Part, Removal, SourcedShift

VIEWS = ("week", "month", "list")
LIST_DAYS = 14  # the list view: shifts starting within this many days
LIST_LIMIT = 100  # … at most this many
MONTH_WEEKS = 6  # a month grid: at most six Monday-to-Sunday weeks
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Span:
    """What one view shows: its local days and the instants [start, end) they cover."""

    view: str
    anchor: date
    days: tuple[date, ...]
    start: datetime
    end: datetime
    previous: date
    following: date


@dataclass(frozen=True)
class Piece:
    """A part of a shift within one local day (what the calendar draws)."""

    shift: SourcedShift
    source: str
    start: datetime
    end: datetime
    from_text: str  # local HH:MM
    to_text: str  # local HH:MM, 24:00 at the day's end

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant (UTC) the local `day` starts."""
    return resolve(datetime.combine(day, time(0)), tz)


def span(view: str, anchor: date, tz: ZoneInfo) -> Span:
    """The days and instants `view` shows around `anchor`, with its previous and next anchors."""
    if view == "month":
        first = anchor.replace(day=1)
        grid_start = first - timedelta(days=first.weekday())
        following = _next_month(first)
        weeks = min(-(-((following - grid_start).days) // 7), MONTH_WEEKS)
        days = tuple(grid_start + n * _DAY for n in range(weeks * 7))
        previous = (first - _DAY).replace(day=1)
        return _span(view, first, days, tz, previous, following)
    if view == "list":
        days = tuple(anchor + n * _DAY for n in range(LIST_DAYS))
        return _span(view, anchor, days, tz, anchor - LIST_DAYS * _DAY, anchor + LIST_DAYS * _DAY)
    monday = anchor - timedelta(days=anchor.weekday())
    days = tuple(monday + n * _DAY for n in range(7))
    return _span(view, monday, days, tz, monday - _WEEK, monday + _WEEK)


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def _span(
    view: str, anchor: date, days: tuple[date, ...], tz: ZoneInfo, prev: date, nxt: date
) -> Span:
    return Span(view, anchor, days, midnight(days[0], tz), midnight(days[-1] + _DAY, tz), prev,
                nxt)  # fmt: skip


def by_day(
    shifts: Iterable[SourcedShift], days: tuple[date, ...], tz: ZoneInfo
) -> dict[date, list[Piece]]:
    """Every shift's parts cut at local midnights, by local day (each day's pieces by start)."""
    starts = [midnight(day, tz) for day in (*days, days[-1] + _DAY)]
    found: dict[date, list[Piece]] = {day: [] for day in days}
    clock = Clock(tz)
    for shift in shifts:
        for part in shift.parts:
            n = max(bisect_right(starts, part.start) - 1, 0)
            while n < len(days) and starts[n] < part.end:
                piece = _piece(shift, part, starts[n], starts[n + 1], clock)
                if piece is not None:
                    found[days[n]].append(piece)
                n += 1
    for pieces in found.values():
        pieces.sort(key=lambda p: (p.start, p.end, p.shift.shift.user_id))
    return found


def _piece(
    shift: SourcedShift, part: Part, low: datetime, high: datetime, clock: Clock
) -> Piece | None:
    start, end = max(part.start, low), min(part.end, high)
    if start >= end:
        return None
    return Piece(
        shift, part.source, start, end, clock[start], "24:00" if end == high else clock[end]
    )


def parts_of(shift: SourcedShift, tz: ZoneInfo) -> list[Piece]:
    """A shift's parts whole, not cut at midnights (the list view)."""
    return [
        Piece(shift, p.source, p.start, p.end, local_clock(p.start, tz), local_clock(p.end, tz))
        for p in shift.parts
    ]


class Clock(dict[datetime, str]):
    """local_clock in one zone, each instant converted once: a busy month's pieces share their
    edges (one shift ends where the next begins), and the zone conversion is the costly part."""

    def __init__(self, tz: ZoneInfo) -> None:
        super().__init__()
        self.tz = tz

    def __missing__(self, moment: datetime) -> str:
        text = self[moment] = local_clock(moment, self.tz)
        return text


def removals_by_day(
    removals: Iterable[Removal], days: tuple[date, ...], tz: ZoneInfo
) -> dict[date, list[Removal]]:
    """The removals overlapping each local day."""
    starts = [midnight(day, tz) for day in (*days, days[-1] + _DAY)]
    found: dict[date, list[Removal]] = {day: [] for day in days}
    for removal in removals:
        n = max(bisect_right(starts, removal.start) - 1, 0)
        while n < len(days) and starts[n] < removal.end:
            if removal.end > starts[n] and removal.start < starts[n + 1]:
                found[days[n]].append(removal)
            n += 1
    return found


def local_text(moment: datetime, tz: ZoneInfo) -> str:
    """`moment` in `tz` as "Sun 14 Mar 2027 00:00" (the page names the zone once)."""
    local = moment.astimezone(tz)
    return f"{local:%a %d %b %Y %H:%M}"


def local_clock(moment: datetime, tz: ZoneInfo) -> str:
    """HH:MM of `moment` in `tz`."""
    local = moment.astimezone(tz)
    return f"{local.hour:02d}:{local.minute:02d}"


def weeks(days: tuple[date, ...]) -> list[tuple[date, ...]]:
    """The days in rows of seven (a month grid)."""
    return [days[n : n + 7] for n in range(0, len(days), 7)]


def day_hours(day: date, tz: ZoneInfo) -> float:
    """How long the local `day` lasts, in hours (23 or 25 on a daylight-saving change)."""
    return (midnight(day + _DAY, tz) - midnight(day, tz)).total_seconds() / 3600


def parse_day(text: str | None, today: date) -> date | None:
    """A YYYY-MM-DD date (`today` when absent); None when it is not one or out of range."""
    if not text:
        return today
    if len(text) != 10:
        return None
    try:
        found = date.fromisoformat(text)
    except ValueError:
        return None
    return found if date(1971, 1, 1) <= found <= date(9998, 12, 1) else None
