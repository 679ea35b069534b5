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

    With `patience`, a caller that finds a refresh in flight waits at most that long for it and
    then takes the previous finished result (value or error) instead: a slow dependency then
    holds no caller's thread for long, which matters when those threads also serve /livez.
    """

    def __init__(
        self,
        fn: Callable[[], T],
        timeout: float,
        cache_for: float,
        name: str,
        patience: float | None = None,
    ) -> None:
        self._fn = fn
        self._timeout = timeout
        self._cache_for = cache_for
        self._name = name
        self._patience = patience
        self._lock = threading.Lock()
        self._future: Future[T] | None = None
        self._previous: Future[T] | None = None  # the last call that finished
        self._started = 0.0
        self._finished_at = 0.0

    def begin(self) -> tuple[Future[T], float, Future[T] | None]:
        """Make sure a call is in flight (or a fresh result cached).

        Returns that call, when it started, and the previous finished call if there is one.
        """
        with self._lock:
            return self._current()

    def result(self) -> T:
        """The shared result; raises fn's exception or DeadlineExceeded."""
        future, started, previous = self.begin()
        waited_already = time.monotonic() - started
        remaining = self._timeout - waited_already
        if remaining <= 0 and not future.done():
            raise DeadlineExceeded(
                f"no answer for {waited_already:.1f}s (limit {self._timeout:g}s)"
            )
        patience = self._patience if previous is not None else None
        wait = remaining if patience is None else min(remaining, patience)
        try:
            return future.result(timeout=max(wait, 0.0))
        except TimeoutError:
            if previous is not None and wait < remaining:
                return previous.result()
            raise DeadlineExceeded(f"no answer within {self._timeout:g}s") from None

    def _current(self) -> tuple[Future[T], float, Future[T] | None]:
        now = time.monotonic()
        future = self._future
        if future is not None:
            if not future.done():
                return future, self._started, self._previous
            if now - self._finished_at < self._cache_for:
                return future, self._started, None
            self._previous = future
        self._future = _start(self._call_and_stamp, self._name)
        self._started = now
        return self._future, now, self._previous

    def _call_and_stamp(self) -> T:
        try:
            return self._fn()
        finally:
            self._finished_at = time.monotonic()
