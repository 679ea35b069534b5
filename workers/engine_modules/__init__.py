"""The engine's modules, in the order one cycle runs them.

Each module file exports `MODULE` (a workers.engine.EngineModule). Each is safe when run by
two engines at once (row locks, `FOR UPDATE SKIP LOCKED`, idempotent inserts), so a leader that
lost its lock mid-cycle cannot double anything.
"""

from __future__ import annotations

from workers.engine import EngineModule

MODULES: tuple[EngineModule, ...] = ()
