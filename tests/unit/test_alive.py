"""Liveness promises: what `klaxon alive worker|engine` (an exec probe) answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.platform import alive


@pytest.fixture(autouse=True)
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alive.tempfile, "gettempdir", lambda: str(tmp_path))


def test_a_kept_promise_is_alive_until_its_time_passes() -> None:
    alive.promise("worker", 30)
    assert alive.check_alive("worker") is None
    assert alive.check_alive("worker", now=time.time() + 29) is None
    problem = alive.check_alive("worker", now=time.time() + 45)
    assert problem is not None and problem.startswith("worker: main loop silent, 1")


def test_no_promise_yet_is_not_alive_and_says_where_it_looked(tmp_path: Path) -> None:
    assert alive.check_alive("engine") == (
        f"engine: no liveness file {tmp_path / 'klaxon-engine.alive'} yet "
        "(still starting, or not running here)"
    )


def test_an_unreadable_promise_is_not_alive(tmp_path: Path) -> None:
    (tmp_path / "klaxon-engine.alive").write_text("soon")
    problem = alive.check_alive("engine")
    assert problem is not None and "unreadable liveness file" in problem


def test_each_process_type_keeps_its_own_promise() -> None:
    alive.promise("engine", 30)
    assert alive.check_alive("engine") is None
    assert alive.check_alive("worker") is not None
