"""The teams pages of the administration: `/admin/teams` (every team; create one) and
`/admin/teams/<id>` (rename, delete; its members and managers: add, make manager or member,
remove).

Each form goes through the API's own schemas and functions (app.http.api.teams: `remove_team`'s
409 naming what a team still owns, `add_member`'s 404/409), so a page refuses exactly what
/api/v1/teams refuses, as a page.
"""

from __future__ import annotations

from uuid import UUID

from flask import Response, request

from app.directory import teams, users
from app.http.api.routing import NotFound, transaction
from app.http.api.schemas.teams import MemberCreate, MemberPatch, TeamCreate, TeamPatch
from app.http.api.teams import add_member, remove_team, require_team
from app.http.pages.admin_base import ADMIN, admin, admin_page, done
from app.http.pages.base import pages_blueprint
from app.http.pages.profile_forms import form_model

TEAMS = ADMIN + "/teams"
TEAM = TEAMS + "/<uuid:team_id>"
MAX_TEAMS = 500  # teams the list shows
MAX_MEMBERS = 500  # members a team's page shows
MAX_CANDIDATES = 500  # users offered to add to a team
TEAM_ROLES = ("member", "manager")


@pages_blueprint.get(TEAMS)
def admin_teams() -> Response:
    """Every team (bounded) by name, and a form to create one."""
    admin()
    with transaction() as conn:
        rows = teams.list_teams(conn, None, MAX_TEAMS)
    rows.sort(key=lambda t: t["name"].lower())
    return admin_page("pages/admin_teams.html", "teams", "Teams", teams=rows,
                      truncated=len(rows) == MAX_TEAMS)  # fmt: skip


@pages_blueprint.get(TEAM)
def admin_team(team_id: UUID) -> Response:
    """One team: its name and description, members and managers."""
    admin()
    with transaction() as conn:
        team = require_team(conn, team_id)
        members = teams.list_members(conn, str(team_id), None, MAX_MEMBERS)
        candidates = users.list_users(conn, None, MAX_CANDIDATES)
    joined = {m["user_id"] for m in members}
    others = sorted(
        (u for u in candidates if u["id"] not in joined), key=lambda u: u["name"].lower()
    )
    return admin_page(
        "pages/admin_team.html", "teams", team["name"],
        team=team, members=members, candidates=others, roles=TEAM_ROLES,
    )  # fmt: skip


@pages_blueprint.post(TEAMS)
def create_team() -> Response:
    """Create a team (its name unique, case-insensitively: a 409 page otherwise)."""
    admin()
    fields = {k: request.form.get(k, "") for k in ("name", "description")}
    body = form_model(TeamCreate, fields)
    with transaction() as conn:
        row = teams.create_team(conn, body.name, body.description)
    return done(f"{TEAMS}/{row['id']}", "team-created")


@pages_blueprint.post(TEAM)
def update_team(team_id: UUID) -> Response:
    """Rename a team or change its description."""
    admin()
    fields = {k: request.form.get(k, "") for k in ("name", "description")}
    body = form_model(TeamPatch, fields)
    with transaction() as conn:
        if teams.update_team(conn, str(team_id), body.changes()) is None:
            raise NotFound(f"no team with id {team_id}")
    return done(f"{TEAMS}/{team_id}", "team-renamed")


@pages_blueprint.post(TEAM + "/delete")
def delete_team(team_id: UUID) -> Response:
    """Delete a team (a 409 page while it still owns something)."""
    admin()
    remove_team(team_id)
    return done(TEAMS, "team-deleted")


@pages_blueprint.post(TEAM + "/members")
def add_team_member(team_id: UUID) -> Response:
    """Add a user to the team as a member or manager."""
    admin()
    fields = {k: request.form.get(k, "") for k in ("user_id", "role")}
    add_member(team_id, form_model(MemberCreate, fields))
    return done(f"{TEAMS}/{team_id}", "member-added", "#members")


@pages_blueprint.post(TEAM + "/members/<uuid:user_id>/role")
def update_team_member(team_id: UUID, user_id: UUID) -> Response:
    """Make a member a manager, or a manager a member."""
    admin()
    body = form_model(MemberPatch, {"role": request.form.get("role", "")})
    with transaction() as conn:
        if teams.set_member_role(conn, str(team_id), str(user_id), body.role) is None:
            raise NotFound(f"user {user_id} is not a member of team {team_id}")
    return done(f"{TEAMS}/{team_id}", "member-role", "#members")


@pages_blueprint.post(TEAM + "/members/<uuid:user_id>/remove")
def remove_team_member(team_id: UUID, user_id: UUID) -> Response:
    """Remove a user from the team."""
    admin()
    with transaction() as conn:
        if not teams.remove_member(conn, str(team_id), str(user_id)):
            raise NotFound(f"user {user_id} is not a member of team {team_id}")
    return done(f"{TEAMS}/{team_id}", "member-removed", "#members")
