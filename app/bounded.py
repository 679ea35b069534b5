"""Run blocking calls with a hard deadline, so no caller waits on a peer that never answers.

Library timeouts (psycopg's connect_timeout, redis-py's socket timeouts) are the first line;
these helpers are the backstop that makes a deadline exact even when a library rounds it up or
a call has no timeout of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """A bounded call did not finish within its deadline."""


def _start(fn: Callable[[], T], name: str) -> Future[T]:
    """Run `fn` in a daemon thread and return a future for its result."""
    future: Future[T] = Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)

    # Daemon: a call stuck on a dead peer must never keep the process from exiting.
    threading.Thread(target=target, name=name, daemon=True).start()
    return future


def run_bounded(fn: Callable[[], T], timeout: float, name: str = "bounded") -> T:
    """Return fn()'s result, or raise DeadlineExceeded after `timeout` seconds."""
    future = _start(fn, name)
    try:
        return future.result(timeout=max(timeout, 0.0))
    except TimeoutError:
        raise DeadlineExceeded(f"no answer within {timeout:g}s") from None


class SingleFlight(Generic[T]):
    """At most one call of `fn` in flight; callers share it and each waits only its own budget.

    A call that is still running after `timeout` is reported as timed out at once to new
    callers instead of being started again, so a hung dependency costs one stuck thread, not
    one per request. A finished result is reused for `cache_for` seconds.
    """

    def __init__(self, fn: Callable[[], T], timeout: float, cache_for: float, name: str) -> None:
        self._fn = fn
        self._timeout = timeout
        self._cache_for = cache_for
        self._name = name
        self._lock = threading.Lock()
        self._future: Future[T] | None = None
        self._started = 0.0
        self._finished_at = 0.0

    def begin(self) -> tuple[Future[T], float]:
        """Make sure a call is in flight (or a fresh result cached); return it and its start."""
        with self._lock:
            return self._current()

    def result(self) -> T:
        """The shared result; raises fn's exception or DeadlineExceeded."""
        future, started = self.begin()
        waited_already = time.monotonic() - started
        remaining = self._timeout - waited_already
        if remaining <= 0 and not future.done():
            raise DeadlineExceeded(
                f"no answer for {waited_already:.1f}s (limit {self._timeout:g}s)"
            )
        try:
            return future.result(timeout=max(remaining, 0.0))
        except TimeoutError:
            raise DeadlineExceeded(f"no answer within {self._timeout:g}s") from None

    def _current(self) -> tuple[Future[T], float]:
        now = time.monotonic()
        future = self._future
        if future is not None:
            if not future.done():
                return future, self._started
            if now - self._finished_at < self._cache_for:
                return future, self._started
        self._future = _start(self._call_and_stamp, self._name)
        self._started = now
        return self._future, now

    def _call_and_stamp(self) -> T:
        try:
            return self._fn()
        finally:
            self._finished_at = time.monotonic()
