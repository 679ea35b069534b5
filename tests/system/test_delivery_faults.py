"""No page lost, none sent twice: real `klaxon worker` and `klaxon engine` processes through a
worker SIGKILL, a Redis FLUSHALL, an engine failover and Postgres dropping every connection.

Messages are written with app.messages.create (as the engine modules do) to webhook contact
methods pointing at a local receiver, which counts them by X-Klaxon-Message-Id. Each fault is
injected while messages are flowing (after the receiver has seen part of a burst), then a
second burst follows.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from typing import Any

import psycopg
import pytest
from redis import Redis

from tests.integration.test_delivery import make_method, message, message_ids
from tests.support.fakes.webhook import Behaviour, Received
from tests.support.procs import KlaxonProcess
from tests.support.wait import wait_until

FAULT_ENV = {
    "KLAXON_MESSAGE_GRACE": "2",
    "KLAXON_SEND_TIMEOUT": "3",
    "KLAXON_ENGINE_CYCLE": "0.5",
    "KLAXON_MINUTE_SECONDS": "0.6",  # retry backoff from 0.05 s
    "KLAXON_THROTTLE": "webhook=100000/60",
    "KLAXON_DELIVERY_BATCH": "10",
}
BURST = 150  # messages per burst
DONE_TIMEOUT = 60.0  # seconds for every message to reach its receiver after the last fault


@pytest.fixture
def env(klaxon_env: dict[str, str]) -> dict[str, str]:
    return {**klaxon_env, **FAULT_ENV}


@pytest.fixture
def methods(db_conn: psycopg.Connection[Any], webhook_receiver: Any) -> list[str]:
    webhook_receiver.behaviour = Behaviour(delay=0.01)  # a realistic receiver: not instant
    return [make_method(db_conn, webhook_receiver.url()) for _ in range(5)]


def burst(conn: psycopg.Connection[Any], methods: list[str], count: int = BURST) -> list[int]:
    return [message(conn, methods[i % len(methods)]) for i in range(count)]


def statuses(conn: psycopg.Connection[Any]) -> Counter[str]:
    rows = conn.execute("SELECT status, count(*) AS n FROM outgoing_messages GROUP BY status")
    return Counter({r["status"]: int(r["n"]) for r in rows.fetchall()})


def all_delivered(conn: psycopg.Connection[Any], receiver: Any, ids: list[int]) -> Counter[int]:
    """Wait until every message is delivered and the receiver saw each; its counts by id."""
    wait_until(
        lambda: statuses(conn) == Counter({"delivered": len(ids)}),
        DONE_TIMEOUT,
        f"all {len(ids)} messages delivered (now {dict(statuses(conn))})",
    )
    seen = Counter(message_ids(receiver.requests()))
    assert set(seen) == set(ids), f"missing at the receiver: {sorted(set(ids) - set(seen))}"
    return seen


def twice(seen: Counter[int]) -> dict[int, int]:
    return {mid: n for mid, n in seen.items() if n > 1}


def kill_with_children(proc: KlaxonProcess) -> None:
    """SIGKILL a process and its children (a worker's work horse) at once."""
    for child in proc.descendants():
        child.kill()
    proc.signal(signal.SIGKILL)
    proc.popen.wait(10)


# ------------------------------------------------------------------------------ faults


def test_a_worker_killed_mid_send_repeats_only_the_sends_in_flight(
    env, db_conn, webhook_receiver, methods, start_worker, start_engine
):
    victim_method = make_method(db_conn, webhook_receiver.url("/victim"))
    hung: list[Received] = []

    def decide(request: Received) -> Behaviour | None:
        if request.path.startswith("/victim") and not hung:
            hung.append(request)
            return Behaviour(hang=True)  # the first send to it never gets an answer
        return None

    webhook_receiver.decide = decide
    worker = start_worker(env)
    start_engine(env)
    first = burst(db_conn, methods)
    victim = message(db_conn, victim_method)
    wait_until(lambda: hung, 20, "the victim's send in flight")
    kill_with_children(worker)
    killed_at = time.time()
    sending = {
        r["id"]
        for r in db_conn.execute(
            "SELECT id FROM outgoing_messages WHERE status = 'sending'"
        ).fetchall()
    }
    assert victim in sending
    start_worker(env, name="worker2")
    second = burst(db_conn, methods)
    seen = all_delivered(db_conn, webhook_receiver, [*first, victim, *second])
    received_before_kill = {
        int(r.headers["x-klaxon-message-id"])
        for r in webhook_receiver.requests()
        if r.at < killed_at + 1.0
    }
    in_flight = sending & received_before_kill
    assert victim in in_flight
    assert twice(seen) == {mid: 2 for mid in in_flight}
    victim_row = db_conn.execute(
        "SELECT attempts FROM outgoing_messages WHERE id = %s", (victim,)
    ).fetchone()
    assert victim_row is not None and victim_row["attempts"] == 2
    events = db_conn.execute(
        "SELECT status, error FROM message_events WHERE message_id = %s ORDER BY id", (victim,)
    ).fetchall()
    assert [e["status"] for e in events] == [
        "pending",
        "sending",
        "pending",
        "sending",
        "delivered",
    ]
    assert "worker stopped mid-send" in events[2]["error"]


def test_a_redis_flushall_mid_run_loses_and_doubles_nothing(
    env, db_conn, webhook_receiver, methods, redis_url, start_worker, start_engine
):
    webhook_receiver.behaviour = Behaviour(delay=0.2)  # a backlog of queued jobs builds up
    start_worker(env)
    engine = start_engine(env)
    first = burst(db_conn, methods)
    webhook_receiver.wait_for(20, timeout=30)
    redis = Redis.from_url(redis_url, socket_timeout=5)
    try:
        redis.flushall()
    finally:
        redis.close()
    second = burst(db_conn, methods)
    seen = all_delivered(db_conn, webhook_receiver, [*first, *second])
    assert twice(seen) == {}
    assert engine.find_event("message_jobs_gone")  # the flush did take queued jobs with it


def test_an_engine_leader_killed_mid_run_hands_over_and_nothing_is_lost_or_doubled(
    env, db_conn, webhook_receiver, methods, start_worker, start_engine
):
    start_worker(env)
    one = start_engine(env, name="engine1")
    two = start_engine(env, name="engine2")
    leader, standby = (one, two) if one.find_event("engine_leader_elected") else (two, one)
    first = burst(db_conn, methods)
    webhook_receiver.wait_for(20, timeout=30)
    kill_with_children(leader)
    second = burst(db_conn, methods)
    wait_until(lambda: standby.find_event("engine_leader_elected"), 20, "the standby leading")
    seen = all_delivered(db_conn, webhook_receiver, [*first, *second])
    assert twice(seen) == {}
    assert standby.find_event("messages_enqueued")  # the new leader carried on queueing


def test_postgres_dropping_every_klaxon_connection_mid_run_loses_and_doubles_nothing(
    env, db_conn, webhook_receiver, methods, start_worker, start_engine
):
    start_worker(env)
    start_engine(env)
    first = burst(db_conn, methods)
    webhook_receiver.wait_for(20, timeout=30)
    terminated = terminate_klaxon_connections(db_conn)
    assert terminated > 0
    second = burst(db_conn, methods)
    webhook_receiver.wait_for(len(first) + 20, timeout=30)
    terminate_klaxon_connections(db_conn)  # and again, while the second burst flows
    seen = all_delivered(db_conn, webhook_receiver, [*first, *second])
    assert twice(seen) == {}


def terminate_klaxon_connections(conn: psycopg.Connection[Any]) -> int:
    rows = conn.execute(
        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND application_name LIKE 'klaxon%'"
    ).fetchall()
    return sum(1 for r in rows if r["ok"])
