"""Engine modules run under their own timeouts; a failing or hung one never stops the loop."""

from __future__ import annotations

import threading

import structlog

from app.platform.engine_pass import EngineModule
from tests.support.wait import wait_until
from workers.engine import Engine


def test_failing_and_hung_modules_are_logged_and_the_loop_goes_on(settings_for):
    release = threading.Event()
    counted: list[int] = []

    def fail(_ctx):
        raise RuntimeError("module bug")

    modules = [
        EngineModule("hangs", lambda _ctx: release.wait(), timeout=0.2),
        EngineModule("fails", fail, timeout=1.0),
        EngineModule("counts", lambda _ctx: counted.append(1), timeout=1.0),
    ]
    engine = Engine(settings_for(KLAXON_ENGINE_CYCLE="0.1"), modules)
    runner = threading.Thread(target=engine.run, daemon=True)
    with structlog.testing.capture_logs() as logs:
        runner.start()
        try:
            wait_until(lambda: len(counted) >= 5, 20, "five cycles of the healthy module")
        finally:
            engine.stop()
            runner.join(10)
            release.set()
    assert not runner.is_alive()
    events = [(e["event"], e.get("module")) for e in logs]
    assert ("engine_module_timeout", "hangs") in events
    assert ("engine_module_failed", "fails") in events
    assert engine.cycles >= 5
