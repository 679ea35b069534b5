"""Each process type refuses to start on a broken dependency or setting, fast and loudly.

Real processes, started as the Procfile starts them, against one fault at a time
(docs/architecture.md, Startup, and Redis keys): the exit status is the documented one (1 a failed
check, 2 bad configuration), the exit comes within the check timeout + 2 s of the moment the failing
check started, `web` never binds $PORT, one JSON line names the failed check and the variable to
fix, and `worker`/`engine` leave a `klaxon:fatal:<process>:<instance>` report wherever Redis can
take one.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from redis import Redis

from app.platform.embedded import free_port
from tests.conftest import with_database
from tests.support.net import Tarpit, closed_port, port_is_open
from tests.support.procs import BIN, KlaxonProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

COMMANDS = {
    "web": [str(BIN / "gunicorn"), "--config", "config/gunicorn.conf.py", "app:create_app()"],
    "worker": [str(BIN / "klaxon"), "worker"],
    "engine": [str(BIN / "klaxon"), "engine"],
}
CHECK_TIMEOUT = 1.0  # seconds: KLAXON_CHECK_TIMEOUT for every fault case
EXIT_SLACK = 2.0  # seconds a process may take, after its failing check's timeout, to exit
# Generous cap on the whole run, only so a hung process fails the test instead of the suite;
# the real bound is asserted from the failing check's own log line.
HANG_CAP = 30.0
PORT_PROBE_INTERVAL = 0.02  # seconds between probes of $PORT while web runs
CLEAN_STOP_TIMEOUT = 10.0  # seconds a healthy worker/engine may take to exit after SIGTERM
REPORT_FIELDS = {"process", "instance", "check", "error", "at", "pid", "host"}


@dataclass(frozen=True)
class Fault:
    """One broken dependency or setting, and what the process must say about it."""

    name: str
    check: str  # the preflight check that must fail
    variable: str  # the variable the error must name
    exit_code: int
    # (env, fault port) -> the environment with the fault applied
    apply: Callable[[dict[str, str], int], dict[str, str]]
    redis_down: bool = False  # the process's Redis is unreachable: no fatal report possible


def _with(**changes: str) -> Callable[[dict[str, str], int], dict[str, str]]:
    """Set each variable; `{port}` in a value becomes the fault's port."""
    return lambda env, port: {**env, **{k: v.format(port=port) for k, v in changes.items()}}


def _without(variable: str) -> Callable[[dict[str, str], int], dict[str, str]]:
    return lambda env, _port: {k: v for k, v in env.items() if k != variable}


def _wrong_database(env: dict[str, str], _port: int) -> dict[str, str]:
    url = with_database(env["DATABASE_URL"], "klaxon_no_such_database")
    return {**env, "DATABASE_URL": url}


def _unknown_role(env: dict[str, str], _port: int) -> dict[str, str]:
    """Log in as a role that does not exist, without a password.

    Stands in for a wrong password: the test Postgres trusts every login (the embedded server,
    like a local one, uses trust auth), so no password can be wrong, but a role that does not
    exist is refused at login even under trust.
    """
    parts = urlsplit(env["DATABASE_URL"])
    host = parts.netloc.rpartition("@")[2]
    url = parts._replace(netloc=f"klaxon_no_such_role@{host}").geturl()
    return {**env, "DATABASE_URL": url}


PG_AT = "postgresql://postgres@127.0.0.1:{port}/klaxon"
REDIS_AT = "redis://127.0.0.1:{port}/0"
DB, LISTEN, REDIS = "DATABASE_URL", "DATABASE_LISTEN_URL", "REDIS_URL"

FAULTS = [
    Fault("database-closed-port", "database", DB, 1, apply=_with(DATABASE_URL=PG_AT)),
    Fault("database-tarpit", "database", DB, 1, apply=_with(DATABASE_URL=PG_AT)),
    Fault("database-wrong-name", "database", DB, 1, apply=_wrong_database),
    Fault("database-unknown-role", "database", DB, 1, apply=_unknown_role),
    Fault("redis-closed-port", "redis", REDIS, 1, _with(REDIS_URL=REDIS_AT), redis_down=True),
    Fault("redis-tarpit", "redis", REDIS, 1, _with(REDIS_URL=REDIS_AT), redis_down=True),
    Fault("listen-closed-port", "listener", LISTEN, 1, apply=_with(DATABASE_LISTEN_URL=PG_AT)),
    Fault("listen-tarpit", "listener", LISTEN, 1, apply=_with(DATABASE_LISTEN_URL=PG_AT)),
    Fault(
        "config-bad-check-timeout",
        "config",
        "KLAXON_CHECK_TIMEOUT",
        2,
        apply=_with(KLAXON_CHECK_TIMEOUT="abc"),
    ),
    Fault("config-missing-database-url", "config", DB, 2, apply=_without(DB)),
    Fault(
        "config-bad-webhook-allow-cidrs",
        "config",
        "KLAXON_WEBHOOK_ALLOW_CIDRS",
        2,
        apply=_with(KLAXON_WEBHOOK_ALLOW_CIDRS="10.0.0.0/8,intranet"),
    ),
    Fault(
        "config-oidc-issuer-without-client-id",
        "config",
        "KLAXON_OIDC_CLIENT_ID",
        2,
        apply=_with(KLAXON_OIDC_ISSUER="https://idp.example.com"),
    ),
]


@pytest.fixture
def fault_port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A port to point the faulty URL at: a tarpit for *-tarpit faults, else a closed port."""
    if request.node.callspec.params["fault"].name.endswith("tarpit"):
        with Tarpit() as tarpit:
            yield tarpit.port
    else:
        yield closed_port()


class PortWatch:
    """Probes `port` every PORT_PROBE_INTERVAL while `proc` runs.

    Notes when the process exited and whether the port ever opened; an open port ends the watch
    at once, so a web that binds despite a failed preflight fails the test without a long wait.
    """

    def __init__(self, proc: KlaxonProcess, port: int) -> None:
        self.proc = proc
        self.port = port
        self.opened_at: float | None = None
        self.exited_at: float | None = None
        self.probes = 0
        self.done = threading.Event()
        threading.Thread(target=self._run, name="port-watch", daemon=True).start()

    def _run(self) -> None:
        try:
            while self.proc.popen.poll() is None:
                if port_is_open(self.port, timeout=0.2):
                    self.opened_at = time.time()
                    return
                self.probes += 1
                self.done.wait(PORT_PROBE_INTERVAL)
            self.exited_at = time.time()
        finally:
            self.done.set()


def _timestamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def _failed_check_line(proc: KlaxonProcess, check: str) -> dict[str, Any]:
    """The structured line of the failed check (docs/architecture.md, Startup: check, status,
    duration_ms, error)."""
    for event in proc.log_events():
        if (
            event.get("event") == "preflight_check"
            and event.get("check") == check
            and event.get("status") == "fail"
        ):
            return event
    raise AssertionError(f"no failed preflight_check line for {check!r}:\n{proc.stderr()[-4000:]}")


def _run_to_exit(proc: KlaxonProcess, watch: PortWatch | None) -> tuple[int, float]:
    """Wait for `proc` to exit; return its status and the wall-clock time it was seen exiting."""
    if watch is None:
        code = proc.wait(HANG_CAP)
        return code, time.time()
    if not watch.done.wait(HANG_CAP):
        raise AssertionError(f"{proc.name} still running after {HANG_CAP:g}s:\n{proc.stderr()}")
    assert watch.opened_at is None, (
        f"web bound {watch.port} although its preflight failed:\n{proc.stderr()[-4000:]}"
    )
    assert watch.exited_at is not None
    return proc.wait(1), watch.exited_at


def _fatal_report(redis_url: str, process: str, instance: str) -> dict[str, Any] | None:
    client = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        raw = client.get(f"klaxon:fatal:{process}:{instance}")
    finally:
        client.close()
    return None if raw is None else json.loads(raw)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
@pytest.mark.parametrize("process", list(COMMANDS))
def test_process_exits_fast_and_says_why_on_startup_fault(
    process: str,
    fault: Fault,
    fault_port: int,
    spawn: Callable[..., KlaxonProcess],
    klaxon_env: dict[str, str],
    redis_url: str,
    instance_name: str,
) -> None:
    port = free_port()
    env = fault.apply({**klaxon_env, "KLAXON_CHECK_TIMEOUT": str(CHECK_TIMEOUT)}, fault_port)
    env["PORT"] = str(port)
    spawned_at = time.time()
    proc = spawn(COMMANDS[process], env, name=process)
    watch = PortWatch(proc, port) if process == "web" else None

    code, exited_at = _run_to_exit(proc, watch)

    assert code == fault.exit_code, proc.stderr()[-4000:]
    line = _failed_check_line(proc, fault.check)
    assert fault.variable in line["error"], line
    started = _timestamp(line) - line["duration_ms"] / 1000
    print(
        f"\nTIMING {process} {fault.name}: exit {code}, "
        f"{exited_at - spawned_at:.2f}s after spawn, {exited_at - started:.2f}s after "
        f"the failing check started (check took {line['duration_ms'] / 1000:.2f}s)"
    )
    assert exited_at - started <= CHECK_TIMEOUT + EXIT_SLACK, (
        f"exited {exited_at - started:.2f}s after the {fault.check} check started"
    )
    if watch is not None:
        assert watch.probes >= 2, "the port was barely probed while web ran"
    if process == "web":
        if fault.check != "config":  # the master itself logs what its preflight child found
            assert proc.find_event("preflight_failed", check=fault.check, exit_code=code)
        return
    report = _fatal_report(redis_url, process, instance_name)
    if fault.redis_down:
        assert report is None  # nor did it land anywhere else by mistake
        assert proc.find_event("fatal_report_not_recorded"), proc.stderr()[-4000:]
        return
    assert report is not None, f"no klaxon:fatal:{process}:{instance_name}\n{proc.stderr()[-4000:]}"
    assert set(report) == REPORT_FIELDS, report
    assert report["process"] == process
    assert report["instance"] == instance_name
    assert report["check"] == fault.check
    assert fault.variable in report["error"]
    assert report["pid"] == proc.pid
    assert report["host"] == socket.gethostname()
    # `at` has whole seconds.
    assert started - 1 <= datetime.fromisoformat(report["at"]).timestamp() <= exited_at


@pytest.mark.parametrize("process", ["worker", "engine"])
def test_clean_start_clears_own_stale_fatal_report(
    process: str,
    spawn: Callable[..., KlaxonProcess],
    klaxon_env: dict[str, str],
    redis_url: str,
    instance_name: str,
) -> None:
    stale = {
        "process": process,
        "instance": instance_name,
        "check": "database",
        "error": "stale",
        "at": "2026-01-01T00:00:00+00:00",
        "pid": 1,
        "host": "elsewhere",
    }
    other = {**stale, "instance": "someone.else"}
    client = Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    own_key = f"klaxon:fatal:{process}:{instance_name}"
    other_key = f"klaxon:fatal:{process}:someone.else"
    client.set(own_key, json.dumps(stale), ex=3600)
    client.set(other_key, json.dumps(other), ex=3600)

    proc = spawn(COMMANDS[process], klaxon_env, name=process)
    wait_until(
        lambda: not proc.alive() or client.exists(own_key) == 0, HANG_CAP, "stale report cleared"
    )
    assert proc.alive(), proc.stderr()[-4000:]
    assert client.exists(own_key) == 0
    assert client.exists(other_key) == 1, "another instance's report must be left alone"
    client.close()

    proc.signal(signal.SIGTERM)
    stopping = time.monotonic()
    assert proc.wait(CLEAN_STOP_TIMEOUT) == 0, proc.stderr()[-4000:]
    print(f"\nTIMING {process} clean stop: {time.monotonic() - stopping:.2f}s after SIGTERM")
