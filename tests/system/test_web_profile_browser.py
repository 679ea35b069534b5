"""The profile page in a real browser (Chromium through Playwright) against gunicorn, with the
real engine and worker running (README, Web app): a person adds a webhook contact method
pointing at a local receiver, verifies it with the code the receiver got, adds a notification
rule, and an alert on a service whose escalation policy targets them arrives at the receiver;
a calendar URL is shown once and its Copy button copies it.
axe-core finds no serious or critical violation; the phone view does not scroll sideways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, expect

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
from tests.support.e2e import Http, raise_alert
from tests.support.fakes.webhook import WebhookReceiver
from tests.support.procs import KlaxonProcess
from tests.support.signin import make_user
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

PAGE_TIMEOUT = 30.0  # seconds from the alert to its page at the receiver (engine + worker)


@pytest.fixture
def running(
    klaxon_env: dict[str, str],
    start_web: Callable[..., tuple[KlaxonProcess, int]],
    start_worker: Callable[..., KlaxonProcess],
    start_engine: Callable[..., KlaxonProcess],
) -> int:
    """gunicorn, a worker and the engine on this test's database and Redis; the web port."""
    env = {**klaxon_env, "KLAXON_PUBLIC_URL": "http://127.0.0.1"}
    _proc, port = start_web(env)
    start_worker(env)
    start_engine(env)
    return port


def pages_user(api: Http, user_id: str) -> str:
    """A service whose escalation policy pages `user_id`; its generic integration key."""
    step = {"delay_minutes": 5, "targets": [{"type": "user", "id": user_id}]}
    policy = api.api("POST", "/escalation-policies", {"name": "me", "steps": [step]}, expect=201)
    body = {"name": "checkout", "escalation_policy_id": policy["id"]}
    service = api.api("POST", "/services", body, expect=201)
    path = f"/services/{service['id']}/integration-keys"
    return str(api.api("POST", path, {"type": "generic"}, expect=201)["token"])


def test_a_person_sets_up_a_webhook_and_gets_paged_through_it(
    running: int,
    browser: Browser,
    db_conn: psycopg.Connection[Any],
    webhook_receiver: WebhookReceiver,
    make_api_key: Callable[[str], str],
) -> None:
    web = f"http://127.0.0.1:{running}"
    person = make_user(db_conn)
    context = open_context(browser, DESKTOP)
    page = watch_csp(context.new_page())
    page.goto(f"{web}/profile")
    sign_in(page, person)
    expect(page).to_have_url(f"{web}/profile")
    expect(page.get_by_text("No contact methods yet")).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_label("Name", exact=True).last.fill("Pager hook")
    page.get_by_label("Type").select_option("webhook")
    page.get_by_label("Address").fill(webhook_receiver.url("/me"))
    page.get_by_role("button", name="Add and send a code").click()
    expect(page.get_by_role("heading", name="Webhook added")).to_be_visible()
    assert len(page.get_by_label("Signing secret").input_value()) >= 32
    assert serious_violations(page) == []
    page.get_by_role("link", name="Back to your profile").click()

    def code() -> list[str]:
        sent = [r.json() for r in webhook_receiver.requests("/me")]
        return [m["code"] for m in sent if m["kind"] == "verification"]

    (received,) = wait_until(code, PAGE_TIMEOUT, "the verification code at the receiver")
    page.get_by_label("Code for Pager hook").fill(received)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("status")).to_have_text("Contact method verified.")

    page.get_by_label("Contact method", exact=True).select_option(label="Pager hook (webhook)")
    page.get_by_label("After minutes").fill("0")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("status")).to_have_text("Notification rule added.")
    expect(page.locator("#rules-h + p + ul")).to_contain_text("Pager hook")
    assert serious_violations(page) == []
    assert page.csp_violations == []  # type: ignore[attr-defined]
    shot(page, "profile-desktop")

    page.get_by_role("button", name="Create a calendar URL").click()
    expect(page.get_by_role("heading", name="Calendar feed created")).to_be_visible()
    url = page.get_by_label("Calendar URL").input_value()
    assert url.startswith("http://127.0.0.1/calendar/") and url.endswith(".ics")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == url
    assert serious_violations(page) == []
    shot(page, "calendar-shown-once")
    page.get_by_role("link", name="Back to your profile").click()
    expect(page.get_by_role("button", name="Revoke feed")).to_be_visible()
    assert url.rsplit("/", 1)[1] not in page.content()  # shown once: never again

    token = pages_user(Http(running, make_api_key("admin")), person["id"])
    alert_id = raise_alert(running, token, "checkout is down")

    def paged() -> list[Any]:
        sent = [r.json() for r in webhook_receiver.requests("/me")]
        return [m for m in sent if m["kind"] == "alert"]

    (alert,) = wait_until(paged, PAGE_TIMEOUT, "the page at the person's webhook")
    assert alert["alert"]["id"] == alert_id

    phone = watch_csp(open_context(browser, PHONE).new_page())
    phone.goto(f"{web}/profile")
    sign_in(phone, person)
    expect(phone.get_by_role("heading", name="Your profile")).to_be_visible()
    assert no_horizontal_scroll(phone)
    assert serious_violations(phone) == []
    shot(phone, "profile-phone")
    context.close()
    phone.context.close()
