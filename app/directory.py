"""Users and services: the small CRUD the CLI, the REST API and `klaxon dev` share."""

from __future__ import annotations

from typing import Any

import psycopg

from app import keys

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
