"""What the on-call table modules share: the row types and the one-row helpers.

Rows come back as dicts shaped for the REST API (text ids, `start`/`end` times). Lists are
keyset pages ordered by (created_at, id), like app.directory's.
"""

from __future__ import annotations

from typing import Any

import psycopg

from app.platform.sql_fragments import update_row

Conn = psycopg.Connection[Any]
Row = dict[str, Any]
After = tuple[str, str] | None


def one(cursor: psycopg.Cursor[Any]) -> Row | None:
    """The cursor's first row as a plain dict, or None."""
    row = cursor.fetchone()
    return dict(row) if row else None


def update_by_id(
    conn: Conn, table: str, columns: str, row_id: str, changes: dict[str, Any]
) -> Row | None:
    """UPDATE one row's `changes` (column names come from our code, never from clients); with
    none, the row as it is."""
    return update_row(
        conn, table, columns, "id = %(_id)s", {"_id": row_id}, changes, touch=bool(changes)
    )
