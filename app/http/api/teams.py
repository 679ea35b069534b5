"""/api/v1/teams: teams, and their members and managers.

Everyone signed in (or any key) reads teams and their members; admins create, rename and delete
teams; admins and a team's managers add, re-role and remove its members. A team that still owns
something cannot be deleted: 409 naming what it owns (move or delete those first).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from app.directory import teams
from app.http.api import listing
from app.http.api.parents import require_user
from app.http.api.routing import Conflict, NotFound, endpoint, transaction
from app.http.api.schemas.base import ErrorBody, PageQuery
from app.http.api.schemas.teams import (
    Member,
    MemberCreate,
    MemberPage,
    MemberPatch,
    Team,
    TeamCreate,
    TeamPage,
    TeamPatch,
)
from app.http.permissions import ADMINS, TEAM_MANAGERS

TAG = "teams"
ONE = "/teams/<uuid:team_id>"
MEMBERS = ONE + "/members"
Conn = psycopg.Connection[Any]


def require_team(conn: Conn, team_id: UUID) -> dict[str, Any]:
    row = teams.get_team(conn, str(team_id))
    if row is None:
        raise NotFound(f"no team with id {team_id}")
    return row


@endpoint("/teams", "GET", "read", TAG, HTTP_200=TeamPage)
def list_teams(query: PageQuery) -> TeamPage:
    """List teams, oldest first."""
    return listing.oldest_first(query, teams.list_teams, Team.model_validate, TeamPage)


@endpoint("/teams", "POST", "write", TAG, HTTP_201=Team, allow=ADMINS)
def create_team(json: TeamCreate) -> tuple[Team, int]:
    """Create a team (admins); its name must be unique (case-insensitively)."""
    with transaction() as conn:
        row = teams.create_team(conn, json.name, json.description)
    return Team.model_validate(row), 201


@endpoint(ONE, "GET", "read", TAG, HTTP_200=Team)
def get_team(team_id: UUID) -> Team:
    """Get one team."""
    with transaction() as conn:
        return Team.model_validate(require_team(conn, team_id))


@endpoint(ONE, "PATCH", "write", TAG, HTTP_200=Team, allow=ADMINS)
def update_team(team_id: UUID, json: TeamPatch) -> Team:
    """Rename a team or change its description (admins)."""
    with transaction() as conn:
        row = teams.update_team(conn, str(team_id), json.changes())
    if row is None:
        raise NotFound(f"no team with id {team_id}")
    return Team.model_validate(row)


@endpoint(ONE, "DELETE", "write", TAG, HTTP_204=None, HTTP_409=ErrorBody, allow=ADMINS)
def delete_team(team_id: UUID) -> tuple[str, int]:
    """Delete a team with its memberships and team keys (admins); 409 while it still owns
    services, escalation policies, schedules, rotations or notification channels."""
    remove_team(team_id)
    return "", 204


def remove_team(team_id: UUID) -> None:
    """The rule of deleting a team (the API's and the admin page's): 404 when there is none,
    409 naming what it still owns."""
    try:
        with transaction() as conn:
            deleted = teams.delete_team(conn, str(team_id))
    except teams.TeamStillOwns as exc:
        owned = ", ".join(f"{count} {what}" for what, count in exc.owned.items())
        raise Conflict(
            f"team {team_id} still owns {owned}: move them to another team or delete them first",
            {"owns": exc.owned},
        ) from None
    if not deleted:
        raise NotFound(f"no team with id {team_id}")


@endpoint(MEMBERS, "GET", "read", TAG, HTTP_200=MemberPage)
def list_team_members(team_id: UUID, query: PageQuery) -> MemberPage:
    """A team's members and managers, in the order they joined."""

    def fetch(conn: Conn, after: tuple[str, str] | None, limit: int) -> list[dict[str, Any]]:
        return teams.list_members(conn, str(team_id), after, limit)

    def parent(conn: Conn) -> None:
        require_team(conn, team_id)

    return listing.oldest_first(query, fetch, Member.model_validate, MemberPage, parent)


@endpoint(MEMBERS, "POST", "write", TAG, HTTP_201=Member, allow=TEAM_MANAGERS)
def add_team_member(team_id: UUID, json: MemberCreate) -> tuple[Member, int]:
    """Add a user to the team as a member or manager (admins and the team's managers); 409 if
    they already belong to it (change their role with PATCH)."""
    return Member.model_validate(add_member(team_id, json)), 201


def add_member(team_id: UUID, json: MemberCreate) -> dict[str, Any]:
    """The rule of adding a member (the API's and the admin page's): 404 for a missing team or
    user, 409 when they already belong to it."""
    with transaction() as conn:
        require_team(conn, team_id)
        require_user(conn, json.user_id)
        row = teams.add_member(conn, str(team_id), str(json.user_id), json.role)
    if row is None:
        raise Conflict(f"user {json.user_id} already belongs to team {team_id}")
    return row


@endpoint(MEMBERS + "/<uuid:user_id>", "PATCH", "write", TAG, HTTP_200=Member, allow=TEAM_MANAGERS)
def update_team_member(team_id: UUID, user_id: UUID, json: MemberPatch) -> Member:
    """Make a member a manager, or a manager a member."""
    with transaction() as conn:
        row = teams.set_member_role(conn, str(team_id), str(user_id), json.role)
    if row is None:
        raise NotFound(f"user {user_id} is not a member of team {team_id}")
    return Member.model_validate(row)


@endpoint(MEMBERS + "/<uuid:user_id>", "DELETE", "write", TAG, HTTP_204=None, allow=TEAM_MANAGERS)
def remove_team_member(team_id: UUID, user_id: UUID) -> tuple[str, int]:
    """Remove a user from the team."""
    with transaction() as conn:
        if not teams.remove_member(conn, str(team_id), str(user_id)):
            raise NotFound(f"user {user_id} is not a member of team {team_id}")
    return "", 204
