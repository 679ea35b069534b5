"""The schedule page's forms: add, change or delete a rule or a temporary schedule, create an
override from a clicked shift (replace, add, remove) and delete one.

Each form is validated by the API's own schema and stored by the function the /api/v1 route
calls (app.http.api.schedules.*), under the API's rule, TEAM (admins, managers of the owning
team); view names are the API operations' names, so the audit log records the same action
whichever way a change was made. Times in the forms are wall-clock times in the viewer's zone
(as the page shows them), resolved as app.oncall.compute resolves them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from flask import Response, redirect, request

from app.http.api.schedules import overrides as api_overrides
from app.http.api.schedules import schedule_rules as api_rules
from app.http.api.schedules import temporary_schedules as api_temporaries
from app.http.api.schemas.base import rfc3339
from app.http.api.schemas.overrides import OverrideCreate
from app.http.api.schemas.schedule_rules import RuleCreate, RulePatch
from app.http.api.schemas.temporary_schedules import (
    TemporaryScheduleCreate,
    TemporarySchedulePatch,
)
from app.http.pages.base import pages_blueprint, viewer
from app.http.pages.profile_forms import form_model
from app.http.pages.schedules import SCHEDULE, viewer_zone
from app.http.permissions import TEAM
from app.oncall.compute import resolve
from app.platform.errors import invalid

MAX_TEMPORARY_SHIFTS = 8  # shift rows a temporary schedule's form takes
OVERRIDE_KINDS = ("replace", "add", "remove")


def _local_time(name: str, tz: ZoneInfo) -> str:
    """A datetime-local field (the viewer's zone) as RFC 3339 UTC text; 422 naming it."""
    text = request.form.get(name, "").strip()[:32]
    if not text:
        raise invalid(name, "is required")
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(name, "must be a date and time YYYY-MM-DDTHH:MM") from None
    if local.tzinfo is not None or not 1971 <= local.year <= 9998:
        raise invalid(name, "must be a local date and time between 1971 and 9998")
    return rfc3339(resolve(local, tz))


def _zone() -> ZoneInfo:
    """The viewer's zone, once TEAM lets them change this schedule (a 403 or 404 otherwise)."""
    return viewer_zone(viewer(TEAM, "write"))


def _back(schedule_id: UUID, notice: str) -> Response:
    """Back to the view the form was sent from (a local path under this schedule only)."""
    back = request.form.get("back", "")
    prefix = f"/schedules/{schedule_id}?"
    target = back if back.startswith(prefix) and "//" not in back and len(back) < 200 else prefix
    sep = "" if target.endswith("?") else "&"
    return redirect(f"{target}{sep}did={notice}", code=303)  # type: ignore[return-value]


# ---- overrides ---------------------------------------------------------------------------------


@pages_blueprint.post(SCHEDULE + "/overrides")
def create_override(schedule_id: UUID) -> Response:
    """Replace the shift's person, add someone beside them, or remove them, for a span."""
    tz = _zone()
    kind = request.form.get("kind", "")
    if kind not in OVERRIDE_KINDS:
        raise invalid("kind", f"must be one of {', '.join(OVERRIDE_KINDS)}")
    fields: dict[str, Any] = {"kind": kind, "start": _local_time("start", tz),
                              "end": _local_time("end", tz)}  # fmt: skip
    if kind in ("replace", "add"):
        fields["add_user_id"] = request.form.get("user_id", "")[:64] or None
    if kind in ("replace", "remove"):
        fields["remove_user_id"] = request.form.get("remove_user_id", "")[:64] or None
    api_overrides.add_override(schedule_id, form_model(OverrideCreate, fields))
    return _back(schedule_id, "override-added")


@pages_blueprint.post(SCHEDULE + "/overrides/<uuid:override_id>/delete")
def delete_override(schedule_id: UUID, override_id: UUID) -> Response:
    """Delete an override."""
    viewer(TEAM, "write")
    api_overrides.remove_override(schedule_id, override_id)
    return _back(schedule_id, "override-deleted")


# ---- rules -------------------------------------------------------------------------------------


def _rule_fields() -> dict[str, Any]:
    """A rule form's fields as the API's body: target "user:<id>" or "rotation:<id>"."""
    target_type, _, target_id = request.form.get("target", "")[:80].partition(":")
    weekdays = [d for d in request.form.getlist("weekdays")[:7] if d.isdigit()]
    return {
        "target_type": target_type,
        "target_id": target_id,
        "weekdays": [int(d) for d in weekdays],
        "start_time": request.form.get("start_time", "")[:8],
        "end_time": request.form.get("end_time", "")[:8],
    }


@pages_blueprint.post(SCHEDULE + "/rules")
def create_rule(schedule_id: UUID) -> Response:
    """Add a rule: a user or rotation on call on some weekdays between two local times."""
    viewer(TEAM, "write")
    api_rules.add_rule(schedule_id, form_model(RuleCreate, _rule_fields()))
    return _back(schedule_id, "rule-added")


@pages_blueprint.post(SCHEDULE + "/rules/<uuid:rule_id>")
def update_rule(schedule_id: UUID, rule_id: UUID) -> Response:
    """Change a rule (all of its fields, as the form shows them)."""
    viewer(TEAM, "write")
    api_rules.change_rule(schedule_id, rule_id, form_model(RulePatch, _rule_fields()))
    return _back(schedule_id, "rule-changed")


@pages_blueprint.post(SCHEDULE + "/rules/<uuid:rule_id>/delete")
def delete_rule(schedule_id: UUID, rule_id: UUID) -> Response:
    """Delete a rule."""
    viewer(TEAM, "write")
    api_rules.remove_rule(schedule_id, rule_id)
    return _back(schedule_id, "rule-deleted")


# ---- temporary schedules -----------------------------------------------------------------------


def _temporary_fields(tz: ZoneInfo) -> dict[str, Any]:
    """A temporary schedule's form: its span and its filled-in shift rows (user, start, end)."""
    shifts = []
    for n in range(MAX_TEMPORARY_SHIFTS):
        user = request.form.get(f"shift_user_{n}", "")[:64]
        if user:
            shifts.append({"user_id": user, "start": _local_time(f"shift_start_{n}", tz),
                           "end": _local_time(f"shift_end_{n}", tz)})  # fmt: skip
    return {"start": _local_time("start", tz), "end": _local_time("end", tz), "shifts": shifts}


@pages_blueprint.post(SCHEDULE + "/temporary-schedules")
def create_temporary_schedule(schedule_id: UUID) -> Response:
    """Replace the rules during a span with these shifts (none: nobody on call)."""
    body = form_model(TemporaryScheduleCreate, _temporary_fields(_zone()))
    api_temporaries.add_temporary(schedule_id, body)
    return _back(schedule_id, "temporary-added")


@pages_blueprint.post(SCHEDULE + "/temporary-schedules/<uuid:temporary_id>")
def update_temporary_schedule(schedule_id: UUID, temporary_id: UUID) -> Response:
    """Move a temporary schedule's span and replace its shifts with the form's."""
    body = form_model(TemporarySchedulePatch, _temporary_fields(_zone()))
    api_temporaries.change_temporary(schedule_id, temporary_id, body)
    return _back(schedule_id, "temporary-changed")


@pages_blueprint.post(SCHEDULE + "/temporary-schedules/<uuid:temporary_id>/delete")
def delete_temporary_schedule(schedule_id: UUID, temporary_id: UUID) -> Response:
    """Delete a temporary schedule."""
    viewer(TEAM, "write")
    api_temporaries.remove_temporary(schedule_id, temporary_id)
    return _back(schedule_id, "temporary-deleted")
