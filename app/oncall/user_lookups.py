"""Reads of the users table that on-call needs (the table itself is app.directory's): which user
ids exist, and users' names for calendar feeds."""

from __future__ import annotations

from collections.abc import Iterable

from app.oncall.rows import Conn


def user_exists(conn: Conn, user_id: str) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,)).fetchone() is not None


def missing_users(conn: Conn, user_ids: Iterable[str]) -> set[str]:
    """Which of these user ids name no user."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT id::text AS id FROM users WHERE id = ANY(%s::uuid[])", (wanted,)
    ).fetchall()
    return set(wanted) - {row["id"] for row in rows}


def user_names(conn: Conn, user_ids: Iterable[str]) -> dict[str, str]:
    """The names of these users, by id (missing ids are left out)."""
    rows = conn.execute(
        "SELECT id::text AS id, name FROM users WHERE id = ANY(%s::uuid[])",
        (sorted(set(user_ids)),),
    ).fetchall()
    return {row["id"]: row["name"] for row in rows}
