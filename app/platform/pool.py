"""The web process's connection pool: opened lazily after fork, every wait bounded.

A dependency that is down or slow becomes `Unavailable`, which the HTTP layer answers with 503
and Retry-After — never a hang, never a lost alert reported as accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
import structlog
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from app.platform.postgres import describe_error
from config.settings import Settings

log = structlog.get_logger(__name__)

POOL_MAX = 8  # connections per web process: one per gunicorn thread, with room to spare
# A statement may run this long before Postgres cancels it (milliseconds): an API request must
# never outlive gunicorn's 30 s timeout on a lock wait or a runaway query.
STATEMENT_TIMEOUT_MS = 10_000


class Unavailable(Exception):
    """A dependency failed in a way worth retrying (answer 503 with Retry-After)."""


class Database:
    """A lazily opened psycopg pool; `transaction()` yields a dict-row connection."""

    def __init__(self, settings: Settings, application_name: str = "klaxon-web") -> None:
        self._settings = settings
        self._application_name = application_name
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                timeout = self._settings.check_timeout
                self._pool = ConnectionPool(
                    self._settings.database_url,
                    min_size=1,
                    max_size=POOL_MAX,
                    timeout=timeout,
                    open=False,
                    name=self._application_name,
                    kwargs={
                        "connect_timeout": max(2, int(timeout)),
                        "application_name": self._application_name,
                        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                        "row_factory": dict_row,
                        "keepalives": 1,
                        "keepalives_idle": 5,
                        "keepalives_interval": 2,
                        "keepalives_count": 3,
                    },
                    reconnect_timeout=60,
                )
                self._pool.open(wait=False)
            return self._pool

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection inside a transaction, committed when the block succeeds."""
        with (
            self._unavailable_on_failure(),
            self._get_pool().connection() as conn,
            conn.transaction(),
        ):
            yield conn

    @contextmanager
    def autocommit(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit mode, for work that is one statement: it is its own
        transaction, committed before execute() returns, in one round trip (no BEGIN/COMMIT)."""
        with self._unavailable_on_failure(), self._get_pool().connection() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                with suppress(psycopg.Error):  # a broken connection is discarded anyway
                    conn.autocommit = False

    @contextmanager
    def _unavailable_on_failure(self) -> Iterator[None]:
        """No pooled connection in time, or one that broke: Unavailable (a 503 to the client)."""
        try:
            yield
        except PoolTimeout as exc:
            raise Unavailable(
                f"database: no connection within {self._settings.check_timeout:g}s"
            ) from exc
        except psycopg.OperationalError as exc:
            log.warning("database_unavailable", error=describe_error(exc))
            raise Unavailable(f"database: {describe_error(exc)}") from exc

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close(timeout=2)
                self._pool = None
