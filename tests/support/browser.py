"""What every browser test of the web app shares: Debian's Chromium, the two viewports, a
context with a fixed locale and zone, sign-in through the form, axe-core's serious and critical
violations, CSP violations, sideways scrolling on a phone and keyboard focus (README, Web app).

The pytest fixtures built on these (`browser_type_launch_args`, `web_app`, `desktop`) live in
tests/system/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Locator, Page

from tests.support.signin import PASSWORD

CHROMIUM = "/usr/bin/chromium"  # Debian's: Playwright cannot download its own browsers here
AXE = Path(__file__).parents[1] / "fixtures/vendor/axe-core-4.14.1/axe.min.js"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
UI_TIMEOUT = 10_000  # ms any page step may take on a loaded 2-core machine
MAX_TABS = 60  # Tab presses that reach any control on a page, or it cannot take focus
SHOTS = os.environ.get("KLAXON_TEST_SCREENSHOTS", "")  # a folder to leave screenshots in


def shot(page: Page, name: str) -> None:
    """Leave a full-page screenshot named `name` for a person to look at, when asked to."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def open_context(
    browser: Browser, viewport: dict[str, int], timezone_id: str = "America/New_York"
) -> BrowserContext:
    """A browser context (one person's cookies) at `viewport`, in US English and `timezone_id`."""
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id=timezone_id)
    context.set_default_timeout(UI_TIMEOUT)
    return context


def watch_csp(page: Page) -> Page:
    """Collect every Content-Security-Policy violation the page reports in
    `page.csp_violations` (tests assert it stays empty)."""
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


def no_horizontal_scroll(page: Page) -> bool:
    """Whether the page fits a phone's width (nothing scrolls sideways)."""
    width: int = page.evaluate("() => document.documentElement.scrollWidth")
    return width <= PHONE["width"]


def tab_to(page: Page, target: Locator, key: str = "Tab") -> int:
    """Press Tab (or `key`: Shift+Tab goes back) until `target` has focus; how many presses it
    took (fails past MAX_TABS)."""
    handle = target.element_handle()
    assert handle is not None
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press(key)
        if page.evaluate("el => document.activeElement === el", handle):
            return presses
    focused = page.evaluate("() => document.activeElement && document.activeElement.outerHTML")
    raise AssertionError(f"{target} not reached in {MAX_TABS} Tab presses; focus is on {focused}")
