"""`/escalation-policies`: every policy by name with its team, its steps, its repeats and the
services that use it; and the form that creates one (then its page takes the steps).

Reads are for everyone signed in, as GET /api/v1/escalation-policies is. Creating takes the
API's rule, TEAM_CREATE: admins, or managers giving a team they manage (the form offers those
teams only; a forged one is a 403, an unknown one a 422). The policy is made by the API's own
function (app.http.api.escalation_policies.add_policy) after the API's schema validated it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Response, redirect, request

from app.directory import services, teams
from app.escalation import policies
from app.http.api.escalation_policies import add_policy
from app.http.api.routing import transaction
from app.http.api.schemas.escalation_policies import PolicyCreate
from app.http.pages.base import Viewer, page, pages_blueprint, viewer
from app.http.pages.profile_forms import form_model
from app.http.permissions import EVERYONE, check_form_team_create, managed_teams

MAX_POLICIES = 500  # policies the list shows
MAX_LISTED = 1000  # services and teams read to name them on the list
NOTICES = {"deleted": "Escalation policy deleted."}


def choosable_teams(who: Viewer, all_teams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The teams `who` may give a new policy: every team for an admin, else those they manage."""
    if who.identity.admin:
        return all_teams
    mine = managed_teams(who.identity)
    return [t for t in all_teams if t["id"] in mine]


@pages_blueprint.get("/escalation-policies")
def policy_list() -> Response:
    """Every policy by name, with its team, steps, repeats and services (four queries)."""
    who = viewer(EVERYONE)
    with transaction() as conn:
        rows = policies.list_policies(conn, None, MAX_POLICIES)
        all_teams = teams.list_teams(conn, limit=MAX_LISTED)
        used: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for service in services.list_services(conn, limit=MAX_LISTED):
            if service["escalation_policy_id"]:
                used[str(service["escalation_policy_id"])].append(service)
    rows.sort(key=lambda p: p["name"].lower())
    choices = choosable_teams(who, sorted(all_teams, key=lambda t: t["name"].lower()))
    return page(
        "pages/policies.html",
        title="Escalation policies",
        policies=rows,
        used=used,
        team_names={t["id"]: t["name"] for t in all_teams},
        teams=choices,
        can_create=bool(choices) or who.identity.admin,
        notice=NOTICES.get(request.args.get("did", ""), ""),
    )


@pages_blueprint.post("/escalation-policies")
def create_escalation_policy() -> Response:
    """Create a policy without steps (its page adds them) and go to it."""
    who = viewer(EVERYONE, "write")
    fields: dict[str, Any] = {
        "name": request.form.get("name", ""),
        "description": request.form.get("description", ""),
        "repeat_count": form_whole(request.form.get("repeat_count", "0")),
        "team_id": request.form.get("team_id") or None,
    }
    body = form_model(PolicyCreate, fields)
    team_id = str(body.team_id) if body.team_id else None
    with transaction() as conn:
        check_form_team_create(conn, who.identity, team_id)
    created = add_policy(body.model_dump(exclude={"steps"}), [])
    return redirect(f"/escalation-policies/{created['id']}?did=created", code=303)  # type: ignore[return-value]


def form_whole(text: str) -> int | str:
    """A form's number as a whole number when it is one (else as typed: validation names it)."""
    text = text.strip()[:12]
    return int(text) if text.isdigit() else text
