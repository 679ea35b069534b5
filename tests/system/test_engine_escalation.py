"""The real `klaxon engine`: a new alert's first page is written within about a second, woken by
the alert's NOTIFY (the engine's tick is 30 s away, so the tick cannot explain it); so is a held
alert's, once a PATCH through the real web process ends its service's maintenance window."""

from __future__ import annotations

import http.client
import json
import time

import psycopg
import pytest
from psycopg.rows import dict_row
from redis import Redis

from app import keys
from tests.support import engine_world as w
from tests.support.wait import wait_until

pytestmark = pytest.mark.system


def test_a_new_alert_is_paged_within_a_second_by_notify(
    klaxon_env, database_url, redis_url, make_service, start_engine
):
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        alice, alice_method = w.reachable_user(conn)
        service = make_service()["id"]
        w.use_policy(conn, service, w.policy(conn, [(5, [("user", alice)])]))

        engine = start_engine({**klaxon_env, "KLAXON_ENGINE_CYCLE": "30"})
        client = Redis.from_url(redis_url)
        wait_until(lambda: client.get("klaxon:engine:heartbeat"), 15, "the first cycle")
        cycles = json.loads(client.get("klaxon:engine:heartbeat") or "{}")["cycles"]

        inserted = time.monotonic()
        alert_id = w.alert(conn, service)
        wait_until(lambda: w.messages(conn, alert_id), 5, "the first page's message row")
        elapsed = time.monotonic() - inserted

        assert elapsed < 1.5, f"first page took {elapsed:.2f}s"
        assert w.engagements(conn, alert_id)[alice]["seq"] == 1
        [message] = w.messages(conn, alert_id)
        assert (message["kind"], message["contact_method_id"]) == ("alert", alice_method)
        # The cycle that wrote it records its heartbeat once all its modules are done.
        wait_until(
            lambda: json.loads(client.get("klaxon:engine:heartbeat") or "{}")["cycles"] > cycles,
            2,
            "the woken cycle's heartbeat",
        )
        assert engine.alive()
        failed = [e for e in engine.log_events() if e.get("event") == "engine_module_failed"]
        assert failed == []


def test_ending_maintenance_through_the_api_pages_a_held_alert_within_a_second(
    klaxon_env, database_url, make_service, start_engine, start_web
):
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        alice, alice_method = w.reachable_user(conn)
        service = make_service()["id"]
        w.use_policy(conn, service, w.policy(conn, [(5, [("user", alice)])]))
        conn.execute(
            "UPDATE services SET maintenance_until = now() + interval '1 hour' WHERE id = %s",
            (service,),
        )
        token = str(keys.create_api_key(conn, "ops", "write")["key"])
        engine = start_engine({**klaxon_env, "KLAXON_ENGINE_CYCLE": "30"})
        _, port = start_web(klaxon_env)
        alert_id = w.alert(conn, service)
        wait_until(lambda: w.log_events(conn, alert_id, "escalation_held"), 5, "the hold")
        assert w.messages(conn, alert_id) == []

        patched = time.monotonic()
        status = patch(port, f"/api/v1/services/{service}", token, {"maintenance_until": None})
        assert status == 200
        wait_until(lambda: w.messages(conn, alert_id), 5, "the held alert's page")
        elapsed = time.monotonic() - patched

        assert elapsed < 1.5, f"the held alert was paged {elapsed:.2f}s after the window ended"
        [message] = w.messages(conn, alert_id)
        assert (message["kind"], message["contact_method_id"]) == ("alert", alice_method)
        assert engine.alive()


def patch(port: int, path: str, token: str, body: dict[str, object]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        conn.request("PATCH", path, json.dumps(body), headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
