"""The rotation pages in a real browser (Debian's Chromium driven by Playwright) against
gunicorn (README, Web app): a team manager creates a rotation of three people in the browser,
reorders them with Move down (by keyboard) and by dragging, advances and sets the current
participant, and each time the page's "on call now" agrees with
GET /api/v1/rotations/<id>/on-call and its next handoffs agree with app.oncall's computation,
shown in the manager's zone; axe-core finds no serious or critical violation; the phone view
does not scroll sideways; the CSP is never violated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from app.directory import users
from app.oncall import handoffs
from app.oncall import rotations as stored_rotations
from tests.support.browser import (
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

VIEWER_ZONE = "Europe/Berlin"  # the manager's profile zone: every time is shown in it
ROTATION_ZONE = "America/New_York"


@pytest.fixture
def crew(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """A manager (profile zone Europe/Berlin) of team Payments, and three people to rotate."""
    manager = make_user(db_conn)
    users.update_user(db_conn, manager["id"], {"time_zone": VIEWER_ZONE})
    people = [
        users.create_user(db_conn, f"{name} Rota", f"{name.lower()}.rota@example.com")
        for name in ("Ada", "Bo", "Cy")
    ]
    team = make_team(db_conn, managers=[manager], name="Payments")
    return {"manager": manager, "people": people, "team": team}


def order_of(db_conn: psycopg.Connection[Any], rotation_id: str) -> list[str]:
    row = stored_rotations.get_rotation(db_conn, rotation_id)
    assert row is not None
    return list(row["participants"])


def check_against_the_api(page: Page, db_conn: psycopg.Connection[Any], rotation_id: str) -> str:
    """The page's "on call now" is the API's; its handoffs are the computation's, in the
    viewer's zone, named. Who is on call."""
    base = page.url.split("/rotations")[0]
    answer = page.request.get(f"{base}/api/v1/rotations/{rotation_id}/on-call")
    assert answer.ok, answer.text()
    (on_call,) = answer.json()["user_ids"]
    expect(page.locator("p.on-now")).to_have_attribute("data-user-id", on_call)
    row = stored_rotations.get_rotation(db_conn, rotation_id)
    assert row is not None
    expected = handoffs.outlook(stored_rotations.rotation_value(row), datetime.now(UTC))
    items = page.locator("ol.handoffs > li")
    expect(items).to_have_count(len(expected.handoffs))
    zone = ZoneInfo(VIEWER_ZONE)
    for item, handoff in zip(items.all(), expected.handoffs, strict=True):
        assert datetime.fromisoformat(item.get_attribute("data-at") or "") == handoff.at
        assert item.get_attribute("data-user-id") == handoff.user_id
        local = handoff.at.astimezone(zone)
        assert f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}" in item.inner_text()
    return str(on_call)


def test_a_manager_builds_reorders_and_turns_a_rotation(
    web: str, desktop: Page, browser: Browser, crew: dict[str, Any],
    db_conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    page = desktop
    ada, bo, cy = (p["id"] for p in crew["people"])
    page.goto(f"{web}/rotations")
    sign_in(page, crew["manager"])
    expect(page).to_have_url(f"{web}/rotations")
    assert serious_violations(page) == []
    yesterday = datetime.now(ZoneInfo(ROTATION_ZONE)).date() - timedelta(days=1)
    page.get_by_label("Name").fill("Payments primary")
    page.get_by_label("Team").select_option(label="Payments")
    page.get_by_label("Shift length").fill("1")
    page.get_by_label("Unit").select_option(label="days")
    page.get_by_label("First handoff date").fill(yesterday.isoformat())
    page.get_by_label("Handoff time").fill("09:00")
    page.get_by_label("Time zone").select_option(ROTATION_ZONE)
    page.get_by_label("Participants").select_option([ada, bo, cy])
    page.get_by_role("button", name="Create rotation").click()
    expect(page.get_by_role("status")).to_contain_text("Rotation created")
    rotation_id = page.url.split("/rotations/")[1].split("?")[0]
    assert order_of(db_conn, rotation_id) == [ada, bo, cy]
    on_call = check_against_the_api(page, db_conn, rotation_id)
    assert serious_violations(page) == []
    shot(page, "rotation-desktop")

    # Move Ada down by keyboard alone: the order changes, whoever was on call stays on.
    tab_to(page, page.get_by_role("button", name="Move down Ada Rota"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Order saved")
    assert order_of(db_conn, rotation_id) == [bo, ada, cy]
    assert check_against_the_api(page, db_conn, rotation_id) == on_call

    # Drag Cy to the top.
    items = page.locator("ol.participants > li")
    items.nth(2).drag_to(items.nth(0), target_position={"x": 20, "y": 5})
    expect(page.get_by_role("status")).to_contain_text("Order saved")
    assert order_of(db_conn, rotation_id) == [cy, bo, ada]
    assert check_against_the_api(page, db_conn, rotation_id) == on_call
    expect(items.first).to_contain_text("Cy Rota")

    order = [cy, bo, ada]
    page.get_by_role("button", name="Advance to the next participant").click()
    expect(page.get_by_role("status")).to_contain_text("Handed off")
    advanced = check_against_the_api(page, db_conn, rotation_id)
    assert advanced == order[(order.index(on_call) + 1) % 3]
    target = next(p for p in crew["people"] if p["id"] not in (advanced,))
    page.get_by_role("button", name=f"Set current {target['name']}").click()
    expect(page.get_by_role("status")).to_contain_text("Current participant set")
    assert check_against_the_api(page, db_conn, rotation_id) == target["id"]
    expect(page.locator("li.current")).to_contain_text(target["name"])
    assert serious_violations(page) == []
    assert page.csp_violations == []  # type: ignore[attr-defined]

    phone = watch_csp(open_context(browser, PHONE).new_page())
    phone.goto(f"{web}/rotations/{rotation_id}")
    sign_in(phone, crew["manager"])
    expect(phone).to_have_url(f"{web}/rotations/{rotation_id}")
    assert no_horizontal_scroll(phone)
    assert serious_violations(phone) == []
    shot(phone, "rotation-phone")
    phone.goto(f"{web}/rotations")
    expect(phone.locator(f'tr[data-rotation-id="{rotation_id}"]')).to_contain_text("every day")
    assert no_horizontal_scroll(phone)
    assert serious_violations(phone) == []
    shot(phone, "rotations-phone")
    assert phone.csp_violations == []  # type: ignore[attr-defined]
    phone.context.close()
