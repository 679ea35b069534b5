"""The audit log's retention: events older than KLAXON_AUDIT_RETENTION_DAYS are deleted in
bounded batches, oldest first (0 keeps them forever). The module returns the seconds until the
oldest event is due, so a quiet log costs one indexed look-up per cycle."""

from __future__ import annotations

from app.audit import events
from app.platform.engine_pass import EngineModule, ModuleContext, run_batches

BATCH = 1000  # events deleted per transaction: a short delete that holds no lock for long
TIMEOUT = 10.0  # seconds: the engine's limit on one run of this module
BUDGET = TIMEOUT / 2


def run(ctx: ModuleContext) -> float | None:
    days = ctx.settings.audit_retention_days
    if days == 0:
        return None
    return run_batches(
        ctx,
        lambda conn: events.prune(conn, days, BATCH),
        lambda conn: events.seconds_until_prunable(conn, days),
        BATCH,
        BUDGET,
    )


MODULE = EngineModule("audit_retention", run, TIMEOUT)
