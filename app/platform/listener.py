"""A supervised LISTEN thread: one autocommit connection, reconnect with backoff and jitter.

Used by web and engine. The thread owns its connection; `status()` tells whether it is
connected and when it last proved the connection alive, so /readyz can report a dead or stalled
listener instead of trusting a thread that stopped hearing anything.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog

from app.platform import postgres
from app.platform.sql_fragments import EVENTS_CHANNEL

log = structlog.get_logger(__name__)

# Seconds a notifies() wait lasts before the loop checks in again; also how long stop() may
# take, which gunicorn waits for when it replaces a worker.
POLL_INTERVAL = 0.25
PING_INTERVAL = 5.0  # seconds between round trips that prove an idle connection still answers
BACKOFF_START = 0.2  # seconds before the first reconnect
BACKOFF_MAX = 10.0  # seconds; reconnect attempts never wait longer than this


@dataclass(frozen=True)
class ListenerStatus:
    running: bool
    connected: bool
    last_alive_age: float | None  # seconds since the connection last proved itself
    reconnects: int
    error: str | None
    stall_limit: float  # seconds of silence after which the listener counts as stalled


class Listener:
    """LISTENs on `channels`; calls `on_notify(notify)` for each and `on_connect()` after each
    (re)connect, so its owner can catch up on anything sent while it was away."""

    def __init__(
        self,
        url: str,
        timeout: float,
        channels: Sequence[str] = (EVENTS_CHANNEL,),
        on_notify: Callable[[psycopg.Notify], None] | None = None,
        on_connect: Callable[[], None] | None = None,
        name: str = "listener",
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._channels = tuple(channels)
        self._on_notify = on_notify or (lambda _n: None)
        self._on_connect = on_connect or (lambda: None)
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._connected = False
        self._first_connect = threading.Event()
        self._last_alive: float | None = None
        self._reconnects = 0
        self._error: str | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait for it at most `timeout` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_connected(self, timeout: float) -> bool:
        """Wait at most `timeout` seconds for the first connection; whether it was made."""
        return self._first_connect.wait(timeout)

    def status(self) -> ListenerStatus:
        age = None if self._last_alive is None else time.monotonic() - self._last_alive
        running = self._thread is not None and self._thread.is_alive()
        return ListenerStatus(
            running, self._connected, age, self._reconnects, self._error, self.stall_limit()
        )

    def stall_limit(self) -> float:
        """A listener silent for longer than this (seconds) is stalled, not merely idle."""
        return PING_INTERVAL + POLL_INTERVAL + self._timeout + 1.0

    def _run(self) -> None:
        delay = BACKOFF_START
        while not self._stop.is_set():
            try:
                self._connect()
                delay = BACKOFF_START
                self._listen_until_broken()
            except Exception as exc:
                self._error = postgres.describe_error(exc)
                log.warning("listener_disconnected", listener=self._name, error=self._error)
            finally:
                self._disconnect()
            if self._stop.is_set():
                break
            self._reconnects += 1
            self._stop.wait(delay * (0.5 + random.random()))
            delay = min(delay * 2, BACKOFF_MAX)
        log.info("listener_stopped", listener=self._name)

    def _connect(self) -> None:
        conn = postgres.connect(self._url, self._timeout, application_name=f"klaxon-{self._name}")
        self._conn = conn
        for channel in self._channels:
            conn.execute(f"LISTEN {channel}")
        self._connected = True
        self._error = None
        self._last_alive = time.monotonic()
        self._first_connect.set()
        log.info("listener_connected", listener=self._name, channels=list(self._channels))
        self._safe(self._on_connect, "on_connect")

    def _listen_until_broken(self) -> None:
        conn = self._conn
        assert conn is not None
        last_ping = time.monotonic()
        while not self._stop.is_set():
            for notify in conn.notifies(timeout=POLL_INTERVAL):
                self._last_alive = time.monotonic()
                self._safe(functools.partial(self._on_notify, notify), "on_notify")
            if time.monotonic() - last_ping >= PING_INTERVAL:
                # notifies() cannot tell an idle connection from a blackholed one; a round
                # trip can.
                postgres.bounded_query(conn, "SELECT 1", self._timeout)
                last_ping = time.monotonic()
                self._last_alive = last_ping

    def _disconnect(self) -> None:
        self._connected = False
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _safe(self, fn: Callable[[], None], what: str) -> None:
        try:
            fn()
        except Exception:
            log.exception("listener_callback_failed", listener=self._name, callback=what)
