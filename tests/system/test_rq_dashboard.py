"""Stock rq-dashboard, pointed at Klaxon's Redis, lists Klaxon's queues and live workers."""

from __future__ import annotations

import pytest

from app.platform.embedded import free_port
from tests.support.http import get
from tests.support.procs import klaxon_bin
from tests.support.wait import wait_until

pytestmark = pytest.mark.system


def test_rq_dashboard_lists_klaxon_queues_and_workers(klaxon_env, redis_url, spawn, start_worker):
    worker = start_worker(klaxon_env)
    port = free_port()
    spawn(
        [
            klaxon_bin("rq-dashboard"),
            "--redis-url",
            redis_url,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        klaxon_env,
        name="rq-dashboard",
    )
    queues = wait_until(lambda: get(port, "/0/data/queues.json", timeout=3).body, 30, "dashboard")
    assert {q["name"] for q in queues["queues"]} >= {"klaxon-notify", "klaxon-default"}

    workers = get(port, "/0/data/workers.json").body["workers"]
    assert len(workers) == 1
    assert workers[0]["name"].startswith(f"{klaxon_env['DYNO']}.{worker.pid}.")
    assert set(workers[0]["queues"]) == {"klaxon-notify", "klaxon-default"}
