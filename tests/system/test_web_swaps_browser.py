"""Shift swaps in a real browser (Debian's Chromium driven by Playwright) against gunicorn, with
two browser contexts as two people: Alice, on call by a rule, asks for cover from the form a
schedule's shift links to; Carol sees it on /swaps and takes it; Alice's page shows it taken and
the API's shifts put Carol on call for that stretch. Alice then asks again and withdraws. Every
swap page passes axe-core, fits a phone and never violates the CSP."""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import (
    DESKTOP,
    PHONE,
    no_horizontal_scroll,
    open_context,
    serious_violations,
    shot,
    sign_in,
    watch_csp,
)
from tests.support.swaps import iso, swap_world, tomorrow_at

pytestmark = pytest.mark.system


def checked(page: Page) -> None:
    """axe-core clean at desktop size and at a phone's, which must not scroll sideways."""
    assert serious_violations(page) == [], page.url
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    assert no_horizontal_scroll(page), page.url
    assert serious_violations(page) == [], page.url
    assert size is not None
    page.set_viewport_size(size)


def shifts(web: str, key: str, schedule: str) -> list[tuple[str, str, str]]:
    query = urlencode({"start": iso(tomorrow_at(9)), "end": iso(tomorrow_at(17))})
    request = urllib.request.Request(
        f"{web}/api/v1/schedules/{schedule}/shifts?{query}",
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        items = json.load(response)["items"]
    return [(s["user_id"], s["start"], s["end"]) for s in items]


def test_two_people_swap_a_shift_and_the_schedule_agrees(
    web: str, browser: Browser, db_conn: psycopg.Connection[Any]
) -> None:
    world = swap_world(db_conn)
    ids, schedule = world["ids"], world["schedule"]
    db_conn.execute("UPDATE users SET time_zone = 'Europe/Berlin' WHERE id = %s", (ids["alice"],))
    alice_context = open_context(browser, DESKTOP, timezone_id="Europe/Berlin")
    carol_context = open_context(browser, DESKTOP, timezone_id="America/New_York")
    alice = watch_csp(alice_context.new_page())
    carol = watch_csp(carol_context.new_page())

    # Alice follows a shift's link to the form (signing in on the way), prefilled in her zone.
    span = {"start": iso(tomorrow_at(10)), "end": iso(tomorrow_at(12))}
    alice.goto(f"{web}/schedules/{schedule}/swaps/new?{urlencode(span)}")
    sign_in(alice, world["people"]["alice"])
    start_field = alice.get_by_label("From (Europe/Berlin)")
    expect(start_field).to_have_value(
        tomorrow_at(10).astimezone(_berlin()).strftime("%Y-%m-%dT%H:%M")
    )
    checked(alice)
    alice.get_by_label("Note (optional)").fill("dentist at 10")
    alice.get_by_role("button", name="Ask for cover").click()
    expect(alice.get_by_role("status")).to_contain_text("Cover asked for")
    expect(alice.locator("#swap-status")).to_have_text("open")
    swap_url = alice.url.split("?")[0]
    checked(alice)

    # Carol sees it among the open requests and takes it.
    carol.goto(f"{web}/swaps")
    sign_in(carol, world["people"]["carol"])
    card = carol.get_by_role("list", name="Open requests").get_by_role("listitem")
    expect(card).to_contain_text("dentist at 10")
    expect(card).to_contain_text("asked by Alice")
    checked(carol)
    card.get_by_role("button", name="Take the shift swap of Alice").click()
    expect(carol.get_by_role("status")).to_contain_text("You took it")
    expect(carol.get_by_role("list", name="Swaps you asked for or took")).to_contain_text("taken")

    # Alice's page shows it taken; the API's shifts put Carol on call for the stretch.
    alice.goto(swap_url)
    expect(alice.locator("#swap-status")).to_have_text("taken")
    expect(alice.locator(".facts")).to_contain_text("Carol")
    assert shifts(web, world["keys"]["carol"], schedule) == [
        (ids["alice"], iso(tomorrow_at(9)), iso(tomorrow_at(10))),
        (ids["carol"], iso(tomorrow_at(10)), iso(tomorrow_at(12))),
        (ids["alice"], iso(tomorrow_at(12)), iso(tomorrow_at(17))),
    ]

    # Alice asks again from her schedule's swaps page, then withdraws it.
    alice.goto(f"{web}/schedules/{schedule}/swaps")
    alice.get_by_role("link", name="Ask for cover").click()
    local = "%Y-%m-%dT%H:%M"
    # First for a stretch she is not on call: refused, the form comes back with why and what
    # she typed.
    early = tomorrow_at(7).astimezone(_berlin()).strftime(local)
    alice.get_by_label("From (Europe/Berlin)").fill(early)
    alice.get_by_label("Until (Europe/Berlin)").fill(
        tomorrow_at(8).astimezone(_berlin()).strftime(local)
    )
    alice.get_by_label("Note (optional)").fill("school run")
    alice.get_by_role("button", name="Ask for cover").click()
    expect(alice.get_by_role("alert")).to_contain_text("not on call")
    expect(alice.get_by_label("From (Europe/Berlin)")).to_have_value(early)
    expect(alice.get_by_label("Note (optional)")).to_have_value("school run")
    checked(alice)
    shot(alice, "swap-refused")
    alice.get_by_label("From (Europe/Berlin)").fill(
        tomorrow_at(14).astimezone(_berlin()).strftime(local)
    )
    alice.get_by_label("Until (Europe/Berlin)").fill(
        tomorrow_at(15).astimezone(_berlin()).strftime(local)
    )
    alice.get_by_role("button", name="Ask for cover").click()
    expect(alice.locator("#swap-status")).to_have_text("open")
    alice.get_by_role("button", name="Withdraw the shift swap of Alice").click()
    expect(alice.get_by_role("status")).to_contain_text("Withdrawn")
    expect(alice.locator("#swap-status")).to_have_text("withdrawn")
    alice.goto(f"{web}/schedules/{schedule}/swaps")
    past = alice.get_by_role("list", name="Past requests")
    expect(past.get_by_role("listitem")).to_have_count(2)
    expect(alice.get_by_role("list", name="Open requests")).to_have_count(0)
    checked(alice)
    assert alice.csp_violations == [] and carol.csp_violations == []  # type: ignore[attr-defined]
    alice_context.close()
    carol_context.close()


def _berlin() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")
