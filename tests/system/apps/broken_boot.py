"""WSGI factories that fail or hang while a gunicorn worker boots, for the boot tests."""

from __future__ import annotations

import threading


def failing_app() -> object:
    raise RuntimeError("simulated failure while building the app")


def hanging_app() -> object:
    # Simulates an import that never returns (e.g. a blocked network call at import time).
    threading.Event().wait()
    raise AssertionError("unreachable")
