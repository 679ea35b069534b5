"""The engine's modules, in the order one cycle runs them.

Each module file exports `MODULE` (a workers.engine.EngineModule). Each is safe when run by
two engines at once (row locks, `FOR UPDATE SKIP LOCKED`, idempotent inserts), so a leader that
lost its lock mid-cycle cannot double anything.

Order matters within a cycle: escalation engages people, notification_rules turns the new
engagements into message rows, so a new alert's first page is written in the cycle its NOTIFY
woke; the dispatch module (last) then queues those rows.
"""

from __future__ import annotations

from workers.engine import EngineModule
from workers.engine_modules import (
    dispatch,
    escalation,
    heartbeats,
    notification_rules,
    oncall_notices,
    status_updates,
)

MODULES: tuple[EngineModule, ...] = (
    escalation.MODULE,
    notification_rules.MODULE,
    heartbeats.MODULE,
    status_updates.MODULE,
    oncall_notices.MODULE,
    dispatch.MODULE,
)
