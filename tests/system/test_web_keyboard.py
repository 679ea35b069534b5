"""Every action a responder takes is reachable by keyboard alone (issue 14, Accessibility): sign
in, act on one alert from the list, select alerts and act on them together, open an alert and
close it — with Tab, Shift+Tab, Space and Enter only, in a real browser against gunicorn. Each
step must reach its control within a bounded number of Tab presses, so a control that is not
focusable (or sits behind a trap) fails the test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Page, expect

from app.alerts import store
from tests.support.browser import tab_to
from tests.support.e2e import raise_alert
from tests.support.signin import PASSWORD, make_user

pytestmark = pytest.mark.system


@pytest.fixture
def person(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn)


@pytest.fixture
def page(desktop: Page) -> Page:
    return desktop


def status_of(db_conn: psycopg.Connection[Any], alert_id: int) -> str:
    row = db_conn.execute("SELECT status FROM alerts WHERE id = %s", (alert_id,)).fetchone()
    assert row is not None
    return str(row["status"])


def test_sign_in_and_every_alert_action_by_keyboard_alone(
    web: str,
    page: Page,
    person: dict[str, Any],
    db_conn: psycopg.Connection[Any],
    make_service: Callable[..., dict[str, Any]],
) -> None:
    port = int(web.rsplit(":", 1)[1])
    token = make_service("payments")["integration_key"]["token"]
    one, two, three, four = (int(raise_alert(port, token, f"payments alert {n}")) for n in range(4))

    page.goto(f"{web}/login")
    tab_to(page, page.get_by_label("Email"))
    page.keyboard.type(person["email"])
    tab_to(page, page.get_by_label("Password"))
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{web}/alerts")

    # One alert's own Acknowledge button.
    tab_to(page, page.get_by_role("button", name=f"Acknowledge alert #{one}"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Acknowledged 1 alert.")
    assert status_of(db_conn, one) == "acknowledged"

    # Select two alerts with Space, then the bulk action.
    for alert_id in (two, three):
        tab_to(page, page.get_by_label(f"Select alert #{alert_id}"))
        page.keyboard.press("Space")
    expect(page.get_by_label(f"Select alert #{two}")).to_be_checked()
    # The bulk buttons sit above the rows: back to them.
    tab_to(page, page.get_by_role("button", name="Close selected"), key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Closed 2 alerts")
    assert (status_of(db_conn, two), status_of(db_conn, three)) == ("closed", "closed")

    # Open an alert from the list, then close it from its page.
    tab_to(page, page.locator(f'[data-alert-id="{four}"] a.summary'))
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{web}/alerts/{four}")
    tab_to(page, page.get_by_role("button", name="Close", exact=True))
    page.keyboard.press("Enter")
    expect(page.locator("#alert-log")).to_contain_text(f"closed by {person['name']} via web")
    assert status_of(db_conn, four) == "closed"
    events = [e["event"] for e in store.alert_log(db_conn, four, None, 100)]
    assert "closed" in events
    assert page.csp_violations == []  # type: ignore[attr-defined]
