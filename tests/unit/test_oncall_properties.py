"""Property tests of the on-call computation: tiling, computing in pieces, point queries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.oncall.compute import on_call_at, on_call_now, schedule_shifts
from app.oncall.model import Override, Rotation, Schedule, ScheduleRule, Shift, TemporarySchedule

ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Adelaide",
    "Asia/Kolkata",
    "UTC",
)
# Days near DST changes in the zones above (both directions, both hemispheres), so ranges and
# instants drawn around them cross transitions often.
PIVOTS = tuple(
    datetime(*ymd, tzinfo=UTC)
    for ymd in (
        (2026, 3, 8),
        (2026, 11, 1),
        (2026, 3, 29),
        (2026, 10, 25),
        (2026, 4, 5),
        (2026, 10, 4),
        (2026, 7, 1),
    )
)
USERS = ("a", "b", "c", "d")

# Stable in CI: derandomized, bounded, no per-example deadline (zone data loads lazily).
PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

minutes = st.integers(min_value=0, max_value=24 * 60 - 1).map(lambda m: time(m // 60, m % 60))


@st.composite
def instants(draw: st.DrawFn, spread_days: int = 20) -> datetime:
    pivot = draw(st.sampled_from(PIVOTS))
    offset = draw(st.integers(-spread_days * 24 * 60, spread_days * 24 * 60))
    return pivot + timedelta(minutes=offset)


@st.composite
def rotations(draw: st.DrawFn, rotation_id: str = "r") -> Rotation:
    kind = draw(st.sampled_from(("hourly", "daily", "weekly", "monthly")))
    length = draw(st.integers(1, 12 if kind == "hourly" else 3))
    participants = tuple(draw(st.lists(st.sampled_from(USERS), min_size=1, max_size=5)))
    start = draw(instants(spread_days=120)) - timedelta(days=150)
    zone = draw(st.sampled_from(ZONES))
    index = draw(st.integers(0, len(participants) - 1))
    return Rotation(rotation_id, kind, length, start, zone, participants, index)


@st.composite
def rules(draw: st.DrawFn, rotation_ids: tuple[str, ...]) -> ScheduleRule:
    if draw(st.booleans()):
        target = ("rotation", draw(st.sampled_from(rotation_ids)))
    else:
        target = ("user", draw(st.sampled_from(USERS)))
    weekdays = frozenset(draw(st.lists(st.integers(0, 6), min_size=1, max_size=7)))
    return ScheduleRule(*target, weekdays, draw(minutes), draw(minutes))


@st.composite
def spans(draw: st.DrawFn) -> tuple[datetime, datetime]:
    start = draw(instants())
    return start, start + timedelta(minutes=draw(st.integers(1, 5 * 24 * 60)))


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    kind = draw(st.sampled_from(("add", "remove", "replace")))
    start, end = draw(spans())
    add = draw(st.sampled_from(USERS)) if kind != "remove" else None
    remove = draw(st.sampled_from(USERS)) if kind != "add" else None
    return Override(kind, start, end, add, remove)


@st.composite
def temporary_schedules(draw: st.DrawFn) -> TemporarySchedule:
    start, end = draw(spans())
    shifts = []
    for _ in range(draw(st.integers(0, 3))):
        begin, finish = draw(spans())
        shifts.append(Shift(begin, finish, draw(st.sampled_from(USERS))))
    return TemporarySchedule(start, end, tuple(shifts))


@st.composite
def schedules(draw: st.DrawFn) -> tuple[Schedule, dict[str, Rotation]]:
    ids = ("r1", "r2")
    pool = {rid: draw(rotations(rid)) for rid in ids}
    schedule = Schedule(
        "s",
        draw(st.sampled_from(ZONES)),
        tuple(draw(st.lists(rules(ids), max_size=4))),
        tuple(draw(st.lists(overrides(), max_size=5))),
        tuple(draw(st.lists(temporary_schedules(), max_size=2))),
    )
    return schedule, pool


@st.composite
def ranges(draw: st.DrawFn, max_days: int = 40) -> tuple[datetime, datetime, datetime]:
    """a < b < c, within max_days."""
    a = draw(instants())
    b = a + timedelta(minutes=draw(st.integers(1, max_days * 24 * 60)))
    c = b + timedelta(minutes=draw(st.integers(1, max_days * 24 * 60)))
    return a, b, c


def join(pieces: Iterable[Shift]) -> list[Shift]:
    """Shifts of one user that touch merged into one, sorted like schedule_shifts."""
    merged: list[Shift] = []
    last: dict[str, int] = {}
    for shift in sorted(pieces, key=lambda s: (s.start, s.user_id)):
        i = last.get(shift.user_id)
        if i is not None and merged[i].end >= shift.start:
            merged[i] = Shift(merged[i].start, max(merged[i].end, shift.end), shift.user_id)
        else:
            last[shift.user_id] = len(merged)
            merged.append(shift)
    return sorted(merged, key=lambda s: (s.start, s.user_id))


@PROPERTY_SETTINGS
@given(rotation=rotations(), rule_time=minutes, span=ranges(), zone=st.sampled_from(ZONES))
def test_single_all_day_rotation_rule_tiles_the_range(
    rotation: Rotation, rule_time: time, span: tuple[datetime, ...], zone: str
) -> None:
    start = max(span[0], rotation.start)  # a rotation covers nothing before its start
    end = start + (span[2] - span[0])
    schedule = Schedule(
        "s", zone, (ScheduleRule("rotation", "r", start_time=rule_time, end_time=rule_time),)
    )
    shifts = schedule_shifts(schedule, {"r": rotation}, start, end)
    assert shifts[0].start == start
    assert shifts[-1].end == end
    for before, after in pairwise(shifts):
        assert before.end == after.start  # no gap, no overlap
        assert before.user_id != after.user_id  # merged
        assert before.start < before.end


@PROPERTY_SETTINGS
@given(world=schedules(), span=ranges())
def test_computing_in_pieces_and_joining_equals_computing_at_once(
    world: tuple[Schedule, dict[str, Rotation]], span: tuple[datetime, datetime, datetime]
) -> None:
    schedule, pool = world
    a, b, c = span
    whole = schedule_shifts(schedule, pool, a, c)
    pieces = schedule_shifts(schedule, pool, a, b) + schedule_shifts(schedule, pool, b, c)
    assert whole == join(pieces)


@PROPERTY_SETTINGS
@given(world=schedules(), span=ranges(), data=st.data())
def test_who_is_on_call_now_matches_the_shift_list(
    world: tuple[Schedule, dict[str, Rotation]],
    span: tuple[datetime, datetime, datetime],
    data: st.DataObject,
) -> None:
    schedule, pool = world
    a, _, c = span
    shifts = schedule_shifts(schedule, pool, a, c)
    edges = [s.start for s in shifts] + [s.end for s in shifts if s.end < c]
    points = [a, *edges[:5]]
    for _ in range(5):
        seconds = data.draw(st.integers(0, int((c - a).total_seconds()) - 1))
        points.append(a + timedelta(seconds=seconds))
    for point in points:
        assert on_call_at(shifts, point) == on_call_now(schedule, pool, point), point


def test_zones_used_by_the_properties_exist() -> None:
    assert all(ZoneInfo(name) for name in ZONES)
