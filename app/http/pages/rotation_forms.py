"""What the rotation pages' forms share: reading a rotation's settings from a form (the first
handoff as a local date and time in the rotation's zone) and validating them with the API's
own schemas, the choices the forms offer, and going back to a page with a notice.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from flask import Response, redirect
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from app.http.api.schemas.base import sorted_time_zones
from app.http.api.schemas.rotations import RotationCreate, RotationPatch
from app.http.pages.profile_forms import form_model
from app.oncall import compute
from app.oncall.model import ROTATION_TYPES
from app.platform.errors import invalid

UNITS = {"hourly": "hours", "daily": "days", "weekly": "weeks", "monthly": "months"}
MAX_USERS = 200  # users a participant picker offers (narrowed by a search)

# The notices an action may leave (a fixed word in the URL, never text from the request).
NOTICES = {
    "created": "Rotation created.",
    "saved": "Rotation saved.",
    "reordered": "Order saved: whoever was on call stays on call.",
    "added": "Participant added at the end of the order.",
    "removed": "Participant removed.",
    "advanced": "Handed off to the next participant.",
    "activated": "Current participant set.",
    "deleted": "Rotation deleted, with the schedule rules that used it.",
}


@functools.lru_cache(maxsize=64)
def zone_options(selected: str) -> Markup:
    """The zone select's ~600 options with `selected` chosen, made once per zone: rendered
    option by option in the template they were most of a page's time."""
    return Markup("").join(
        Markup("<option{}>{}</option>").format(Markup(" selected") if z == selected else "", z)
        for z in sorted_time_zones()
    )


def _first_handoff(form: MultiDict[str, str], zone_name: str) -> str:
    """The first handoff (form fields handoff_date, handoff_time, read in `zone_name`) as an
    RFC 3339 instant; a wall time that does not exist or exists twice resolves as the
    computation resolves it (app.oncall.compute.resolve)."""
    try:
        tz = compute.zone(zone_name)
    except ValueError:
        raise invalid("time_zone", "must be an IANA time zone such as Europe/London") from None
    try:
        day = date.fromisoformat(form.get("handoff_date", "")[:10])
    except ValueError:
        raise invalid("handoff_date", "must be a date (YYYY-MM-DD)") from None
    try:
        clock = time.fromisoformat(form.get("handoff_time", "")[:8])
    except ValueError:
        raise invalid("handoff_time", "must be a time of day (HH:MM)") from None
    return compute.resolve(datetime.combine(day, clock), tz).isoformat()


def _settings(form: MultiDict[str, str]) -> dict[str, Any]:
    zone_name = form.get("time_zone", "")[:64]
    return {
        "name": form.get("name", "")[:400],
        "type": form.get("type", ""),
        "shift_length": form.get("shift_length", "")[:8],
        "time_zone": zone_name,
        "start": _first_handoff(form, zone_name),
    }


def create_fields(form: MultiDict[str, str]) -> RotationCreate:
    """A new rotation from the create form, as the API validates one (422 naming the field)."""
    team = form.get("team_id", "")
    participants = form.getlist("participants")[: MAX_USERS + 1]
    fields = _settings(form) | {"participants": participants, "team_id": team or None}
    return form_model(RotationCreate, fields)


def patch_fields(form: MultiDict[str, str]) -> dict[str, Any]:
    """A rotation's new settings from the edit form, as the API validates a PATCH."""
    return form_model(RotationPatch, _settings(form)).changes()


def participants_patch(user_ids: list[str]) -> list[str]:
    """A new participant list, validated as the API's PATCH validates it (at least one, at
    most MAX_PARTICIPANTS)."""
    patch = form_model(RotationPatch, {"participants": user_ids})
    assert patch.participants is not None
    return [str(user) for user in patch.participants]


def form_user(form: MultiDict[str, str], name: str) -> str:
    """A form field holding a user id (422 when it does not)."""
    try:
        return str(UUID(form.get(name, "")[:64]))
    except ValueError:
        raise invalid(name, "choose a person") from None


def describe_length(kind: str, length: int) -> str:
    """ "every 2 weeks", "every day"."""
    if kind not in ROTATION_TYPES:
        return kind
    unit = UNITS[kind]
    return f"every {unit[:-1]}" if length == 1 else f"every {length} {unit}"


def version(participants: list[str]) -> str:
    """A short fingerprint of the participant order a form was made from: a reorder or a
    removal made from a stale page is refused (409) instead of applied to another order."""
    return hashlib.sha256(",".join(participants).encode()).hexdigest()[:16]


def back(rotation_id: str, notice: str, anchor: str = "") -> Response:
    """Back to the rotation's page with a notice (a reload repeats nothing)."""
    return redirect(f"/rotations/{rotation_id}?did={notice}{anchor}", code=303)  # type: ignore[return-value]
