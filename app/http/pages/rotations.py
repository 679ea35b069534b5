"""The rotation pages: `/rotations` (every rotation with its shift length, zone, who is on now
and the next handoff; a create form) and `/rotations/<id>` (its participants in order, who is
on now and the next handoffs, its settings, the schedules that use it).

Reads are for everyone signed in, as GET /api/v1/rotations is. Creating takes the API's
TEAM_CREATE rule; changing a rotation takes TEAM (admins, managers of the owning team), checked
by the POST handlers in app.http.pages.rotation_changes. Who is on call and the handoff times
come from app.oncall.handoffs (the computation's own shifts), shown in the viewer's zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask import Response, request

from app.directory import teams, users
from app.http.api.rotations import require_rotation
from app.http.api.routing import transaction
from app.http.pages import rotation_forms
from app.http.pages.base import Viewer, page, pages_blueprint, viewer
from app.http.pages.formatting import zone_or_default
from app.http.permissions import EVERYONE, check_form_team_create, managed_teams, may_change
from app.oncall import compute, handoffs
from app.oncall import rotations as stored_rotations
from app.oncall.model import ROTATION_TYPES
from app.platform.errors import invalid

MAX_ROTATIONS = 200  # rotations the list shows (a note says when there are more)
MAX_TEAMS = 500  # teams the create form offers
MAX_SCHEDULES = 100  # schedules using a rotation its page lists
MAX_QUERY = 100  # characters of a participant search


@pages_blueprint.get("/rotations")
def rotation_list() -> Response:
    """Every rotation by name, with who is on now and the next handoff."""
    who = viewer(EVERYONE)
    now = datetime.now(UTC)
    with transaction() as conn:
        rows = stored_rotations.list_rotations(conn, limit=MAX_ROTATIONS + 1)
        shown = sorted(rows[:MAX_ROTATIONS], key=lambda r: r["name"].lower())
        team_rows = teams.list_teams(conn, limit=MAX_TEAMS)
        outlooks = {
            r["id"]: handoffs.outlook(stored_rotations.rotation_value(r), now, 1) for r in shown
        }
        people = {o.on_call for o in outlooks.values()} | {
            h.user_id for o in outlooks.values() for h in o.handoffs
        }
        names = users.user_names(conn, {p for p in people if p})
        creatable = _creatable_teams(who, team_rows)
        can_create = who.identity.admin or bool(creatable)
        picker = users.find_users(conn, "", rotation_forms.MAX_USERS) if can_create else []
    return page(
        "pages/rotations.html",
        title="Rotations",
        rotations=shown,
        more=len(rows) > MAX_ROTATIONS,
        outlooks=outlooks,
        names=names,
        team_names={t["id"]: t["name"] for t in team_rows},
        can_create=can_create,
        creatable=creatable,
        picker=picker,
        today=now.astimezone(zone_or_default(who.time_zone)).date().isoformat(),
        notice=rotation_forms.NOTICES.get(request.args.get("did", ""), ""),
        **_form_choices(),
    )


def _creatable_teams(who: Viewer, team_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The teams the viewer may create a rotation for (admins: all), by name."""
    mine = team_rows if who.identity.admin else [
        t for t in team_rows if t["id"] in managed_teams(who.identity)
    ]  # fmt: skip
    return sorted(mine, key=lambda t: t["name"].lower())


def _form_choices() -> dict[str, Any]:
    return {
        "types": ROTATION_TYPES,
        "units": rotation_forms.UNITS,
        "zone_options": rotation_forms.zone_options,
        "describe_length": rotation_forms.describe_length,
    }


@pages_blueprint.post("/rotations")
def create_rotation() -> Response:
    """Create a rotation (TEAM_CREATE, as POST /api/v1/rotations); its first participant is on
    call from the first handoff."""
    who = viewer(EVERYONE, "write")
    fields = rotation_forms.create_fields(request.form)
    team_id = None if fields.team_id is None else str(fields.team_id)
    with transaction() as conn:
        check_form_team_create(conn, who.identity, team_id)
        values = fields.model_dump(exclude={"participants"}) | {"start_index": 0}
        participants = [str(u) for u in fields.participants]
        if users.missing_users(conn, participants):
            raise invalid("participants", "a chosen person no longer exists")
        row = stored_rotations.create_rotation(conn, values, participants)
    return rotation_forms.back(row["id"], "created")


@pages_blueprint.get("/rotations/<uuid:rotation_id>")
def rotation_page(rotation_id: UUID) -> Response:
    """One rotation's page."""
    who = viewer(EVERYONE)
    search = " ".join(request.args.get("q", "").split())[:MAX_QUERY]
    now = datetime.now(UTC)
    with transaction() as conn:
        row = require_rotation(conn, rotation_id)
        outlook = handoffs.outlook(stored_rotations.rotation_value(row), now)
        team = teams.get_team(conn, row["team_id"]) if row["team_id"] else None
        names = users.user_names(conn, row["participants"])
        using = stored_rotations.schedules_using(conn, row["id"], MAX_SCHEDULES)
        can_edit = may_change(who.identity, row["team_id"])
        picker = users.find_users(conn, search, rotation_forms.MAX_USERS) if can_edit else []
    local = row["start"].astimezone(compute.zone(row["time_zone"]))
    return page(
        "pages/rotation.html",
        title=row["name"],
        rotation=row,
        outlook=outlook,
        team=team,
        names=names,
        schedules=using,
        can_edit=can_edit,
        picker=picker,
        search=search,
        version=rotation_forms.version(row["participants"]),
        handoff_date=local.date().isoformat(),
        handoff_time=local.strftime("%H:%M"),
        notice=rotation_forms.NOTICES.get(request.args.get("did", ""), ""),
        **_form_choices(),
    )
