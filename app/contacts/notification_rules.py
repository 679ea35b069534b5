"""Notification rules: which contact method to use how many minutes after a user is engaged."""

from __future__ import annotations

from typing import Any

import psycopg

from app.alerts import engagements
from app.platform.sql_fragments import EVENTS_CHANNEL, keyset_page

RULE_COLUMNS = (
    "id::text AS id, user_id::text AS user_id, contact_method_id::text AS contact_method_id, "
    "delay_minutes, created_at"
)


# ---- notification rules ------------------------------------------------------------------------


def create_rule(
    conn: psycopg.Connection[Any], user_id: str, cm_id: str, delay_minutes: int
) -> dict[str, Any]:
    row = conn.execute(
        "INSERT INTO notification_rules (user_id, contact_method_id, delay_minutes) "
        f"VALUES (%s, %s, %s) RETURNING {RULE_COLUMNS}",
        (user_id, cm_id, delay_minutes),
    ).fetchone()
    assert row is not None
    _recheck_engagements(conn, user_id)
    return dict(row)


def _recheck_engagements(conn: psycopg.Connection[Any], user_id: str) -> None:
    """The user's active engagements are looked at again (the engine is woken on commit), so a
    rule added while they are engaged fires at its moment even when no other rule was pending."""
    rechecked = engagements.recheck_user(conn, user_id)
    if rechecked:
        conn.execute(
            f"SELECT pg_notify('{EVENTS_CHANNEL}', json_build_object("
            "'user_id', %s::text, 'event', 'notification_rule_added')::text)",
            (user_id,),
        )


def list_rules(
    conn: psycopg.Connection[Any], user_id: str, after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    return keyset_page(
        conn,
        RULE_COLUMNS,
        "notification_rules",
        after,
        limit,
        "user_id = %(user_id)s",
        user_id=user_id,
    )


def get_rule(conn: psycopg.Connection[Any], user_id: str, rule_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {RULE_COLUMNS} FROM notification_rules WHERE id = %s AND user_id = %s",
        (rule_id, user_id),
    ).fetchone()
    return dict(row) if row else None


def delete_rule(conn: psycopg.Connection[Any], user_id: str, rule_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM notification_rules WHERE id = %s AND user_id = %s", (rule_id, user_id)
        ).rowcount
        > 0
    )
