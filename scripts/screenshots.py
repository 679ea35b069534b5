"""`make screenshots`: a PNG of every web app page, at desktop (1440x900) and phone (390x844)
size, into build/screenshots/ (<page>-desktop.png, <page>-phone.png), from the demo dataset.

It runs the real thing: a fresh database (BENCH_DATABASE_URL's server, else an embedded
Postgres, as the benchmarks do; dropped after), `klaxon migrate`, the demo dataset
(app.commands.demo_data), gunicorn with the shipped config, and Debian's Chromium driven by
Playwright, signed in as the demo admin. A page that answers anything but itself (a redirect
to the sign-in page, an error page) or scrolls sideways stops the run with its name.

To add a page: append a Shot to PAGES; `{alert}` in a path is the demo's busiest alert, `{service}`
its service, `{policy}` that service's escalation policy, `{swap_schedule}` the schedule with the
most shift swaps and `{swap}` its first open one; other names are the first row of a query in
FIRST_ROWS (`{rotation}`, `{team}`, `{schedule}`) (page_params).
tests/system/test_screenshots.py runs `capture` once against gunicorn, so this cannot rot.

Usage: .venv/bin/python scripts/screenshots.py [--out build/screenshots]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

CHROMIUM = "/usr/bin/chromium"  # Debian's: Playwright's own browser downloads are never used
VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}
PAGE_TIMEOUT_MS = 15_000  # one navigation on a loaded machine
START_TIMEOUT = 60.0  # seconds gunicorn may take to answer /livez


@dataclass(frozen=True)
class Shot:
    name: str  # the PNG's name before -desktop/-phone
    path: str  # may hold {alert} and {service}
    signed_in: bool = True
    full_page: bool = False


PAGES: tuple[Shot, ...] = (
    Shot("login", "/login", signed_in=False),
    Shot("alert-list", "/alerts"),
    Shot("alert-list-all", "/alerts?status=all"),
    Shot("alert-detail", "/alerts/{alert}", full_page=True),
    Shot("on-call", "/on-call", full_page=True),
    Shot("services", "/services"),
    Shot("service", "/services/{service}", full_page=True),
    Shot("profile", "/profile", full_page=True),
    Shot("rotations", "/rotations", full_page=True),
    Shot("rotation", "/rotations/{rotation}", full_page=True),
    Shot("escalation-policies", "/escalation-policies"),
    Shot("escalation-policy", "/escalation-policies/{policy}", full_page=True),
    Shot("swaps", "/swaps", full_page=True),
    Shot("schedule-swaps", "/schedules/{swap_schedule}/swaps", full_page=True),
    Shot("swap", "/schedules/{swap_schedule}/swaps/{swap}", full_page=True),
    Shot("swap-new", "/schedules/{swap_schedule}/swaps/new"),
    # The administration pages (app.http.pages.admin_*): the demo signs in as an admin.
    Shot("admin-users", "/admin/users", full_page=True),
    Shot("admin-teams", "/admin/teams"),
    Shot("admin-team", "/admin/teams/{team}", full_page=True),
    Shot("admin-api-keys", "/admin/api-keys"),
    Shot("admin-audit", "/admin/audit"),
    Shot("admin-system", "/admin/system", full_page=True),
    Shot("schedules", "/schedules"),
    Shot("schedule-week", "/schedules/{schedule}?view=week", full_page=True),
    Shot("schedule-month", "/schedules/{schedule}?view=month", full_page=True),
    Shot("schedule-list", "/schedules/{schedule}?view=list", full_page=True),
)
# Path names that are simply the first demo row of their kind.
FIRST_ROWS = {
    "rotation": "SELECT id::text FROM rotations ORDER BY created_at, id LIMIT 1",
    "team": "SELECT id::text FROM teams ORDER BY name LIMIT 1",
    # the demo schedule with overrides and a temporary schedule (demo_data._schedule_changes)
    "schedule": "SELECT schedule_id::text FROM temporary_schedules ORDER BY id LIMIT 1",
}


class PageFailed(RuntimeError):
    """A page answered something other than itself."""


def capture(
    base_url: str, email: str, password: str, out_dir: Path, params: dict[str, str],
    pages: Sequence[Shot] = PAGES, browser: Any = None, settle: str = "networkidle",
) -> list[Path]:  # fmt: skip
    """Screenshot every page at every viewport; the PNGs written. `browser` is a running
    Playwright browser to use (the tests' own); without one, Chromium is launched here.
    `settle` is when a page counts as drawn: "networkidle" (no request for 0.5 s, so fragments
    htmx loads are in the picture) for people; the test, which checks statuses and widths, takes
    "load" and saves that half second on each of the ~60 pages."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    if browser is not None:
        return _all_pages(browser, base_url, (email, password), out_dir, params, pages, settle)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM)
        try:
            return _all_pages(launched, base_url, (email, password), out_dir, params, pages, settle)
        finally:
            launched.close()


def _all_pages(
    browser: Any, base_url: str, login: tuple[str, str], out_dir: Path, params: dict[str, str],
    pages: Sequence[Shot], settle: str,
) -> list[Path]:  # fmt: skip
    written: list[Path] = []
    for size, (width, height) in VIEWPORTS.items():
        context = browser.new_context(
            viewport={"width": width, "height": height}, locale="en-US",
            timezone_id="Europe/London",
        )  # fmt: skip
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        for shot in pages:
            written.append(_one(page, base_url, shot, size, out_dir, params, login, settle))
        context.close()
    return written


def _one(
    page: object, base_url: str, shot: Shot, size: str, out_dir: Path, params: dict[str, str],
    login: tuple[str, str], settle: str,
) -> Path:  # fmt: skip
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    path = shot.path.format(**params)
    if shot.signed_in and not page.context.cookies():
        _sign_in(page, base_url, *login)
    if not shot.signed_in:
        page.context.clear_cookies()
    response = page.goto(base_url + path, wait_until=settle)
    if response is None or response.status != 200 or not page.url.endswith(path):
        status = response.status if response else "no answer"
        raise PageFailed(f"{shot.name}: {path} answered {status} at {page.url}")
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
        raise PageFailed(f"{shot.name}: {path} scrolls sideways at {size} size")
    target = out_dir / f"{shot.name}-{size}.png"
    page.screenshot(path=str(target), full_page=shot.full_page)
    return target


def _sign_in(page: object, base_url: str, email: str, password: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base_url + "/alerts")


def page_params(database_url: str) -> dict[str, str]:
    """What the paths in PAGES name: the busiest demo alert, its service and that service's
    escalation policy (or the first policy, when the service has none), and FIRST_ROWS."""
    import psycopg

    alert = busiest_alert(database_url)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT s.id::text, coalesce(s.escalation_policy_id, (SELECT id FROM "
            "escalation_policies ORDER BY created_at, id LIMIT 1))::text FROM alerts a "
            "JOIN services s ON s.id = a.service_id WHERE a.id = %s",
            (alert,),
        ).fetchone()
        firsts = {name: conn.execute(query).fetchone() for name, query in FIRST_ROWS.items()}
    assert row is not None and all(firsts.values()), firsts
    return {"alert": alert, "service": row[0], "policy": row[1], **swap_params(database_url),
            **{name: found[0] for name, found in firsts.items() if found}}  # fmt: skip


def swap_params(database_url: str) -> dict[str, str]:
    """The demo schedule with the most shift swaps (app.commands.demo_data._swaps) and its
    first open one."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT schedule_id::text, (array_agg(id::text ORDER BY start_at) "
            "FILTER (WHERE status = 'open'))[1] FROM shift_swaps GROUP BY schedule_id "
            "ORDER BY count(*) DESC, schedule_id LIMIT 1"
        ).fetchone()
    if row is None or row[1] is None:
        raise PageFailed("the demo dataset has no open shift swap")
    return {"swap_schedule": str(row[0]), "swap": str(row[1])}


def busiest_alert(database_url: str) -> str:
    """The demo alert with the most log entries and a message: the detail page's subject."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT a.id FROM alerts a JOIN outgoing_messages m ON m.alert_id = a.id "
            "JOIN alert_logs l ON l.alert_id = a.id GROUP BY a.id "
            "ORDER BY count(DISTINCT l.id) DESC, a.id DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise PageFailed("the demo dataset has no alert with a message")
    return str(row[0])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "screenshots")
    args = parser.parse_args(argv)
    import psycopg
    from common import WEB_COMMAND, free_port, owned_processes, services, wait_for_200
    from psycopg.rows import dict_row

    from app.commands import demo_data

    with services("screenshots") as stack:
        with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
            seeded = demo_data.seed(conn)
        params = page_params(stack.database_url)
        with owned_processes(stack) as procs:
            port = free_port()
            web = procs.start(WEB_COMMAND, stack.env(PORT=str(port)), "web")
            if wait_for_200(web, port, "/livez", START_TIMEOUT).ready is None:
                raise RuntimeError(f"gunicorn did not start; logs in {stack.log_dir}")
            written = capture(
                f"http://127.0.0.1:{port}", seeded.email, seeded.password, args.out, params
            )
    for path in written:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
