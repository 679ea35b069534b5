"""The pages a person meets outside the app's own screens pass axe-core too (issue 14: no serious
or critical violation on any page): the invitation page, the password-reset request and its
answer, a dead or unknown link, and the app's 404 page — at desktop and phone sizes, with no
sideways scroll and no CSP violation. The app's screens are checked where they are tested
(test_web_app_browser, test_web_services_browser, test_web_profile_browser,
test_web_on_call_browser)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from playwright.sync_api import Browser, Page

from tests.support.browser import (
    DESKTOP,
    PHONE,
    open_context,
    serious_violations,
    sign_in,
    watch_csp,
)
from tests.support.signin import make_user

pytestmark = pytest.mark.system

HTTP_TIMEOUT = 10  # seconds


@pytest.fixture
def person(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn)


def invite(web: str, token: str, email: str) -> str:
    """The invitation link the API shows when no SMTP is configured."""
    request = urllib.request.Request(
        f"{web}/api/v1/invitations",
        data=json.dumps({"email": email, "name": "Grace"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:
        body = json.loads(answer.read())
    assert body["delivery"] == "not_configured", body
    return str(body["link"])


def check(page: Page, url: str, expected_status: int) -> None:
    response = page.goto(url)
    assert response is not None and response.status == expected_status, url
    assert serious_violations(page) == [], url
    width: int = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], url  # type: ignore[index]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_link_and_error_pages_have_no_serious_accessibility_violations(
    web: str,
    browser: Browser,
    person: dict[str, Any],
    make_api_key: Callable[[str], str],
    db_conn: psycopg.Connection[Any],
    size: dict[str, int],
) -> None:
    link = invite(web, make_api_key("admin"), f"grace-{size['width']}@example.com")
    link = web + urlsplit(link).path  # the link names KLAXON_PUBLIC_URL, which has no port here
    context = open_context(browser, size)
    page = watch_csp(context.new_page())
    try:
        check(page, link, 200)  # the invitation's set-a-password form
        check(page, f"{web}/auth/password-reset", 200)
        page.get_by_label("Email").fill(make_user(db_conn)["email"])
        page.get_by_role("button").first.click()
        assert serious_violations(page) == []  # the "check your email" answer
        check(page, f"{web}/auth/invitation/{'A' * 64}", 404)  # a link that is not valid
        page.goto(f"{web}/login")
        sign_in(page, person)
        page.wait_for_url(f"{web}/alerts")
        check(page, f"{web}/alerts/987654321", 404)
        assert page.csp_violations == []  # type: ignore[attr-defined]
    finally:
        context.close()
