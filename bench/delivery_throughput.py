"""Delivery throughput: outgoing messages → 2 `klaxon worker` processes → a local webhook receiver.

A fresh database and Redis; one `klaxon engine` (its dispatch module queues the jobs) and two
`klaxon worker` processes, as in production. Messages are written with app.messages.create (as
the engine's modules write them) at a steady rate to webhook contact methods pointing at a fast
receiver on loopback (a threading HTTP server in this process that answers 200 at once and
records each X-Klaxon-Message-Id with its arrival time). The per-destination webhook throttle
is raised for the run (KLAXON_THROTTLE), everything else is the default configuration.

Reported: delivered messages per second (overall and the slowest whole second of the steady
part), lost messages (written but never received, or not `delivered` in Postgres), duplicate
message ids seen by the receiver, and insert → received latency p50/p99.
Issue 4's target: >= 300 messages/s sustained for a minute, zero lost, zero duplicates.

Usage: .venv/bin/python bench/delivery_throughput.py [--rate 300] [--seconds 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import threading
import time
from collections import Counter
from typing import Any

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
    stop_process,
)
from psycopg.rows import dict_row

from app.messages import create
from tests.support.fakes.webhook import WebhookReceiver

NAME = "delivery_throughput"
TARGET_RATE = 300.0  # messages per second (issue 4)
METHODS = 50  # webhook contact methods the messages are spread over
START_TIMEOUT = 30.0  # seconds for the engine and workers to come up
DRAIN_TIMEOUT = 120.0  # seconds after the last insert for every message to be delivered
FEEDERS = 4  # inserting threads, each with its own connection
SETTLE = 2.0  # seconds at each end of the run left out of the "slowest second"


def arrived(receiver: WebhookReceiver) -> list[tuple[int, float]]:
    """(message id, arrival time) of every request the receiver got."""
    return [(int(r.headers["x-klaxon-message-id"]), r.at) for r in receiver.requests()]


def make_methods(conn: psycopg.Connection[Any], receiver: WebhookReceiver) -> list[str]:
    """Verified webhook contact methods of one user, each a distinct URL on the receiver."""
    user = conn.execute(
        "INSERT INTO users (name, email) VALUES ('bench', %s) RETURNING id::text AS id",
        (f"bench-{secrets.token_hex(3)}@example.com",),
    ).fetchone()
    assert user is not None
    ids = []
    for i in range(METHODS):
        row = conn.execute(
            "INSERT INTO contact_methods (user_id, name, type, address, signing_secret, "
            "verified_at) VALUES (%s, %s, 'webhook', %s, 'bench-secret', now()) "
            "RETURNING id::text AS id",
            (user["id"], f"hook {i}", receiver.url(f"/hook/{i}")),
        ).fetchone()
        assert row is not None
        ids.append(str(row["id"]))
    return ids


def wait_started(procs: list[Any], event_names: tuple[str, ...]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    for proc in procs:
        while not any(proc.find_event(e) for e in event_names):
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{proc.name} did not start; see {proc.stderr_path}")
            time.sleep(0.1)


def feed(url: str, methods: list[str], rate: float, seconds: float) -> dict[int, float]:
    """Insert messages at `rate`/s for `seconds`, each at its due time, from FEEDERS threads
    (one connection each, so one slow commit does not make the rest late); id → commit time."""
    total = int(rate * seconds)
    run = secrets.token_hex(3)
    start = time.monotonic()
    inserted: dict[int, float] = {}
    late = [0] * FEEDERS

    def feeder(k: int) -> None:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            for i in range(k, total, FEEDERS):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -0.1:
                    late[k] += 1
                mid = create.to_contact_method(
                    conn, "test", methods[i % len(methods)], f"bench:{run}:{i}", max_attempts=5
                )
                assert mid is not None
                inserted[mid] = time.time()

    threads = [threading.Thread(target=feeder, args=(k,)) for k in range(FEEDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    note(
        f"inserted {len(inserted)} messages in {elapsed:.1f}s "
        f"({len(inserted) / elapsed:.0f}/s, {sum(late)} more than 100 ms late)"
    )
    return inserted


def drain(conn: psycopg.Connection[Any], receiver: WebhookReceiver, total: int) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE status IN ('delivered', 'failed')) AS done "
            "FROM outgoing_messages"
        ).fetchone()
        if row is not None and row["done"] >= total and len(receiver.requests()) >= total:
            return
        time.sleep(0.2)
    note("gave up waiting for every message to be delivered")


def slowest_second(arrivals: list[float]) -> float:
    """Fewest messages received in any whole second of the steady part of the run."""
    if not arrivals:
        return 0.0
    first, last = min(arrivals) + SETTLE, max(arrivals) - SETTLE
    buckets = Counter(int(t - first) for t in arrivals if first <= t < last)
    seconds = int(last - first)
    return float(min((buckets.get(s, 0) for s in range(seconds)), default=0))


def measure(rate: float, seconds: float, workers: int, batch: int | None) -> list[Figure]:
    receiver = WebhookReceiver().start()
    try:
        with services("delivery") as stack, owned_processes(stack) as procs:
            return run(stack, procs, receiver, rate, seconds, workers, batch)
    finally:
        receiver.stop()


def run(
    stack: Stack,
    procs: Any,
    receiver: WebhookReceiver,
    rate: float,
    seconds: float,
    workers: int,
    batch: int | None,
) -> list[Figure]:
    env = stack.env(KLAXON_THROTTLE="webhook=100000/60")
    if batch is not None:
        env["KLAXON_DELIVERY_BATCH"] = str(batch)
    with psycopg.connect(stack.database_url, autocommit=True, row_factory=dict_row) as conn:
        methods = make_methods(conn, receiver)
        engine = procs.start([KLAXON, "engine"], env, "engine")
        started = [procs.start([KLAXON, "worker"], env, "worker") for _ in range(workers)]
        wait_started([engine], ("engine_leader_elected",))
        wait_started(started, ("worker_starting",))
        note(f"engine and {workers} workers running; feeding {rate:g}/s for {seconds:g}s")
        inserted = feed(stack.database_url, methods, rate, seconds)
        drain(conn, receiver, len(inserted))
        statuses = Counter(
            {
                r["status"]: int(r["n"])
                for r in conn.execute(
                    "SELECT status, count(*) AS n FROM outgoing_messages GROUP BY status"
                ).fetchall()
            }
        )
    for proc in [*started, engine]:
        stop_process(proc)
    received = arrived(receiver)
    seen = Counter(mid for mid, _ in received)
    first_arrival: dict[int, float] = {}
    for mid, at in received:
        first_arrival.setdefault(mid, at)
    lost = len(set(inserted) - set(seen))
    duplicates = sum(n - 1 for n in seen.values() if n > 1)
    latencies = [(first_arrival[m] - t) * 1000 for m, t in inserted.items() if m in first_arrival]
    arrivals = [at for _, at in received]
    span = max(arrivals) - min(arrivals) if len(arrivals) > 1 else float("nan")
    overall = len(arrivals) / span if span else float("nan")
    slowest = slowest_second(arrivals)
    print_table(
        "Delivery throughput",
        ["figure", "value"],
        [
            ["messages written", len(inserted)],
            ["received (requests)", len(received)],
            ["delivered/s overall", fmt(overall, "req/s")],
            ["slowest whole second (steady part)", fmt(slowest, "")],
            ["lost", lost],
            ["duplicate ids", duplicates],
            ["statuses in Postgres", dict(statuses)],
            ["insert -> received p50 (ms)", fmt(percentile(latencies, 50), "ms")],
            ["insert -> received p99 (ms)", fmt(percentile(latencies, 99), "ms")],
        ],
    )
    target = f"target >= {TARGET_RATE:g}/s"
    return [
        Figure(NAME, "delivered/s overall", overall, "msg/s", note=target),
        Figure(NAME, "slowest second, steady part", slowest, "msg", note=target),
        Figure(NAME, "lost messages", float(lost), "msg", 0),
        Figure(NAME, "duplicate message ids", float(duplicates), "msg", 0),
        Figure(NAME, "insert -> received p50", percentile(latencies, 50), "ms"),
        Figure(NAME, "insert -> received p99", percentile(latencies, 99), "ms"),
    ]


def main() -> list[Figure]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="messages/s (300)")
    parser.add_argument("--seconds", type=float, default=60.0, help="feeding time (60)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument(
        "--batch", type=int, default=None, help="KLAXON_DELIVERY_BATCH (default: the default, 20)"
    )
    args = parser.parse_args()
    return measure(args.rate, args.seconds, args.workers, args.batch)


if __name__ == "__main__":
    sys.exit(run_benchmark(NAME, main))
