"""Who is on call when: rotation handoffs, schedule rules, temporary schedules and overrides.

Pure (no I/O) and zoneinfo-based. Every instant returned is an aware datetime in UTC.

Decisions, each a place where on-call tools have been wrong before:

- Wall-clock times that do not exist (a DST gap, e.g. 02:30 on a spring-forward day) resolve
  to the instant the gap ends (03:00 local). This keeps the local-to-instant mapping monotone,
  so a rule window or a shift never ends before it starts.
- Wall-clock times that exist twice (an overlap, e.g. 01:30 on a fall-back day) resolve to the
  first occurrence (fold=0).
- Daily, weekly and monthly rotations hand off at the local wall-clock time of
  `rotation.start`, whatever the UTC offset, so a shift spanning a DST change lasts 23 h or
  25 h. Hourly rotations step in absolute hours (a 12-hour rotation drifts by an hour of local
  time across a DST change, but every shift lasts exactly 12 h).
- Monthly rotations hand off on the local day-of-month of `rotation.start`; a month without
  that day hands off on its last day (Jan 31 -> Feb 28/29 -> Mar 31: each month is clamped
  from the anchor day, not from the previous handoff).
- A rotation covers nothing before `rotation.start`.
- A rule's weekday is the day its window starts: Friday 22:00-06:00 runs from Friday 22:00 to
  Saturday 06:00 (as in GoAlert). end == start means a 24-hour day from that time.
- Temporary schedules are applied in order of start (ties: in the given order, which
  app.oncall.loading makes the order of creation, so the newest of two tied ones wins, as in
  GoAlert); each one replaces everything inside its span, including an earlier temporary
  schedule's shifts.
- Overrides are applied after temporary schedules, in order of start (ties: in the given
  order, the order of creation). Overlapping overrides are allowed: each one acts on the result
  of those before it, so an "add" of a user followed by an overlapping "remove" of the same user
  leaves that user off for the overlap. "remove" and "replace" act only where the removed
  user is on call.
- Adjacent or overlapping shifts of one user are merged; the output is sorted by
  (start, user_id) and clipped to the requested range.
- A query range may be at most MAX_RANGE long; longer ones raise ValueError.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from math import ceil, floor
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.oncall.model import (
    OVERRIDE_KINDS,
    ROTATION_TYPES,
    TARGET_TYPES,
    Override,
    Rotation,
    Schedule,
    ScheduleRule,
    Shift,
    TemporarySchedule,
)

# Longest range one query may cover: two years (731 days) plus a day of slack for zones. A
# year of shifts is what calendars and the API ask for; a 100-year query is a mistake or abuse.
MAX_RANGE = timedelta(days=732)
# Window for "who is on call now": one microsecond, the resolution of datetime.
_INSTANT = timedelta(microseconds=1)
_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)

Interval = tuple[datetime, datetime]


# ------------------------------------------------------------------------------- validation


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError naming it when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/London'"
        ) from exc


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def check_range(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The range [start, end) in UTC; ValueError when empty, reversed or over MAX_RANGE."""
    start, end = _utc(start, "range start"), _utc(end, "range end")
    if end <= start:
        raise ValueError(f"range end {end.isoformat()} must be after start {start.isoformat()}")
    if end - start > MAX_RANGE:
        raise ValueError(
            f"range of {(end - start).days} days is longer than the maximum of "
            f"{MAX_RANGE.days} days (MAX_RANGE); query it in pieces"
        )
    return start, end


def check_rotation(rotation: Rotation) -> None:
    """ValueError saying what is wrong with `rotation`, if anything."""
    if rotation.type not in ROTATION_TYPES:
        raise ValueError(
            f"rotation {rotation.id}: type {rotation.type!r} is not one of {ROTATION_TYPES}"
        )
    if rotation.shift_length < 1:
        raise ValueError(f"rotation {rotation.id}: shift_length must be >= 1")
    if not rotation.participants:
        raise ValueError(f"rotation {rotation.id} has no participants: add at least one user")
    if not 0 <= rotation.start_index < len(rotation.participants):
        raise ValueError(
            f"rotation {rotation.id}: start_index {rotation.start_index} is outside its "
            f"{len(rotation.participants)} participants"
        )
    zone(rotation.time_zone)
    _utc(rotation.start, f"rotation {rotation.id} start")


def check_override(override: Override) -> None:
    """ValueError saying what is wrong with `override`, if anything."""
    if override.kind not in OVERRIDE_KINDS:
        raise ValueError(f"override kind {override.kind!r} is not one of {OVERRIDE_KINDS}")
    start, end = _utc(override.start, "override start"), _utc(override.end, "override end")
    if end <= start:
        raise ValueError(
            f"override end {end.isoformat()} must be after its start {start.isoformat()}"
        )
    if override.kind in ("add", "replace") and not override.add_user_id:
        raise ValueError(f"a {override.kind!r} override needs add_user_id")
    if override.kind in ("remove", "replace") and not override.remove_user_id:
        raise ValueError(f"a {override.kind!r} override needs remove_user_id")


def check_temporary_schedule(temporary: TemporarySchedule) -> None:
    """ValueError when the temporary schedule's span is empty or reversed."""
    start = _utc(temporary.start, "temporary schedule start")
    end = _utc(temporary.end, "temporary schedule end")
    if end <= start:
        raise ValueError(
            f"temporary schedule end {end.isoformat()} must be after its start {start.isoformat()}"
        )
    for shift in temporary.shifts:
        _utc(shift.start, "temporary schedule shift start")
        _utc(shift.end, "temporary schedule shift end")


def check_rule(rule: ScheduleRule, rotations: Mapping[str, Rotation]) -> None:
    """ValueError when the rule's target type is unknown or its rotation is missing."""
    if rule.target_type not in TARGET_TYPES:
        raise ValueError(f"rule target type {rule.target_type!r} is not one of {TARGET_TYPES}")
    if rule.target_type == "rotation":
        if rule.target_id not in rotations:
            raise ValueError(f"rule targets rotation {rule.target_id!r}, which was not given")
        check_rotation(rotations[rule.target_id])
    if not rule.weekdays <= frozenset(range(7)):
        raise ValueError(f"rule weekdays {sorted(rule.weekdays)} must be within 0..6")


def check_schedule(schedule: Schedule, rotations: Mapping[str, Rotation]) -> None:
    """ValueError saying what is wrong with `schedule` (or a rotation it uses), if anything."""
    zone(schedule.time_zone)
    for rule in schedule.rules:
        check_rule(rule, rotations)
    for temporary in schedule.temporary_schedules:
        check_temporary_schedule(temporary)
    for override in schedule.overrides:
        check_override(override)


# ------------------------------------------------------------------------- wall-clock times


def resolve(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of naive wall-clock `local` in `tz`: gap -> its end, overlap -> first."""
    first = local.replace(tzinfo=tz)
    offset = first.utcoffset()
    second = local.replace(tzinfo=tz, fold=1).utcoffset()
    assert offset is not None and second is not None
    if offset >= second:  # unambiguous (equal) or an overlap (fold=0 is the first occurrence)
        return (local - offset).replace(tzinfo=UTC)
    return _gap_end(local, offset, second, tz)


def _gap_end(local: datetime, before: timedelta, after: timedelta, tz: ZoneInfo) -> datetime:
    """The transition instant ending the gap that swallows `local` (binary search, seconds)."""
    low = floor((local - after).replace(tzinfo=UTC).timestamp())  # before the transition
    high = ceil((local - before).replace(tzinfo=UTC).timestamp())  # at or after it
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _add_months(local: datetime, months: int) -> datetime:
    """`local` moved by `months`, its day clamped to the target month's last day."""
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    next_first = date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_first - _DAY).day
    return local.replace(year=year, month=month, day=min(local.day, last_day))


# -------------------------------------------------------------------------------- rotations


class _Handoffs:
    """Handoff instants of one rotation, by index (0 = rotation.start)."""

    def __init__(self, rotation: Rotation) -> None:
        check_rotation(rotation)
        self.rotation = rotation
        self.tz = zone(rotation.time_zone)
        self.start = rotation.start.astimezone(UTC)
        self.anchor = _local(self.start, self.tz)
        n = rotation.shift_length
        self.step = {"hourly": n * _HOUR, "daily": n * _DAY, "weekly": 7 * n * _DAY}.get(
            rotation.type, timedelta(0)
        )

    def at(self, k: int) -> datetime:
        """The k-th handoff instant."""
        if k == 0:
            return self.start
        kind = self.rotation.type
        if kind == "hourly":
            return self.start + k * self.step
        if kind == "monthly":
            local = _add_months(self.anchor, k * self.rotation.shift_length)
            return resolve(local, self.tz)
        return resolve(self.anchor + k * self.step, self.tz)

    def index(self, instant: datetime) -> int:
        """The index k of the shift containing `instant` (at(k) <= instant < at(k + 1))."""
        kind = self.rotation.type
        if kind == "hourly":
            return (instant - self.start) // self.step
        local = _local(instant, self.tz)
        if kind == "monthly":
            months = (local.year - self.anchor.year) * 12 + local.month - self.anchor.month
            k = months // self.rotation.shift_length
        else:
            k = (local - self.anchor) // self.step
        while self.at(k) > instant:
            k -= 1
        while self.at(k + 1) <= instant:
            k += 1
        return k

    def user(self, k: int) -> str:
        participants = self.rotation.participants
        return participants[(self.rotation.start_index + k) % len(participants)]

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """Shifts overlapping [start, end), clipped to it; nothing before rotation.start."""
        if end <= self.start:
            return []
        k = max(self.index(max(start, self.start)), 0)
        shifts = []
        begin = self.at(k)
        while begin < end:
            finish = self.at(k + 1)
            shifts.append(Shift(max(begin, start), min(finish, end), self.user(k)))
            k, begin = k + 1, finish
        return shifts

    def user_at(self, instant: datetime) -> str | None:
        """Who this rotation has on call at `instant` (None before it starts)."""
        if instant < self.start:
            return None
        return self.user(self.index(instant))


def rotation_shifts(rotation: Rotation, start: datetime, end: datetime) -> list[Shift]:
    """One shift per handoff of `rotation` overlapping [start, end), clipped to it (UTC).

    Jumps straight to the shift containing `start`: the cost is the number of shifts returned,
    not the rotation's age. Consecutive shifts of one user are not merged here.
    """
    start, end = check_range(start, end)
    return _Handoffs(rotation).shifts(start, end)


# ---------------------------------------------------------------------------- rule windows


def _rule_windows(
    rule: ScheduleRule, tz: ZoneInfo, start: datetime, end: datetime
) -> list[Interval]:
    """The rule's active windows overlapping [start, end), merged, as UTC instants."""
    wraps = rule.end_time <= rule.start_time
    first = _local(start, tz).date() - _DAY
    last = _local(end, tz).date()
    windows: list[Interval] = []
    day = first
    while day <= last:
        if day.weekday() in rule.weekdays:
            begin = resolve(datetime.combine(day, rule.start_time), tz)
            finish = resolve(datetime.combine(day + _DAY if wraps else day, rule.end_time), tz)
            if finish > start and begin < end and begin < finish:
                if windows and begin <= windows[-1][1]:
                    windows[-1] = (windows[-1][0], max(finish, windows[-1][1]))
                else:
                    windows.append((begin, finish))
        day += _DAY
    return windows


def _rule_active_at(rule: ScheduleRule, tz: ZoneInfo, instant: datetime) -> bool:
    today = _local(instant, tz).date()
    wraps = rule.end_time <= rule.start_time
    for day in (today - _DAY, today):
        if day.weekday() not in rule.weekdays:
            continue
        begin = resolve(datetime.combine(day, rule.start_time), tz)
        finish = resolve(datetime.combine(day + _DAY if wraps else day, rule.end_time), tz)
        if begin <= instant < finish:
            return True
    return False


def _intersect(shifts: Sequence[Shift], windows: Sequence[Interval]) -> Iterable[Shift]:
    """Parts of sorted, disjoint `shifts` inside sorted, disjoint `windows` (a merge sweep)."""
    i = j = 0
    while i < len(shifts) and j < len(windows):
        shift, (begin, finish) = shifts[i], windows[j]
        low, high = max(shift.start, begin), min(shift.end, finish)
        if low < high:
            yield Shift(low, high, shift.user_id)
        if shift.end <= finish:
            i += 1
        else:
            j += 1


# ---------------------------------------------------------------------- per-user intervals


def _end(interval: Interval) -> datetime:
    return interval[1]


def _begin(interval: Interval) -> datetime:
    return interval[0]


def _add(intervals: list[Interval], begin: datetime, finish: datetime) -> None:
    """Add [begin, finish) to sorted, disjoint, non-touching `intervals`, merging."""
    i = bisect_left(intervals, begin, key=_end)
    j = bisect_right(intervals, finish, key=_begin)
    if i < j:
        begin = min(begin, intervals[i][0])
        finish = max(finish, intervals[j - 1][1])
    intervals[i:j] = [(begin, finish)]


def _subtract(intervals: list[Interval], begin: datetime, finish: datetime) -> list[Interval]:
    """Remove [begin, finish) from `intervals`; return the parts that were removed."""
    i = bisect_right(intervals, begin, key=_end)
    j = bisect_left(intervals, finish, key=_begin)
    removed, kept = [], []
    for low, high in intervals[i:j]:
        removed.append((max(low, begin), min(high, finish)))
        if low < begin:
            kept.append((low, begin))
        if finish < high:
            kept.append((finish, high))
    intervals[i:j] = kept
    return removed


def _by_user(shifts: Iterable[Shift]) -> dict[str, list[Interval]]:
    """Shifts grouped by user as sorted, merged intervals."""
    grouped: dict[str, list[Interval]] = {}
    for shift in shifts:
        grouped.setdefault(shift.user_id, []).append((shift.start, shift.end))
    for user, intervals in grouped.items():
        intervals.sort()
        merged: list[Interval] = []
        for begin, finish in intervals:
            if merged and begin <= merged[-1][1]:
                if finish > merged[-1][1]:
                    merged[-1] = (merged[-1][0], finish)
            else:
                merged.append((begin, finish))
        grouped[user] = merged
    return grouped


# -------------------------------------------------------------------------------- schedules


_Spanned = TypeVar("_Spanned", TemporarySchedule, Override)


def _overlapping(items: Iterable[_Spanned], start: datetime, end: datetime) -> list[_Spanned]:
    """Items whose [start, end) overlaps the range, sorted by start (stable)."""
    chosen = [item for item in items if item.start < end and item.end > start]
    return sorted(chosen, key=lambda item: item.start)


def _rule_shifts(
    schedule: Schedule,
    rotations: Mapping[str, Rotation],
    start: datetime,
    end: datetime,
) -> list[Shift]:
    tz = zone(schedule.time_zone)
    cache: dict[str, list[Shift]] = {}
    shifts: list[Shift] = []
    for rule in schedule.rules:
        windows = _rule_windows(rule, tz, start, end)
        if not windows:
            continue
        if rule.target_type == "user":
            shifts.extend(Shift(begin, finish, rule.target_id) for begin, finish in windows)
            continue
        if rule.target_id not in cache:
            cache[rule.target_id] = _Handoffs(rotations[rule.target_id]).shifts(start, end)
        shifts.extend(_intersect(cache[rule.target_id], windows))
    return shifts


def _apply_temporary(grouped: dict[str, list[Interval]], temporary: TemporarySchedule) -> None:
    begin, finish = temporary.start.astimezone(UTC), temporary.end.astimezone(UTC)
    for intervals in grouped.values():
        _subtract(intervals, begin, finish)
    for shift in temporary.shifts:
        low = max(shift.start.astimezone(UTC), begin)
        high = min(shift.end.astimezone(UTC), finish)
        if low < high:
            _add(grouped.setdefault(shift.user_id, []), low, high)


def _apply_override(grouped: dict[str, list[Interval]], override: Override) -> None:
    begin, finish = override.start.astimezone(UTC), override.end.astimezone(UTC)
    if override.kind == "add":
        assert override.add_user_id
        _add(grouped.setdefault(override.add_user_id, []), begin, finish)
        return
    assert override.remove_user_id
    removed = _subtract(grouped.get(override.remove_user_id, []), begin, finish)
    if override.kind == "replace":
        assert override.add_user_id
        intervals = grouped.setdefault(override.add_user_id, [])
        for low, high in removed:
            _add(intervals, low, high)


def schedule_shifts(
    schedule: Schedule,
    rotations: Mapping[str, Rotation],
    start: datetime,
    end: datetime,
) -> list[Shift]:
    """Who is on call during [start, end): rules, then temporary schedules, then overrides.

    Shifts of one user are merged where they touch; the list is sorted by (start, user_id),
    clipped to the range, in UTC.
    """
    return _layers(schedule, rotations, start, end, before_overrides=False)[1]


def schedule_layers(
    schedule: Schedule,
    rotations: Mapping[str, Rotation],
    start: datetime,
    end: datetime,
) -> tuple[list[Shift], list[Shift]]:
    """(the shifts before overrides, the final shifts) of [start, end), in one computation:
    the final ones are exactly `schedule_shifts`; the first are what the rules and temporary
    schedules alone put on call (app.oncall.shift_sources tells the overrides' parts by it)."""
    return _layers(schedule, rotations, start, end, before_overrides=True)


def _layers(
    schedule: Schedule,
    rotations: Mapping[str, Rotation],
    start: datetime,
    end: datetime,
    before_overrides: bool,
) -> tuple[list[Shift], list[Shift]]:
    start, end = check_range(start, end)
    check_schedule(schedule, rotations)
    grouped = _by_user(_rule_shifts(schedule, rotations, start, end))
    for temporary in _overlapping(schedule.temporary_schedules, start, end):
        _apply_temporary(grouped, temporary)
    before = _shifts_of(grouped, start, end) if before_overrides else []
    for override in _overlapping(schedule.overrides, start, end):
        _apply_override(grouped, override)
    return before, _shifts_of(grouped, start, end)


def _shifts_of(grouped: dict[str, list[Interval]], start: datetime, end: datetime) -> list[Shift]:
    """Per-user intervals as shifts clipped to the range, sorted by (start, user_id)."""
    shifts = [
        Shift(max(begin, start), min(finish, end), user)
        for user, intervals in grouped.items()
        for begin, finish in intervals
        if begin < end and finish > start
    ]
    shifts.sort(key=lambda shift: (shift.start, shift.user_id))
    return shifts


# ---------------------------------------------------------------------------- point queries


def on_call_at(shifts: Iterable[Shift], instant: datetime) -> frozenset[str]:
    """Users with a shift containing `instant`."""
    return frozenset(shift.user_id for shift in shifts if shift.start <= instant < shift.end)


def next_shift_for(user_id: str, shifts: Iterable[Shift], after: datetime) -> Shift | None:
    """The user's earliest shift ending after `after` (the current one if on call now)."""
    mine = [shift for shift in shifts if shift.user_id == user_id and shift.end > after]
    return min(mine, default=None, key=lambda shift: (shift.start, shift.end))


def rotation_on_call_at(rotation: Rotation, at: datetime) -> str | None:
    """Who `rotation` has on call at `at` (None before its start)."""
    return _Handoffs(rotation).user_at(_utc(at, "instant"))


def on_call_now(
    schedule: Schedule, rotations: Mapping[str, Rotation], at: datetime
) -> frozenset[str]:
    """Who `schedule` has on call at `at`, computed for that instant alone (no range)."""
    at = _utc(at, "instant")
    check_schedule(schedule, rotations)
    users = _rules_at(schedule, rotations, at)
    for temporary in _overlapping(schedule.temporary_schedules, at, at + _INSTANT):
        users = {shift.user_id for shift in temporary.shifts if shift.start <= at < shift.end}
    for override in _overlapping(schedule.overrides, at, at + _INSTANT):
        _override_at(users, override)
    return frozenset(users)


def _rules_at(schedule: Schedule, rotations: Mapping[str, Rotation], at: datetime) -> set[str]:
    tz = zone(schedule.time_zone)
    users: set[str] = set()
    for rule in schedule.rules:
        if not _rule_active_at(rule, tz, at):
            continue
        if rule.target_type == "user":
            users.add(rule.target_id)
            continue
        user = _Handoffs(rotations[rule.target_id]).user_at(at)
        if user is not None:
            users.add(user)
    return users


def _override_at(users: set[str], override: Override) -> None:
    if override.kind == "add":
        assert override.add_user_id
        users.add(override.add_user_id)
    elif override.remove_user_id in users:
        users.discard(override.remove_user_id)
        if override.kind == "replace":
            assert override.add_user_id
            users.add(override.add_user_id)
