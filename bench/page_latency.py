"""Alert accepted → first page delivered: the latency a person on call actually waits.

Runs the whole system as in production — gunicorn (shipped config), `klaxon engine` and two
`klaxon worker` processes — against a fresh database. One user has a webhook contact method
(verified) with a delay-0 notification rule; one escalation policy pages that user at step 0;
one service uses the policy. A paced open-loop sender raises `--alerts` new alerts at `--rate`
per second through the generic ingest endpoint (`Accept: application/json`, so each answer
carries the alert id); a local webhook receiver records when the page for each alert arrives.

Latency per alert = the receiver's arrival time minus the time the ingest answer was read. Lost
alerts (accepted, never paged) and duplicate pages (the same message id twice) are counted, so
a figure never hides a dropped or doubled page.

The per-contact-method webhook throttle (KLAXON_THROTTLE, default 600/min) would hold back one
person paged 50 times a second; the run raises it, as it measures latency, not throttling.

Usage: .venv/bin/python bench/page_latency.py [--alerts 1000] [--rate 50]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import threading
import time
from collections import Counter

import psycopg
from common import (
    KLAXON,
    Figure,
    Stack,
    fmt,
    note,
    owned_processes,
    percentile,
    print_table,
    run_benchmark,
    services,
)
from pages import first_pages, start_paging_stack, wait_drained

from tests.support.fakes.webhook import WebhookReceiver

NAME = "page_latency"
START_TIMEOUT = 60.0  # seconds for the stack to come up
DRAIN_TIMEOUT = 60.0  # seconds to wait for the last pages after the last alert was accepted
HTTP_TIMEOUT = 10.0
SENDER_THREADS = 4


def setup(stack: Stack, hook_url: str) -> str:
    """Create the user, contact method, rule, policy and service; return the ingest token."""
    with owned_processes(stack) as procs:
        proc = procs.start(
            [KLAXON, "create-service", "--name", "bench service", "--json"],
            stack.env(),
            "create-service",
        )
        proc.popen.wait(60)
        created = json.loads(proc.stdout())
    with psycopg.connect(stack.database_url, connect_timeout=10) as conn:
        user = conn.execute(
            "INSERT INTO users (name, email) VALUES ('Bench on-call', 'oncall@bench.test') "
            "RETURNING id"
        ).fetchone()[0]
        method = conn.execute(
            "INSERT INTO contact_methods (user_id, name, type, address, signing_secret, "
            "verified_at) VALUES (%s, 'bench hook', 'webhook', %s, 'bench-secret', now()) "
            "RETURNING id",
            (user, hook_url),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO notification_rules (user_id, contact_method_id, delay_minutes) "
            "VALUES (%s, %s, 0)",
            (user, method),
        )
        policy = conn.execute(
            "INSERT INTO escalation_policies (name) VALUES ('bench policy') RETURNING id"
        ).fetchone()[0]
        step = conn.execute(
            "INSERT INTO escalation_steps (policy_id, position, delay_minutes) "
            "VALUES (%s, 0, 60) RETURNING id",
            (policy,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO escalation_step_targets (step_id, target_type, user_id) "
            "VALUES (%s, 'user', %s)",
            (step, user),
        )
        conn.execute(
            "UPDATE services SET escalation_policy_id = %s WHERE id = %s", (policy, created["id"])
        )
    return str(created["integration_key"]["token"])


def send_alerts(port: int, token: str, count: int, rate: float) -> dict[int, float]:
    """Raise `count` new alerts at `rate`/s, open loop; {alert id: time.time() accepted}."""
    accepted: dict[int, float] = {}
    failures: list[str] = []
    lock = threading.Lock()
    counter = itertools.count()
    start = time.monotonic() + 0.1
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        try:
            while (index := next(counter)) < count:
                time.sleep(max(0.0, start + index / rate - time.monotonic()))
                body = json.dumps({"summary": f"bench alert {index}", "dedup": f"b{index}"})
                try:
                    conn.request("POST", "/api/v2/generic/incoming", body=body, headers=headers)
                    response = conn.getresponse()
                    raw = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
                    with lock:
                        failures.append(type(exc).__name__)
                    continue
                at = time.time()
                with lock:
                    if response.status == 200:
                        accepted[int(json.loads(raw)["AlertID"])] = at
                    else:
                        failures.append(str(response.status))
        finally:
            conn.close()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(SENDER_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(count / rate + HTTP_TIMEOUT * 3)
    if failures:
        note(f"{len(failures)} ingest requests failed: {Counter(failures).most_common(3)}")
    return accepted


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()

    receiver = WebhookReceiver().start()
    try:
        with services(NAME) as stack, owned_processes(stack) as procs:
            token = setup(stack, receiver.url("/page"))
            env = stack.env(KLAXON_THROTTLE="webhook=1000000/60")
            port = start_paging_stack(procs, stack, env, 2)
            warm = send_alerts(port, token, 20, 20.0)
            wait_drained(receiver, set(warm), DRAIN_TIMEOUT)
            before = len(receiver.requests())
            note(f"warm-up: {len(warm)} alerts paged; {before} requests so far")

            accepted = send_alerts(port, token, args.alerts, args.rate)
            wait_drained(receiver, set(accepted), DRAIN_TIMEOUT)
            first, duplicates = first_pages(receiver)
    finally:
        receiver.stop()

    latencies = [first[a] - at for a, at in accepted.items() if a in first]
    lost = len(accepted) - len(latencies)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print_table(
        f"alert accepted → first webhook page, {len(accepted)} alerts at {args.rate:g}/s",
        ["accepted", "paged", "lost", "duplicate ids", "p50", "p99", "max"],
        [
            [
                len(accepted),
                len(latencies),
                lost,
                duplicates,
                fmt(p50),
                fmt(p99),
                fmt(max(latencies, default=None)),
            ]
        ],
    )
    return [
        Figure(NAME, "accepted → first page p50", p50, "s", target=0.2),
        Figure(NAME, "accepted → first page p99", p99, "s", target=1.0),
        Figure(NAME, "pages lost", float(lost), "pages", target=0.0),
        Figure(NAME, "duplicate pages", float(duplicates), "pages", target=0.0),
    ]


if __name__ == "__main__":
    raise SystemExit(run_benchmark(NAME, main))
