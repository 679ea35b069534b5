"""A stop request raised while a log line is being written reaches the worker's loop.

RQ's SIGTERM handler raises StopRequested from whatever line is running. When that line was
the log handler's write, logging swallowed it ("--- Logging error ---") and the worker kept
listening past its 5 s stop limit (tests/system/test_shutdown.py failed once so in CI)."""

from __future__ import annotations

import io
import logging
import sys

import pytest
from rq.exceptions import StopRequested

from config.logging import configure_logging


class StoppedMidWrite(io.StringIO):
    def write(self, text: str) -> int:
        raise StopRequested()


class BrokenStream(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError("stderr is gone")


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch):
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def install(stream: io.StringIO) -> io.StringIO:
        """The handler writes to `stream`; logging's own error report goes to the result."""
        monkeypatch.setattr(sys, "stderr", stream)
        configure_logging("info", "json", "worker")
        report = io.StringIO()
        monkeypatch.setattr(sys, "stderr", report)
        return report

    yield install
    root.handlers[:], level = saved
    root.setLevel(level)


def test_a_stop_requested_during_a_log_write_is_raised(stderr) -> None:
    stderr(StoppedMidWrite())
    with pytest.raises(StopRequested):
        logging.getLogger("rq.worker").info("cleaning registries")


def test_any_other_write_failure_is_still_logging_s_own_business(stderr) -> None:
    report = stderr(BrokenStream())
    logging.getLogger("rq.worker").info("cleaning registries")  # reported, not raised
    assert "--- Logging error ---" in report.getvalue()
