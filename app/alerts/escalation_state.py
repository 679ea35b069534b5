"""Where each alert is in its escalation (`alert_escalations`): its only writer besides the
triggers that make the row when the alert is raised and stop it when the alert is acknowledged
or closed (docs/architecture.md, Invariants Postgres enforces).

The escalation pass advances the rows it fired; the status update pass notes what it announced;
requests (the API's escalate, a policy or maintenance change) make rows due now, and the
engine, woken by their NOTIFY, acts on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from app.platform import engine_pass


def force_sql(alert_ids: str) -> str:
    """An UPDATE making the escalations of the alerts the SELECT `alert_ids` yields due now,
    forced: the escalation pass fires their next step even on an acknowledged alert, and even
    while their service is in maintenance. The body of a CTE in the request's statement."""
    return (
        "UPDATE alert_escalations SET next_step_at = now(), forced = true, held = false\n"
        f"WHERE alert_id IN ({alert_ids})"
    )


_ADVANCE = """
UPDATE alert_escalations e
SET step_index = v.step_index, repeats_done = v.repeats_done, next_step_at = v.next_step_at,
    held = v.held, forced = false,
    last_step_at = CASE WHEN v.fired THEN now() ELSE e.last_step_at END
FROM unnest(%(alert_ids)s::bigint[], %(step_index)s::int[], %(repeats_done)s::int[],
            %(next_step_at)s::timestamptz[], %(held)s::bool[], %(fired)s::bool[])
     AS v(alert_id, step_index, repeats_done, next_step_at, held, fired)
WHERE e.alert_id = v.alert_id
"""
_ADVANCE_NAMES = ("alert_ids", "step_index", "repeats_done", "next_step_at", "held", "fired")

Advance = tuple[int, int, int, datetime | None, bool, bool]


def advance(conn: psycopg.Connection[Any], rows: Sequence[Advance]) -> None:
    """Write where each escalation goes next, in one statement: (alert id, step index, repeats
    done, next step at, held, fired); a fired one records the time it fired, and none stays
    forced."""
    conn.execute(_ADVANCE, engine_pass.columns(list(rows), _ADVANCE_NAMES))


_ANNOUNCED = """
UPDATE alert_escalations e SET notified_status = v.status, status_changed = false
FROM unnest(%(alert_ids)s::bigint[], %(statuses)s::text[]) AS v(alert_id, status)
WHERE e.alert_id = v.alert_id
"""


def mark_announced(conn: psycopg.Connection[Any], rows: Sequence[tuple[int, str]]) -> None:
    """Note, for each (alert id, status), that its status has been announced, in one
    statement."""
    conn.execute(_ANNOUNCED, engine_pass.columns(list(rows), ("alert_ids", "statuses")))


def restart_waiting(conn: psycopg.Connection[Any], service_id: str) -> int:
    """Make due now the escalations of the service's triggered alerts that never fired a step
    (and are not held); how many."""
    return conn.execute(
        """
        UPDATE alert_escalations e SET next_step_at = now()
          FROM alerts a
         WHERE a.id = e.alert_id AND e.service_id = %s
           AND a.status = 'triggered' AND e.last_step_at IS NULL AND NOT e.held
        """,
        (service_id,),
    ).rowcount


def release_held(conn: psycopg.Connection[Any], service_id: str) -> int:
    """Make due now the service's escalations held by its maintenance window; how many."""
    return conn.execute(
        "UPDATE alert_escalations SET next_step_at = now() WHERE service_id = %s AND held",
        (service_id,),
    ).rowcount


def position(conn: psycopg.Connection[Any], alert_id: int) -> dict[str, Any] | None:
    """Where the alert is in its escalation: the next step to fire (`step_index`), repeats
    done, when the next step fires (`next_step_at`, None: nothing more will), whether it is
    held by maintenance, and when a step last fired."""
    row = conn.execute(
        "SELECT step_index, repeats_done, next_step_at, held, forced, last_step_at "
        "FROM alert_escalations WHERE alert_id = %s",
        (alert_id,),
    ).fetchone()
    return dict(row) if row else None
