"""Teams for tests: made through app.directory.teams, with managers and members."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import psycopg


def make_team(
    conn: psycopg.Connection[Any],
    managers: Iterable[dict[str, Any]] = (),
    members: Iterable[dict[str, Any]] = (),
    name: str | None = None,
) -> dict[str, Any]:
    """A team with these users as managers and members."""
    from app.directory import teams

    team = teams.create_team(conn, name or f"team-{secrets.token_hex(3)}")
    for user in managers:
        teams.add_member(conn, team["id"], user["id"], "manager")
    for user in members:
        teams.add_member(conn, team["id"], user["id"], "member")
    return team
