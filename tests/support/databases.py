"""Test databases cloned from the migrated template ahead of need, dropped behind the tests.

CREATE DATABASE from a template takes ~0.2 s on the embedded Postgres (it copies and syncs
every file) and DROP DATABASE ~0.05 s; across a thousand tests that was a third of the suite's
time, spent waiting. A `DatabasePool` thread keeps a few clones ready and drops used ones while
the tests run, so a test's setup takes a ready database at once. The thread is owned by the
session fixture that starts it and stops it (dropping whatever is left) at the end.
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import threading
from urllib.parse import urlsplit

import psycopg

ADMIN_TIMEOUT = 10  # seconds: connect timeout of the admin connection
TAKE_TIMEOUT = 60.0  # seconds a test waits for a ready database before failing
READY = 2  # clones kept ready: one for the next test, one spare


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


class DatabasePool:
    """Clones of `template` made and dropped by one background thread."""

    def __init__(self, admin_url: str, template: str, prefix: str = "klaxon_t") -> None:
        self.admin_url = admin_url
        self.template = template
        self.prefix = prefix
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=READY)
        self._used: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-databases", daemon=True)

    def start(self) -> DatabasePool:
        self._thread.start()
        return self

    def take(self) -> str:
        """The URL of a fresh clone (waits for one, up to TAKE_TIMEOUT)."""
        try:
            item = self._ready.get(timeout=TAKE_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(f"no test database ready within {TAKE_TIMEOUT:g}s") from None
        if isinstance(item, BaseException):
            raise RuntimeError(f"could not clone the test database: {item}") from item
        return with_database(self.admin_url, item)

    def give_back(self, url: str) -> None:
        """Drop this clone (in the background)."""
        self._used.put(urlsplit(url).path.lstrip("/"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=TAKE_TIMEOUT)
        with self._admin() as conn:
            while True:
                try:
                    item = self._ready.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, str):
                    self._drop(conn, item)
            self._drop_used(conn)

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=ADMIN_TIMEOUT)

    def _run(self) -> None:
        with self._admin() as conn:
            while not self._stop.is_set():
                self._drop_used(conn)
                if self._ready.full():
                    self._stop.wait(0.01)
                    continue
                name = f"{self.prefix}_{secrets.token_hex(6)}"
                try:
                    conn.execute(
                        f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" STRATEGY FILE_COPY'
                    )
                except psycopg.Error as exc:
                    self._ready.put(exc)  # the next take() reports it
                    return
                self._ready.put(name)

    def _drop_used(self, conn: psycopg.Connection) -> None:
        while True:
            try:
                name = self._used.get_nowait()
            except queue.Empty:
                return
            self._drop(conn, name)

    @staticmethod
    def _drop(conn: psycopg.Connection, name: str) -> None:
        with contextlib.suppress(psycopg.Error):  # already gone is fine
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
