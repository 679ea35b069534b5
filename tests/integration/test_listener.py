"""The supervised listener: delivers notifications, reconnects, reports what it is doing."""

from __future__ import annotations

import threading
import time

import psycopg

from app.platform.listener import Listener
from tests.support.net import Tarpit, closed_port
from tests.support.wait import wait_until


def test_notifications_reach_the_handler_and_reconnects_catch_up(database_url):
    received: list[str] = []
    connects = threading.Semaphore(0)
    listener = Listener(
        database_url,
        2,
        channels=("klaxon_events",),
        on_notify=lambda n: received.append(n.payload),
        on_connect=connects.release,
        name="test-listener",
    )
    listener.start()
    try:
        assert listener.wait_connected(10)
        assert connects.acquire(timeout=10)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("NOTIFY klaxon_events, 'one'")
            wait_until(lambda: received == ["one"], 5, "first notification")

            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'klaxon-test-listener' AND datname = current_database()"
            )
            assert connects.acquire(timeout=15), "on_connect runs again after the reconnect"
            status = listener.status()
            assert status.connected and status.reconnects >= 1

            conn.execute("NOTIFY klaxon_events, 'two'")
            wait_until(lambda: received == ["one", "two"], 5, "notification after reconnect")
    finally:
        listener.stop()
    assert not listener.status().running


def test_an_unreachable_database_is_reported_not_hidden():
    listener = Listener(f"postgresql://postgres@127.0.0.1:{closed_port()}/x", 1, name="down")
    listener.start()
    try:
        status = wait_until(lambda: (s := listener.status()).error and s, 10, "error reported")
        assert status.running and not status.connected
        assert "refused" in status.error.lower()
    finally:
        listener.stop()


def test_waiting_for_the_first_connection_is_bounded_by_its_timeout():
    """What a new gunicorn worker does before it takes requests (config/gunicorn.conf.py): a
    database that never answers costs the wait's timeout, then the worker serves and says why."""
    with Tarpit() as tarpit:
        listener = Listener(f"postgresql://postgres@127.0.0.1:{tarpit.port}/x", 1, name="tarpit")
        listener.start()
        try:
            started = time.monotonic()
            assert listener.wait_connected(0.5) is False
            assert 0.5 <= time.monotonic() - started < 2
            assert not listener.status().connected
        finally:
            listener.stop()
