"""A busy schedule's calendar under real gunicorn (shipped config): the month view's server time
(target p95 <= 60 ms) of a schedule with 10 rules, 3 rotations of 8 people and 200 overrides
in that month, and its week and list views beside it.

Sequential GETs over loopback with the demo admin's session cookie (as bench/web_pages.py), so
each figure is the server's time plus a loopback round trip. The demo dataset (size DEMO) gives
the admin; the busy schedule is added to it here.

Usage: .venv/bin/python bench/schedule_month.py [--samples 60]
"""

from __future__ import annotations

import argparse
import random
import time as clock
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
from common import (
    WEB_COMMAND,
    Figure,
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
from web_pages import START_TIMEOUT, get, gunicorn_cpu, sign_in

from app.commands import demo_data
from app.directory import users
from app.oncall import overrides, rotations, schedule_rules, schedules

MONTH_TARGET_MS = 60.0
MONTH = datetime(2027, 3, 1, tzinfo=UTC)  # a month with a daylight-saving change
ZONE = "America/New_York"


def busy_schedule(conn: psycopg.Connection[Any], rng: random.Random) -> str:
    """10 rules over 3 rotations of 8 people (and some people), 200 overrides in MONTH."""
    people = [
        users.create_user(conn, f"Bench person {n}", f"bench.{n}@bench.klaxon.test")["id"]
        for n in range(24)
    ]
    crews = [people[n * 8 : n * 8 + 8] for n in range(3)]
    ids = [
        rotations.create_rotation(
            conn, {"name": f"bench rotation {n}", "description": "", "type": kind,
                   "shift_length": 1, "start": MONTH - timedelta(days=40), "start_index": 0,
                   "time_zone": ZONE},
            crew,
        )["id"]
        for n, (kind, crew) in enumerate(zip(("daily", "weekly", "hourly"), crews, strict=True))
    ]  # fmt: skip
    schedule = schedules.create_schedule(conn, "Bench busy", ZONE, "", None)
    for n in range(10):
        target = ("rotation", ids[n % 3]) if n < 6 else ("user", people[n])
        schedule_rules.create_schedule_rule(
            conn, schedule["id"], {"target_type": target[0], "target_id": target[1],
                                   "weekdays": sorted(rng.sample(range(7), 5)),
                                   "start_time": time(rng.randrange(24)),
                                   "end_time": time(rng.randrange(24))},
        )  # fmt: skip
    for _ in range(200):
        start = MONTH + timedelta(hours=rng.randrange(24 * 31))
        kind = rng.choice(("add", "remove", "replace"))
        add = rng.choice(people) if kind != "remove" else None
        remove = rng.choice(people) if kind != "add" else None
        overrides.create_override(
            conn, schedule["id"], {"kind": kind, "add_user_id": add, "remove_user_id": remove,
                                   "start": start,
                                   "end": start + timedelta(hours=rng.randrange(1, 30))},
        )  # fmt: skip
    return str(schedule["id"])


def view_times(
    port: int, web_pid: int, cookie: str, paths: dict[str, str], samples: int
) -> list[Figure]:
    """Each view's loopback time, and gunicorn's CPU time per request: on a machine shared with
    other work the wall time waits for a core, the CPU time does not."""
    rows, figures = [], []
    for name, path in paths.items():
        for _ in range(3):  # warm: templates compiled, pools filled
            get(port, path, cookie)
        times = []
        cpu = gunicorn_cpu(web_pid)
        for _ in range(samples):
            status, _body, took = get(port, path, cookie)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            times.append(took * 1000)
        cpu_ms = (gunicorn_cpu(web_pid) - cpu) * 1000 / samples
        p50, p95 = percentile(times, 50), percentile(times, 95)
        rows.append([name, fmt(p50, "ms"), fmt(p95, "ms"), round(max(times), 1), round(cpu_ms, 1)])
        target = MONTH_TARGET_MS if name == "month" else None
        figures.append(Figure("schedule_month", f"{name} view p95", p95, "ms", target))
        figures.append(Figure("schedule_month", f"{name} view p50", p50, "ms"))
        figures.append(Figure("schedule_month", f"{name} view CPU/request", cpu_ms, "ms"))
    headers = ["view", "p50", "p95", "max", "CPU/request"]
    print_table("Schedule views (ms, loopback; gunicorn CPU ms per request)", headers, rows)
    return figures


def body(args: argparse.Namespace) -> list[Figure]:
    with services("schedule_month") as stack:
        with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
            demo_data.seed(conn)
            with conn.transaction():
                schedule_id = busy_schedule(conn, random.Random(15))
            conn.execute("ANALYZE")
        with owned_processes(stack) as procs:
            port = free_port()
            web = procs.start(WEB_COMMAND, stack.env(PORT=str(port)), "web")
            if wait_for_200(web, port, "/livez", START_TIMEOUT).ready is None:
                raise RuntimeError(f"gunicorn did not start; logs in {stack.log_dir}")
            cookie = sign_in(port)
            base = f"/schedules/{schedule_id}?date=2027-03-14&view="
            started = clock.monotonic()
            _s, html, _t = get(port, base + "month", cookie)
            note(f"month view: {html.count(b'data-start=')} shift blocks, {len(html)} bytes")
            views = {v: base + v for v in ("month", "week", "list")}
            figures = view_times(port, web.pid, cookie, views, args.samples)
            note(f"measured in {clock.monotonic() - started:.1f} s")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    return run_benchmark("schedule_month", lambda: body(args))


if __name__ == "__main__":
    raise SystemExit(main())
