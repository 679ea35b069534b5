"""Asking for a notification: a message row for one contact method or channel, and the
provider each destination type is sent through. The rows themselves are written by
app.messages.store, the table's owner (the engine's passes give it their rows the same way).

A row is written (and committed) before any RQ job exists for it; the engine's dispatch module
queues it, so a Redis flush or a dead worker delays a message but never loses it. Every row has
a `dedup_key`, and inserts use ON CONFLICT DO NOTHING: a producer that runs twice (a crash
between its insert and its bookkeeping, an engine failover) cannot make a second message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.messages.store import insert_and_notify_sql
from config.settings import PROVIDER_FOR


def provider_sql(column: str) -> str:
    """A SQL expression naming the provider for the destination type in `column`."""
    cases = " ".join(f"WHEN '{dest}' THEN '{name}'" for dest, name in PROVIDER_FOR.items())
    return f"CASE {column} {cases} END"


_FOR_CONTACT_METHOD = insert_and_notify_sql(
    "kind, contact_method_id, dest_type, provider, user_id, alert_id, payload, dedup_key, "
    "max_attempts",
    f"""SELECT %(kind)s, cm.id, cm.type, {provider_sql("cm.type")}, cm.user_id,
           %(alert_id)s, %(payload)s, %(dedup_key)s, %(max_attempts)s
    FROM contact_methods cm WHERE cm.id = %(destination)s""",
)

_FOR_CHANNEL = insert_and_notify_sql(
    "kind, channel_id, dest_type, provider, alert_id, schedule_id, payload, dedup_key, "
    "max_attempts",
    f"""SELECT %(kind)s, ch.id, ch.type, {provider_sql("ch.type")}, %(alert_id)s,
           %(schedule_id)s, %(payload)s, %(dedup_key)s, %(max_attempts)s
    FROM notification_channels ch WHERE ch.id = %(destination)s""",
)


def to_contact_method(
    conn: psycopg.Connection[Any],
    kind: str,
    contact_method_id: str,
    dedup_key: str,
    *,
    max_attempts: int,
    alert_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
) -> int | None:
    """Queue a message to one contact method; its id, or None if `dedup_key` already exists
    (or the contact method does not). The engine is woken on commit."""
    row = conn.execute(
        _FOR_CONTACT_METHOD,
        {
            "kind": kind,
            "destination": contact_method_id,
            "alert_id": alert_id,
            "payload": Jsonb(dict(payload or {})),
            "dedup_key": dedup_key,
            "max_attempts": max_attempts,
        },
    ).fetchone()
    return None if row is None else int(_first(row))


def to_channel(
    conn: psycopg.Connection[Any],
    kind: str,
    channel_id: str,
    dedup_key: str,
    *,
    max_attempts: int,
    alert_id: int | None = None,
    schedule_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> int | None:
    """Queue a message to a notification channel; like `to_contact_method`."""
    row = conn.execute(
        _FOR_CHANNEL,
        {
            "kind": kind,
            "destination": channel_id,
            "alert_id": alert_id,
            "schedule_id": schedule_id,
            "payload": Jsonb(dict(payload or {})),
            "dedup_key": dedup_key,
            "max_attempts": max_attempts,
        },
    ).fetchone()
    return None if row is None else int(_first(row))


def _first(row: Any) -> Any:
    """Column 0 of a tuple row or a dict row (callers use either row factory)."""
    return row["id"] if isinstance(row, Mapping) else row[0]
