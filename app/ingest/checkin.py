"""Heartbeat monitor check-ins (`POST /api/v2/heartbeat/<id>`): the monitor's id is its secret.

A check-in records the time and marks the monitor healthy; the engine owns expiry (raising and
closing the heartbeat alert), and is woken by the NOTIFY sent with the change.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

_CHECKIN = """
WITH monitor AS (
    UPDATE heartbeat_monitors SET last_checkin_at = now(), state = 'healthy'
    WHERE id = %(id)s
    RETURNING id, state, last_checkin_at
)
SELECT id::text AS id, state, last_checkin_at,
       pg_notify('klaxon_events', json_build_object(
           'heartbeat_monitor_id', id, 'event', 'heartbeat_checkin')::text)
FROM monitor
"""


def parse_monitor_id(raw: str) -> uuid.UUID | None:
    """The monitor id in a path segment, or None when it cannot be one."""
    try:
        return uuid.UUID(raw.strip())
    except ValueError:
        return None


def record(conn: psycopg.Connection[Any], monitor_id: uuid.UUID) -> dict[str, Any] | None:
    """Record a check-in; the monitor's id, state and check-in time, or None if unknown."""
    row = conn.execute(_CHECKIN, {"id": monitor_id}).fetchone()
    if row is None:
        return None
    return {"id": row["id"], "state": row["state"], "last_checkin_at": row["last_checkin_at"]}
