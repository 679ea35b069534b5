"""The real `klaxon engine`: a new alert's first page is written within about a second, woken by
the alert's NOTIFY (the engine's tick is 30 s away, so the tick cannot explain it); so is a held
alert's, once a PATCH through the real web process ends its service's maintenance window, and a
notification rule added through the API while its user is engaged fires at its moment."""

from __future__ import annotations

import http.client
import json
import time

import psycopg
import pytest
from psycopg.rows import dict_row
from redis import Redis

from app.directory import api_keys
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
        token = str(api_keys.create_api_key(conn, "ops", "write")["key"])
        engine = start_engine({**klaxon_env, "KLAXON_ENGINE_CYCLE": "30"})
        _, port = start_web(klaxon_env)
        alert_id = w.alert(conn, service)
        wait_until(lambda: w.log_events(conn, alert_id, "escalation_held"), 5, "the hold")
        assert w.messages(conn, alert_id) == []

        patched = time.monotonic()
        body = {"maintenance_until": None}
        status = send(port, "PATCH", f"/api/v1/services/{service}", token, body)
        assert status == 200
        wait_until(lambda: w.messages(conn, alert_id), 5, "the held alert's page")
        elapsed = time.monotonic() - patched

        assert elapsed < 1.5, f"the held alert was paged {elapsed:.2f}s after the window ended"
        [message] = w.messages(conn, alert_id)
        assert (message["kind"], message["contact_method_id"]) == ("alert", alice_method)
        assert engine.alive()


def test_a_rule_added_while_engaged_fires_at_its_moment_not_at_the_next_tick(
    klaxon_env, database_url, make_service, start_engine, start_web
):
    minute = 0.5  # seconds: the 3-minute rule below is due 1.5 s after the page
    env = {**klaxon_env, "KLAXON_ENGINE_CYCLE": "30", "KLAXON_MINUTE_SECONDS": str(minute)}
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as conn:
        alice, _ = w.reachable_user(conn)
        sms = w.method(conn, alice, type="sms")
        service = make_service()["id"]
        w.use_policy(conn, service, w.policy(conn, [(60, [("user", alice)])]))
        token = str(api_keys.create_api_key(conn, "ops", "write")["key"])
        start_engine(env)
        _, port = start_web(env)
        alert_id = w.alert(conn, service)
        wait_until(lambda: w.messages(conn, alert_id), 5, "the page through the 0-minute rule")

        body = {"contact_method_id": sms, "delay_minutes": 3}
        status = send(port, "POST", f"/api/v1/users/{alice}/notification-rules", token, body)
        assert status == 201
        wait_until(lambda: len(w.messages(conn, alert_id)) == 2, 10, "the added rule's page")

        engaged_at = w.engagements(conn, alert_id)[alice]["engaged_at"]
        sent_at = conn.execute(
            "SELECT max(created_at) AS t FROM outgoing_messages WHERE alert_id = %s", (alert_id,)
        ).fetchone()["t"]
        late = (sent_at - engaged_at).total_seconds() - 3 * minute
        assert 0 <= late < 1.0, f"the added rule fired {late:.2f}s after its moment"
        assert w.messages(conn, alert_id)[1]["contact_method_id"] == sms


def send(port: int, method: str, path: str, token: str, body: dict[str, object]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        conn.request(method, path, json.dumps(body), headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
