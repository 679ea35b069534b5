"""SIGTERM as Heroku and honcho send it: every process exits 0 in time and leaves nothing behind."""

from __future__ import annotations

import os
import signal

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from app.platform.embedded import free_port
from tests.support.http import get
from tests.support.procs import klaxon_bin, session_processes
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

SHUTDOWN_LIMIT = 10.0  # seconds from SIGTERM to exit
STARTUP_STOP_LIMIT = 5.0  # seconds from SIGTERM to a worker's exit, whenever in start-up it comes


def test_sigterm_stops_gunicorn_with_status_0_and_no_children(klaxon_env, start_web):
    web, port = start_web(klaxon_env)
    wait_until(lambda: get(port, "/readyz").status == 200, 20, "/readyz 200")
    children = web.descendants()
    assert children, "gunicorn has workers"

    web.signal(signal.SIGTERM)
    assert web.wait(SHUTDOWN_LIMIT) == 0
    assert session_processes(web.pid) == []


@pytest.mark.parametrize("whole_group", [False, True], ids=["to-worker", "to-process-group"])
def test_sigterm_lets_the_job_in_flight_finish(klaxon_env, redis_url, start_worker, whole_group):
    worker = start_worker(klaxon_env)
    client = Redis.from_url(redis_url)
    job = Queue("klaxon-notify", connection=client).enqueue(
        "workers.jobs.probe", kwargs={"delay": 2.0, "value": "delivered"}
    )
    wait_until(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 10, "job started")

    if whole_group:  # Heroku signals every process of the dyno, the work horse included
        os.killpg(worker.pid, signal.SIGTERM)
    else:
        worker.signal(signal.SIGTERM)
    assert worker.wait(SHUTDOWN_LIMIT) == 0

    finished = Job.fetch(job.id, connection=client)
    assert finished.get_status() == JobStatus.FINISHED
    assert finished.return_value() == "delivered"
    assert session_processes(worker.pid) == []
    assert client.smembers("rq:workers") == set()  # deregistered: no phantom in rq-dashboard


def test_sigterm_stops_the_engine_with_status_0(klaxon_env, start_engine):
    engine = start_engine(klaxon_env)
    engine.signal(signal.SIGTERM)
    assert engine.wait(SHUTDOWN_LIMIT) == 0
    assert engine.find_event("engine_stopped")


def test_second_signal_exits_the_engine_at_once(klaxon_env, spawn, db_proxy, start_engine):
    # A hung database makes the first, graceful stop wait; the second signal must not.
    proxy, proxied_url = db_proxy
    engine = start_engine(
        {**klaxon_env, "DATABASE_LISTEN_URL": proxied_url, "KLAXON_CHECK_TIMEOUT": "5"}
    )
    proxy.blackhole()
    engine.signal(signal.SIGTERM)
    engine.signal(signal.SIGINT)
    assert engine.wait(3) == 1
    proxy.heal()


def test_honcho_runs_the_procfile_and_stops_everything_on_sigterm(klaxon_env, spawn):
    port = free_port()
    honcho = spawn(
        [klaxon_bin("honcho"), "start", "-f", "Procfile", "-p", str(port)],
        klaxon_env,
        name="honcho",
    )
    wait_until(
        lambda: not honcho.alive() or get(port, "/healthz", timeout=3).body.get("status") == "pass",
        60,
        "/healthz pass under honcho",
    )
    assert honcho.alive(), honcho.stdout()[-3000:]

    honcho.signal(signal.SIGTERM)
    # honcho itself always exits 128+15 after a SIGTERM, whatever its processes returned; the
    # Procfile `exec`s each command so honcho reports each process's own exit status.
    assert honcho.wait(SHUTDOWN_LIMIT) == 143, honcho.stdout()[-3000:]
    output = honcho.stdout()
    for name in ("web.1", "worker.1", "engine.1"):
        assert f"{name} stopped (rc=0)" in output, output[-3000:]
    assert session_processes(honcho.pid) == []


@pytest.mark.parametrize("moment", ["settings_loaded", "preflight_passed", "worker_starting"])
def test_sigterm_while_the_worker_starts_exits_0_and_leaves_no_phantom(
    klaxon_env, redis_url, spawn, moment
):
    worker = spawn([klaxon_bin("klaxon"), "worker"], klaxon_env, name="worker")
    wait_until(lambda: worker.find_event(moment), 20, moment)
    worker.signal(signal.SIGTERM)
    assert worker.wait(STARTUP_STOP_LIMIT) == 0, worker.stderr()[-3000:]
    assert Redis.from_url(redis_url).smembers("rq:workers") == set()


def wait_for_listen(worker, redis_url: str, moment: str) -> None:
    """Return as soon as the worker reaches `moment`: its first listen on the command channel
    (polled every few ms, so the signal follows within ~100 ms), or idling at its queues."""
    if moment == "listening":
        wait_until(lambda: worker.find_event("worker_listening"), 20, moment, 0.002, 0.005)
        return
    wait_until(lambda: worker.find_event("worker_listening"), 20, "worker_listening")
    client = Redis.from_url(redis_url)
    wait_until(lambda: client.smembers("rq:workers"), 10, "worker registered")
    # An idle worker blocks in BLPOP on its queues while the command thread polls.
    wait_until(
        lambda: client.hget(next(iter(client.smembers("rq:workers"))), "state") == b"idle",
        10,
        "worker idle",
    )


@pytest.mark.parametrize("attempt", range(3))
@pytest.mark.parametrize("moment", ["listening", "idle"])
def test_sigterm_soon_after_the_worker_listens_exits_0_within_5s(
    klaxon_env, redis_url, spawn, moment, attempt
):
    worker = spawn([klaxon_bin("klaxon"), "worker"], klaxon_env, name=f"worker-{attempt}")
    wait_for_listen(worker, redis_url, moment)
    worker.signal(signal.SIGTERM)
    assert worker.wait(STARTUP_STOP_LIMIT) == 0, worker.stderr()[-3000:]
    assert Redis.from_url(redis_url).smembers("rq:workers") == set()
