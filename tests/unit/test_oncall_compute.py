"""Hand-computed on-call cases across DST in both directions, and bad input (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from app.oncall.compute import (
    MAX_RANGE,
    check_override,
    next_shift_for,
    on_call_at,
    on_call_now,
    resolve,
    rotation_on_call_at,
    rotation_shifts,
    schedule_shifts,
)
from app.oncall.model import Override, Rotation, Schedule, ScheduleRule, Shift, TemporarySchedule

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
ADELAIDE = ZoneInfo("Australia/Adelaide")
H = timedelta(hours=1)


def make_rotation(
    tz: ZoneInfo,
    start: datetime,
    type: str = "daily",
    length: int = 1,
    participants: tuple[str, ...] = ("a", "b", "c"),
    start_index: int = 0,
) -> Rotation:
    return Rotation("r", type, length, start.replace(tzinfo=tz), tz.key, participants, start_index)


def local_handoffs(shifts: list[Shift], tz: ZoneInfo) -> list[tuple[str, str, float]]:
    return [
        (s.start.astimezone(tz).strftime("%m-%d %H:%M"), s.user_id, (s.end - s.start) / H)
        for s in shifts
    ]


@pytest.mark.parametrize(
    ("tz", "short_day", "long_day"),
    [
        (NY, datetime(2026, 3, 8), datetime(2026, 11, 1)),
        (LONDON, datetime(2026, 3, 29), datetime(2026, 10, 25)),
        (SYDNEY, datetime(2026, 10, 4), datetime(2026, 4, 5)),
        (ADELAIDE, datetime(2026, 10, 4), datetime(2026, 4, 5)),
    ],
)
def test_daily_handoffs_stay_at_nine_local_with_23_and_25_hour_shifts(
    tz: ZoneInfo, short_day: datetime, long_day: datetime
) -> None:
    rotation = make_rotation(tz, datetime(2026, 1, 1, 9))
    for day, hours in ((short_day, 23.0), (long_day, 25.0)):
        start = (day - 2 * timedelta(days=1)).replace(hour=9, tzinfo=tz)
        shifts = rotation_shifts(rotation, start, start + timedelta(days=4))
        assert [s.start.astimezone(tz).hour for s in shifts] == [9, 9, 9, 9]
        assert [(s.end - s.start) / H for s in shifts] == [24, hours, 24, 24]


def test_daily_shift_lengths_in_adelaide_are_whole_local_days() -> None:
    rotation = make_rotation(ADELAIDE, datetime(2026, 10, 3, 9, 30), participants=("a", "b"))
    start = datetime(2026, 10, 3, 9, 30, tzinfo=ADELAIDE)
    shifts = rotation_shifts(rotation, start, start + timedelta(days=2))
    assert local_handoffs(shifts, ADELAIDE) == [
        ("10-03 09:30", "a", 23.0),
        ("10-04 09:30", "b", 24),
    ]
    assert shifts[0].end.utcoffset() == timedelta(0)
    assert shifts[0].end.astimezone(ADELAIDE).utcoffset() == timedelta(hours=10, minutes=30)


def test_weekly_monday_nine_stays_monday_nine_across_dst() -> None:
    rotation = make_rotation(NY, datetime(2026, 2, 23, 9), type="weekly")
    shifts = rotation_shifts(
        rotation, datetime(2026, 2, 23, 9, tzinfo=NY), datetime(2026, 3, 23, 9, tzinfo=NY)
    )
    assert local_handoffs(shifts, NY) == [
        ("02-23 09:00", "a", 168),
        ("03-02 09:00", "b", 167),
        ("03-09 09:00", "c", 168),
        ("03-16 09:00", "a", 168),
    ]
    assert all(s.start.astimezone(NY).weekday() == 0 for s in shifts)


def test_weekly_rotation_of_two_weeks_in_london_autumn() -> None:
    rotation = make_rotation(LONDON, datetime(2026, 10, 19, 10), type="weekly", length=2)
    shifts = rotation_shifts(
        rotation, datetime(2026, 10, 19, 10, tzinfo=LONDON), datetime(2026, 11, 30, tzinfo=LONDON)
    )
    assert [s.user_id for s in shifts] == ["a", "b", "c"]
    assert (shifts[0].end - shifts[0].start) / H == 14 * 24 + 1


def test_hourly_rotation_steps_in_absolute_hours_across_the_gap() -> None:
    rotation = make_rotation(NY, datetime(2026, 3, 8, 0), type="hourly", participants=("a", "b"))
    shifts = rotation_shifts(
        rotation, datetime(2026, 3, 8, 0, tzinfo=NY), datetime(2026, 3, 8, 5, tzinfo=NY)
    )
    assert local_handoffs(shifts, NY) == [
        ("03-08 00:00", "a", 1),
        ("03-08 01:00", "b", 1),
        ("03-08 03:00", "a", 1),
        ("03-08 04:00", "b", 1),
    ]


def test_twelve_hour_rotation_drifts_an_hour_local_after_fall_back() -> None:
    rotation = make_rotation(SYDNEY, datetime(2026, 4, 4, 9), type="hourly", length=12)
    start = datetime(2026, 4, 4, 9, tzinfo=SYDNEY).astimezone(UTC)
    shifts = rotation_shifts(rotation, start, start + timedelta(hours=48))
    assert [s.start.astimezone(SYDNEY).hour for s in shifts] == [9, 21, 8, 20]
    assert all(s.end - s.start == 12 * H for s in shifts)


def test_monthly_rotation_clamps_the_31st_to_the_end_of_shorter_months() -> None:
    rotation = make_rotation(NY, datetime(2028, 1, 31, 9), type="monthly")
    shifts = rotation_shifts(
        rotation, datetime(2028, 1, 31, 9, tzinfo=NY), datetime(2028, 5, 1, tzinfo=NY)
    )
    assert [s.start.astimezone(NY).strftime("%m-%d %H:%M") for s in shifts] == [
        "01-31 09:00",
        "02-29 09:00",
        "03-31 09:00",
        "04-30 09:00",
    ]
    rotation = make_rotation(NY, datetime(2027, 1, 31, 9), type="monthly", length=1)
    feb = rotation_shifts(
        rotation, datetime(2027, 2, 15, tzinfo=NY), datetime(2027, 3, 15, tzinfo=NY)
    )
    assert feb[1].start == datetime(2027, 2, 28, 9, tzinfo=NY)


def test_handoff_in_a_dst_gap_happens_when_the_gap_ends() -> None:
    assert resolve(datetime(2026, 3, 8, 2, 30), NY) == datetime(2026, 3, 8, 3, tzinfo=NY)
    assert resolve(datetime(2026, 10, 4, 2, 30), ADELAIDE) == datetime(
        2026, 10, 4, 3, tzinfo=ADELAIDE
    )
    rotation = make_rotation(NY, datetime(2026, 3, 6, 2, 30))
    shifts = rotation_shifts(
        rotation, datetime(2026, 3, 7, 2, 30, tzinfo=NY), datetime(2026, 3, 10, tzinfo=NY)
    )
    assert local_handoffs(shifts, NY)[:3] == [
        ("03-07 02:30", "b", 23.5),
        ("03-08 03:00", "c", 23.5),
        ("03-09 02:30", "a", 21.5),
    ]


def test_handoff_in_a_dst_overlap_happens_at_the_first_occurrence() -> None:
    # Aware datetimes in a fold never equal ones in another zone (PEP 495): compare in UTC.
    first = datetime(2026, 11, 1, 1, 30, tzinfo=NY).astimezone(UTC)  # fold=0: EDT
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert resolve(datetime(2026, 11, 1, 1, 30), NY) == first
    rotation = make_rotation(NY, datetime(2026, 10, 31, 1, 30))
    shifts = rotation_shifts(rotation, first - timedelta(days=1), first + timedelta(days=2))
    assert [s.start for s in shifts][1] == first
    assert [(s.end - s.start) / H for s in shifts][:2] == [24, 25]


def test_start_index_chooses_who_is_first() -> None:
    rotation = make_rotation(NY, datetime(2026, 1, 1, 9), start_index=2)
    shifts = rotation_shifts(
        rotation, datetime(2026, 1, 1, 9, tzinfo=NY), datetime(2026, 1, 4, 9, tzinfo=NY)
    )
    assert [s.user_id for s in shifts] == ["c", "a", "b"]


def test_a_query_far_from_the_rotation_start_jumps_to_the_right_participant() -> None:
    rotation = make_rotation(NY, datetime(2020, 1, 1, 9))
    day = datetime(2026, 6, 1, 12, tzinfo=NY)
    expected = "abc"[(day.date() - rotation.start.date()).days % 3]
    assert rotation_on_call_at(rotation, day) == expected
    assert on_call_at(rotation_shifts(rotation, day, day + H), day) == {expected}


def test_a_rotation_covers_nothing_before_its_start() -> None:
    rotation = make_rotation(NY, datetime(2026, 1, 10, 9))
    shifts = rotation_shifts(
        rotation, datetime(2026, 1, 1, tzinfo=NY), datetime(2026, 1, 11, 9, tzinfo=NY)
    )
    assert [(s.start, s.user_id) for s in shifts] == [(datetime(2026, 1, 10, 9, tzinfo=NY), "a")]
    assert rotation_on_call_at(rotation, datetime(2026, 1, 9, tzinfo=NY)) is None


@pytest.mark.parametrize("tz", [NY, LONDON, SYDNEY, ADELAIDE])
def test_single_rule_rotation_schedule_has_no_gaps_and_no_double_cover(tz: ZoneInfo) -> None:
    rotation = make_rotation(tz, datetime(2026, 1, 1, 2, 30), participants=("a", "b"))
    schedule = Schedule("s", tz.key, (ScheduleRule("rotation", "r"),))
    start, end = datetime(2026, 1, 2, tzinfo=tz), datetime(2026, 12, 30, tzinfo=tz)
    shifts = schedule_shifts(schedule, {"r": rotation}, start, end)
    assert shifts[0].start == start and shifts[-1].end == end
    for before, after in pairwise(shifts):
        assert before.end == after.start and before.user_id != after.user_id


def test_night_rule_on_friday_runs_into_saturday_morning() -> None:
    rule = ScheduleRule("user", "night", frozenset({4}), time(22), time(6))
    schedule = Schedule("s", "Europe/London", (rule,))
    shifts = schedule_shifts(
        schedule, {}, datetime(2026, 10, 19, tzinfo=LONDON), datetime(2026, 10, 26, tzinfo=LONDON)
    )
    assert shifts == [
        Shift(
            datetime(2026, 10, 23, 22, tzinfo=LONDON),
            datetime(2026, 10, 24, 6, tzinfo=LONDON),
            "night",
        )
    ]


def test_all_day_rule_on_the_fall_back_night_lasts_25_hours() -> None:
    rule = ScheduleRule("user", "u", frozenset({6}), time(0), time(0))
    schedule = Schedule("s", "America/New_York", (rule,))
    shifts = schedule_shifts(
        schedule, {}, datetime(2026, 10, 30, tzinfo=NY), datetime(2026, 11, 4, tzinfo=NY)
    )
    assert [(s.end - s.start) / H for s in shifts] == [25]


def test_business_hours_rule_clips_a_weekly_rotation() -> None:
    rotation = make_rotation(NY, datetime(2026, 3, 2, 9), type="weekly", participants=("a", "b"))
    rule = ScheduleRule("rotation", "r", frozenset(range(5)), time(9), time(17))
    schedule = Schedule("s", "America/New_York", (rule,))
    shifts = schedule_shifts(
        schedule, {"r": rotation}, datetime(2026, 3, 2, tzinfo=NY), datetime(2026, 3, 16, tzinfo=NY)
    )
    assert len(shifts) == 10
    assert {s.start.astimezone(NY).hour for s in shifts} == {9}
    assert {s.end.astimezone(NY).hour for s in shifts} == {17}
    assert [s.user_id for s in shifts] == ["a"] * 5 + ["b"] * 5


def test_temporary_schedule_replaces_everything_in_its_span() -> None:
    day = datetime(2026, 5, 4, tzinfo=LONDON)
    temporary = TemporarySchedule(
        day + 10 * H, day + 14 * H, (Shift(day + 9 * H, day + 12 * H, "t"),)
    )
    schedule = Schedule("s", "Europe/London", (ScheduleRule("user", "u"),), (), (temporary,))
    shifts = schedule_shifts(schedule, {}, day, day + 24 * H)
    assert [(s.start - day, s.end - day, s.user_id) for s in shifts] == [
        (0 * H, 10 * H, "u"),
        (10 * H, 12 * H, "t"),
        (14 * H, 24 * H, "u"),
    ]


def test_overrides_add_remove_and_replace_in_order_of_start() -> None:
    day = datetime(2026, 5, 4, tzinfo=NY)
    overrides = (
        Override("remove", day + 8 * H, day + 12 * H, remove_user_id="extra"),
        Override("replace", day + 1 * H, day + 3 * H, add_user_id="sub", remove_user_id="u"),
        Override("add", day + 6 * H, day + 10 * H, add_user_id="extra"),
        Override("remove", day + 20 * H, day + 22 * H, remove_user_id="nobody"),
    )
    schedule = Schedule("s", "America/New_York", (ScheduleRule("user", "u"),), overrides)
    shifts = schedule_shifts(schedule, {}, day, day + 24 * H)
    assert [(s.start - day, s.end - day, s.user_id) for s in shifts] == [
        (0 * H, 1 * H, "u"),
        (1 * H, 3 * H, "sub"),
        (3 * H, 24 * H, "u"),
        (6 * H, 8 * H, "extra"),
    ]
    assert on_call_now(schedule, {}, day + 2 * H) == {"sub"}
    assert on_call_now(schedule, {}, day + 7 * H) == {"u", "extra"}
    assert on_call_now(schedule, {}, day + 9 * H) == {"u"}


def test_overlapping_add_then_remove_of_one_user_leaves_them_off_for_the_overlap() -> None:
    day = datetime(2026, 5, 4, tzinfo=NY)
    overrides = (
        Override("add", day, day + 4 * H, add_user_id="x"),
        Override("remove", day + 2 * H, day + 6 * H, remove_user_id="x"),
    )
    schedule = Schedule("s", "America/New_York", (), overrides)
    assert schedule_shifts(schedule, {}, day, day + 24 * H) == [Shift(day, day + 2 * H, "x")]


@pytest.mark.parametrize("order", [("t1", "t2"), ("t2", "t1")])
def test_tied_temporary_schedules_apply_in_the_given_order_so_the_last_wins(
    order: tuple[str, str],
) -> None:
    day = datetime(2026, 5, 4, tzinfo=LONDON)
    span = (day + 10 * H, day + 14 * H)
    temporaries = tuple(TemporarySchedule(*span, (Shift(*span, user),)) for user in order)
    schedule = Schedule("s", "Europe/London", (ScheduleRule("user", "u"),), (), temporaries)
    shifts = schedule_shifts(schedule, {}, day, day + 24 * H)
    assert [(s.start - day, s.end - day, s.user_id) for s in shifts] == [
        (0 * H, 10 * H, "u"),
        (10 * H, 14 * H, order[-1]),
        (14 * H, 24 * H, "u"),
    ]
    assert on_call_now(schedule, {}, day + 12 * H) == {order[-1]}


def test_tied_overrides_act_in_the_given_order() -> None:
    day = datetime(2026, 5, 4, tzinfo=NY)
    span = (day + 2 * H, day + 4 * H)
    a_to_b = Override("replace", *span, add_user_id="b", remove_user_id="a")
    b_to_c = Override("replace", *span, add_user_id="c", remove_user_id="b")
    for overrides, expected in (((a_to_b, b_to_c), "c"), ((b_to_c, a_to_b), "b")):
        schedule = Schedule("s", "America/New_York", (ScheduleRule("user", "a"),), overrides)
        shifts = schedule_shifts(schedule, {}, day, day + 24 * H)
        assert Shift(*span, expected) in shifts
        assert on_call_now(schedule, {}, day + 3 * H) == {expected}


def test_shifts_of_one_user_from_two_rules_are_merged() -> None:
    rules = (
        ScheduleRule("user", "u", frozenset(range(7)), time(8), time(12)),
        ScheduleRule("user", "u", frozenset(range(7)), time(12), time(18)),
    )
    day = datetime(2026, 5, 4, tzinfo=NY)
    shifts = schedule_shifts(Schedule("s", "America/New_York", rules), {}, day, day + 24 * H)
    assert shifts == [Shift(day + 8 * H, day + 18 * H, "u")]


def test_next_shift_for_a_user_is_the_current_one_or_the_next() -> None:
    day = datetime(2026, 5, 4, tzinfo=NY)
    shifts = [Shift(day, day + H, "a"), Shift(day + 2 * H, day + 3 * H, "a")]
    assert next_shift_for("a", shifts, day + 0.5 * H) == shifts[0]
    assert next_shift_for("a", shifts, day + H) == shifts[1]
    assert next_shift_for("a", shifts, day + 3 * H) is None
    assert next_shift_for("b", shifts, day) is None


# ------------------------------------------------------------------------------ bad input

DAY = datetime(2026, 5, 4, tzinfo=NY)


def test_unknown_time_zone_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus_Mons'"):
        schedule_shifts(Schedule("s", "Mars/Olympus_Mons"), {}, DAY, DAY + H)
    rotation = Rotation("r", "daily", 1, DAY, "Not/AZone", ("a",))
    with pytest.raises(ValueError, match="'Not/AZone'"):
        rotation_shifts(rotation, DAY, DAY + H)


def test_override_ending_before_it_starts_is_refused() -> None:
    override = Override("add", DAY, DAY - H, add_user_id="a")
    with pytest.raises(ValueError, match=r"override end .* must be after its start"):
        check_override(override)
    schedule = Schedule("s", "UTC", (), (override,))
    with pytest.raises(ValueError, match="override end"):
        schedule_shifts(schedule, {}, DAY, DAY + H)
    with pytest.raises(ValueError, match="override end"):
        on_call_now(schedule, {}, DAY)


def test_override_without_its_user_is_refused() -> None:
    with pytest.raises(ValueError, match="needs add_user_id"):
        check_override(Override("replace", DAY, DAY + H, remove_user_id="a"))


def test_rotation_without_participants_is_refused() -> None:
    rotation = Rotation("r", "daily", 1, DAY, "UTC", ())
    with pytest.raises(ValueError, match="rotation r has no participants"):
        rotation_shifts(rotation, DAY, DAY + H)
    schedule = Schedule("s", "UTC", (ScheduleRule("rotation", "r"),))
    with pytest.raises(ValueError, match="no participants"):
        on_call_now(schedule, {"r": rotation}, DAY)


def test_rule_naming_a_missing_rotation_is_refused() -> None:
    schedule = Schedule("s", "UTC", (ScheduleRule("rotation", "gone"),))
    with pytest.raises(ValueError, match="rotation 'gone', which was not given"):
        schedule_shifts(schedule, {}, DAY, DAY + H)


def test_a_hundred_year_query_is_refused_naming_the_cap() -> None:
    schedule = Schedule("s", "UTC", (ScheduleRule("user", "u"),))
    with pytest.raises(ValueError, match=f"maximum of {MAX_RANGE.days} days"):
        schedule_shifts(schedule, {}, DAY, DAY.replace(year=2126))


@pytest.mark.parametrize("end", [DAY, DAY - H])
def test_an_empty_or_reversed_range_is_refused(end: datetime) -> None:
    with pytest.raises(ValueError, match="must be after start"):
        schedule_shifts(Schedule("s", "UTC"), {}, DAY, end)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule_shifts(Schedule("s", "UTC"), {}, datetime(2026, 1, 1), DAY)
