"""Wait on conditions with a deadline and backoff — never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    pass


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str = "condition",
    interval: float = 0.02,
    max_interval: float = 0.25,
) -> T:
    """Return the first truthy value of predicate(), or fail after `timeout` seconds.

    Exceptions raised by predicate count as "not yet" (the last one is reported).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise WaitTimeout(f"{what} not reached within {timeout:g}s{detail}")
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)
