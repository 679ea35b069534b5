"""Klaxon behind a real pgbouncer in transaction pooling mode (docs/architecture.md, Startup;
README, Configuration).

A transaction-pooling proxy accepts LISTEN and never delivers a notification, and it cannot keep
session state such as advisory locks. The preflight must catch the first and name
DATABASE_LISTEN_URL; with DATABASE_LISTEN_URL pointing straight at Postgres everything starts,
and nothing session-level (migration lock, engine leadership) goes through the pooler.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from app.platform.embedded import free_port
from tests.support.http import get
from tests.support.net import BlackholeProxy, tcp_target
from tests.support.procs import BIN, KlaxonProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.system

PGBOUNCER = "/usr/sbin/pgbouncer"
PGBOUNCER_START_TIMEOUT = 10.0  # seconds for pgbouncer to accept a client
PGBOUNCER_STOP_TIMEOUT = 5.0  # seconds for pgbouncer to exit after SIGTERM
PREFLIGHT = [str(BIN / "klaxon"), "preflight", "--json"]
CHECK_TIMEOUT = "2"  # seconds; about how long the listener check awaits a NOTIFY that never comes
PREFLIGHT_EXIT_TIMEOUT = 15.0  # seconds; a generous cap, only so a hang fails the test
# pgbouncer refuses to run as root; it drops to this user (it says so and exits).
PGBOUNCER_USER = "postgres"
READY_TIMEOUT = 10.0  # seconds a started process may take to be ready (web) or to lead
PASSWORD = "klaxon-pgbouncer-test"  # what pgbouncer asks clients for (the server may trust)


@dataclass(frozen=True)
class Pgbouncer:
    port: int
    user: str
    password: str

    def url(self, database_url: str) -> str:
        """A URL to `database_url`'s database, through this pgbouncer."""
        name = urlsplit(database_url).path.lstrip("/")
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{name}"


def _ini(work: Path, port: int, upstream: tuple[str, int], user: str, password: str) -> Path:
    (work / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    ini = work / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={upstream[0]} port={upstream[1]}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = md5\n"
        f"auth_file = {work / 'userlist.txt'}\n"
        "pool_mode = transaction\n"
        "default_pool_size = 4\n"
        "max_client_conn = 100\n"
        f"logfile = {work / 'pgbouncer.log'}\n"
        f"pidfile = {work / 'pgbouncer.pid'}\n"
    )
    for path in (ini, work / "userlist.txt"):
        path.chmod(0o644)
    return ini


@pytest.fixture
def pgbouncer(pg_admin_url: str) -> Iterator[Pgbouncer]:
    """A real pgbouncer in transaction pooling mode in front of the test Postgres server."""
    parts = urlsplit(pg_admin_url)
    user = unquote(parts.username or "postgres")
    password = unquote(parts.password) if parts.password else PASSWORD
    bouncer = Pgbouncer(free_port(), user, password)
    with contextlib.ExitStack() as cleanup:
        host, port = tcp_target(pg_admin_url)
        if port is None:
            # The embedded Postgres has only a unix socket, in a directory only its own user may
            # enter; a plain TCP forwarder (a proxy never told to blackhole) bridges to it.
            forwarder = cleanup.enter_context(BlackholeProxy(host))
            host, port = "127.0.0.1", forwarder.port
        # Outside pytest's 0700 tmp tree: pgbouncer runs as another user and writes its log here.
        work = Path(tempfile.mkdtemp(prefix="klaxon-pgbouncer-"))
        cleanup.callback(shutil.rmtree, work, ignore_errors=True)
        work.chmod(0o777)
        ini = _ini(work, bouncer.port, (host, port), user, password)
        as_user = ["-u", PGBOUNCER_USER] if os.geteuid() == 0 else []
        proc = subprocess.Popen(
            [PGBOUNCER, *as_user, str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        cleanup.callback(_stop, proc)
        wait_until(
            lambda: proc.poll() is not None or _answers(bouncer.url(pg_admin_url)),
            PGBOUNCER_START_TIMEOUT,
            "pgbouncer accepting connections",
        )
        assert proc.poll() is None, f"pgbouncer exited: {_log_tail(work)}"
        yield bouncer


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(PGBOUNCER_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _answers(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _log_tail(work: Path) -> str:
    log = work / "pgbouncer.log"
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"


def _preflight(spawn: Callable[..., KlaxonProcess], env: dict[str, str]) -> tuple[int, dict]:
    proc = spawn(PREFLIGHT, env, name="preflight")
    code = proc.wait(PREFLIGHT_EXIT_TIMEOUT)
    return code, json.loads(proc.stdout())


def _checks(report: dict) -> dict[str, dict]:
    return {c["check"]: c for c in report["checks"]}


def _advisory_locks(database_url: str) -> int:
    """Advisory locks held in `database_url`'s database, by anyone (looked at directly)."""
    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    return int(row[0]) if row else 0


def test_listener_check_fails_through_transaction_pooling_and_names_the_fix(
    pgbouncer: Pgbouncer,
    spawn: Callable[..., KlaxonProcess],
    klaxon_env: dict[str, str],
    database_url: str,
) -> None:
    env = {
        **klaxon_env,
        "DATABASE_URL": pgbouncer.url(database_url),
        "KLAXON_CHECK_TIMEOUT": CHECK_TIMEOUT,
    }
    code, report = _preflight(spawn, env)

    assert code == 1, report
    checks = _checks(report)
    assert checks["database"]["status"] == "pass"
    assert checks["redis"]["status"] == "pass"
    listener = checks["listener"]
    assert listener["status"] == "fail"
    assert "pgbouncer" in listener["error"]
    assert "transaction" in listener["error"]
    assert "DATABASE_LISTEN_URL" in listener["error"]
    assert checks["schema"]["status"] == "skip"  # it would run on the unproven listen URL


def test_direct_listen_url_lets_preflight_and_web_start_behind_pgbouncer(
    pgbouncer: Pgbouncer,
    spawn: Callable[..., KlaxonProcess],
    start_web: Callable[..., tuple[KlaxonProcess, int]],
    klaxon_env: dict[str, str],
    database_url: str,
) -> None:
    env = {
        **klaxon_env,
        "DATABASE_URL": pgbouncer.url(database_url),
        "DATABASE_LISTEN_URL": database_url,
    }
    code, report = _preflight(spawn, env)

    assert code == 0, report
    assert {c["check"]: c["status"] for c in report["checks"]} == {
        "config": "pass",
        "database": "pass",
        "redis": "pass",
        "listener": "pass",
        "schema": "pass",
    }
    web, port = start_web(env)
    # Ready once its own listener has connected, just after the gunicorn worker booted.
    ready = wait_until(
        lambda: (answer := get(port, "/readyz", timeout=5)).status == 200 and answer,
        READY_TIMEOUT,
        "web ready",
    )
    assert ready.body["status"] == "pass"
    assert web.alive()


def test_migrations_behind_pgbouncer_run_on_the_direct_connection(
    pgbouncer: Pgbouncer,
    spawn: Callable[..., KlaxonProcess],
    klaxon_env: dict[str, str],
    empty_database_url: str,
) -> None:
    # The migration lock is a session-level advisory lock: taken through a transaction pooler it
    # would stay held by a pooled server connection after the preflight exits, and the next
    # process to draw another server connection would wait for it in vain.
    env = {
        **klaxon_env,
        "DATABASE_URL": pgbouncer.url(empty_database_url),
        "DATABASE_LISTEN_URL": empty_database_url,
    }
    code, report = _preflight(spawn, env)

    assert code == 0, report
    assert _checks(report)["schema"]["status"] == "pass"
    assert _advisory_locks(empty_database_url) == 0


def test_two_engines_behind_pgbouncer_elect_one_leader(
    pgbouncer: Pgbouncer,
    start_engine: Callable[..., KlaxonProcess],
    klaxon_env: dict[str, str],
    database_url: str,
) -> None:
    # Through a transaction pooler both engines' "session" lock attempts could land on the same
    # pooled server connection, where an advisory lock is re-entrant: two leaders.
    env = {
        **klaxon_env,
        "DATABASE_URL": pgbouncer.url(database_url),
        "DATABASE_LISTEN_URL": database_url,
    }
    first = start_engine({**env, "DYNO": "engine.1"}, name="engine1")
    wait_until(lambda: first.find_event("engine_leader_elected"), READY_TIMEOUT, "engine1 leads")
    second = start_engine({**env, "DYNO": "engine.2"}, name="engine2")

    assert second.find_event("engine_standby"), second.stderr()[-3000:]
    assert not second.find_event("engine_leader_elected")
