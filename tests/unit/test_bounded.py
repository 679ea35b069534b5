"""Deadlines that hold even when the call under them never returns."""

from __future__ import annotations

import threading
import time

import pytest

from app.platform.bounded import DeadlineExceeded, SingleFlight, run_bounded
from tests.support.wait import wait_until


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


def test_with_patience_a_slow_refresh_yields_the_previous_verdict_quickly():
    release = threading.Event()
    calls = []

    def call():
        calls.append(1)
        if len(calls) == 2:
            release.wait()
        return len(calls)

    flight = SingleFlight(call, timeout=5.0, cache_for=60, name="t", patience=0.05)
    assert flight.result() == 1
    flight._finished_at -= 120  # the cached verdict expires
    started = time.monotonic()
    assert flight.result() == 1  # the refresh hangs: the previous verdict, at once
    assert time.monotonic() - started < 0.5
    release.set()
    assert wait_until(lambda: flight.result() == 2, 5, "the refreshed verdict")


def test_with_patience_a_refresh_hung_past_its_timeout_fails_instead_of_going_stale():
    release = threading.Event()
    calls = []

    def call():
        calls.append(1)
        if len(calls) > 1:
            release.wait()
        return "ok"

    flight = SingleFlight(call, timeout=0.2, cache_for=0, name="t", patience=0.05)
    assert flight.result() == "ok"
    assert flight.result() == "ok"  # stale while the refresh is young

    def times_out() -> bool:
        try:
            flight.result()
        except DeadlineExceeded:
            return True
        return False

    wait_until(times_out, 5, "a hung refresh reported as a failure")
    assert len(calls) == 2
    release.set()
