"""Contact methods: where a user is reached (SMS, voice, email, Slack, webhook), and SMS
STOP/START, which disable and re-enable every method on a number."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from app.platform.sql_fragments import keyset_page, update_row

CM_COLUMNS = (
    "id::text AS id, user_id::text AS user_id, name, type, address, "
    "verified_at IS NOT NULL AS verified, verified_at, disabled, "
    "stopped_at IS NOT NULL AS stopped, status_updates, created_at, updated_at"
)


# ---- contact methods ---------------------------------------------------------------------------


def create_contact_method(
    conn: psycopg.Connection[Any],
    user_id: str,
    name: str,
    kind: str,
    address: str,
    status_updates: bool,
) -> dict[str, Any]:
    """Insert an unverified contact method; webhooks get a signing secret (in the result only)."""
    secret = secrets.token_urlsafe(32) if kind == "webhook" else None
    row = conn.execute(
        "INSERT INTO contact_methods (user_id, name, type, address, signing_secret, "
        f"status_updates) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {CM_COLUMNS}",
        (user_id, name, kind, address, secret, status_updates),
    ).fetchone()
    assert row is not None
    return {**row, "signing_secret": secret}


def list_contact_methods(
    conn: psycopg.Connection[Any], user_id: str, after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    return keyset_page(
        conn, CM_COLUMNS, "contact_methods", after, limit, "user_id = %(user_id)s", user_id=user_id
    )


def get_contact_method(
    conn: psycopg.Connection[Any], user_id: str, cm_id: str, lock: bool = False
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {CM_COLUMNS} FROM contact_methods WHERE id = %s AND user_id = %s"
        + (" FOR UPDATE" if lock else ""),
        (cm_id, user_id),
    ).fetchone()
    return dict(row) if row else None


def update_contact_method(
    conn: psycopg.Connection[Any], user_id: str, cm_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply `changes` (name, address, disabled, status_updates). A new address is unverified
    and not STOPped (the STOP came from the old number)."""
    if "address" in changes:
        changes = {**changes, "verified_at": None, "stopped_at": None}
    return update_row(
        conn,
        "contact_methods",
        CM_COLUMNS,
        "id = %(id)s AND user_id = %(user_id)s",
        {"id": cm_id, "user_id": user_id},
        changes,
    )


def delete_contact_method(conn: psycopg.Connection[Any], user_id: str, cm_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM contact_methods WHERE id = %s AND user_id = %s", (cm_id, user_id)
        ).rowcount
        > 0
    )


def mark_verified(conn: psycopg.Connection[Any], cm_id: str) -> None:
    """The method's owner proved they receive on it (app.contacts.verification)."""
    conn.execute(
        "UPDATE contact_methods SET verified_at = now(), updated_at = now() WHERE id = %s",
        (cm_id,),
    )


# STOP/START (an SMS reply) apply to the number, so to its voice method too (carriers opt out a
# number, not a method).
_STOP_NUMBER = """
UPDATE contact_methods SET stopped_at = now(), updated_at = now()
WHERE type IN ('sms', 'voice') AND lower(address) = lower(%s) AND stopped_at IS NULL
RETURNING id
"""
_RESTART_NUMBER = """
UPDATE contact_methods SET stopped_at = NULL, updated_at = now()
WHERE type IN ('sms', 'voice') AND lower(address) = lower(%s) AND stopped_at IS NOT NULL
RETURNING id
"""


def stop_number(conn: psycopg.Connection[Any], number: str) -> int:
    """Stop sending to `number` (its SMS and voice methods); how many methods stopped now."""
    return len(conn.execute(_STOP_NUMBER, (number,)).fetchall())


def restart_number(conn: psycopg.Connection[Any], number: str) -> int:
    """Send to a stopped `number` again; how many methods started again now."""
    return len(conn.execute(_RESTART_NUMBER, (number,)).fetchall())


def sms_method_for_number(conn: psycopg.Connection[Any], number: str) -> dict[str, Any] | None:
    """The SMS contact method (id, user_id) whose address is `number`, whoever replies from it."""
    return conn.execute(
        "SELECT id::text AS id, user_id::text AS user_id FROM contact_methods "
        "WHERE type = 'sms' AND lower(address) = lower(%s)",
        (number,),
    ).fetchone()
