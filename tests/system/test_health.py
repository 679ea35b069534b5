"""Health endpoints of a real gunicorn web, with real workers, engines and failing peers."""

from __future__ import annotations

import json
import signal
import time
from urllib.parse import urlsplit

import psycopg
import pytest
from redis import Redis

from app.platform.health import CACHE_SECONDS
from tests.support.http import get
from tests.support.net import BlackholeProxy, closed_port, tcp_target
from tests.support.procs import klaxon_bin
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

CHECK_TIMEOUT = 2.0  # klaxon_env's KLAXON_CHECK_TIMEOUT


def healthz_passes(port: int) -> bool:
    answer = get(port, "/healthz")
    return answer.status == 200 and answer.body["status"] == "pass"


def test_healthz_passes_with_web_worker_and_engine_up(
    klaxon_env, start_web, start_worker, start_engine
):
    start_worker(klaxon_env)
    start_engine(klaxon_env)
    _, port = start_web(klaxon_env)

    wait_until(lambda: healthz_passes(port), 20, "/healthz pass")
    answer = get(port, "/healthz")
    assert answer.headers["content-type"] == "application/health+json"
    checks = answer.body["checks"]
    assert set(checks) == {"database", "redis", "listener", "workers", "engine", "queue", "limiter"}
    assert all(c[0]["status"] == "pass" for c in checks.values())
    assert checks["workers"][0]["observedValue"] == 1
    assert checks["database"][0]["observedUnit"] == "ms"
    assert get(port, "/livez").body == {"status": "pass", "version": answer.body["version"]}


def test_readyz_fails_and_healthz_names_the_missing_worker_and_engine(klaxon_env, start_web):
    _, port = start_web(klaxon_env)
    wait_until(lambda: get(port, "/readyz").status == 200, 20, "/readyz 200")
    answer = get(port, "/healthz")
    assert answer.status == 503
    assert answer.body["status"] == "fail"
    assert "no live worker serves klaxon-notify" in answer.body["checks"]["workers"][0]["output"]
    assert "no engine heartbeat" in answer.body["checks"]["engine"][0]["output"]


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_dead_worker_turns_healthz_503_within_worker_ttl(
    klaxon_env, start_web, start_worker, start_engine, stop_signal
):
    env = {**klaxon_env, "KLAXON_WORKER_TTL": "6"}
    worker = start_worker(env)
    start_engine(env)
    _, port = start_web(env)
    wait_until(lambda: healthz_passes(port), 20, "/healthz pass")

    # SIGKILL leaves no chance to deregister: only the missing heartbeat can tell.
    worker.signal(stop_signal)
    killed = time.monotonic()
    wait_until(lambda: get(port, "/healthz").status == 503, 6 + CACHE_SECONDS + 1, "/healthz 503")
    assert time.monotonic() - killed <= 6 + CACHE_SECONDS + 1
    workers = get(port, "/healthz").body["checks"]["workers"][0]
    assert workers["status"] == "fail" and workers["observedValue"] == 0


def test_fatal_worker_report_turns_healthz_503_with_its_error_text(
    klaxon_env, spawn, start_web, start_worker, start_engine, instance_name
):
    start_worker(klaxon_env)
    start_engine(klaxon_env)
    _, port = start_web(klaxon_env)
    wait_until(lambda: healthz_passes(port), 20, "/healthz pass")

    bad_port = closed_port()
    broken = spawn(
        [klaxon_bin("klaxon"), "worker"],
        {
            **klaxon_env,
            "DYNO": "worker.2",
            "DATABASE_LISTEN_URL": f"postgresql://postgres@127.0.0.1:{bad_port}/x",
        },
        name="broken-worker",
    )
    assert broken.wait(15) == 1

    answer = wait_until(lambda: (a := get(port, "/healthz")).status == 503 and a, 5, "/healthz 503")
    output = answer.body["checks"]["workers"][0]["output"]
    assert "worker@worker.2" in output
    assert "listener:" in output and str(bad_port) in output and "DATABASE_LISTEN_URL" in output
    assert answer.body["checks"]["workers"][0]["observedValue"] == 1  # the healthy one


def test_a_new_worker_serves_only_once_its_listener_connected_or_its_wait_ran_out(
    klaxon_env, database_url, start_web
):
    """A worker waits (at most KLAXON_CHECK_TIMEOUT) for its listener before it takes requests,
    so its first /readyz is not a "connecting" 503. A listener that cannot connect in that time
    is logged, /readyz says so, and the worker serves anyway."""
    name = urlsplit(database_url).path.lstrip("/")
    # With KLAXON_MIGRATE=check the preflight opens two listen connections (schema, LISTEN);
    # the third is the worker's listener, and the proxy holds it unanswered.
    with BlackholeProxy(*tcp_target(database_url), forward_first=2) as proxy:
        web, port = start_web(
            {
                **klaxon_env,
                "KLAXON_MIGRATE": "check",
                "DATABASE_LISTEN_URL": f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}",
            }
        )
        # start_web returned at the first /livez answer: by then the wait had run out.
        waited = web.find_event("worker_listener_not_connected")
        assert waited and waited["waited"] == CHECK_TIMEOUT, web.stdout()[-2000:]
        ready = get(port, "/readyz")
        assert ready.status == 503
        assert "listener not connected" in ready.body["checks"]["listener"][0]["output"]

        proxy.release()
        wait_until(lambda: get(port, "/readyz").status == 200, 30, "/readyz 200 once connected")


def test_hanging_database_fails_readyz_in_time_while_livez_answers(klaxon_env, db_proxy, start_web):
    proxy, proxied_url = db_proxy
    _, port = start_web({**klaxon_env, "DATABASE_URL": proxied_url})
    wait_until(lambda: get(port, "/readyz").status == 200, 20, "/readyz 200")

    proxy.blackhole()
    blackholed = time.monotonic()
    budget = CHECK_TIMEOUT + 0.5
    first_503 = None
    while first_503 is None and time.monotonic() - blackholed < 15:
        ready = get(port, "/readyz", timeout=budget + 5)
        assert ready.seconds <= budget, f"/readyz took {ready.seconds:.2f}s"
        live = get(port, "/livez", timeout=2)
        assert live.status == 200 and live.seconds < 0.5
        if ready.status == 503:
            first_503 = time.monotonic() - blackholed
            database = ready.body["checks"]["database"][0]
            assert database["status"] == "fail"
            # The check opens a connection and queries it: the hang meets it in the query
            # ("no answer within …") or, when it began first, in the connect (psycopg's
            # "connection timeout expired"); both say the database does not answer.
            assert any(
                text in database["output"] for text in ("no answer", "connection timeout expired")
            ), database["output"]
    assert first_503 is not None
    # A result cached just before the hang may be served for CACHE_SECONDS.
    assert first_503 <= budget + CACHE_SECONDS

    proxy.heal()
    wait_until(lambda: get(port, "/readyz").status == 200, 30, "/readyz recovers after heal")


def test_listener_connection_killed_reconnects_and_readyz_recovers(
    klaxon_env, database_url, start_web
):
    web, port = start_web(klaxon_env)
    wait_until(lambda: get(port, "/readyz").status == 200, 20, "/readyz 200")

    with psycopg.connect(database_url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'klaxon-web-listener' AND datname = current_database()"
        ).fetchall()
    assert killed and all(row[0] for row in killed)

    wait_until(lambda: web.find_event("listener_disconnected"), 10, "disconnect logged")
    wait_until(
        lambda: len([e for e in web.log_events() if e.get("event") == "listener_connected"]) >= 2,
        15,
        "listener reconnected",
    )
    wait_until(lambda: get(port, "/readyz").status == 200, 15, "/readyz back to 200")


def test_queue_backlog_warns_but_answers_200(
    klaxon_env, redis_url, start_web, start_worker, start_engine
):
    start_engine(klaxon_env)
    _, port = start_web({**klaxon_env, "KLAXON_QUEUE_WARN_AGE": "1"})
    # A job nobody serves yet: a worker on another queue keeps workers healthy.
    start_worker(klaxon_env, "--queues", "klaxon-notify")
    from rq import Queue

    client = Redis.from_url(redis_url)
    Queue("klaxon-default", connection=client).enqueue("workers.jobs.probe")
    answer = wait_until(
        lambda: (a := get(port, "/healthz")).body["checks"]["queue"][0]["status"] == "warn" and a,
        10,
        "queue warn",
    )
    assert answer.status == 200
    assert answer.body["status"] == "warn"
    assert "oldest queued job has waited" in answer.body["checks"]["queue"][0]["output"]
    assert json.loads(client.get("klaxon:engine:heartbeat"))["cycles"] >= 1


def test_access_log_never_contains_query_strings(klaxon_env, start_web):
    web, port = start_web(klaxon_env)
    get(port, "/livez?token=itk_supersecret&integrationKey=abc123secret")
    line = wait_until(lambda: web.find_event("http_request", path="/livez"), 5, "access line")
    assert line["status"] == 200 and line["method"] == "GET"
    assert "supersecret" not in web.stderr() and "abc123secret" not in web.stderr()
