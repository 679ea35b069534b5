"""The services pages in a real browser (Debian's Chromium driven by Playwright) against
gunicorn (README, Web app): a team manager creates an integration key on the service page,
copies the shown example and raises an alert with it (the curl command's URL and body sent by
Python's HTTP client), and the alert appears on the service page; maintenance is started and
ended from the page; axe-core finds no serious or critical violation; the phone view does not
scroll sideways; the CSP is never violated."""

from __future__ import annotations

import itertools
import shlex
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from app.directory import services
from app.escalation import policies
from app.platform.embedded import free_port
from tests.support.browser import (
    PHONE,
    no_horizontal_scroll,
    open_context,
    serious_violations,
    shot,
    sign_in,
    watch_csp,
)
from tests.support.http import get
from tests.support.procs import KlaxonProcess
from tests.support.signin import make_user
from tests.support.teams import make_team
from tests.support.wait import wait_until
from tests.system.conftest import START_TIMEOUT, WEB

pytestmark = pytest.mark.system

HTTP_TIMEOUT = 10  # seconds the example's request may take


@pytest.fixture
def web(klaxon_env: dict[str, str], spawn: Callable[..., KlaxonProcess]) -> str:
    """gunicorn whose public URL is its own address, so the shown example reaches it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = spawn(WEB, {**klaxon_env, "PORT": str(port), "KLAXON_PUBLIC_URL": url})
    wait_until(
        lambda: not proc.alive() or get(port, "/livez", timeout=2).status == 200,
        START_TIMEOUT,
        "web answering /livez",
    )
    assert proc.alive(), proc.stderr()[-3000:]
    return url


@pytest.fixture
def manager(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn)


@pytest.fixture
def service(db_conn: psycopg.Connection[Any], manager: dict[str, Any]) -> dict[str, Any]:
    team = make_team(db_conn, managers=[manager], name="Payments")
    policy = policies.create_policy(
        db_conn, {"name": "Payments primary", "description": "", "repeat_count": 1,
                  "team_id": team["id"]},
        [{"delay_minutes": 5, "targets": [{"type": "user", "id": manager["id"]}]}],
    )  # fmt: skip
    service = services.create_service(db_conn, "checkout", "the shop's payment step", team["id"])
    services.update_service(db_conn, service["id"], {"escalation_policy_id": policy["id"]})
    return service


def run_curl(command: str) -> int:
    """Send what the shown curl command sends (its URL, method and form body) with Python's
    HTTP client; the response status."""
    words = shlex.split(command)
    assert words[:3] == ["curl", "-X", "POST"], command
    pairs = itertools.pairwise(words)
    fields = [tuple(w.split("=", 1)) for prev, w in pairs if prev == "--data-urlencode"]
    request = urllib.request.Request(
        words[-1],
        data=urlencode(fields).encode(),
        method="POST",
        headers={"Accept": "application/json",
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
        return int(response.status)


def test_a_manager_creates_a_key_and_raises_an_alert_with_the_shown_example(
    web: str, desktop: Page, manager: dict[str, Any], service: dict[str, Any],
    db_conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    page = desktop
    page.goto(f"{web}/services")
    sign_in(page, manager)
    expect(page).to_have_url(f"{web}/services")
    row = page.locator(f'tr[data-service-id="{service["id"]}"]')
    expect(row).to_contain_text("0")
    assert serious_violations(page) == []
    shot(page, "services-desktop")
    row.get_by_role("link", name="checkout").click()
    expect(page).to_have_url(f"{web}/services/{service['id']}")

    expect(page.locator("ol.steps")).to_contain_text(f"user {manager['name']}: paged directly")
    page.get_by_label("Name").fill("ci")
    page.get_by_role("button", name="Create integration key").click()
    shown = page.locator("#new-key-url")
    expect(shown).to_be_visible()
    assert shown.input_value().startswith(f"{web}/api/v2/generic/incoming?token=kli_")
    page.get_by_role("button", name="Copy URL").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert serious_violations(page) == []
    shot(page, "service-desktop")

    assert run_curl(page.locator("#new-key-curl").input_value()) in (200, 201)
    page.reload()
    expect(page.locator("#new-key-url")).to_have_count(0)  # shown once
    expect(page.locator("#alert-table")).to_contain_text("Test alert from Klaxon")
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_maintenance_is_started_and_ended_from_the_page_and_the_phone_view_fits(
    web: str, browser: Browser, manager: dict[str, Any], service: dict[str, Any],
    db_conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    context = open_context(browser, PHONE)
    page = watch_csp(context.new_page())
    page.goto(f"{web}/services/{service['id']}")
    sign_in(page, manager)
    expect(page).to_have_url(f"{web}/services/{service['id']}")
    assert no_horizontal_scroll(page)
    page.get_by_label("Duration").select_option(label="2 hours")
    page.get_by_role("button", name="Start maintenance").click()
    expect(page.get_by_role("status")).to_contain_text("Maintenance started")
    assert services.get_service(db_conn, service["id"])["maintenance_until"] is not None
    assert no_horizontal_scroll(page)
    assert serious_violations(page) == []
    page.get_by_role("button", name="Create integration key").click()
    expect(page.locator("#new-key-curl")).to_be_visible()
    assert no_horizontal_scroll(page)
    shot(page, "service-phone")

    page.get_by_role("button", name="End maintenance now").click()
    expect(page.get_by_role("status")).to_contain_text("Maintenance ended")
    assert services.get_service(db_conn, service["id"])["maintenance_until"] is None
    page.goto(f"{web}/services")
    assert no_horizontal_scroll(page)
    assert serious_violations(page) == []
    shot(page, "services-phone")
    assert page.csp_violations == []  # type: ignore[attr-defined]
    context.close()
