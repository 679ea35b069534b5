"""Heartbeat monitors: a monitor that misses its check-in raises one alert.

A `healthy` monitor whose `last_checkin_at + timeout_seconds` has passed becomes `unhealthy`
and raises an alert on its service (source `heartbeat`, actor heartbeat/<monitor id>, dedup
`heartbeat:<monitor id>`, so at most one is open per monitor); the monitor remembers it in
`alert_id`. The next check-in (app.ingest.checkin) closes that alert in the same statement and
clears `alert_id`. A monitor that never checked in (`inactive`) never expires. The module
returns the seconds until the soonest healthy monitor would expire, so the engine wakes for it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog

from app.alerts.store import Actor, raise_alert
from app.directory import heartbeat_monitors
from app.platform.engine_pass import EngineModule, ModuleContext, run_batches, seconds_until

log = structlog.get_logger(__name__)

BATCH = 100  # expired monitors per transaction (each raises its alert: a few statements)
TIMEOUT = 10.0  # seconds: the engine's limit on one run of this module
BUDGET = TIMEOUT / 2

_EXPIRY = "last_checkin_at + make_interval(secs => timeout_seconds)"

_EXPIRED = f"""
SELECT id::text AS id, service_id::text AS service_id, name, timeout_seconds, last_checkin_at
FROM heartbeat_monitors
WHERE state = 'healthy' AND {_EXPIRY} < now()
ORDER BY {_EXPIRY}
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""

_DUE_IN = f"SELECT min({_EXPIRY}) - now() AS due_in FROM heartbeat_monitors WHERE state = 'healthy'"


def one_batch(conn: psycopg.Connection[Any], batch: int = BATCH) -> int:
    """Expire up to `batch` overdue monitors in this transaction; how many."""
    rows = conn.execute(_EXPIRED, {"limit": batch}).fetchall()
    for row in rows:
        raised = raise_alert(
            conn,
            row["service_id"],
            f"Heartbeat monitor {row['name']!r} missed its check-in",
            f"No check-in since {row['last_checkin_at'].isoformat()} "
            f"(timeout {row['timeout_seconds']} s).",
            dedup=f"heartbeat:{row['id']}",
            source="heartbeat",
            actor=Actor("heartbeat", row["id"]),
        )
        heartbeat_monitors.mark_unhealthy(conn, row["id"], raised.alert_id)
        log.info("heartbeat_expired", monitor_id=row["id"], alert_id=raised.alert_id)
    return len(rows)


def run(ctx: ModuleContext) -> float | None:
    return run_batches(ctx, one_batch, lambda conn: seconds_until(conn, _DUE_IN), BATCH, BUDGET)


MODULE = EngineModule("heartbeats", run, TIMEOUT)
