"""Postgres connections that never wait without a bound.

psycopg's default connect timeout is 130 s and a query on a connection whose peer stopped
answering waits forever; every Klaxon connection is opened here, with an explicit connect
timeout, TCP keepalives and (for ad-hoc checks) a client-side deadline on the query itself.
"""

from __future__ import annotations

import math
import select
import time
from typing import Any

import psycopg
from psycopg import pq

# psycopg (like libpq) enforces at least 2 s for connect_timeout; callers that need a tighter
# bound run the connect under app.platform.bounded.run_bounded.
_MIN_CONNECT_TIMEOUT = 2
# Keepalives make a dead peer (host gone, cable cut) visible within ~15 s on idle connections.
_KEEPALIVE_PARAMS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


class QueryTimeout(TimeoutError):
    """The server did not answer a query within its deadline."""


def connect(
    url: str,
    timeout: float,
    *,
    autocommit: bool = True,
    application_name: str = "klaxon",
    **kwargs: Any,
) -> psycopg.Connection[Any]:
    """Open a connection whose connect phase is bounded by `timeout` seconds."""
    return psycopg.Connection.connect(
        url,
        autocommit=autocommit,
        connect_timeout=max(_MIN_CONNECT_TIMEOUT, math.ceil(timeout)),
        application_name=application_name,
        **_KEEPALIVE_PARAMS,
        **kwargs,
    )


def bounded_query(conn: psycopg.Connection[Any], sql: str, timeout: float) -> list[tuple[Any, ...]]:
    """Run `sql` on an idle connection, waiting at most `timeout` seconds for the answer.

    On a deadline the connection is closed (its state is unknown) and QueryTimeout raised; the
    caller never blocks on a peer that accepts bytes and never answers.
    """
    pgconn = conn.pgconn
    deadline = time.monotonic() + timeout
    pgconn.send_query(sql.encode())
    try:
        _flush(pgconn, deadline)
        while True:
            pgconn.consume_input()
            if not pgconn.is_busy():
                break
            _wait_readable(pgconn.socket, deadline)
        return _collect_rows(pgconn)
    except QueryTimeout:
        conn.close()
        raise QueryTimeout(f"no answer within {timeout:g}s") from None


def _flush(pgconn: pq.abc.PGconn, deadline: float) -> None:
    while pgconn.flush() != 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise QueryTimeout
        select.select([], [pgconn.socket], [], remaining)


def _wait_readable(fd: int, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise QueryTimeout
    readable, _, _ = select.select([fd], [], [], remaining)
    if not readable:
        raise QueryTimeout


def _collect_rows(pgconn: pq.abc.PGconn) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    error: str | None = None
    while (result := pgconn.get_result()) is not None:
        if result.status == pq.ExecStatus.TUPLES_OK:
            rows.extend(
                tuple(_text(result.get_value(r, c)) for c in range(result.nfields))
                for r in range(result.ntuples)
            )
        elif result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY):
            error = (result.error_message or b"query failed").decode(errors="replace").strip()
    if error:
        raise psycopg.OperationalError(error)
    return rows


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def describe_error(exc: BaseException) -> str:
    """A one-line description of a connection or query error, without credentials."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first.replace("connection failed: ", "")
