"""Heartbeat monitor check-ins (`POST /api/v2/heartbeat/<secret>`).

The path carries the monitor's check-in secret, found by its SHA-256 digest. Monitors created
before secrets existed were given their id as secret (so their senders' URLs keep working) until
it is rotated; an id is matched in its canonical form, as the old route parsed it.

A check-in records the time and marks the monitor healthy; the engine owns expiry (raising the
heartbeat alert), and is woken by the NOTIFY sent with the change. The check-in closes the
monitor's open heartbeat alert (actor heartbeat/<monitor id>) and clears `alert_id` in the same
statement, so the web's one-statement autocommit path stays atomic.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import psycopg

from app.alerts import log as alert_logs
from app.alerts import store
from app.directory import heartbeat_monitors
from app.platform import tokens
from app.platform.sql_fragments import EVENTS_CHANNEL

_CLOSED_LOG = alert_logs.insert_sql(
    "alert_id, event, actor_type, actor_id, message",
    "SELECT closed.id, 'closed', 'heartbeat', monitor.id::text, 'heartbeat monitor checked in'\n"
    "    FROM closed, monitor",
)

# `old` locks the monitor first: a concurrent expiry (the engine) is either seen whole (its
# alert is closed here) or waits for this check-in (and then finds the monitor healthy again).
_CHECKIN = f"""
WITH old AS (
    SELECT id, alert_id FROM heartbeat_monitors WHERE checkin_secret_hash = %(hash)s FOR UPDATE
), monitor AS (
    {heartbeat_monitors.checked_in_sql("old")}
), closed AS (
    {store.close_sql("id = (SELECT alert_id FROM monitor)")}
), logged AS (
    {_CLOSED_LOG}
), closed_notice AS (
    SELECT pg_notify('{EVENTS_CHANNEL}',
                     json_build_object('alert_id', id, 'event', 'closed')::text)
    FROM closed
)
SELECT id::text AS id, state, last_checkin_at,
       (SELECT count(*) FROM closed_notice) AS closed_alerts,
       pg_notify('{EVENTS_CHANNEL}', json_build_object(
           'heartbeat_monitor_id', id, 'event', 'heartbeat_checkin')::text)
FROM monitor
"""


MAX_SECRET = 128  # characters; ours are 36, an old id 36


def secret_digest(raw: str) -> bytes | None:
    """The digest to look a check-in secret up by, or None when the segment cannot be one."""
    raw = raw.strip()
    if not raw or len(raw) > MAX_SECRET:
        return None
    with contextlib.suppress(ValueError):
        raw = str(uuid.UUID(raw))  # an old monitor's id, in any form uuid accepts
    return tokens.digest(raw)


def exists(conn: psycopg.Connection[Any], secret_hash: bytes) -> bool:
    """Whether a monitor has this secret: checked before the request's body is read."""
    found = conn.execute(
        "SELECT 1 FROM heartbeat_monitors WHERE checkin_secret_hash = %s", (secret_hash,)
    ).fetchone()
    return found is not None


def record(conn: psycopg.Connection[Any], secret_hash: bytes) -> dict[str, Any] | None:
    """Record a check-in; the monitor's id, state and check-in time, or None if unknown."""
    row = conn.execute(_CHECKIN, {"hash": secret_hash}).fetchone()
    if row is None:
        return None
    return {"id": row["id"], "state": row["state"], "last_checkin_at": row["last_checkin_at"]}
