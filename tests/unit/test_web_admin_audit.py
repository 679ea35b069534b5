"""The audit page's pure helpers: a time range typed without a zone is taken in the viewer's
zone (across a daylight-saving change too), and long values are cut."""

from __future__ import annotations

from app.http.pages.admin_audit import local_time, shown


def test_a_time_without_an_offset_is_taken_in_the_viewers_zone() -> None:
    assert local_time("2026-03-07T09:00", "America/New_York") == "2026-03-07T09:00:00-05:00"
    assert local_time("2026-03-09T09:00", "America/New_York") == "2026-03-09T09:00:00-04:00"
    assert local_time("2026-03-09T09:00:00+01:00", "America/New_York") == (
        "2026-03-09T09:00:00+01:00"
    )


def test_unreadable_times_and_zones_are_left_for_the_schema_to_refuse() -> None:
    assert local_time("yesterday", "UTC") == "yesterday"
    assert local_time("2026-03-09T09:00", "Not/AZone") == "2026-03-09T09:00"


def test_values_are_shown_short() -> None:
    assert shown(None) == "null"
    assert shown(5) == "5"
    assert shown("x" * 400) == "x" * 300 + "…"
