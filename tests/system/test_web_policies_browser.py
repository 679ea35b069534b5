"""The escalation policy pages in a real browser (Debian's Chromium driven by Playwright)
against gunicorn (README, Web app): a team manager creates a policy, builds two steps with the
target search (a schedule with someone on call, one with nobody), saves them and reads the
preview: the on-call person at minute 0 by SMS and at minute 5 by voice, and a warning for the
schedule with nobody on call. The step editor is then used by keyboard alone (add a step,
choose a target by search, move it up, save). axe-core finds no serious or critical violation
on the list, the policy page and its preview; the phone view does not scroll sideways; the CSP
is never violated."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from app.escalation import policies
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
from tests.support.policy_world import policy_world

pytestmark = pytest.mark.system


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return policy_world(db_conn)


def add_target(page: Page, step: int, text: str, name: str) -> None:
    """Search step `step`'s picker for `text` and add the suggestion called `name`."""
    page.get_by_label(f"Add a target to step {step + 1}").fill(text)
    page.get_by_role("button", name=name).click()
    expect(page.get_by_label(f"Targets of step {step + 1}")).to_contain_text(name.split(" ", 2)[2])


def test_a_manager_builds_a_two_step_policy_and_reads_its_preview(
    web: str, desktop: Page, browser: Browser, world: dict[str, Any],
    db_conn: psycopg.Connection[Any],
) -> None:  # fmt: skip
    page = desktop
    page.goto(f"{web}/escalation-policies")
    sign_in(page, world["manager"])
    expect(page).to_have_url(f"{web}/escalation-policies")
    assert serious_violations(page) == []
    page.get_by_label("Name", exact=True).fill("Checkout on call")
    page.get_by_label("Team").select_option(label=world["team"]["name"])
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("status")).to_contain_text("add its steps below")
    policy_url = page.url.split("?")[0]

    page.get_by_role("button", name="Add a step").click()
    # htmx binds the new step's search only when the swap settles, and focuses it then:
    # typing before that would be typing into a field nothing listens to yet.
    expect(page.get_by_label("Add a target to step 1")).to_be_focused()
    add_target(page, 0, "primary", f"Add schedule {world['primary']['name']}")
    page.get_by_label("Minutes from step 1 to the next").fill("5")
    page.get_by_role("button", name="Add a step").click()
    expect(page.get_by_label("Add a target to step 2")).to_be_focused()
    add_target(page, 1, "nobody", f"Add schedule {world['nobody']['name']}")
    page.get_by_role("button", name="Save steps").click()
    expect(page.get_by_role("status")).to_contain_text("Steps saved")

    primary, nobody = world["primary"]["name"], world["nobody"]["name"]
    expect(page.locator("ol.sentences")).to_contain_text(
        f"Immediately, notify whoever is on call in {primary}."
    )
    expect(page.locator("ol.sentences")).to_contain_text(
        f"After 5 minutes, notify whoever is on call in {nobody}."
    )
    first = page.locator('li.firing[data-minute="0"]')
    expect(first).to_contain_text(f"minute 0 by SMS {world['ada_phone']}, minute 5 by voice call")
    expect(first).to_contain_text("Ada ")
    expect(page.locator(".warnings")).to_contain_text(
        f"Minute 5 (step 2): nobody is on call in schedule {nobody}."
    )
    page.get_by_role("button", name="Refresh the preview").click()
    expect(page.locator('li.firing[data-minute="5"]')).to_contain_text("nobody on call")
    assert serious_violations(page) == []
    shot(page, "policy-desktop")
    saved = policies.get_policy(db_conn, policy_url.rsplit("/", 1)[1])
    assert saved is not None
    assert [[t["name"] for t in s["targets"]] for s in saved["steps"]] == [[primary], [nobody]]
    assert page.csp_violations == []  # type: ignore[attr-defined]

    phone = watch_csp(open_context(browser, PHONE).new_page())
    phone.goto(f"{web}/escalation-policies")
    sign_in(phone, world["manager"])
    expect(phone.locator("table.policies")).to_contain_text("Checkout on call")
    assert no_horizontal_scroll(phone)
    shot(phone, "policies-phone")
    phone.goto(policy_url)
    phone.get_by_label("Add a target to step 1").fill("a")
    expect(phone.locator("#found-0 button").first).to_be_visible()
    assert no_horizontal_scroll(phone)
    assert serious_violations(phone) == []
    shot(phone, "policy-phone")
    assert phone.csp_violations == []  # type: ignore[attr-defined]
    phone.context.close()


def test_the_step_editor_by_keyboard_alone(
    web: str, desktop: Page, world: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    policy = policies.create_policy(
        db_conn,
        {"name": "Keyboard", "description": "", "repeat_count": 0, "team_id": world["team"]["id"]},
        [{"delay_minutes": 3, "targets": [{"type": "user", "id": world["ada"]}]}],
    )
    page = desktop
    page.goto(f"{web}/escalation-policies/{policy['id']}")
    sign_in(page, world["manager"])
    expect(page).to_have_url(f"{web}/escalation-policies/{policy['id']}")

    tab_to(page, page.get_by_role("button", name="Add a step"))
    page.keyboard.press("Enter")
    search = page.get_by_label("Add a target to step 2")
    expect(search).to_be_focused()  # the editor moved focus to the new step's search
    page.keyboard.type("primary")
    page.keyboard.press("Enter")  # looks it up, never submits the editor
    suggestion = page.get_by_role("button", name=f"Add schedule {world['primary']['name']}")
    expect(suggestion).to_be_visible()
    tab_to(page, suggestion)
    page.keyboard.press("Enter")
    expect(page.get_by_label("Targets of step 2")).to_contain_text(world["primary"]["name"])
    expect(search).to_be_focused()
    tab_to(page, page.get_by_role("button", name="Move up step 2"))
    page.keyboard.press("Enter")
    expect(page.get_by_label("Targets of step 1")).to_contain_text(world["primary"]["name"])
    expect(page.get_by_role("button", name="Move down step 1")).to_be_focused()
    tab_to(page, page.get_by_role("button", name="Save steps"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Steps saved")

    saved = policies.get_policy(db_conn, policy["id"])
    assert saved is not None
    assert [[t["type"] for t in s["targets"]] for s in saved["steps"]] == [["schedule"], ["user"]]
    assert [s["delay_minutes"] for s in saved["steps"]] == [5, 3]
    assert page.csp_violations == []  # type: ignore[attr-defined]
