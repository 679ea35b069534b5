"""Teams, their members and managers, and which team owns a thing.

A team owns services, escalation policies, schedules, rotations and notification channels
(their `team_id`, RESTRICT: a team that still owns something cannot be deleted). A team's
managers change what it owns; its members, like everyone else, read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from app.platform.sql_fragments import FIRST_PAGE, keyset_page, update_row

TEAM_COLUMNS = "id::text AS id, name, description, created_at, updated_at"
MEMBER_COLUMNS = "team_id::text AS team_id, user_id::text AS user_id, role, created_at"
ROLES = ("member", "manager")
# The tables whose rows a team owns (their `team_id`), by the name the API gives them.
OWNED_TABLES = {
    "services": "services",
    "escalation_policies": "escalation_policies",
    "schedules": "schedules",
    "rotations": "rotations",
    "notification_channels": "notification_channels",
}


class TeamStillOwns(Exception):
    """A team cannot be deleted while it owns something: `owned` counts what, by table."""

    def __init__(self, owned: dict[str, int]) -> None:
        super().__init__(owned)
        self.owned = owned


def create_team(conn: psycopg.Connection[Any], name: str, description: str = "") -> dict[str, Any]:
    row = conn.execute(
        f"INSERT INTO teams (name, description) VALUES (%s, %s) RETURNING {TEAM_COLUMNS}",
        (name, description),
    ).fetchone()
    assert row is not None
    return dict(row)


def list_teams(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    return keyset_page(conn, TEAM_COLUMNS, "teams", after, limit)


def get_team(conn: psycopg.Connection[Any], team_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {TEAM_COLUMNS} FROM teams WHERE id = %s", (team_id,)).fetchone()
    return dict(row) if row else None


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


def update_team(
    conn: psycopg.Connection[Any], team_id: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    return update_row(conn, "teams", TEAM_COLUMNS, "id = %(id)s", {"id": team_id}, changes)


def owned_counts(conn: psycopg.Connection[Any], team_id: str) -> dict[str, int]:
    """How many rows of each owned table this team owns (tables with none left out)."""
    selects = " UNION ALL ".join(
        f"SELECT '{name}' AS what, count(*) AS n FROM {table} WHERE team_id = %(team)s"
        for name, table in OWNED_TABLES.items()
    )
    rows = conn.execute(selects, {"team": team_id}).fetchall()
    return {row["what"]: row["n"] for row in rows if row["n"]}


def delete_team(conn: psycopg.Connection[Any], team_id: str) -> bool:
    """Delete a team (its memberships and team keys go with it); False if there is none.
    Raises TeamStillOwns while it owns anything."""
    owned = owned_counts(conn, team_id)
    if owned:
        raise TeamStillOwns(owned)
    return conn.execute("DELETE FROM teams WHERE id = %s", (team_id,)).rowcount > 0


# ---- memberships -------------------------------------------------------------------------------


def list_members(
    conn: psycopg.Connection[Any],
    team_id: str,
    after: tuple[str, str] | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """A team's members (managers included) with their names, in the order they joined."""
    after_at, after_id = after or FIRST_PAGE
    return conn.execute(
        "SELECT m.team_id::text AS team_id, m.user_id::text AS user_id, m.user_id::text AS id, "
        "m.role, m.created_at, "
        "u.name, u.email FROM team_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.team_id = %s AND (m.created_at, m.user_id) > (%s::timestamptz, %s::uuid) "
        "ORDER BY m.created_at, m.user_id LIMIT %s",
        (team_id, after_at, after_id, limit),
    ).fetchall()


def get_member(conn: psycopg.Connection[Any], team_id: str, user_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {MEMBER_COLUMNS} FROM team_members WHERE team_id = %s AND user_id = %s",
        (team_id, user_id),
    ).fetchone()
    return dict(row) if row else None


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


def teams_of_users(
    conn: psycopg.Connection[Any], user_ids: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """The teams each of these users belongs to (id, name, role), by team name: one query for a
    page of users."""
    found: dict[str, list[dict[str, Any]]] = {}
    wanted = sorted(set(user_ids))
    if not wanted:
        return found
    rows = conn.execute(
        "SELECT m.user_id::text AS user_id, t.id::text AS id, t.name, m.role FROM team_members m "
        "JOIN teams t ON t.id = m.team_id WHERE m.user_id = ANY(%s::uuid[]) ORDER BY lower(t.name)",
        (wanted,),
    ).fetchall()
    for row in rows:
        found.setdefault(row["user_id"], []).append(dict(row))
    return found


def managed_team_ids(conn: psycopg.Connection[Any], user_id: str) -> frozenset[str]:
    """The teams this user manages."""
    rows = conn.execute(
        "SELECT team_id::text AS id FROM team_members WHERE user_id = %s AND role = 'manager'",
        (user_id,),
    ).fetchall()
    return frozenset(row["id"] for row in rows)


def missing_teams(conn: psycopg.Connection[Any], team_ids: Iterable[str]) -> set[str]:
    """Which of these team ids name no team."""
    wanted = sorted(set(team_ids))
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT id::text AS id FROM teams WHERE id = ANY(%s::uuid[])", (wanted,)
    ).fetchall()
    return set(wanted) - {row["id"] for row in rows}


# ---- ownership ---------------------------------------------------------------------------------


def owner_of(conn: psycopg.Connection[Any], table: str, row_id: str) -> tuple[bool, str | None]:
    """(whether row `row_id` of `table` (an OWNED_TABLES value) exists, the team owning it:
    its id, None when no team owns it)."""
    if table not in OWNED_TABLES.values():
        raise ValueError(f"{table} is not owned by teams")
    row = conn.execute(
        f"SELECT team_id::text AS team_id FROM {table} WHERE id = %s", (row_id,)
    ).fetchone()
    return (False, None) if row is None else (True, row["team_id"])
