"""The schedule calendar's layout (app.http.pages.schedule_calendar) and each shift's sources
(app.oncall.shift_sources): local days of 23 and 25 hours, shifts cut at local midnights, the
month grid, bounded views, and parts labelled rule, temporary, override add or replace."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.http.pages import schedule_calendar as calendar
from app.oncall import compute
from app.oncall.model import Override, Schedule, ScheduleRule, Shift, TemporarySchedule
from app.oncall.shift_sources import Part, SourcedShift, removals, sourced_shifts

NY = ZoneInfo("America/New_York")
ADA, BOB, CY = "ada", "bob", "cy"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def whole(start: datetime, end: datetime, user: str = ADA, source: str = "rule") -> SourcedShift:
    return SourcedShift(Shift(start, end, user), (Part(start, end, source),))


def test_the_week_of_spring_forward_has_a_23_hour_sunday() -> None:
    shown = calendar.span("week", date(2027, 3, 17), NY)
    assert shown.days[0] == date(2027, 3, 15) and len(shown.days) == 7
    shown = calendar.span("week", date(2027, 3, 14), NY)
    assert shown.days[0] == date(2027, 3, 8) and shown.days[-1] == date(2027, 3, 14)
    assert (shown.start, shown.end) == (at(2027, 3, 8, 5), at(2027, 3, 15, 4))
    assert calendar.day_hours(date(2027, 3, 14), NY) == 23
    assert calendar.day_hours(date(2027, 11, 7), NY) == 25
    assert calendar.day_hours(date(2027, 11, 8), NY) == 24
    assert (shown.previous, shown.following) == (date(2027, 3, 1), date(2027, 3, 15))


def test_a_whole_day_shift_on_a_dst_day_is_one_piece_of_23_or_25_hours() -> None:
    for day, hours in ((date(2027, 3, 14), 23), (date(2027, 11, 7), 25)):
        begin = calendar.midnight(day, NY)
        end = calendar.midnight(day + timedelta(days=1), NY)
        shift = whole(begin, end)
        (piece,) = calendar.by_day([shift], (day,), NY)[day]
        assert (piece.from_text, piece.to_text, piece.hours) == ("00:00", "24:00", hours)


def test_a_shift_across_midnight_is_cut_into_each_local_day() -> None:
    days = calendar.span("week", date(2027, 3, 10), NY).days
    overnight = whole(at(2027, 3, 10, 3), at(2027, 3, 12, 14))  # 22:00 Tue to 09:00 Thu (EST)
    pieces = calendar.by_day([overnight], days, NY)
    found = [(d.day, p.from_text, p.to_text) for d in days for p in pieces[d]]
    assert found == [(9, "22:00", "24:00"), (10, "00:00", "24:00"), (11, "00:00", "24:00"),
                     (12, "00:00", "09:00")]  # fmt: skip
    assert all(p.shift is overnight for d in days for p in pieces[d])


def test_a_shift_over_the_fall_back_night_counts_its_real_hours() -> None:
    days = (date(2027, 11, 6), date(2027, 11, 7))
    shift = whole(at(2027, 11, 7, 4), at(2027, 11, 7, 14))  # Sat 00:00 EDT .. Sun 09:00 EST
    pieces = calendar.by_day([shift], days, NY)
    assert pieces[days[0]] == []
    (piece,) = pieces[days[1]]
    assert (piece.from_text, piece.to_text, piece.hours) == ("00:00", "09:00", 10)


def test_the_month_grid_is_whole_weeks_and_at_most_six() -> None:
    shown = calendar.span("month", date(2027, 5, 20), NY)  # May 2027 starts on a Saturday
    assert shown.anchor == date(2027, 5, 1)
    assert shown.days[0] == date(2027, 4, 26) and shown.days[-1] == date(2027, 6, 6)
    assert len(calendar.weeks(shown.days)) == 6 and all(
        len(w) == 7 for w in calendar.weeks(shown.days)
    )
    assert (shown.previous, shown.following) == (date(2027, 4, 1), date(2027, 6, 1))
    february = calendar.span("month", date(2027, 2, 1), NY)  # starts on a Monday: 4 weeks
    assert len(february.days) == 28
    assert february.end - february.start <= timedelta(weeks=calendar.MONTH_WEEKS)


def test_the_list_view_covers_two_weeks() -> None:
    shown = calendar.span("list", date(2027, 3, 10), NY)
    assert len(shown.days) == calendar.LIST_DAYS and shown.days[0] == date(2027, 3, 10)


def test_only_real_dates_in_range_are_accepted() -> None:
    today = date(2027, 1, 1)
    assert calendar.parse_day(None, today) == today
    assert calendar.parse_day("2027-03-14", today) == date(2027, 3, 14)
    for bad in ("2027-02-30", "14/03/2027", "0001-01-01", "9999-12-31", "2027-3-14", "x" * 99):
        assert calendar.parse_day(bad, today) is None, bad


def schedule(**parts: object) -> Schedule:
    rule = ScheduleRule("user", ADA, start_time=time(9), end_time=time(17))
    return Schedule(id="s", time_zone="America/New_York", rules=(rule,), **parts)  # type: ignore[arg-type]


def test_sources_tell_rules_temporary_schedules_and_overrides_apart() -> None:
    value = schedule(
        overrides=(
            Override("replace", at(2027, 3, 10, 15), at(2027, 3, 10, 17), BOB, ADA),
            Override("add", at(2027, 3, 10, 20), at(2027, 3, 10, 23), CY),
            Override("remove", at(2027, 3, 11, 14), at(2027, 3, 11, 16), None, ADA),
        ),
        temporary_schedules=(
            TemporarySchedule(at(2027, 3, 12, 5), at(2027, 3, 13, 5),
                              (Shift(at(2027, 3, 12, 12), at(2027, 3, 12, 18), BOB),)),
        ),
    )  # fmt: skip
    start, end = at(2027, 3, 10, 5), at(2027, 3, 13, 5)
    found = sourced_shifts(value, {}, start, end)
    assert [s.shift for s in found] == compute.schedule_shifts(value, {}, start, end)
    labelled = {(s.shift.user_id, p.start, p.end, p.source) for s in found for p in s.parts}
    assert labelled == {
        (ADA, at(2027, 3, 10, 14), at(2027, 3, 10, 15), "rule"),
        (BOB, at(2027, 3, 10, 15), at(2027, 3, 10, 17), "replace"),
        (ADA, at(2027, 3, 10, 17), at(2027, 3, 10, 22), "rule"),
        (CY, at(2027, 3, 10, 20), at(2027, 3, 10, 23), "add"),
        (ADA, at(2027, 3, 11, 16), at(2027, 3, 11, 22), "rule"),
        (BOB, at(2027, 3, 12, 12), at(2027, 3, 12, 18), "temporary"),
    }
    taken_off = [(r.user_id, r.kind, r.by_user_id) for r in removals(value, start, end)]
    assert taken_off == [(ADA, "replace", BOB), (ADA, "remove", None)]


def test_an_override_adding_someone_already_on_call_keeps_the_rule_as_source() -> None:
    value = schedule(overrides=(Override("add", at(2027, 3, 10, 13), at(2027, 3, 10, 16), ADA),))
    (only,) = sourced_shifts(value, {}, at(2027, 3, 10, 5), at(2027, 3, 11, 5))
    assert [(p.start, p.end, p.source) for p in only.parts] == [
        (at(2027, 3, 10, 13), at(2027, 3, 10, 14), "add"),
        (at(2027, 3, 10, 14), at(2027, 3, 10, 22), "rule"),
    ]


def test_a_removal_shows_on_each_local_day_it_touches() -> None:
    days = calendar.span("week", date(2027, 3, 10), NY).days
    value = schedule(
        overrides=(Override("remove", at(2027, 3, 10, 3), at(2027, 3, 11, 6), None, ADA),)
    )
    removed = calendar.removals_by_day(
        removals(value, at(2027, 3, 8, 5), at(2027, 3, 15, 4)), days, NY
    )
    assert [d.day for d in days if removed[d]] == [9, 10, 11]
