"""Heartbeat monitors: a service expects a check-in at least every interval."""

from __future__ import annotations

from typing import Any

import psycopg

from app.platform import tokens
from app.platform.sql_fragments import keyset_page, update_row

# ---- listing, reading, updating and deleting (the REST API) -----------------------------------
#
# Lists are keyset pages (app.platform.sql_fragments).

HEARTBEAT_COLUMNS = (
    "id::text AS id, service_id::text AS service_id, name, timeout_seconds, state, "
    "last_checkin_at, created_at"
)


def create_heartbeat_monitor(
    conn: psycopg.Connection[Any], service_id: str, name: str, timeout_seconds: int
) -> dict[str, Any]:
    """Insert a monitor; the result carries its new `checkin_secret` (only its digest is kept)."""
    secret, secret_hash = tokens.new_checkin_secret()
    row = conn.execute(
        "INSERT INTO heartbeat_monitors (service_id, name, timeout_seconds, checkin_secret_hash) "
        f"VALUES (%s, %s, %s, %s) RETURNING {HEARTBEAT_COLUMNS}",
        (service_id, name, timeout_seconds, secret_hash),
    ).fetchone()
    assert row is not None
    return {**row, "checkin_secret": secret}


def rotate_heartbeat_secret(
    conn: psycopg.Connection[Any], service_id: str, monitor_id: str
) -> dict[str, Any] | None:
    """Give a monitor a new check-in secret (the old one stops working at once); the monitor
    with its `checkin_secret`, or None when the service has no such monitor."""
    secret, secret_hash = tokens.new_checkin_secret()
    row = conn.execute(
        "UPDATE heartbeat_monitors SET checkin_secret_hash = %s "
        f"WHERE id = %s AND service_id = %s RETURNING {HEARTBEAT_COLUMNS}",
        (secret_hash, monitor_id, service_id),
    ).fetchone()
    return {**row, "checkin_secret": secret} if row else None


# ---- check-ins and expiry (app.ingest.checkin, app.ingest.checkin_pass) ----------------------


def checked_in_sql(locked: str) -> str:
    """An UPDATE marking the monitors of the CTE `locked` (their id and alert_id, locked)
    checked in now: healthy, their alert forgotten. It returns each one's id, state, check-in
    time and the alert_id it had. The body of a CTE in the check-in's statement."""
    return f"""UPDATE heartbeat_monitors m
    SET last_checkin_at = now(), state = 'healthy', alert_id = NULL
    FROM {locked} WHERE m.id = {locked}.id
    RETURNING m.id, m.state, m.last_checkin_at, {locked}.alert_id"""


def mark_unhealthy(conn: psycopg.Connection[Any], monitor_id: str, alert_id: int) -> None:
    """The monitor missed its check-in and raised `alert_id`, which its next check-in closes."""
    conn.execute(
        "UPDATE heartbeat_monitors SET state = 'unhealthy', alert_id = %(alert_id)s "
        "WHERE id = %(id)s",
        {"alert_id": alert_id, "id": monitor_id},
    )


def list_heartbeat_monitors(
    conn: psycopg.Connection[Any],
    service_id: str,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    return keyset_page(
        conn,
        HEARTBEAT_COLUMNS,
        "heartbeat_monitors",
        after,
        limit,
        "service_id = %(service_id)s",
        service_id=service_id,
    )


def get_heartbeat_monitor(
    conn: psycopg.Connection[Any], service_id: str, monitor_id: str
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {HEARTBEAT_COLUMNS} FROM heartbeat_monitors WHERE id = %s AND service_id = %s",
        (monitor_id, service_id),
    ).fetchone()
    return dict(row) if row else None


def update_heartbeat_monitor(
    conn: psycopg.Connection[Any], service_id: str, monitor_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply `changes` (name, timeout_seconds); None when the service has no such monitor."""
    return update_row(
        conn,
        "heartbeat_monitors",
        HEARTBEAT_COLUMNS,
        "id = %(id)s AND service_id = %(service_id)s",
        {"id": monitor_id, "service_id": service_id},
        changes,
        touch=False,
    )


def delete_heartbeat_monitor(
    conn: psycopg.Connection[Any], service_id: str, monitor_id: str
) -> bool:
    return (
        conn.execute(
            "DELETE FROM heartbeat_monitors WHERE id = %s AND service_id = %s",
            (monitor_id, service_id),
        ).rowcount
        > 0
    )
