"""Users: the people Klaxon pages (name, email, role, time zone) and their sign-in password
hashes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg

from app.platform.sql_fragments import keyset_page, update_row

USER_COLUMNS = "id::text AS id, name, email, role, time_zone, disabled_at, created_at, updated_at"


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


def list_users(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    return keyset_page(conn, USER_COLUMNS, "users", after, limit)


def get_user(conn: psycopg.Connection[Any], user_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,)).fetchone()
    return dict(row) if row else None


def update_user(
    conn: psycopg.Connection[Any], user_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """Apply `changes` (name, email, role, time_zone, disabled); None when there is no such
    user. A disabled user cannot sign in, and their sessions end at their next request."""
    if "disabled" in changes:
        changes = dict(changes)
        disabled = changes.pop("disabled")
        current = get_user(conn, user_id)
        if current is None:
            return None
        keep = current["disabled_at"] if disabled else None
        changes["disabled_at"] = keep or (datetime.now(UTC) if disabled else None)
    return update_row(conn, "users", USER_COLUMNS, "id = %(id)s", {"id": user_id}, changes)


def delete_user(conn: psycopg.Connection[Any], user_id: str) -> bool:
    return conn.execute("DELETE FROM users WHERE id = %s", (user_id,)).rowcount > 0


def user_exists(conn: psycopg.Connection[Any], user_id: str) -> bool:
    return conn.execute("SELECT 1 FROM users WHERE id = %s", (user_id,)).fetchone() is not None


def missing_users(conn: psycopg.Connection[Any], user_ids: Iterable[str]) -> set[str]:
    """Which of these user ids name no user."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT id::text AS id FROM users WHERE id = ANY(%s::uuid[])", (wanted,)
    ).fetchall()
    return set(wanted) - {row["id"] for row in rows}


def user_names(conn: psycopg.Connection[Any], user_ids: Iterable[str]) -> dict[str, str]:
    """The names of these users, by id (missing ids are left out)."""
    rows = conn.execute(
        "SELECT id::text AS id, name FROM users WHERE id = ANY(%s::uuid[])",
        (sorted(set(user_ids)),),
    ).fetchall()
    return {row["id"]: row["name"] for row in rows}


# ---- sign-in: the password hash is never part of USER_COLUMNS, so no listing can leak it ------


def credentials_by_email(conn: psycopg.Connection[Any], email: str) -> dict[str, Any] | None:
    """The user with this email (any case) and their password hash, or None."""
    row = conn.execute(
        f"SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower(%s)",
        (email,),
    ).fetchone()
    return dict(row) if row else None


def password_hash(conn: psycopg.Connection[Any], user_id: str) -> str | None:
    row = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    return row["password_hash"] if row else None


def set_password_hash(conn: psycopg.Connection[Any], user_id: str, new_hash: str) -> bool:
    """Store a user's new password hash; False when there is no such user."""
    return (
        conn.execute(
            "UPDATE users SET password_hash = %s, updated_at = now() WHERE id = %s",
            (new_hash, user_id),
        ).rowcount
        > 0
    )


def find_users(conn: psycopg.Connection[Any], text: str, limit: int = 50) -> list[dict[str, str]]:
    """Users (id, name, email) whose name or email contains `text` (any case), by name; all
    users by name when `text` is empty. Capped at `limit`: a picker, not a directory."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute(
        "SELECT id::text AS id, name, email FROM users WHERE disabled_at IS NULL "
        "AND (name ILIKE %(p)s OR email ILIKE %(p)s) ORDER BY lower(name), id LIMIT %(n)s",
        {"p": pattern, "n": limit},
    ).fetchall()
    return [dict(row) for row in rows]
