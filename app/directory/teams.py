"""Teams, their members and managers.

On this branch only what OpenID Connect sign-in's group mapping needs (app.directory.oidc
.accounts): the member functions follow the teams API's module of the same name, so the two
merge into one owner of `team_members`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

MEMBER_COLUMNS = "team_id::text AS team_id, user_id::text AS user_id, role, created_at"


def team_ids_by_name(conn: psycopg.Connection[Any], names: Iterable[str]) -> dict[str, str]:
    """The ids of the teams with these names (any case), by lowercased name; names of no team
    are left out."""
    wanted = sorted({name.lower() for name in names})
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT lower(name) AS name, id::text AS id FROM teams WHERE lower(name) = ANY(%s)",
        (wanted,),
    ).fetchall()
    return {row["name"]: row["id"] for row in rows}


def add_member(
    conn: psycopg.Connection[Any], team_id: str, user_id: str, role: str
) -> dict[str, Any] | None:
    """Add a user to a team with `role`; None when they already belong to it."""
    row = conn.execute(
        "INSERT INTO team_members (team_id, user_id, role) VALUES (%s, %s, %s) "
        f"ON CONFLICT DO NOTHING RETURNING {MEMBER_COLUMNS}",
        (team_id, user_id, role),
    ).fetchone()
    return dict(row) if row else None


def set_member_role(
    conn: psycopg.Connection[Any], team_id: str, user_id: str, role: str
) -> dict[str, Any] | None:
    row = conn.execute(
        "UPDATE team_members SET role = %s WHERE team_id = %s AND user_id = %s "
        f"RETURNING {MEMBER_COLUMNS}",
        (role, team_id, user_id),
    ).fetchone()
    return dict(row) if row else None


def remove_member(conn: psycopg.Connection[Any], team_id: str, user_id: str) -> bool:
    return (
        conn.execute(
            "DELETE FROM team_members WHERE team_id = %s AND user_id = %s", (team_id, user_id)
        ).rowcount
        > 0
    )


def user_teams(conn: psycopg.Connection[Any], user_id: str) -> list[dict[str, Any]]:
    """The teams a user belongs to, with their role in each, by team name."""
    return conn.execute(
        "SELECT t.id::text AS id, t.name, m.role FROM team_members m "
        "JOIN teams t ON t.id = m.team_id WHERE m.user_id = %s ORDER BY lower(t.name)",
        (user_id,),
    ).fetchall()
