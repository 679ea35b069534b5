"""The on-call page in a real browser (Debian's Chromium, Playwright) against gunicorn, on the
demo dataset: reached from the nav, shows every service and the viewer's shifts; axe-core finds
no serious or critical violation; the phone viewport does not scroll sideways; no CSP
violation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from app.commands import demo_data
from tests.support.browser import (
    DESKTOP,
    PHONE,
    open_context,
    serious_violations,
    watch_csp,
)

pytestmark = pytest.mark.system


@pytest.fixture(params=["desktop", "phone"])
def view(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = open_context(browser, DESKTOP if request.param == "desktop" else PHONE)
    yield watch_csp(context.new_page())
    context.close()


def test_on_call_page_from_the_nav(web: str, view: Page, db_conn: psycopg.Connection[Any]) -> None:
    seeded = demo_data.seed(db_conn)
    page = view
    page.goto(f"{web}/login")
    page.get_by_label("Email").fill(seeded.email)
    page.get_by_label("Password").fill(seeded.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{web}/alerts")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="On call").click()
    expect(page).to_have_url(f"{web}/on-call")
    expect(page.get_by_role("heading", name="On call now")).to_be_visible()
    expect(page.locator("li.service")).to_have_count(demo_data.DEMO.services)
    expect(page.get_by_text("You are on call now:")).to_be_visible()  # the demo admin is
    expect(page.get_by_text("No escalation policy: nobody is paged.").first).to_be_visible()
    assert serious_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.csp_violations == []  # type: ignore[attr-defined]
