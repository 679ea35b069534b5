"""The web app under a realistic load: 10,000 alerts, 200 users, 100 services, 50 schedules (the
demo dataset at size BENCH, app.commands.demo_data), served by real gunicorn (shipped config).

1. Each page's time, p50 and p95 (target p95 <= 50 ms): sequential GETs over loopback with the
   demo admin's session cookie, so the figure is the server's time plus a loopback round trip.
2. Browser time from navigation to an interactive alert list (target <= 1 s): Debian's Chromium
   (Playwright), signed in, loads /alerts; the figure is the Navigation Timing entry's
   domInteractive and loadEventEnd (scripts are `defer`: htmx is live at DOMContentLoaded).
3. 200 open alert-list tabs: 200 client threads each polling `/alerts/rows?version=<latest>`
   every 2 s (paced, staggered, as htmx does), while an alert is raised every 5 s so tabs fetch
   the table again now and then. Figures: answers/s, poll latency p50/p95, CPU of gunicorn's
   processes (psutil, all cores summed: 100% is one core) and database transactions/s and rows
   read/s (pg_stat_database of this run's database; pg_stat_statements is not assumed).

Usage: .venv/bin/python bench/web_pages.py [--samples 40] [--tabs 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import http.client
import re
import threading
import time
from urllib.parse import urlsplit

import psutil
import psycopg
from common import (
    WEB_COMMAND,
    Figure,
    Stack,
    fmt,
    free_port,
    note,
    owned_processes,
    percentile,
    print_table,
    run_benchmark,
    services,
    wait_for_200,
)
from psycopg.rows import dict_row

from app.alerts import store
from app.commands import demo_data

CHROMIUM = "/usr/bin/chromium"
PAGE_TARGET_MS = 50.0
INTERACTIVE_TARGET_S = 1.0
REQUEST_TIMEOUT = 10.0  # seconds one GET may take
START_TIMEOUT = 60.0
POLL_INTERVAL = 2.0  # seconds between one tab's polls (the list's hx-trigger)
RAISE_EVERY = 5.0  # seconds between alerts raised during the tabs run


def get(port: int, path: str, cookie: str) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one GET on a new connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - started
    finally:
        conn.close()


def sign_in(
    port: int, email: str = demo_data.DEMO_EMAIL, password: str = demo_data.DEMO_PASSWORD
) -> str:
    """The session cookie of `email` (by default the demo admin), from the sign-in form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    body = f"email={email}&password={password}&next=/alerts"
    conn.request("POST", "/login", body=body.replace("@", "%40"),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    response = conn.getresponse()
    response.read()
    conn.close()
    cookie = response.getheader("Set-Cookie") or ""
    if response.status != 303 or not cookie:
        raise RuntimeError(f"sign-in answered {response.status}")
    return cookie.split(";", 1)[0]


def page_times(port: int, cookie: str, paths: dict[str, str], samples: int) -> list[Figure]:
    rows, figures = [], []
    for name, path in paths.items():
        who = "" if path == "/login" else cookie  # signed in, /login would just redirect
        for _ in range(3):  # warm: first renders compile templates, fill pools
            get(port, path, who)
        times = []
        for _ in range(samples):
            status, _body, took = get(port, path, who)
            if status not in (200, 204):
                raise RuntimeError(f"{path} answered {status}")
            times.append(took * 1000)
        p50, p95 = percentile(times, 50), percentile(times, 95)
        rows.append([name, path[:48], fmt(p50, "ms"), fmt(p95, "ms"), max(times).__round__(1)])
        figures.append(Figure("web_pages", f"{name} p95", p95, "ms", PAGE_TARGET_MS))
        figures.append(Figure("web_pages", f"{name} p50", p50, "ms"))
    print_table("Page time (ms, loopback)", ["page", "path", "p50", "p95", "max"], rows)
    return figures


def browser_interactive(port: int, cookie: str, runs: int = 10) -> list[Figure]:
    from playwright.sync_api import sync_playwright

    name, value = cookie.split("=", 1)
    interactive, loaded = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": name, "value": value, "url": f"http://127.0.0.1:{port}"}])
        page = context.new_page()
        for _ in range(runs + 1):
            page.goto(f"http://127.0.0.1:{port}/alerts", wait_until="load")
            page.wait_for_function("() => window.htmx !== undefined")
            timing = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.domInteractive, n.domContentLoadedEventEnd, n.loadEventEnd]; }"
            )
            interactive.append(timing[1] / 1000)
            loaded.append(timing[2] / 1000)
        browser.close()
    interactive, loaded = interactive[1:], loaded[1:]  # the first fills the cache
    rows = [
        ["DOMContentLoaded (htmx live)", fmt(percentile(interactive, 50)),
         fmt(percentile(interactive, 95))],
        ["load event end", fmt(percentile(loaded, 50)), fmt(percentile(loaded, 95))],
    ]  # fmt: skip
    print_table("Browser: navigation to an interactive alert list (s)", ["", "p50", "p95"], rows)
    return [
        Figure("web_pages", "alert list interactive p95", percentile(interactive, 95), "s",
               INTERACTIVE_TARGET_S),
        Figure("web_pages", "alert list load p95", percentile(loaded, 95), "s"),
    ]  # fmt: skip


def gunicorn_cpu(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def db_counters(stack: Stack) -> tuple[int, int]:
    with psycopg.connect(stack.admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched FROM pg_stat_database "
            "WHERE datname = %s", (urlsplit(stack.database_url).path.lstrip("/"),),
        ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0]), int(row[1])


def open_tabs(stack: Stack, port: int, web_pid: int, cookie: str, tabs: int, seconds: float,
              service_id: str) -> list[Figure]:  # fmt: skip
    stop = threading.Event()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]

    def tab(n: int) -> None:
        version = ""
        next_at = time.monotonic() + POLL_INTERVAL * n / tabs
        while not stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += POLL_INTERVAL
            try:
                status, body, took = get(port, f"/alerts/rows?status=open&version={version}",
                                         cookie)  # fmt: skip
            except OSError:
                with lock:
                    errors[0] += 1
                continue
            if status == 200:
                found = re.search(rb'data-version="(\d+)"', body)
                version = found.group(1).decode() if found else ""
            with lock:
                latencies.append(took * 1000)
                statuses[status] = statuses.get(status, 0) + 1

    def raiser() -> None:
        with psycopg.connect(stack.database_url, autocommit=True, row_factory=dict_row) as conn:
            n = 0
            while not stop.wait(RAISE_EVERY):
                n += 1
                store.raise_alert(conn, service_id, f"bench alert {n}", dedup=f"bench-{n}")

    threads = [threading.Thread(target=tab, args=(n,), daemon=True) for n in range(tabs)]
    threads.append(threading.Thread(target=raiser, daemon=True))
    cpu0, (tx0, rows0), t0 = gunicorn_cpu(web_pid), db_counters(stack), time.monotonic()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    cpu1, (tx1, rows1), t1 = gunicorn_cpu(web_pid), db_counters(stack), time.monotonic()
    stop.set()
    for thread in threads:
        thread.join(REQUEST_TIMEOUT + 1)
    wall = t1 - t0
    with lock:
        answers = sum(statuses.values())
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    cpu_pct = 100 * (cpu1 - cpu0) / wall
    rows = [
        ["tabs", tabs], ["seconds", round(wall, 1)], ["answers/s", fmt(answers / wall, "req/s")],
        ["answers by status", " ".join(f"{k}:{v}" for k, v in sorted(statuses.items()))],
        ["errors", errors[0]], ["poll p50 ms", fmt(p50, "ms")], ["poll p95 ms", fmt(p95, "ms")],
        ["gunicorn CPU % (100 = one core)", round(cpu_pct, 1)],
        ["DB transactions/s", round((tx1 - tx0) / wall, 1)],
        ["DB rows read/s", round((rows1 - rows0) / wall)],
    ]  # fmt: skip
    print_table(f"{tabs} open alert-list tabs polling every {POLL_INTERVAL:g} s", ["", ""], rows)
    return [
        Figure("web_pages", f"{tabs} tabs: answers/s", answers / wall, "req/s"),
        Figure("web_pages", f"{tabs} tabs: poll p95", p95, "ms"),
        Figure("web_pages", f"{tabs} tabs: gunicorn CPU", cpu_pct, "%"),
        Figure("web_pages", f"{tabs} tabs: DB transactions/s", (tx1 - tx0) / wall, "tx/s"),
    ]


def body(args: argparse.Namespace) -> list[Figure]:
    with services("web_pages") as stack:
        started = time.monotonic()
        with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
            demo_data.seed(conn, demo_data.BENCH)
            conn.execute("ANALYZE")
            ids = conn.execute(
                "SELECT (SELECT max(id) FROM alerts) AS alert, "
                "(SELECT id::text FROM services ORDER BY name LIMIT 1) AS service, "
                "(SELECT id::text FROM rotations ORDER BY name LIMIT 1) AS rotation"
            ).fetchone()
        assert ids is not None
        note(f"seeded {demo_data.BENCH} in {time.monotonic() - started:.1f} s")
        with owned_processes(stack) as procs:
            port = free_port()
            web = procs.start(WEB_COMMAND, stack.env(PORT=str(port)), "web")
            if wait_for_200(web, port, "/livez", START_TIMEOUT).ready is None:
                raise RuntimeError(f"gunicorn did not start; logs in {stack.log_dir}")
            note(f"gunicorn: {len(psutil.Process(web.pid).children())} worker(s)")
            cookie = sign_in(port)
            _s, html, _t = get(port, "/alerts", cookie)
            version = re.search(rb'data-version="(\d+)"', html)
            paths = {
                "login (signed out)": "/login",
                "alert list (open)": "/alerts",
                "alert list (all)": "/alerts?status=all",
                "alert list (text filter)": "/alerts?status=all&q=disk",
                "alert list poll, unchanged (204)":
                    f"/alerts/rows?version={version.group(1).decode() if version else 0}",
                "alert detail": f"/alerts/{ids['alert']}",
                "on call now": "/on-call",
                "services": "/services",
                "service": f"/services/{ids['service']}",
                "profile": "/profile",
                "rotations": "/rotations",
                "rotation": f"/rotations/{ids['rotation']}",
            }  # fmt: skip
            figures = page_times(port, cookie, paths, args.samples)
            figures += browser_interactive(port, cookie)
            figures += open_tabs(stack, port, web.pid, cookie, args.tabs, args.seconds,
                                 ids["service"])  # fmt: skip
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--tabs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    return run_benchmark("web_pages", lambda: body(args))


if __name__ == "__main__":
    raise SystemExit(main())
