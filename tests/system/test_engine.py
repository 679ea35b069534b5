"""Engine leadership, failover and NOTIFY wake-ups, with real engine processes."""

from __future__ import annotations

import json
import signal
import time

import psycopg
import pytest
from redis import Redis

from tests.support.wait import wait_until

pytestmark = pytest.mark.system


def heartbeat(client: Redis) -> dict:
    raw = client.get("klaxon:engine:heartbeat")
    return json.loads(raw) if raw else {}


def test_standby_takes_over_within_10s_of_the_leader_being_killed(
    klaxon_env, redis_url, start_engine
):
    first = start_engine(klaxon_env, name="engine1")
    wait_until(lambda: first.find_event("engine_leader_elected"), 10, "first engine leads")
    second = start_engine(klaxon_env, name="engine2")
    assert second.find_event("engine_standby")
    client = Redis.from_url(redis_url)
    wait_until(lambda: heartbeat(client).get("pid") == first.pid, 10, "leader heartbeat")

    first.signal(signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: second.find_event("engine_leader_elected"), 10, "standby leads")
    wait_until(lambda: heartbeat(client).get("pid") == second.pid, 10, "heartbeat resumes")
    assert time.monotonic() - killed <= 10


def test_notify_wakes_the_engine_before_its_tick(klaxon_env, redis_url, database_url, start_engine):
    engine = start_engine({**klaxon_env, "KLAXON_ENGINE_CYCLE": "60"})
    client = Redis.from_url(redis_url)
    wait_until(lambda: heartbeat(client).get("cycles"), 10, "first cycle")

    # The listener's own (re)connect also wakes the engine once; the second NOTIFY's cycle can
    # only come from that NOTIFY, since the tick is a minute away.
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(2):
            before = heartbeat(client)["cycles"]
            conn.execute("NOTIFY klaxon_events, 'alert changed'")
            wait_until(lambda b=before: heartbeat(client)["cycles"] > b, 5, "cycle woken by NOTIFY")
    assert engine.alive()


def test_leader_whose_lock_connection_dies_steps_down_and_leads_again(
    klaxon_env, database_url, start_engine
):
    engine = start_engine(klaxon_env)
    wait_until(lambda: engine.find_event("engine_leader_elected"), 10, "leads")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'klaxon-engine-lock' AND datname = current_database()"
        )
    wait_until(lambda: engine.find_event("engine_leadership_lost"), 10, "step down")
    wait_until(
        lambda: (
            len([e for e in engine.log_events() if e.get("event") == "engine_leader_elected"]) == 2
        ),
        10,
        "leads again",
    )
