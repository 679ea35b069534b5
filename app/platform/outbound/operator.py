"""Requests to services the operator configured (the OpenID Connect identity provider).

The outbound policy (app.platform.outbound.policy) vets URLs a *user* typed; a URL the operator
set in the environment is trusted as the operator's choice, as the Twilio and Slack API bases
are (app.providers.http). What such a request still owes everyone else is a bound: explicit
connect and total timeouts under one deadline, no retries, no redirects (a redirect could carry
a client secret to a host nobody configured), and an answer read in chunks against the same
deadline, so a peer that accepts and never answers, or drips its answer a byte at a time,
costs at most the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

USER_AGENT = "Klaxon/0.1 (+https://github.com/klaxon)"
MAX_CONNECT_TIMEOUT = 3.0  # seconds: a peer that cannot finish a handshake in 3 s is down
MAX_ANSWER = 256 * 1024  # bytes of an answer read: discovery, keys and tokens are a few KiB
READ_CHUNK = 8 * 1024


class Unreachable(Exception):
    """No answer: refused, dropped, a TLS failure, or `timed_out` (the deadline passed)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    data: bytes  # at most MAX_ANSWER bytes
    complete: bool  # False when the answer was longer than MAX_ANSWER


def where(url: str) -> str:
    """Host[:port] of `url`, for messages: paths and queries may carry secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def request(
    method: str,
    url: str,
    deadline: float,
    *,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request, answered by `deadline` (time.monotonic()); `fields` go as a urlencoded form.
    Raises Unreachable. A fresh pool per call: sign-ins are rare, and a pool shared across
    gunicorn's fork would interleave two processes' bytes on one socket."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise Unreachable(f"{where(url)}: no time left to ask", timed_out=True)
    timeout = urllib3.Timeout(total=left, connect=min(MAX_CONNECT_TIMEOUT, left), read=left)
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    with urllib3.PoolManager(retries=False) as pool:
        try:
            form: dict[str, object] = {}
            if fields is not None:
                form = {"fields": dict(fields), "encode_multipart": False}
            response = pool.request(
                method,
                url,
                headers=all_headers,
                timeout=timeout,
                redirect=False,
                retries=False,
                preload_content=False,
                **form,  # type: ignore[arg-type]
            )
            data, complete = _read(response, deadline)
        except urllib3.exceptions.NewConnectionError:  # before TimeoutError: it subclasses it
            raise Unreachable(f"{where(url)}: connection refused or unreachable") from None
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            raise Unreachable(
                f"{where(url)} did not answer within {left:.1f}s", timed_out=True
            ) from None
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable(f"{where(url)}: {failure_reason(exc)}") from None
    return Answer(response.status, dict(response.headers), data, complete)


def _read(response: urllib3.BaseHTTPResponse, deadline: float) -> tuple[bytes, bool]:
    """Up to MAX_ANSWER bytes of the answer by `deadline`, and whether that was all of it."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_ANSWER:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            _shorten_socket_timeout(response, left)
            chunk = response.read1(READ_CHUNK)  # what has arrived: no waiting for a full chunk
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:MAX_ANSWER], False
    finally:
        response.close()


def _shorten_socket_timeout(response: urllib3.BaseHTTPResponse, left: float) -> None:
    """Each read of the body waits at most until the deadline (urllib3 would wait a whole read
    timeout per read, so a peer that drips and then stalls could double the bound)."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(left)


def failure_reason(exc: urllib3.exceptions.HTTPError) -> str:
    """The root cause without the URL (urllib3 puts the full URL, maybe a secret, in str())."""
    cause: BaseException = exc
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        cause = exc.reason
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return "connection refused or unreachable"
    if isinstance(cause, urllib3.exceptions.ProtocolError):
        return "connection dropped"
    if isinstance(cause, urllib3.exceptions.SSLError):
        return "TLS failed"
    return type(cause).__name__
