"""Users, services and heartbeat monitors: CRUD shared by the CLI, the REST API and `klaxon dev`."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from app import keys, tokens

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
# Lists are keyset pages ordered by (created_at, id): `after` is the (created_at, id) of the last
# row already seen (ISO time and UUID as text); each returns at most `limit` rows.

FIRST_PAGE = ("-infinity", "00000000-0000-0000-0000-000000000000")
HEARTBEAT_COLUMNS = (
    "id::text AS id, service_id::text AS service_id, name, timeout_seconds, state, "
    "last_checkin_at, created_at"
)
_KEYSET = "(created_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)"


def _keyset(after: tuple[str, str] | None, limit: int) -> dict[str, Any]:
    after_at, after_id = after or FIRST_PAGE
    return {"after_at": after_at, "after_id": after_id, "limit": limit}


def _update(
    conn: psycopg.Connection[Any],
    table: str,
    columns: str,
    where: str,
    params: dict[str, Any],
    changes: dict[str, Any],
    touch: bool = True,
) -> dict[str, Any] | None:
    """UPDATE one row's `changes` (column -> value; names come from our schemas, not clients)."""
    assignments: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(f"set_{column}"))
        for column in changes
    ]
    if touch:
        assignments.append(sql.SQL("updated_at = now()"))
    if not assignments:
        row = conn.execute(f"SELECT {columns} FROM {table} WHERE {where}", params).fetchone()
        return dict(row) if row else None
    query = sql.SQL("UPDATE {} SET {} WHERE {} RETURNING {}").format(
        sql.Identifier(table), sql.SQL(", ").join(assignments), sql.SQL(where), sql.SQL(columns)
    )
    values = {f"set_{column}": value for column, value in changes.items()}
    row = conn.execute(query, {**params, **values}).fetchone()
    return dict(row) if row else None


def list_users(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {USER_COLUMNS} FROM users WHERE {_KEYSET} ORDER BY created_at, id LIMIT %(limit)s",
        _keyset(after, limit),
    ).fetchall()


def get_user(conn: psycopg.Connection[Any], user_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()
    return dict(row) if row else None


def update_user(
    conn: psycopg.Connection[Any], user_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply `changes` (name, email, role, time_zone); None when there is no such user."""
    return _update(conn, "users", USER_COLUMNS, "id = %(id)s", {"id": user_id}, changes)


def delete_user(conn: psycopg.Connection[Any], user_id: str) -> bool:
    return conn.execute("DELETE FROM users WHERE id = %s", (user_id,)).rowcount > 0


def list_services(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {SERVICE_COLUMNS} FROM services WHERE {_KEYSET} ORDER BY created_at, id "
        "LIMIT %(limit)s",
        _keyset(after, limit),
    ).fetchall()


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
    return _update(conn, "services", SERVICE_COLUMNS, "id = %(id)s", {"id": service_id}, changes)


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
    return conn.execute(
        f"SELECT {HEARTBEAT_COLUMNS} FROM heartbeat_monitors "
        f"WHERE service_id = %(service_id)s AND {_KEYSET} ORDER BY created_at, id "
        "LIMIT %(limit)s",
        {"service_id": service_id, **_keyset(after, limit)},
    ).fetchall()


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
    return _update(
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
