"""The schedule pages in a real browser (Debian's Chromium driven by Playwright) against gunicorn
(README, Web app), with the browser's clock and zone set to New York in March 2027: a team
manager creates a schedule, adds a rule putting a daily rotation on call, and overrides a shift
by clicking it in the week that springs forward; the week, month and list views carry exactly
the shifts GET …/shifts answers for their range, shift by shift, also in the week that falls
back; the daylight-saving days last 23 and 25 hours; axe-core finds no serious or critical
violation (dialog open too), the phone views do not scroll sideways, the CSP is never violated.
And the override dialog by keyboard alone: Enter opens it on a shift, focus moves in, it is
filled and sent, Escape closes it and focus returns to the shift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from app.directory import users
from app.oncall import overrides, rotations, schedule_rules, schedules
from tests.support.browser import (
    DESKTOP,
    PHONE,
    no_horizontal_scroll,
    open_context,
    serious_violations,
    shot,
    sign_in,
    tab_to,
    watch_csp,
)
from tests.support.signin import make_user
from tests.support.teams import make_team

pytestmark = pytest.mark.system

ZONE = "America/New_York"
CLOCK = datetime(2027, 3, 10, 17, tzinfo=UTC)  # the browser's now: noon in New York


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """A manager and two members of team Payments, all reading New York time; a daily rotation
    of the manager and a member handing off at local midnight."""
    manager, member, spare = make_user(db_conn), make_user(db_conn), make_user(db_conn)
    for person in (manager, member, spare):
        users.update_user(db_conn, person["id"], {"time_zone": ZONE})
    team = make_team(db_conn, managers=[manager], members=[member, spare], name="Payments")
    rotation = rotations.create_rotation(
        db_conn, {"name": "Payments daily", "description": "", "type": "daily",
                  "shift_length": 1, "start": datetime(2027, 3, 1, 5, tzinfo=UTC),
                  "start_index": 0, "time_zone": ZONE, "team_id": team["id"]},
        [manager["id"], member["id"]],
    )  # fmt: skip
    return {"manager": manager, "member": member, "spare": spare, "team": team,
            "rotation": rotation}  # fmt: skip


def shown_shifts(page: Page) -> list[tuple[str, str, str]]:
    """The distinct shifts the view's blocks carry (start, end, user id)."""
    found = page.eval_on_selector_all(
        "#calendar .shift",
        "els => els.map(e => [e.dataset.start, e.dataset.end, e.dataset.userId])",
    )
    return sorted({tuple(item) for item in found})


def api_shifts(page: Page, web: str, schedule_id: str) -> list[tuple[str, str, str]]:
    """GET …/shifts for the range the view covers, with the browser's session."""
    heading = page.locator("#range-h")
    start, end = heading.get_attribute("data-range-start"), heading.get_attribute("data-range-end")
    answer = page.request.get(
        f"{web}/api/v1/schedules/{schedule_id}/shifts", params={"start": start, "end": end}
    )
    assert answer.ok, answer.text()
    return sorted((s["start"], s["end"], s["user_id"]) for s in answer.json()["items"])


def check_view(page: Page, web: str, schedule_id: str) -> None:
    """The view agrees with the API shift by shift, and axe finds nothing serious."""
    shown = shown_shifts(page)
    assert shown and shown == api_shifts(page, web, schedule_id)
    assert serious_violations(page) == []


def test_create_a_schedule_override_a_shift_and_agree_with_the_api_across_dst(
    web: str, browser: Browser, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    context = open_context(browser, DESKTOP, timezone_id=ZONE)
    page = watch_csp(context.new_page())
    page.clock.set_fixed_time(CLOCK)
    page.goto(f"{web}/login?next=/schedules")
    sign_in(page, world["manager"])
    expect(page).to_have_url(f"{web}/schedules")
    assert serious_violations(page) == []

    page.get_by_label("Name").fill("Payments primary")
    page.get_by_label("Time zone").fill(ZONE)
    page.get_by_label("Team").select_option(label="Payments")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments primary")
    schedule_id = page.url.rsplit("/", 1)[1]

    page.get_by_text("Add a rule").click()
    page.locator("#new-rule-target").select_option(label="Payments daily")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_text("Rule added.")).to_be_visible()

    # The week DST starts in (Sunday 14 March 2027): that day lasts 23 hours.
    page.goto(f"{web}/schedules/{schedule_id}?view=week&date=2027-03-14")
    day = page.locator("section.day", has=page.locator("#day-2027-03-14"))
    expect(day.locator(".dst")).to_have_text("23-hour day")
    block = day.locator("button.shift").first
    expect(block).to_contain_text("00:00\u201324:00")
    expect(block).to_contain_text("23 h")
    start, end = block.get_attribute("data-start"), block.get_attribute("data-end")
    assert (start, end) == ("2027-03-14T05:00:00Z", "2027-03-15T04:00:00Z")
    check_view(page, web, schedule_id)

    # Click the shift: the dialog is prefilled with it; replace its person with the spare.
    person = block.get_attribute("data-user-id")
    block.click()
    dialog = page.locator("#override-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label(f"Starts ({ZONE})")).to_have_value("2027-03-14T00:00")
    expect(dialog.get_by_label(f"Ends ({ZONE})")).to_have_value("2027-03-15T00:00")
    cover = dialog.get_by_role("link", name="Ask for cover")
    if person == world["manager"]["id"]:
        expect(cover).to_have_attribute(
            "href", f"/schedules/{schedule_id}/swaps/new?start={start}&end={end}"
        )
    else:
        expect(cover).to_be_hidden()
    assert serious_violations(page) == []
    shot(page, "schedule-dialog")
    dialog.get_by_label("Person").select_option(label=world["spare"]["name"])
    dialog.get_by_role("button", name="Save override").click()
    expect(page.get_by_text("Override saved.")).to_be_visible()
    replaced = page.locator("section.day", has=page.locator("#day-2027-03-14")).locator(".shift")
    expect(replaced.first).to_contain_text("override: replace")
    expect(replaced.first).to_have_attribute("data-user-id", world["spare"]["id"])
    (stored,) = overrides.list_overrides(db_conn, schedule_id)
    assert (stored["start"], stored["end"] - stored["start"]) == (
        datetime(2027, 3, 14, 5, tzinfo=UTC), timedelta(hours=23))  # fmt: skip
    check_view(page, web, schedule_id)

    # The other views, and the week DST ends in (Sunday 7 November 2027: 25 hours).
    for view, date in (("month", "2027-03-14"), ("list", "2027-03-10"), ("week", "2027-11-07")):
        page.goto(f"{web}/schedules/{schedule_id}?view={view}&date={date}")
        check_view(page, web, schedule_id)
    fall = page.locator("section.day", has=page.locator("#day-2027-11-07"))
    expect(fall.locator(".dst")).to_have_text("25-hour day")
    expect(fall.locator(".shift").first).to_contain_text("25 h")
    shot(page, "schedule-week-fall-back")
    assert page.csp_violations == []  # type: ignore[attr-defined]
    context.close()

    phone = open_context(browser, PHONE, timezone_id=ZONE)
    small = watch_csp(phone.new_page())
    small.clock.set_fixed_time(CLOCK)
    small.goto(f"{web}/login?next=/schedules")
    sign_in(small, world["manager"])
    expect(small).to_have_url(f"{web}/schedules")
    assert no_horizontal_scroll(small)
    for view in ("week", "month", "list"):
        small.goto(f"{web}/schedules/{schedule_id}?view={view}&date=2027-03-14")
        assert no_horizontal_scroll(small), view
    assert serious_violations(small) == []
    assert small.csp_violations == []  # type: ignore[attr-defined]
    phone.close()


def test_the_override_dialog_by_keyboard_alone(
    web: str, desktop: Page, db_conn: psycopg.Connection[Any], world: dict[str, Any]
) -> None:
    schedule = schedules.create_schedule(db_conn, "Keyboard", ZONE, "", world["team"]["id"])
    schedule_rules.create_schedule_rule(
        db_conn, schedule["id"], {"target_type": "rotation", "target_id": world["rotation"]["id"],
                                  "weekdays": list(range(7)), "start_time": "00:00",
                                  "end_time": "00:00"},
    )  # fmt: skip
    page = desktop
    page.clock.set_fixed_time(CLOCK)
    target = f"/schedules/{schedule['id']}?date=2027-03-10"
    page.goto(f"{web}/login?{urlencode({'next': target})}")
    sign_in(page, world["manager"])
    block = page.locator("section.day", has=page.locator("#day-2027-03-10")).locator(".shift")
    expect(block.first).to_be_visible()

    tab_to(page, block.first)
    page.keyboard.press("Enter")
    dialog = page.locator("#override-dialog")
    expect(dialog).to_be_visible()
    inside = "() => document.getElementById('override-dialog').contains(document.activeElement)"
    assert page.evaluate(inside)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(block.first).to_be_focused()

    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    tab_to(page, dialog.get_by_label("Replace them with someone"))
    page.keyboard.press("ArrowDown")  # the radio group's next choice: add
    expect(dialog.get_by_label("Add someone beside them")).to_be_checked()
    tab_to(page, dialog.get_by_label("Person"))
    page.keyboard.press("End")  # the last person offered
    tab_to(page, dialog.get_by_role("button", name="Save override"))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Override saved.")).to_be_visible()
    (stored,) = overrides.list_overrides(db_conn, schedule["id"])
    assert stored["kind"] == "add" and stored["start"] == datetime(2027, 3, 10, 5, tzinfo=UTC)
    assert page.csp_violations == []  # type: ignore[attr-defined]
