"""Request body limits for every route, in one place, counted on the bytes actually read.

Werkzeug truncates a chunked body at MAX_CONTENT_LENGTH without a word, and a view that reads
`request.data` would then parse the first part as if it were whole. So no route relies on it:
before any view runs, `wsgi.input` is replaced by a `LimitedInput` that counts what is read and
raises a 413 (in the JSON error envelope) at the first byte past the route's limit, for
Content-Length and chunked bodies alike. A declared Content-Length over the limit is refused
before anything is read.

A body a view leaves unread (a 401 decided before reading, a 413) is gunicorn's to drop: it
drains at most 64 KiB within 5 s before reusing the connection and closes it otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, BinaryIO

from flask import Flask, request

from app.platform.errors import ApiError, PayloadTooLarge

KIB = 1024
# Bytes a request body may hold, by blueprint. Ingest takes GoAlert's default
# (max-request-body-bytes); /api/v1's largest valid body (a service with a 4 KiB description, a
# policy with its steps) is far smaller than 64 KiB; the form endpoints carry a handful of fields.
LIMITS: dict[str, int] = {
    "ingest": 256 * KIB,
    "api": 64 * KIB,
    "admin": 16 * KIB,  # the admin login form
    "rq_dashboard": 16 * KIB,  # its buttons post (next to) nothing; all of it is behind login
    "twilio": 16 * KIB,  # Twilio's callbacks: a few dozen short parameters
    "slack": 16 * KIB,  # one button press on a Klaxon message: a few KiB
}
# Every other route (probes, action links, metrics, calendar feeds, unknown paths): the
# action-link confirmation form is the only body among them, a few hundred bytes.
DEFAULT_LIMIT = 4 * KIB
# Seconds a body may take to arrive, in all (Heroku's router gives up on a request at 30 s).
# Each read also times out on its own (config.gunicorn_worker.CLIENT_READ_TIMEOUT).
BODY_SECONDS = 30.0


class RequestTimeout(ApiError):
    status = 408
    code = "request_timeout"


def limit_for(blueprint: str | None) -> int:
    """The body limit, in bytes, of a route of `blueprint` (None: no route matched)."""
    return LIMITS.get(blueprint or "", DEFAULT_LIMIT)


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body exceeds {limit // KIB} KiB", {"max_bytes": limit})


def _timed_out() -> RequestTimeout:
    return RequestTimeout(
        f"the request body did not arrive in time (each read waits a few seconds, the whole "
        f"body at most {BODY_SECONDS:g} s)"
    )


class LimitedInput:
    """`wsgi.input` that refuses to deliver more than `limit` bytes: the 413 is raised when
    the first byte past the limit arrives, however the body is framed."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self.limit = limit
        self.read_bytes = 0
        self._deadline = time.monotonic() + BODY_SECONDS

    def read(self, size: int | None = -1) -> bytes:
        return self._count(self._pull(self._stream.read, self._room(size)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self._pull(self._stream.readline, self._room(size)))

    @staticmethod
    def _pull(reader: Callable[[int], bytes], want: int) -> bytes:
        try:
            return reader(want) if want > 0 else b""
        except TimeoutError:
            raise _timed_out() from None
        except Exception as exc:  # the server's reading of the client's bytes failed
            raise ApiError(
                "the request body could not be read (malformed chunked framing, or the "
                "connection closed early)"
            ) from exc

    def _room(self, size: int | None) -> int:
        # One byte more than the limit allows is asked for, to tell "exactly at" from "over".
        room = self.limit + 1 - self.read_bytes
        return room if size is None or size < 0 else min(size, room)

    def _count(self, data: bytes) -> bytes:
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            raise too_large(self.limit)
        if time.monotonic() > self._deadline:
            raise _timed_out()
        return data

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def install(app: Flask) -> None:
    """Give every request its route's limit (see the module doc)."""

    @app.before_request
    def _limit_body() -> None:
        limit = limit_for(request.blueprint)
        # Werkzeug's own cap stays off: it would cut a chunked body short instead of refusing.
        request.max_content_length = None
        declared = request.content_length
        # No route matched: its 404/405 comes next and reads nothing, so it is the answer.
        if declared is not None and declared > limit and request.routing_exception is None:
            raise too_large(limit)
        request.environ["wsgi.input"] = LimitedInput(request.environ["wsgi.input"], limit)
