"""Background jobs that run on Klaxon's workers."""

from __future__ import annotations

import time


def probe(delay: float = 0.0, value: str = "pong") -> str:
    """A diagnostic job: wait `delay` seconds, return `value`.

    Operators enqueue it to prove the queue → worker path end to end; the shutdown tests use it
    as a job in flight.
    """
    if delay:
        time.sleep(delay)
    return value
