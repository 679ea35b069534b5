"""`klaxon engine`: leader election, then a cycle loop woken by its tick or by NOTIFY.

Any number of engines may run. The leader holds a session-level Postgres advisory lock on a
dedicated connection; standbys try for it every second, so when the leader dies — even by
SIGKILL, which closes its connection and so frees the lock — a standby leads within seconds.
The leader proves it still holds the lock at the start of every cycle and steps down if its
lock connection is gone.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

import psycopg
import structlog
from redis.exceptions import RedisError

from app.audit import retention_pass
from app.escalation import escalation_pass, notification_pass, status_update_pass
from app.ingest import checkin_pass
from app.messages import dispatch_pass
from app.oncall import notice_pass
from app.platform import alive, postgres
from app.platform.bounded import DeadlineExceeded, SingleFlight
from app.platform.engine_heartbeat import Heartbeat, write_heartbeat
from app.platform.engine_pass import EngineModule, ModuleContext
from app.platform.listener import Listener
from app.platform.pool import Database
from app.platform.redis_client import make_redis
from app.platform.sql_fragments import EVENTS_CHANNEL
from app.platform.startup import load_or_exit, preflight_or_exit
from app.providers.preflight_checks import checks_for
from config.settings import Settings

log = structlog.get_logger(__name__)

# "klnE" as an int: the advisory-lock key the leading engine holds.
ENGINE_LOCK_KEY = 0x6B6C6E45
STANDBY_POLL = 1.0  # seconds between a standby's attempts to take the lead
RECONNECT_BACKOFF_MAX = 10.0  # seconds; cap on waits between failed database connects
EXIT_SECOND_SIGNAL = 1
# Shortest wait between cycles (seconds): work "due now" that a module could not finish (a
# throttle, a lock held elsewhere) must not turn the loop into a busy spin.
MIN_WAIT = 0.05
# Seconds a liveness promise (app.platform.alive) allows beyond the loop's longest ordinary wait.
ALIVE_MARGIN = 15.0


def default_modules() -> tuple[EngineModule, ...]:
    """The engine's passes, in the order one cycle runs them.

    Each pass is safe when run by two engines at once (row locks, `FOR UPDATE SKIP LOCKED`,
    idempotent inserts), so a leader that lost its lock mid-cycle cannot double anything.

    Order matters within a cycle: escalation engages people, notification turns the new
    engagements into message rows, so a new alert's first page is written in the cycle its
    NOTIFY woke; dispatch then queues those rows. Housekeeping (the audit log's retention) runs
    after everything that pages.
    """
    return (
        escalation_pass.MODULE,
        notification_pass.MODULE,
        checkin_pass.MODULE,
        status_update_pass.MODULE,
        notice_pass.MODULE,
        dispatch_pass.MODULE,
        retention_pass.MODULE,  # housekeeping last: paging comes first
    )


class Engine:
    """Owns the leader lock, the listener and the cycle loop; `stop()` ends `run()` promptly."""

    def __init__(self, settings: Settings, modules: Sequence[EngineModule] | None = None) -> None:
        self.settings = settings
        self.redis = make_redis(
            settings.redis_url, settings.check_timeout, settings.redis_tls, retries=True
        )
        self.database = Database(settings, application_name="klaxon-engine")
        self._context = ModuleContext(settings, self.redis, self.database)
        self._modules = list(default_modules() if modules is None else modules)
        self._flights = {
            m.name: SingleFlight(
                functools.partial(m.run, self._context), m.timeout, 0.0, f"engine-{m.name}"
            )
            for m in self._modules
        }
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.listener = Listener(
            settings.database_listen_url,
            settings.check_timeout,
            channels=(EVENTS_CHANNEL,),
            on_notify=lambda _n: self._wake.set(),
            on_connect=self._wake.set,  # catch up on whatever changed while disconnected
            name="engine-listener",
        )
        self.cycles = 0
        self.is_leader = False

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> int:
        """Lead or stand by until stopped; return the exit status."""
        self.listener.start()
        try:
            while not self._stop.is_set():
                conn = self._acquire_leadership()
                if conn is not None:
                    self._lead(conn)
        finally:
            self.listener.stop()
            self.database.close()
            self.redis.close()
        log.info("engine_stopped", cycles=self.cycles)
        return 0

    def _acquire_leadership(self) -> psycopg.Connection[Any] | None:
        delay = STANDBY_POLL
        announced = False
        while not self._stop.is_set():
            self._promise_alive()
            try:
                # The leader lock is session-level: it needs the direct connection.
                conn = postgres.connect(
                    self.settings.database_listen_url,
                    self.settings.check_timeout,
                    application_name="klaxon-engine-lock",
                )
            except psycopg.Error as exc:
                log.warning("engine_database_unavailable", error=postgres.describe_error(exc))
                self._stop.wait(delay * (0.5 + random.random()))
                delay = min(delay * 2, RECONNECT_BACKOFF_MAX)
                continue
            delay = STANDBY_POLL
            if self._try_lock(conn):
                return conn
            conn.close()
            if not announced:
                log.info("engine_standby")
                announced = True
            self._stop.wait(STANDBY_POLL * (0.75 + random.random() / 2))
        return None

    def _try_lock(self, conn: psycopg.Connection[Any]) -> bool:
        try:
            rows = postgres.bounded_query(
                conn, f"SELECT pg_try_advisory_lock({ENGINE_LOCK_KEY})", self.settings.check_timeout
            )
        except (psycopg.Error, postgres.QueryTimeout) as exc:
            log.warning("engine_lock_attempt_failed", error=postgres.describe_error(exc))
            conn.close()
            return False
        return bool(rows) and rows[0][0] == "t"

    def _lead(self, conn: psycopg.Connection[Any]) -> None:
        leader_since = time.time()
        self.is_leader = True
        log.info("engine_leader_elected")
        try:
            while not self._stop.is_set():
                if not self._still_leader(conn):
                    return
                started = time.time()
                due_in = self._run_modules()
                self.cycles += 1
                self._beat(leader_since, started)
                self._promise_alive()
                self._wake.wait(min(self.settings.engine_cycle, max(due_in, MIN_WAIT)))
                self._wake.clear()
        finally:
            self.is_leader = False
            conn.close()  # closing the session frees the lock for a standby at once

    def _still_leader(self, conn: psycopg.Connection[Any]) -> bool:
        try:
            postgres.bounded_query(conn, "SELECT 1", self.settings.check_timeout)
            return True
        except (psycopg.Error, postgres.QueryTimeout) as exc:
            log.warning("engine_leadership_lost", error=postgres.describe_error(exc))
            return False

    def _run_modules(self) -> float:
        """Run every module once; the seconds until the soonest work any of them has due."""
        due_in = self.settings.engine_cycle
        for module in self._modules:
            started = time.monotonic()
            try:
                module_due = self._flights[module.name].result()
                if module_due is not None:
                    due_in = min(due_in, module_due)
            except DeadlineExceeded as exc:
                log.error("engine_module_timeout", module=module.name, error=str(exc))
            except Exception:
                log.exception("engine_module_failed", module=module.name)
            else:
                log.debug(
                    "engine_module_done",
                    module=module.name,
                    duration_ms=round((time.monotonic() - started) * 1000, 1),
                )
        return due_in

    def _promise_alive(self) -> None:
        """For `klaxon alive engine`: the next turn comes within a cycle, a reconnect backoff
        and a bounded connect plus query, whether this engine leads or stands by."""
        settings = self.settings
        wait = max(settings.engine_cycle, RECONNECT_BACKOFF_MAX) + 2 * settings.check_timeout
        alive.promise("engine", wait + ALIVE_MARGIN)

    def _beat(self, leader_since: float, cycle_started: float) -> None:
        beat = Heartbeat(
            instance=self.settings.instance,
            pid=os.getpid(),
            leader_since=leader_since,
            cycle_started=cycle_started,
            cycle_ended=time.time(),
            cycles=self.cycles,
            cycle_seconds=self.settings.engine_cycle,
        )
        try:
            write_heartbeat(self.redis, beat)
        except RedisError as exc:
            log.warning("engine_heartbeat_failed", error=str(exc))


def _install_signal_handlers(engine: Engine) -> None:
    def handle(signum: int, _frame: Any) -> None:
        if engine.stopping:
            log.warning("engine_forced_exit", signal=signal.Signals(signum).name)
            os._exit(EXIT_SECOND_SIGNAL)
        log.info("engine_shutdown_requested", signal=signal.Signals(signum).name)
        engine.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def run_engine() -> int:
    """`klaxon engine`: preflight, then lead or stand by until SIGTERM."""
    settings = load_or_exit("engine")
    engine = Engine(settings)  # no I/O yet; it exists so a SIGTERM during preflight stops it
    _install_signal_handlers(engine)
    preflight_or_exit(settings, "engine", checks_for("engine", settings))
    if engine.stopping:
        log.info("engine_stopped", reason="stop requested during preflight")
        return 0
    return engine.run()
