"""An alert storm: 10,000 alerts in 10 s across 500 services, each paging its own webhook.

Runs the whole system as in production — gunicorn (shipped config), `klaxon engine` and two
`klaxon worker` processes — against a fresh database. Each of `--services` services has its own
escalation policy whose one step pages its own on-call user, whose verified webhook contact
method (a path of its own on one local receiver) has a delay-0 notification rule. A paced
open-loop sender raises `--alerts` new alerts at `--rate` per second, spread round-robin over
the services' generic integration keys (`Accept: application/json`, so each answer carries the
alert id).

Figures: ingest latency (p50/p99) during the storm, alerts refused, every alert's first page
delivered or counted lost, message ids delivered twice, and the drain time — from the last
alert accepted to the last first page delivered. Pages per destination stay well inside the
default webhook throttle (20 per service in 10 s), so throttling plays no part.

Usage: .venv/bin/python bench/alert_storm.py [--alerts 10000] [--services 500] [--rate 1000]
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

NAME = "alert_storm"
START_TIMEOUT = 60.0  # seconds for the stack to come up
DRAIN_TIMEOUT = 180.0  # seconds to wait for the last first pages after the last alert
HTTP_TIMEOUT = 10.0
SENDER_THREADS = 16  # enough keep-alive connections to hold 1,000 requests/s open loop
WORKERS = 2


def setup(stack: Stack, hook_url: str, count: int) -> list[str]:
    """`count` services, each with policy → user → verified webhook; their ingest tokens."""
    from psycopg.rows import dict_row

    from app.directory import integration_keys

    tokens = []
    with psycopg.connect(stack.database_url, connect_timeout=10, row_factory=dict_row) as conn:
        for n in range(count):
            service = _paged_service(conn, n, f"{hook_url}/s{n}")
            created = integration_keys.create_integration_key(
                conn, service, "generic", f"storm {n}"
            )
            tokens.append(str(created["token"]))
    return tokens


def _paged_service(conn: psycopg.Connection, n: int, hook: str) -> str:
    user = conn.execute(
        "INSERT INTO users (name, email) VALUES (%s, %s) RETURNING id",
        (f"On-call {n}", f"oncall{n}@storm.test"),
    ).fetchone()["id"]
    method = conn.execute(
        "INSERT INTO contact_methods (user_id, name, type, address, signing_secret, verified_at)"
        " VALUES (%s, 'hook', 'webhook', %s, 'storm-secret', now()) RETURNING id",
        (user, hook),
    ).fetchone()["id"]
    conn.execute(
        "INSERT INTO notification_rules (user_id, contact_method_id, delay_minutes)"
        " VALUES (%s, %s, 0)",
        (user, method),
    )
    policy = conn.execute(
        "INSERT INTO escalation_policies (name) VALUES (%s) RETURNING id", (f"storm {n}",)
    ).fetchone()["id"]
    step = conn.execute(
        "INSERT INTO escalation_steps (policy_id, position, delay_minutes)"
        " VALUES (%s, 0, 60) RETURNING id",
        (policy,),
    ).fetchone()["id"]
    conn.execute(
        "INSERT INTO escalation_step_targets (step_id, target_type, user_id)"
        " VALUES (%s, 'user', %s)",
        (step, user),
    )
    return str(
        conn.execute(
            "INSERT INTO services (name, escalation_policy_id) VALUES (%s, %s) RETURNING id",
            (f"storm service {n}", policy),
        ).fetchone()["id"]
    )


class Storm:
    """The open-loop sender: what was accepted, when, and how long each answer took."""

    def __init__(self, port: int, tokens: list[str], count: int, rate: float) -> None:
        self.port, self.tokens, self.count, self.rate = port, tokens, count, rate
        self.accepted: dict[int, float] = {}  # alert id -> time.time() its answer was read
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._start = time.monotonic() + 0.1

    def run(self) -> None:
        threads = [threading.Thread(target=self._send, daemon=True) for _ in range(SENDER_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.count / self.rate + HTTP_TIMEOUT * 3)

    def _send(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            while (index := next(self._counter)) < self.count:
                time.sleep(max(0.0, self._start + index / self.rate - time.monotonic()))
                conn = self._one(conn, index)
        finally:
            conn.close()

    def _one(self, conn: http.client.HTTPConnection, index: int) -> http.client.HTTPConnection:
        token = self.tokens[index % len(self.tokens)]
        body = json.dumps({"summary": f"storm alert {index}", "dedup": f"storm-{index}"})
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        sent = time.monotonic()
        try:
            conn.request("POST", "/api/v2/generic/incoming", body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            with self._lock:
                self.failures[type(exc).__name__] += 1
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        took, at = time.monotonic() - sent, time.time()
        with self._lock:
            self.latencies.append(took)
            if response.status == 200:
                self.accepted[int(json.loads(raw)["AlertID"])] = at
            else:
                self.failures[str(response.status)] += 1
        return conn


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()

    receiver = WebhookReceiver().start()
    try:
        with services(NAME) as stack, owned_processes(stack) as procs:
            tokens = setup(stack, receiver.url("/storm"), args.services)
            # The receiver is on loopback: admitted on purpose, as an operator would.
            env = stack.env(KLAXON_WEBHOOK_ALLOW_CIDRS="127.0.0.0/8")
            port = start_paging_stack(procs, stack, env, WORKERS)
            note(f"{len(tokens)} services ready; storming")
            storm = Storm(port, tokens, args.alerts, args.rate)
            began = time.monotonic()
            storm.run()
            sent_for = time.monotonic() - began
            wait_drained(receiver, set(storm.accepted), DRAIN_TIMEOUT)
            first, duplicates = first_pages(receiver)
    finally:
        receiver.stop()
    return report(storm, first, duplicates, sent_for, args)


def report(
    storm: Storm, first: dict[int, float], duplicates: int, sent_for: float, args: object
) -> list[Figure]:
    paged = [a for a in storm.accepted if a in first]
    lost = len(storm.accepted) - len(paged)
    last_accepted = max(storm.accepted.values(), default=0.0)
    last_page = max((first[a] for a in paged), default=last_accepted)
    drain = last_page - last_accepted
    p50, p99 = percentile(storm.latencies, 50), percentile(storm.latencies, 99)
    refused = sum(storm.failures.values())
    if storm.failures:
        note(f"ingest failures: {storm.failures.most_common(5)}")
    print_table(
        f"alert storm: {storm.count} alerts over {len(storm.tokens)} services, sent in "
        f"{sent_for:.1f} s",
        ["accepted", "refused", "paged", "lost", "dup ids", "ingest p50", "ingest p99", "drain"],
        [[len(storm.accepted), refused, len(paged), lost, duplicates, fmt(p50), fmt(p99),
          fmt(drain)]],
    )  # fmt: skip
    return [
        Figure(NAME, "alerts sent in", sent_for, "s", target=10.0),
        Figure(NAME, "ingest p99 during the storm", p99, "s"),
        Figure(NAME, "last accepted → last first page", drain, "s"),
        Figure(NAME, "first pages lost", float(lost), "pages", target=0.0),
        Figure(NAME, "duplicate pages", float(duplicates), "pages", target=0.0),
        Figure(NAME, "ingest requests refused", float(refused), "requests", target=0.0),
    ]


if __name__ == "__main__":
    raise SystemExit(run_benchmark(NAME, main))
