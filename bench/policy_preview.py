"""The escalation policy preview's server time (issue 15; target p95 <= 40 ms).

A five-step policy (repeated twice: 15 firings) whose every step names a schedule, the second
and fourth a rotation too, the last a channel besides. Each of the five schedules is realistic:
two weekly rotations of 8 people (London time, handoffs Monday 09:00), a business-hours rule
for a ninth person, 40 overrides over the coming weeks and a temporary schedule; every person
has an SMS and a voice method (verified) and three notification rules.

Figures: GET /escalation-policies/<id>/preview (the fragment the page's Refresh asks for),
GET /escalation-policies/<id> (the whole page, whose preview is the same computation), and the
policy list as a floor (a signed-in page without a preview), p50 and p95 over loopback with a
signed-in session, served by real gunicorn (shipped config); and the computation alone
(app.escalation.preview.compute, in this process) with its query count.

Usage: .venv/bin/python bench/policy_preview.py [--samples 100]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

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
from web_pages import get, sign_in

from app.contacts import channels
from app.escalation import policies, preview
from app.oncall import overrides, rotations, schedule_rules, schedules, temporary_schedules
from tests.support.policy_world import number, person
from tests.support.signin import PASSWORD, make_user

TARGET_MS = 40.0
START_TIMEOUT = 60.0
SCHEDULES = 5
PEOPLE = 8  # per rotation
OVERRIDES = 40  # per schedule


def _schedule(conn: psycopg.Connection[Any], n: int, now: datetime) -> tuple[str, str]:
    """One realistic schedule; (schedule id, its first rotation's id)."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=9, minute=0, second=0)
    crews, rotation_ids = [], []
    for r in range(2):
        crew = [person(conn, f"P{n}{r}{k}", True, number(), 0, 5, 15) for k in range(PEOPLE)]
        crews.append(crew)
        rotation = rotations.create_rotation(
            conn,
            {"name": f"rotation {n}.{r}", "description": "", "type": "weekly", "shift_length": 1,
             "start": monday, "start_index": r, "time_zone": "Europe/London"},
            crew,
        )  # fmt: skip
        rotation_ids.append(rotation["id"])
    schedule = schedules.create_schedule(conn, f"schedule {n}", "Europe/London")
    for r, rotation_id in enumerate(rotation_ids):
        schedule_rules.create_schedule_rule(
            conn, schedule["id"],
            {"target_type": "rotation", "target_id": rotation_id,
             "weekdays": [0, 1, 2, 3, 4] if r == 0 else [5, 6]},
        )  # fmt: skip
    lead = person(conn, f"Lead{n}", True, number(), 0)
    schedule_rules.create_schedule_rule(
        conn, schedule["id"],
        {"target_type": "user", "target_id": lead, "weekdays": [0, 1, 2, 3, 4],
         "start_time": "09:00", "end_time": "17:00"},
    )  # fmt: skip
    for k in range(OVERRIDES):
        start = now + timedelta(hours=7 * k)
        overrides.create_override(
            conn, schedule["id"],
            {"kind": "replace", "remove_user_id": crews[0][k % PEOPLE],
             "add_user_id": crews[1][k % PEOPLE], "start": start,
             "end": start + timedelta(hours=3)},
        )  # fmt: skip
    start = now + timedelta(days=10)
    temporary_schedules.create_temporary_schedule(
        conn, schedule["id"], start, start + timedelta(days=2),
        [{"user_id": lead, "start": start, "end": start + timedelta(days=2)}],
    )  # fmt: skip
    return schedule["id"], rotation_ids[0]


def seed(conn: psycopg.Connection[Any]) -> str:
    """The world and its five-step policy; the policy's id."""
    now = datetime.now(UTC)
    made = [_schedule(conn, n, now) for n in range(SCHEDULES)]
    ops = channels.create_channel(
        conn, {"name": "#ops", "type": "webhook", "address": "https://192.0.2.12/",
               "status_updates": False},
    )  # fmt: skip
    steps = []
    for n, (schedule_id, rotation_id) in enumerate(made):
        targets = [{"type": "schedule", "id": schedule_id}]
        if n % 2:
            targets.append({"type": "rotation", "id": rotation_id})
        if n == SCHEDULES - 1:
            targets.append({"type": "channel", "id": ops["id"]})
        steps.append({"delay_minutes": 10, "targets": targets})
    policy = policies.create_policy(
        conn, {"name": "five steps", "description": "", "repeat_count": 2}, steps
    )
    return str(policy["id"])


def in_process(stack: Stack, policy_id: str, samples: int) -> list[Figure]:
    """preview.compute alone, and the queries it sends."""
    times = []
    with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
        policy = policies.get_policy(conn, policy_id)
        assert policy is not None
        for _ in range(samples):
            started = time.perf_counter()
            found = preview.compute(conn, policy, datetime.now(UTC))
            times.append((time.perf_counter() - started) * 1000)
        queries: list[str] = []
        conn.add_notice_handler(lambda _n: None)
        original = conn.execute

        def counting(query: Any, *args: Any, **kwargs: Any) -> Any:
            queries.append(str(query)[:40])
            return original(query, *args, **kwargs)

        conn.execute = counting  # type: ignore[method-assign]
        preview.compute(conn, policy, datetime.now(UTC))
    note(f"{len(found.firings)} firings, {len(found.warnings)} warnings, {len(queries)} queries")
    p50, p95 = percentile(times, 50), percentile(times, 95)
    print_table("preview.compute in process (ms)", ["p50", "p95", "queries"],
                [[fmt(p50, "ms"), fmt(p95, "ms"), len(queries)]])  # fmt: skip
    return [Figure("policy_preview", "compute p95", p95, "ms")]


def body(args: argparse.Namespace) -> list[Figure]:
    with services("policy_preview") as stack:
        with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
            policy_id = seed(conn)
            viewer = make_user(conn, role="admin")
            conn.commit()
            conn.execute("ANALYZE")
        figures = in_process(stack, policy_id, args.samples)
        with owned_processes(stack) as procs:
            port = free_port()
            web = procs.start(WEB_COMMAND, stack.env(PORT=str(port)), "web")
            if wait_for_200(web, port, "/livez", START_TIMEOUT).ready is None:
                raise RuntimeError(f"gunicorn did not start; logs in {stack.log_dir}")
            cookie = sign_in(port, viewer["email"], PASSWORD)
            rows = []
            for name, path in (
                ("preview fragment", f"/escalation-policies/{policy_id}/preview"),
                ("policy page", f"/escalation-policies/{policy_id}"),
                ("baseline: policy list", "/escalation-policies"),  # the floor: no preview
            ):
                for _ in range(3):  # warm: templates compiled, pools filled
                    get(port, path, cookie)
                times = []
                for _ in range(args.samples):
                    status, _body, took = get(port, path, cookie)
                    if status != 200:
                        raise RuntimeError(f"{path} answered {status}")
                    times.append(took * 1000)
                p50, p95 = percentile(times, 50), percentile(times, 95)
                rows.append([name, fmt(p50, "ms"), fmt(p95, "ms"), round(max(times), 1)])
                target = None if name.startswith("baseline") else TARGET_MS
                figures.append(Figure("policy_preview", f"{name} p95", p95, "ms", target))
            print_table("Server time over loopback (ms)", ["", "p50", "p95", "max"], rows)
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    return run_benchmark("policy_preview", lambda: body(args))


if __name__ == "__main__":
    raise SystemExit(main())
