"""Team memberships (`team_members`): who belongs to a team, as member or manager.

Today only OpenID Connect sign-in writes them (app.directory.oidc.accounts, following the
groups claim); the teams API adds its own calls here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg


def team_ids_by_name(conn: psycopg.Connection[Any], names: Iterable[str]) -> dict[str, str]:
    """The ids of the teams with these names (any case), by lowercased name; missing names are
    left out."""
    wanted = sorted({name.lower() for name in names})
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT lower(name) AS name, id::text AS id FROM teams WHERE lower(name) = ANY(%s)",
        (wanted,),
    ).fetchall()
    return {row["name"]: row["id"] for row in rows}


def roles_of(
    conn: psycopg.Connection[Any], user_id: str, team_ids: Iterable[str]
) -> dict[str, str]:
    """The user's role (member or manager) in each of these teams they belong to, by team id."""
    rows = conn.execute(
        "SELECT team_id::text AS team_id, role FROM team_members "
        "WHERE user_id = %s AND team_id = ANY(%s::uuid[])",
        (user_id, sorted(set(team_ids))),
    ).fetchall()
    return {row["team_id"]: row["role"] for row in rows}


def set_role(conn: psycopg.Connection[Any], team_id: str, user_id: str, role: str) -> None:
    """Make the user a `role` of the team, whether or not they belonged to it."""
    conn.execute(
        "INSERT INTO team_members (team_id, user_id, role) VALUES (%s, %s, %s) "
        "ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
        (team_id, user_id, role),
    )


def remove(conn: psycopg.Connection[Any], team_id: str, user_id: str) -> bool:
    """Take the user out of the team; False when they did not belong to it."""
    return (
        conn.execute(
            "DELETE FROM team_members WHERE team_id = %s AND user_id = %s", (team_id, user_id)
        ).rowcount
        > 0
    )
