"""Abuse limits on Redis, with the `limits` library (Flask-Limiter's engine): moving windows.

Each limit counts one kind of event under a key (an address, a user, a client address) and
refuses the event past its budget with `RateLimited` (429 + Retry-After). Callers count only
what they mean to limit — a failed credential, a code sent — so a request with valid
credentials never waits on Redis.

Redis is optional to serving: when the limiter's store is unreachable or hangs, every limit
fails open. One call waits at most the check timeout (socket timeouts, no redis-py retries);
after a failure the store is left alone for COOL_OFF_SECONDS (limits pass at once, nobody waits)
and then one caller probes it again while the others keep passing. An episode logs
`rate_limit_store_unavailable` once, `rate_limit_store_recovered` when it ends, and shows as a
`warn` in /healthz's `limiter` check.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import limits
import structlog
from flask import current_app, request
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import Redis

from app.platform.errors import ApiError
from config.settings import LimitSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")

KEY_PREFIX = "klaxon:limit"  # Klaxon's keys live under klaxon: (never rq:)
# Seconds the store is left alone after a failure: a dead Redis costs one timeout per this
# long per process, not one per request.
COOL_OFF_SECONDS = 5.0


class RateLimited(ApiError):
    """429 Too Many Requests; `Retry-After` says when the oldest counted event leaves."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after
        # Per instance: the error handler copies these onto the response.
        self.headers = {"Retry-After": str(retry_after)}  # type: ignore[misc]


@dataclass(frozen=True)
class StoreStatus:
    """The store as the last call found it: `error` is None while it answers."""

    error: str | None
    since: float | None  # time.monotonic() when the episode began


class Limiter:
    """The abuse limits of one process, on Redis, failing open within the client's timeout."""

    def __init__(
        self, connect: Callable[[], Redis], settings: LimitSettings, where: str = "redis"
    ) -> None:
        """`connect` builds the client (app.platform.redis_client.make_redis: socket timeouts, no
        retries, TLS as configured); `where` names the store in logs, without credentials."""
        self.settings = settings
        self._connect = connect
        self._where = where
        self._strategy: MovingWindowRateLimiter | None = None  # built on first use (after fork)
        self._lock = threading.Lock()
        self._probing = threading.Lock()
        self._error: str | None = None
        self._since: float | None = None
        self._retry_at = 0.0

    def hit(self, limit: str, what: str, *key: str) -> None:
        """Count one `what` under `key` against `limit`; past it raise RateLimited."""
        item = limits.parse(limit)
        allowed = self._call(lambda s: s.hit(item, what, *key))
        if allowed is None or allowed:
            return
        stats = self._call(lambda s: s.get_window_stats(item, what, *key))
        wait = max(1, math.ceil(stats.reset_time - time.time())) if stats else 1
        log.info("rate_limited", limit=limit, what=what, retry_after=wait)
        raise RateLimited(f"too many {what} ({limit}); retry in {wait} s", wait)

    def status(self) -> StoreStatus:
        return StoreStatus(self._error, self._since)

    def _call(self, fn: Callable[[MovingWindowRateLimiter], T]) -> T | None:
        """fn(strategy), or None when the store is failing (fail open, never wait past timeout)."""
        probing = False
        if self._error is not None:
            if time.monotonic() < self._retry_at:
                return None  # cooling off
            if not self._probing.acquire(blocking=False):
                return None  # another thread is probing the store; do not queue behind it
            probing = True
        try:
            result = fn(self._limiter())
        except Exception as exc:  # any store failure: the limit fails open
            self._failed(exc)
            return None
        finally:
            if probing:
                self._probing.release()
        self._recovered()
        return result

    def _limiter(self) -> MovingWindowRateLimiter:
        with self._lock:
            if self._strategy is None:
                client = self._connect()
                # The client's pool carries the address, the timeouts, TLS and make_redis's
                # no-retry policy (redis-py 8 would otherwise retry a hung peer for ~26 s).
                storage = RedisStorage(
                    "redis://", connection_pool=client.connection_pool, key_prefix=KEY_PREFIX
                )
                self._strategy = MovingWindowRateLimiter(storage)
            return self._strategy

    def _failed(self, exc: Exception) -> None:
        error = _describe(exc)
        with self._lock:
            first = self._error is None
            self._error = error
            self._retry_at = time.monotonic() + COOL_OFF_SECONDS
            if first:
                self._since = time.monotonic()
        if first:
            log.warning(
                "rate_limit_store_unavailable",
                redis=self._where,
                error=error,
                note="abuse limits are not enforced until the store answers",
            )

    def _recovered(self) -> None:
        if self._error is None:
            return
        with self._lock:
            was, self._error, self._since = self._error, None, None
        if was is not None:
            log.info("rate_limit_store_recovered", redis=self._where)


def _describe(exc: Exception) -> str:
    """One line naming the failure, never a URL (it may carry a password)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()[:200]


# ---- the limits Klaxon applies, for the web tier ---------------------------------------------


def limiter() -> Limiter:
    """This process's limiter (built with the app, connected on first use)."""
    runtime = current_app.extensions["klaxon"]
    found: Limiter = runtime.limiter
    return found


def client_address() -> str:
    """The client's address: REMOTE_ADDR, after KLAXON_PROXY_HOPS trusted proxies (ProxyFix)."""
    return request.remote_addr or "unknown"


def failed_credentials(surface: str) -> RateLimited | None:
    """Count a refused credential from this client on `surface`; the 429 to answer instead, if
    the client is past KLAXON_LIMIT_FAILED_AUTH. Only failures are counted: a request with
    valid credentials never reaches Redis, so it is never slowed or refused by this limit."""
    found = limiter()
    try:
        found.hit(found.settings.failed_auth, "failed credentials", surface, client_address())
    except RateLimited as limited:
        return limited
    return None


def destination_key(kind: str, address: str) -> str:
    """A key for one destination that keeps the address itself out of Redis."""
    return hashlib.sha256(f"{kind}:{address}".encode()).hexdigest()[:32]
