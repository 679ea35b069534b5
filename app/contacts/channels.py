"""Notification channels: shared destinations (Slack channels, webhooks) an escalation step
or a schedule's on-call notices can target."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from app.platform.sql_fragments import keyset_page, update_row

CHANNEL_COLUMNS = (
    "id::text AS id, name, type, address, status_updates, team_id::text AS team_id, created_at, "
    "updated_at"
)


# ---- notification channels ---------------------------------------------------------------------


def create_channel(conn: psycopg.Connection[Any], fields: dict[str, Any]) -> dict[str, Any]:
    """Insert a channel; webhooks get a signing secret (in the result only)."""
    secret = secrets.token_urlsafe(32) if fields["type"] == "webhook" else None
    row = conn.execute(
        "INSERT INTO notification_channels (name, type, address, status_updates, signing_secret, "
        "team_id) VALUES (%(name)s, %(type)s, %(address)s, %(status_updates)s, %(secret)s, "
        f"%(team_id)s) RETURNING {CHANNEL_COLUMNS}",
        {"team_id": None, **fields, "secret": secret},
    ).fetchone()
    assert row is not None
    return {**row, "signing_secret": secret}


def get_channel(
    conn: psycopg.Connection[Any], channel_id: str, lock: bool = False
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = %s"
        + (" FOR UPDATE" if lock else ""),
        (channel_id,),
    ).fetchone()
    return dict(row) if row else None


def channel_exists(conn: psycopg.Connection[Any], channel_id: str) -> bool:
    """Whether the channel exists; if so it stays until the caller commits."""
    row = conn.execute(
        "SELECT 1 FROM notification_channels WHERE id = %s FOR KEY SHARE", (channel_id,)
    ).fetchone()
    return row is not None


def list_channels(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    return keyset_page(conn, CHANNEL_COLUMNS, "notification_channels", after, limit)


def update_channel(
    conn: psycopg.Connection[Any], channel_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    return update_row(
        conn, "notification_channels", CHANNEL_COLUMNS, "id = %(id)s", {"id": channel_id}, changes
    )


def delete_channel(conn: psycopg.Connection[Any], channel_id: str) -> bool:
    return (
        conn.execute("DELETE FROM notification_channels WHERE id = %s", (channel_id,)).rowcount > 0
    )
