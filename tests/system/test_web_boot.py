"""gunicorn workers that fail or hang while booting make the master exit, never respawn-loop."""

from __future__ import annotations

import threading
import time

import pytest

from app.platform.embedded import free_port
from tests.support.net import port_is_open
from tests.support.procs import klaxon_bin

pytestmark = pytest.mark.system

WORKER_BOOT_ERROR = 3


def run_gunicorn(spawn, env, app):
    port = free_port()
    return spawn(
        [klaxon_bin("gunicorn"), "--config", "config/gunicorn.conf.py", app],
        {**env, "PORT": str(port)},
        name="web",
    ), port


def test_worker_that_fails_to_boot_halts_the_master_with_exit_3(spawn, klaxon_env):
    web, _ = run_gunicorn(spawn, klaxon_env, "tests.system.apps.broken_boot:failing_app()")
    assert web.wait(20) == WORKER_BOOT_ERROR
    boots = [e for e in web.log_events() if str(e.get("event", "")).startswith("Booting worker")]
    assert 1 <= len(boots) <= int(klaxon_env["WEB_CONCURRENCY"]), "no respawn loop"
    assert "simulated failure while building the app" in web.stderr()


def test_worker_that_hangs_while_booting_is_stopped_by_the_watchdog(spawn, klaxon_env):
    env = {**klaxon_env, "KLAXON_BOOT_TIMEOUT": "2"}
    web, _ = run_gunicorn(spawn, env, "tests.system.apps.broken_boot:hanging_app()")
    assert web.wait(20) == WORKER_BOOT_ERROR
    timeout_event = web.find_event("worker_boot_timeout")
    assert timeout_event is not None and timeout_event["timeout"] == 2.0


def test_bad_configuration_exits_2_without_binding_the_port(spawn, klaxon_env):
    web, port = run_gunicorn(
        spawn, {**klaxon_env, "KLAXON_MIGRATE": "sometimes"}, "app:create_app()"
    )
    seen_open = threading.Event()

    def probe() -> None:
        while web.alive():
            if port_is_open(port, timeout=0.05):
                seen_open.set()
            time.sleep(0.02)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    assert web.wait(10) == 2
    prober.join(2)
    assert not seen_open.is_set()
    event = web.find_event("preflight_check", check="config", status="fail")
    assert event is not None and event["error"].startswith("KLAXON_MIGRATE: 'sometimes'")
