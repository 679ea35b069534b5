"""The HTTP client the HTTP providers (webhook, Twilio, Slack) share.

One urllib3 pool manager per process: connections are reused across sends (300+ webhooks/s
would otherwise pay a TCP handshake each), and a forked RQ work horse builds its own instead of
sharing sockets with its parent, which would interleave two processes' bytes on one connection.
Nothing retries or follows redirects here: the delivery job owns retries, and a redirect could
carry a signed body to a host the user never configured.

A request to a user-supplied URL carries a `Guard`: its host is resolved once, every address
is vetted against the outbound policy, and the connection goes to the vetted address while Host,
TLS SNI and certificate checks keep the URL's name. Operator-configured URLs (Twilio, Slack API
bases) go without one.
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog
import urllib3

from app.platform.outbound.operator import failure_reason
from app.platform.outbound.policy import Policy, Refused
from app.platform.outbound.target import Resolver, Target, Unresolvable, system_resolver, vet_url
from app.providers.base import DeliveryError

log = structlog.get_logger(__name__)

USER_AGENT = "Klaxon/0.1 (+https://github.com/klaxon)"
MAX_CONNECT_TIMEOUT = 3.0  # seconds: a peer that cannot finish a handshake in 3 s is down
POOL_HOSTS = 64  # distinct hosts kept pooled per process
POOL_CONNECTIONS = 16  # kept-alive connections per host (threads beyond it open and close one)
# Statuses that mean "try again later": timeout, too early, rate-limited, server errors.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
MAX_RETRY_AFTER = 3600.0  # seconds; a larger hint is clamped, not obeyed blindly
MAX_BODY = 64 * 1024  # bytes of an answer read: providers need a small JSON document at most
READ_CHUNK = 8 * 1024
# The whole of a refused send's last_error: which rule refused which address is logged, not
# shown, so the message log cannot be used to map the inside of the network.
REFUSED = "address refused by policy"

_lock = threading.Lock()
_pools: dict[int, urllib3.PoolManager] = {}


def _after_fork_in_child() -> None:
    # A thread of the parent may have held the lock at the fork: the child gets a fresh one.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def pool() -> urllib3.PoolManager:
    """This process's pool manager, made on first use (after any fork)."""
    pid = os.getpid()
    manager = _pools.get(pid)
    if manager is None:
        with _lock:
            manager = _pools.get(pid)
            if manager is None:
                # Drop any manager inherited from a parent without closing its sockets:
                # they are the parent's to close.
                _pools.clear()
                manager = urllib3.PoolManager(
                    num_pools=POOL_HOSTS, maxsize=POOL_CONNECTIONS, block=False, retries=False
                )
                _pools[pid] = manager
    return manager


def timeout_for(total: float) -> urllib3.Timeout:
    """Connect within min(3 s, total); connect plus answer within `total`."""
    return urllib3.Timeout(total=total, connect=min(MAX_CONNECT_TIMEOUT, total), read=total)


def where(url: str) -> str:
    """Host[:port] of `url`, for messages: paths and queries may carry secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True)
class Guard:
    """Vets a user-supplied URL before it is reached. `resolver` is production's getaddrinfo; a
    test passes its own to make DNS change its answer, which real DNS cannot be made to do."""

    policy: Policy
    resolver: Resolver = system_resolver

    def target(self, url: str, timeout: float) -> Target:
        """The vetted, pinned target of `url`, or a DeliveryError (refused: permanent)."""
        try:
            return vet_url(url, self.policy, self.resolver, timeout)
        except Refused as exc:
            log.warning(
                "outbound_address_refused", host=where(url), address=str(exc.address), rule=exc.rule
            )
            raise DeliveryError(REFUSED, permanent=True) from None
        except Unresolvable as exc:
            # A name that stops resolving may come back (a DNS outage): retried.
            raise DeliveryError(f"cannot reach {where(url)}: {exc}", permanent=False) from None


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    data: bytes  # at most MAX_BODY bytes


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    body: bytes | None = None,
    fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    guard: Guard | None = None,
) -> Response:
    """One request without retries or redirects, answered within `timeout`; network failures
    and timeouts become transient DeliveryErrors. With a `guard`, resolving the host counts
    against `timeout` and the request goes only to the address the guard vetted."""
    if guard is not None and fields is not None:
        raise ValueError("a guarded request sends a body, not form fields")
    deadline = time.monotonic() + timeout
    target = None if guard is None else guard.target(url, timeout)
    try:
        if target is None:
            response = _send(method, url, timeout, body, fields, headers)
        else:
            left = max(deadline - time.monotonic(), 0.001)
            response = _send_pinned(method, target, left, body, headers)
        return Response(response.status, response.headers, _read(response, deadline))
    except urllib3.exceptions.NewConnectionError:  # before TimeoutError: it subclasses it
        raise DeliveryError(
            f"cannot reach {where(url)}: connection refused or unreachable", permanent=False
        ) from None
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        raise DeliveryError(
            f"{where(url)} did not answer within {timeout:g}s", permanent=False
        ) from None
    except urllib3.exceptions.HTTPError as exc:
        raise DeliveryError(
            f"cannot reach {where(url)}: {failure_reason(exc)}", permanent=False
        ) from None


def _send(
    method: str,
    url: str,
    timeout: float,
    body: bytes | None,
    fields: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
) -> urllib3.BaseHTTPResponse:
    all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    limits = timeout_for(timeout)
    # preload_content=False: the answer is read by _read, under the deadline.
    if fields is not None:  # a urlencoded form (Twilio)
        return pool().request(
            method,
            url,
            fields=dict(fields),
            encode_multipart=False,
            headers=all_headers,
            timeout=limits,
            redirect=False,
            retries=False,
            preload_content=False,
        )
    return pool().request(
        method,
        url,
        body=body,
        headers=all_headers,
        timeout=limits,
        redirect=False,
        retries=False,
        preload_content=False,
    )


def _send_pinned(
    method: str,
    target: Target,
    timeout: float,
    body: bytes | None,
    headers: Mapping[str, str] | None,
) -> urllib3.BaseHTTPResponse:
    """Like _send, connecting to target.address only. Pools are keyed by address and TLS name,
    so connections are still reused, and never across names sharing an address."""
    tls: dict[str, object] = {}
    if target.scheme == "https" and not target.host_is_literal:
        tls = {"server_hostname": target.host, "assert_hostname": target.host}
    connections = pool().connection_from_host(
        str(target.address), target.port, target.scheme, pool_kwargs=tls
    )
    all_headers = {"User-Agent": USER_AGENT, **(headers or {}), "Host": target.host_header}
    return connections.urlopen(
        method,
        target.path,
        body=body,
        headers=all_headers,
        timeout=timeout_for(timeout),
        redirect=False,
        retries=False,
        preload_content=False,
        assert_same_host=False,
    )


def _read(response: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
    """Up to MAX_BODY bytes of the answer, by `deadline`: a peer that drips its answer a byte
    at a time cannot hold a send past its timeout. The connection goes back to the pool only
    when the answer was read whole."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < MAX_BODY:
            if time.monotonic() > deadline:
                raise TimeoutError
            chunk = response.read1(READ_CHUNK)  # what has arrived: no waiting for a full chunk
            if not chunk:
                response.release_conn()
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
    except BaseException:
        response.close()
        raise
    response.close()  # too big to drain: drop the connection instead
    return b"".join(chunks)[:MAX_BODY]


def is_transient_status(status: int) -> bool:
    return status in TRANSIENT_STATUSES or status >= 500


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), if any."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
