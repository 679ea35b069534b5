"""The administration pages in a real browser (Debian's Chromium driven by Playwright) against
gunicorn and `klaxon worker` (README, Web app, Administration): an admin invites a person on
/admin/users, the worker emails the link, and the person opens it in a second browser context,
chooses a password and is signed in to the web app; the system page shows the fatal report of a
real worker that failed its preflight, with its text. Every admin page: axe-core finds no
serious or critical violation at desktop and phone width, the phone view does not scroll
sideways, the CSP is never violated."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from app.directory import api_keys, users
from tests.support.browser import (
    DESKTOP,
    PHONE,
    no_horizontal_scroll,
    open_context,
    serious_violations,
    shot,
    sign_in,
)
from tests.support.fakes.smtp import FakeSmtp
from tests.support.procs import KlaxonProcess, klaxon_bin
from tests.support.signin import make_user
from tests.support.teams import make_team

pytestmark = pytest.mark.system

LINK = re.compile(r"http://127\.0\.0\.1(/auth/invitation/[\w-]+)")  # the public URL has no port
EXIT_TIMEOUT = 30.0  # seconds a worker that fails its preflight may take to exit
WRONG_PASSWORD_REPLY = "535 5.7.8 Authentication credentials invalid"


def check_page(page: Page, name: str) -> None:
    """axe-core at desktop and phone width, the phone fit, and a screenshot of each."""
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        assert serious_violations(page) == [], (name, size)
        if size == "phone":
            assert no_horizontal_scroll(page), name
        shot(page, f"admin-{name}-{size}")
    page.set_viewport_size(DESKTOP)


def test_an_admin_invites_a_person_who_signs_in_through_the_emailed_link(
    klaxon_env: dict[str, str], start_web: Callable[..., tuple[KlaxonProcess, int]],
    start_worker: Callable[..., KlaxonProcess], smtp_server: FakeSmtp, browser: Browser,
    db_conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    env = {**klaxon_env, "KLAXON_PUBLIC_URL": "http://127.0.0.1", "SMTP_URL": smtp_server.url(),
           "SMTP_FROM": "Klaxon <klaxon@example.com>"}  # fmt: skip
    _proc, port = start_web(env)
    web = f"http://127.0.0.1:{port}"
    start_worker(env)
    admin = make_user(db_conn, role="admin")
    team = make_team(db_conn, managers=[admin], name="Payments")
    api_keys.create_api_key(db_conn, "deploy pipeline with a long name", "write", None, None)

    context = open_context(browser, DESKTOP)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(f"{web}/admin")
    sign_in(page, admin)
    expect(page).to_have_url(f"{web}/admin/users")
    page.get_by_label("Name", exact=True).fill("Sam Invited")
    page.get_by_label("Email", exact=True).fill("sam@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent")
    expect(page.locator("#invitations")).to_contain_text("sam@example.com")
    check_page(page, "users")

    mail = smtp_server.wait_for(1, timeout=30)[0]
    found = LINK.search(mail.part("text/plain"))
    assert found is not None, mail.part("text/plain")
    invited = open_context(browser, PHONE)
    person = invited.new_page()
    person.goto(web + found.group(1))
    person.get_by_label("New password").fill("a long enough passphrase")
    person.get_by_role("button", name="Set password and sign in").click()
    expect(person).to_have_url(f"{web}/alerts")
    expect(person.locator(".who")).to_have_text("Sam Invited")
    invited.close()

    page.reload()
    expect(page.locator("#invitations")).not_to_contain_text("sam@example.com")  # accepted
    sam = next(u for u in users.list_users(db_conn) if u["email"] == "sam@example.com")
    expect(page.locator(f'[data-user-id="{sam["id"]}"]')).not_to_contain_text("not known")
    for name, path in (("teams", "/admin/teams"), ("team", f"/admin/teams/{team['id']}"),
                       ("api-keys", "/admin/api-keys"), ("audit", "/admin/audit"),
                       ("system", "/admin/system")):  # fmt: skip
        page.goto(web + path)
        expect(page.locator(".admin-nav [aria-current=page]")).to_have_count(1)
        if name == "api-keys":
            page.get_by_label("Key name").fill("chatops")
            page.get_by_role("button", name="Create service key").click()
            expect(page.locator("#new-key")).to_have_value(re.compile(r"^klx_"))
        check_page(page, name)
    assert violations == []
    context.close()


def test_the_system_page_shows_the_fatal_report_of_a_worker_that_failed_its_preflight(
    klaxon_env: dict[str, str], spawn: Callable[..., KlaxonProcess], smtp_server: FakeSmtp,
    web: str, desktop: Page, db_conn: psycopg.Connection[Any], instance_name: str,
) -> None:  # fmt: skip
    env = {**klaxon_env, "SMTP_URL": smtp_server.url(password="not-the-password"),
           "SMTP_FROM": "Klaxon <klaxon@example.com>"}  # fmt: skip
    worker = spawn([klaxon_bin("klaxon"), "worker"], env, name="worker")
    assert worker.wait(EXIT_TIMEOUT) == 1, worker.stderr()[-3000:]

    page = desktop
    page.goto(f"{web}/admin/system")
    sign_in(page, make_user(db_conn, role="admin"))
    expect(page).to_have_url(f"{web}/admin/system")
    report = page.locator(".fatal-report")
    expect(report).to_contain_text(f"worker@{instance_name}")
    expect(report).to_contain_text("provider:smtp")
    expect(report).to_contain_text(WRONG_PASSWORD_REPLY)
    expect(page.locator('[data-check="workers"]')).to_contain_text("fail")
    expect(page.locator("#overall")).to_have_text("fail")
    expect(page.get_by_role("link", name="the RQ dashboard")).to_have_attribute(
        "href", "/admin/rq/"
    )
    assert "not-the-password" not in page.content()
    check_page(page, "system-fatal")
    assert page.csp_violations == []  # type: ignore[attr-defined]
