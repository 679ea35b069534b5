"""Services: what alerts are raised against; each names its escalation policy."""

from __future__ import annotations

from typing import Any

import psycopg

from app.directory import integration_keys
from app.platform.sql_fragments import keyset_page, update_row

SERVICE_COLUMNS = (
    "id::text AS id, name, description, escalation_policy_id::text AS escalation_policy_id, "
    "maintenance_until, team_id::text AS team_id, created_at, updated_at"
)


def create_service(
    conn: psycopg.Connection[Any], name: str, description: str = "", team_id: str | None = None
) -> dict[str, Any]:
    row = conn.execute(
        "INSERT INTO services (name, description, team_id) VALUES (%s, %s, %s) "
        f"RETURNING {SERVICE_COLUMNS}",
        (name, description, team_id),
    ).fetchone()
    assert row is not None
    return dict(row)


def create_service_with_key(
    conn: psycopg.Connection[Any], name: str, public_url: str, description: str = ""
) -> dict[str, Any]:
    """A service with one generic integration key, ready for a first alert."""
    service = create_service(conn, name, description)
    key = integration_keys.create_integration_key(conn, service["id"], "generic")
    key["url"] = integration_keys.integration_url(public_url, "generic", key["token"])
    return {**service, "integration_key": key}


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
    """Apply `changes` (name, description, maintenance_until, escalation_policy_id, team_id);
    None if
    there is no such service."""
    return update_row(conn, "services", SERVICE_COLUMNS, "id = %(id)s", {"id": service_id}, changes)


def delete_service(conn: psycopg.Connection[Any], service_id: str) -> bool:
    """Delete a service with its keys, heartbeat monitors and alerts (ON DELETE CASCADE)."""
    return conn.execute("DELETE FROM services WHERE id = %s", (service_id,)).rowcount > 0
