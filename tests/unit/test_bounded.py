"""Deadlines that hold even when the call under them never returns."""

from __future__ import annotations

import threading
import time

import pytest

from app.bounded import DeadlineExceeded, SingleFlight, run_bounded


def test_run_bounded_returns_the_result():
    assert run_bounded(lambda: 42, 1.0) == 42


def test_run_bounded_raises_the_calls_own_error():
    def boom():
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        run_bounded(boom, 1.0)


def test_run_bounded_gives_up_at_the_deadline_on_a_call_that_never_returns():
    never = threading.Event()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"no answer within 0\.2s"):
        run_bounded(never.wait, 0.2)
    assert time.monotonic() - started < 0.5
    never.set()


def test_single_flight_shares_one_call_and_caches_it():
    calls = []
    flight = SingleFlight(
        lambda: calls.append(1) or len(calls), timeout=1.0, cache_for=60, name="t"
    )
    assert [flight.result() for _ in range(5)] == [1, 1, 1, 1, 1]
    assert len(calls) == 1


def test_single_flight_calls_again_once_the_cache_expires():
    calls = []
    flight = SingleFlight(lambda: calls.append(1) or len(calls), timeout=1.0, cache_for=0, name="t")
    assert flight.result() == 1
    assert flight.result() == 2


def test_a_hung_call_is_reported_at_once_to_later_callers_and_not_started_again():
    release = threading.Event()
    starts = []

    def hang():
        starts.append(1)
        release.wait()
        return "late"

    flight = SingleFlight(hang, timeout=0.2, cache_for=0, name="t")
    with pytest.raises(DeadlineExceeded):
        flight.result()
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="no answer for"):
        flight.result()
    assert time.monotonic() - started < 0.1  # no second wait
    assert len(starts) == 1
    release.set()
