"""Finding escalation step targets by name (the policy page's target picker) and naming the
targets a draft of steps holds: users, schedules, rotations and notification channels.

Each kind is searched with ILIKE on its name (the pattern's own wildcards taken literally),
at most `limit` of each, in one query.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from app.escalation.policies import TARGET_TABLES
from app.platform.sql_fragments import contains_pattern

MAX_QUERY = 100  # characters of a search the picker takes (names are at most 200)


def _union(where: str, limit: bool) -> str:
    parts = [
        f"(SELECT '{kind}' AS type, id::text AS id, name FROM {table} WHERE {where}"
        + (" ORDER BY lower(name), id LIMIT %(limit)s)" if limit else ")")
        for kind, (_column, table) in TARGET_TABLES.items()
    ]
    return " UNION ALL ".join(parts)


def search_targets(conn: psycopg.Connection[Any], text: str, limit: int) -> list[dict[str, Any]]:
    """Targets whose name contains `text` (case-insensitively): type, id, name; by kind, then
    name, at most `limit` of each kind."""
    pattern = contains_pattern(text.strip()[:MAX_QUERY])
    rows = conn.execute(
        _union("name ILIKE %(q)s", limit=True), {"q": pattern, "limit": limit}
    ).fetchall()
    return [dict(r) for r in rows]


def target_names(
    conn: psycopg.Connection[Any], targets: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The names of these (type, id) targets that exist, by (type, id), in one query."""
    ids = sorted({target_id for _type, target_id in targets})
    if not ids:
        return {}
    rows = conn.execute(_union("id = ANY(%(ids)s::uuid[])", limit=False), {"ids": ids})
    return {(r["type"], r["id"]): r["name"] for r in rows.fetchall()}
