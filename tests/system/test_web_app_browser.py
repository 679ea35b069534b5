"""The web app in a real browser (Debian's Chromium driven by Playwright) against gunicorn
(README, Web app): sign in; an alert raised through the generic endpoint appears in the open
list within 3 s without a reload; acknowledge from the list and from the alert's page, and the
log says via web with the user; bulk close; the phone viewport; no session -> sign-in page; a
form post without the CSRF token is refused; axe-core finds no serious or critical violation;
the CSP is never violated."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from app.alerts import store
from tests.support.e2e import raise_alert
from tests.support.procs import KlaxonProcess
from tests.support.signin import PASSWORD, make_user

pytestmark = pytest.mark.system

CHROMIUM = "/usr/bin/chromium"  # Debian's: Playwright cannot download its own browsers here
AXE = Path(__file__).parents[1] / "fixtures/vendor/axe-core-4.14.1/axe.min.js"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LIVE_WITHIN = 3.0  # seconds from a raise to the row in an open list (README, Web app)
UI_TIMEOUT = 10_000  # ms any other page step may take on a loaded 2-core machine


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser, launched from Debian's Chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture
def web(klaxon_env: dict[str, str], start_web: Callable[..., tuple[KlaxonProcess, int]]) -> str:
    _proc, port = start_web({**klaxon_env, "KLAXON_PUBLIC_URL": "http://127.0.0.1"})
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def person(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn)


def open_context(browser: Browser, viewport: dict[str, int]) -> BrowserContext:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="America/New_York")
    context.set_default_timeout(UI_TIMEOUT)
    return context


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    context = open_context(browser, DESKTOP)
    yield watch_csp(context.new_page())
    context.close()


def watch_csp(page: Page) -> Page:
    """Fail the test on any Content-Security-Policy violation the page reports."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.csp_violations = violations  # type: ignore[attr-defined]
    return page


def sign_in(page: Page, person: dict[str, Any]) -> None:
    """Fill in and send the sign-in form the page shows."""
    page.get_by_label("Email").fill(person["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it stands."""
    page.evaluate(AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def log_text(db_conn: psycopg.Connection[Any], alert_id: int) -> list[tuple[str, Any, Any]]:
    return [
        (e["event"], e["actor_id"], e["meta"].get("via"))
        for e in store.alert_log(db_conn, alert_id, None, 100)
    ]


def test_a_responder_sees_alerts_arrive_and_acts_on_them(
    web: str,
    desktop: Page,
    person: dict[str, Any],
    db_conn: psycopg.Connection[Any],
    make_service: Callable[..., dict[str, Any]],
) -> None:
    page = desktop
    service = make_service("checkout")
    token = service["integration_key"]["token"]
    page.goto(f"{web}/login")
    assert serious_violations(page) == []
    sign_in(page, person)
    expect(page).to_have_url(f"{web}/alerts")
    expect(page.get_by_text("No alerts match.")).to_be_visible()
    page.evaluate("() => { window.stillTheSameDocument = true; }")

    first = int(raise_alert(int(web.rsplit(":", 1)[1]), token, "checkout latency high"))
    raised = time.monotonic()
    row = page.locator(f'[data-alert-id="{first}"]')
    row.wait_for(timeout=LIVE_WITHIN * 1000)
    assert time.monotonic() - raised <= LIVE_WITHIN
    assert page.evaluate("() => window.stillTheSameDocument === true"), "the page reloaded"
    expect(row.locator("time")).to_contain_text("EST")  # the browser's zone, named
    assert serious_violations(page) == []

    row.get_by_role("button", name=f"Acknowledge alert #{first}").click()
    expect(page.get_by_role("status")).to_have_text("Acknowledged 1 alert.")
    assert ("acknowledged", person["id"], "web") in log_text(db_conn, first)

    second = int(raise_alert(int(web.rsplit(":", 1)[1]), token, "checkout errors"))
    page.locator(f'[data-alert-id="{second}"] a.summary').click(timeout=LIVE_WITHIN * 1000)
    expect(page).to_have_url(f"{web}/alerts/{second}")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#alert-log")).to_contain_text(f"acknowledged by {person['name']} via web")
    assert ("acknowledged", person["id"], "web") in log_text(db_conn, second)

    page.goto(f"{web}/alerts")
    page.get_by_label(f"Select alert #{first}").check()
    page.get_by_label(f"Select alert #{second}").check()
    page.get_by_role("button", name="Close selected").click()
    expect(page.get_by_role("status")).to_have_text("Closed 2 alerts.")
    assert {store.alert_status(db_conn, i) for i in (first, second)} == {"closed"}
    expect(page.get_by_text("No alerts match.")).to_be_visible()
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_the_phone_view_fits_and_a_page_without_a_session_goes_to_sign_in(
    web: str,
    browser: Browser,
    person: dict[str, Any],
    db_conn: psycopg.Connection[Any],
    make_service: Callable[..., dict[str, Any]],
) -> None:
    service = make_service("payments")
    alert_id = store.raise_alert(
        db_conn, service["id"], "payments gateway timing out " * 6, details="x" * 400
    ).alert_id
    context = open_context(browser, PHONE)
    page = watch_csp(context.new_page())
    page.goto(f"{web}/alerts/{alert_id}")
    expect(page).to_have_url(f"{web}/login?next=%2Falerts%2F{alert_id}")
    sign_in(page, person)
    expect(page).to_have_url(f"{web}/alerts/{alert_id}")
    assert no_horizontal_scroll(page)
    expect(page.get_by_role("button", name="Acknowledge")).to_be_in_viewport()

    page.goto(f"{web}/alerts")
    assert no_horizontal_scroll(page)
    expect(page.get_by_role("button", name=f"Acknowledge alert #{alert_id}")).to_be_in_viewport()
    assert serious_violations(page) == []
    assert page.csp_violations == []  # type: ignore[attr-defined]

    # The browser's own cookie, a form post without the page's CSRF token: refused, nothing done.
    forged = context.request.post(
        f"{web}/alerts/{alert_id}/acknowledge", form={"back": "/alerts"}, max_redirects=0
    )
    assert forged.status == 403 and "CSRF" in forged.text()
    assert store.alert_status(db_conn, alert_id) == "triggered"
    context.close()


def no_horizontal_scroll(page: Page) -> bool:
    width: int = page.evaluate("() => document.documentElement.scrollWidth")
    return width <= PHONE["width"]
