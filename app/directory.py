"""Users, services and heartbeat monitors: CRUD shared by the CLI, the REST API and `klaxon dev`."""

from __future__ import annotations

from typing import Any

import psycopg

from app import keys, tokens
from app.sql_fragments import keyset_page, update_row

USER_COLUMNS = "id::text AS id, name, email, role, time_zone, created_at, updated_at"
SERVICE_COLUMNS = (
    "id::text AS id, name, description, escalation_policy_id::text AS escalation_policy_id, "
    "maintenance_until, created_at, updated_at"
)


def create_user(
    conn: psycopg.Connection[Any],
    name: str,
    email: str,
    role: str = "user",
    time_zone: str = "UTC",
) -> dict[str, Any]:
    row = conn.execute(
        f"INSERT INTO users (name, email, role, time_zone) VALUES (%s, %s, %s, %s) "
        f"RETURNING {USER_COLUMNS}",
        (name, email, role, time_zone),
    ).fetchone()
    assert row is not None
    return dict(row)


def create_service(
    conn: psycopg.Connection[Any], name: str, description: str = ""
) -> dict[str, Any]:
    row = conn.execute(
        f"INSERT INTO services (name, description) VALUES (%s, %s) RETURNING {SERVICE_COLUMNS}",
        (name, description),
    ).fetchone()
    assert row is not None
    return dict(row)


def create_service_with_key(
    conn: psycopg.Connection[Any], name: str, public_url: str, description: str = ""
) -> dict[str, Any]:
    """A service with one generic integration key, ready for a first alert."""
    service = create_service(conn, name, description)
    key = keys.create_integration_key(conn, service["id"], "generic")
    key["url"] = keys.integration_url(public_url, "generic", key["token"])
    return {**service, "integration_key": key}


# ---- listing, reading, updating and deleting (the REST API) -----------------------------------
#
# Lists are keyset pages (app.sql_fragments).

HEARTBEAT_COLUMNS = (
    "id::text AS id, service_id::text AS service_id, name, timeout_seconds, state, "
    "last_checkin_at, created_at"
)


def list_users(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    return keyset_page(conn, USER_COLUMNS, "users", after, limit)


def get_user(conn: psycopg.Connection[Any], user_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()
    return dict(row) if row else None


def update_user(
    conn: psycopg.Connection[Any], user_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply `changes` (name, email, role, time_zone); None when there is no such user."""
    return update_row(conn, "users", USER_COLUMNS, "id = %(id)s", {"id": user_id}, changes)


def delete_user(conn: psycopg.Connection[Any], user_id: str) -> bool:
    return conn.execute("DELETE FROM users WHERE id = %s", (user_id,)).rowcount > 0


def list_services(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    return keyset_page(conn, SERVICE_COLUMNS, "services", after, limit)


def get_service(
    conn: psycopg.Connection[Any], service_id: str, lock: bool = False
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {SERVICE_COLUMNS} FROM services WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (service_id,),
    ).fetchone()
    return dict(row) if row else None


def update_service(
    conn: psycopg.Connection[Any], service_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply `changes` (name, description, maintenance_until, escalation_policy_id); None if
    there is no such service."""
    return update_row(conn, "services", SERVICE_COLUMNS, "id = %(id)s", {"id": service_id}, changes)


def delete_service(conn: psycopg.Connection[Any], service_id: str) -> bool:
    """Delete a service with its keys, heartbeat monitors and alerts (ON DELETE CASCADE)."""
    return conn.execute("DELETE FROM services WHERE id = %s", (service_id,)).rowcount > 0


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
