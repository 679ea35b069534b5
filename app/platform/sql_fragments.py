"""SQL that several tables' owners share, written once: the channel of the NOTIFY that wakes the
engine, keyset pages, and a partial update.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

# The channel every change the engine must act on is announced on (NOTIFY, delivered on commit);
# the engine and the web process's listener LISTEN on it.
EVENTS_CHANNEL = "klaxon_events"


# Lists are keyset pages ordered by (created_at, id): `after` is the (created_at, id) of the last
# row already seen (ISO time and UUID as text); each returns at most `limit` rows.
FIRST_PAGE = ("-infinity", "00000000-0000-0000-0000-000000000000")
KEYSET = "(created_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)"


def keyset_params(after: tuple[str, str] | None, limit: int, **params: Any) -> dict[str, Any]:
    """The parameters of KEYSET and `LIMIT %(limit)s`, with `params` besides."""
    after_at, after_id = after or FIRST_PAGE
    return {"after_at": after_at, "after_id": after_id, "limit": limit, **params}


def keyset_page(
    conn: psycopg.Connection[Any],
    columns: str,
    table: str,
    after: tuple[str, str] | None,
    limit: int,
    where: str = "",
    **params: Any,
) -> list[Any]:
    """One keyset page of `table`: `columns` of at most `limit` rows after `after`, ordered by
    (created_at, id), of those `where` (a condition on `params`) holds for."""
    condition = f"{where} AND {KEYSET}" if where else KEYSET
    return conn.execute(
        f"SELECT {columns} FROM {table} WHERE {condition} ORDER BY created_at, id LIMIT %(limit)s",
        keyset_params(after, limit, **params),
    ).fetchall()


def update_row(
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


def contains_pattern(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, its own % _ and \\ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
