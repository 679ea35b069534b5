"""Reading and pruning audit_events. New rows come only from the audit triggers; this module is
the table's one writer in code: the retention pass's bounded deletes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

COLUMNS = "id, at, actor_type, actor_id, action, target_type, target_id, changes, change_count"


@dataclass(frozen=True)
class EventFilter:
    """Which events to list, newest first; every field but `limit` is optional."""

    limit: int
    actor_type: str | None = None
    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before
    before_id: int | None = None  # a page's cursor: only older events


_CONDITIONS = (
    ("actor_type", "actor_type = %(actor_type)s"),
    ("actor_id", "actor_id = %(actor_id)s"),
    ("target_type", "target_type = %(target_type)s"),
    ("target_id", "target_id = %(target_id)s"),
    ("since", "at >= %(since)s"),
    ("until", "at < %(until)s"),
    ("before_id", "id < %(before_id)s"),
)


def list_events(conn: psycopg.Connection[Any], where: EventFilter) -> list[dict[str, Any]]:
    """At most `where.limit` events matching `where`, newest (highest id) first."""
    params = vars(where)
    conditions = [sql for field, sql in _CONDITIONS if params[field] is not None]
    query = (
        f"SELECT {COLUMNS} FROM audit_events"
        f" WHERE {' AND '.join(conditions) or 'true'} ORDER BY id DESC LIMIT %(limit)s"
    )
    return [dict(row) for row in conn.execute(query, params).fetchall()]


def prune(conn: psycopg.Connection[Any], keep_days: int, batch: int) -> int:
    """Delete up to `batch` of the oldest events older than `keep_days` days; how many."""
    return conn.execute(
        "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events"
        " WHERE at < now() - make_interval(days => %(days)s) ORDER BY at LIMIT %(batch)s)",
        {"days": keep_days, "batch": batch},
    ).rowcount


def seconds_until_prunable(conn: psycopg.Connection[Any], keep_days: int) -> float | None:
    """Seconds until the oldest event passes `keep_days` (0 if it has); None: no events."""
    row = conn.execute(
        "SELECT extract(epoch FROM min(at) + make_interval(days => %s) - now()) AS due"
        " FROM audit_events",
        (keep_days,),
    ).fetchone()
    due = None if row is None else next(iter(row.values()))
    return None if due is None else max(0.0, float(due))
