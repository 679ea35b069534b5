"""The shift-swap forms: `/schedules/<id>/swaps/new?start=&end=` (ask for cover; a schedule's
page links here from a shift with its ISO UTC start and end) and the POSTs behind it and behind
the Take and Withdraw buttons of app.http.pages.swaps.

Each POST runs the API's own step (app.http.api.schedules.shift_swaps: the same checks, one
transaction, the same messages) after the API's rule: USERS to ask and take, SWAP_OWNER to
withdraw. Times are shown and typed in the viewer's profile zone (named beside the fields); a
wall-clock time a daylight-saving change skips means its gap's end, a repeated one its first
occurrence (app.oncall.compute.resolve), as everywhere else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from uuid import UUID

from flask import Response, redirect, request

from app.http.api.routing import transaction
from app.http.api.schedules import shift_swaps
from app.http.api.schedules.shared import require_schedule
from app.http.pages.base import error_text, page, pages_blueprint, viewer
from app.http.pages.formatting import zone_or_default
from app.http.pages.schedule_calendar import local_text
from app.http.pages.swaps import SCHEDULE_SWAPS
from app.http.permissions import SWAP_OWNER, USERS
from app.oncall import compute
from app.oncall.swaps import MAX_NOTE, NotOnCall
from app.platform.errors import ApiError, Conflict, ValidationFailed, invalid

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> shows and sends
MAX_TYPED = 40  # a datetime-local value is 16-19 characters; a form's longer text is cut here
_LOCAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?")
# Where a Take or Withdraw button may send the browser back to: a swaps page.
_BACK = re.compile(r"/swaps|/schedules/[0-9a-f-]{36}/swaps(/[0-9a-f-]{36})?")


def to_local(moment: datetime | None, zone: str) -> str:
    """An instant as a datetime-local field's value in `zone` ("" for none)."""
    return "" if moment is None else moment.astimezone(zone_or_default(zone)).strftime(LOCAL_FORMAT)


def from_local(field: str, text: str, zone: str) -> datetime:
    """A datetime-local field's value, read in `zone`, as a UTC instant (422 naming `field`)."""
    if not _LOCAL.fullmatch(text):
        raise invalid(field, "must be a date and time, e.g. 2026-03-29T09:00")
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(field, "is not a real date and time") from None
    return compute.resolve(local, zone_or_default(zone))


def from_iso(field: str, text: str | None) -> datetime | None:
    """A query's ISO 8601 instant with an offset (the schedule page's links), or None."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text[:40])
    except ValueError:
        raise invalid(field, "must be an ISO 8601 time with an offset, e.g. …T09:00:00Z") from None
    if moment.tzinfo is None:
        raise invalid(field, "must carry an offset, e.g. Z")
    return moment.astimezone(UTC)


@pages_blueprint.get(SCHEDULE_SWAPS + "/new")
def new_swap_page(schedule_id: UUID) -> Response:
    """The form asking for cover, prefilled from ?start=&end= (ISO, UTC)."""
    who = viewer(USERS)
    start = from_iso("start", request.args.get("start"))
    end = from_iso("end", request.args.get("end"))
    local = {"start": to_local(start, who.time_zone), "end": to_local(end, who.time_zone),
             "note": ""}  # fmt: skip
    return _ask_form(schedule_id, who.time_zone, local)


@pages_blueprint.post(SCHEDULE_SWAPS)
def create_shift_swap(schedule_id: UUID) -> Response:
    """Ask for cover (the API's checks: on call for all of it, in the future, at most 31 days).
    A refusal (422, 409) shows the form again with what was typed and why."""
    who = viewer(USERS, "write")
    typed = {key: request.form.get(key, "")[:MAX_TYPED] for key in ("start", "end")}
    note = request.form.get("note", "").replace("\r\n", "\n")
    try:
        if len(note) > MAX_NOTE or "\x00" in note:
            raise invalid("note", f"must be at most {MAX_NOTE} characters of text")
        fields = {
            "start": from_local("start", typed["start"], who.time_zone),
            "end": from_local("end", typed["end"], who.time_zone),
            "note": note.strip(),
        }
        swap = shift_swaps.ask(str(schedule_id), who.user_id, fields)
    except (ValidationFailed, Conflict) as refused:
        kept = {**typed, "note": note[:MAX_NOTE]}
        return _ask_form(schedule_id, who.time_zone, kept, refused)
    return _to(f"/schedules/{schedule_id}/swaps/{swap['id']}", "requested")


def _ask_form(
    schedule_id: UUID, zone: str, typed: dict[str, str], refused: ApiError | None = None
) -> Response:
    with transaction() as conn:
        schedule = require_schedule(conn, schedule_id)
    return page(
        "pages/swap_new.html", status=refused.status if refused else 200,
        title=f"Ask for cover: {schedule['name']}", schedule=schedule, typed=typed, zone=zone,
        max_note=MAX_NOTE, refusal=_refusal_text(refused, zone) if refused else "",
    )  # fmt: skip


def _refusal_text(refused: ApiError, zone: str) -> str:
    """Why the form came back; a stretch not on call names its instant in the form's zone."""
    if isinstance(refused, NotOnCall):
        since = local_text(refused.since, zone_or_default(zone))
        return (
            f"You are not on call in this schedule from {since} ({zone}): ask for cover only "
            "for a stretch you are on call for."
        )
    return error_text(refused)


@pages_blueprint.post(SCHEDULE_SWAPS + "/<uuid:swap_id>/take")
def take_shift_swap(schedule_id: UUID, swap_id: UUID) -> Response:
    """Take it: an override puts the viewer on call instead of the requester."""
    who = viewer(USERS, "write")
    shift_swaps.take(str(schedule_id), str(swap_id), who.user_id)
    return _to(_back(f"/schedules/{schedule_id}/swaps/{swap_id}"), "taken")


@pages_blueprint.post(SCHEDULE_SWAPS + "/<uuid:swap_id>/withdraw")
def withdraw_shift_swap(schedule_id: UUID, swap_id: UUID) -> Response:
    """Withdraw it while it is open (its requester, an admin or a manager of the team)."""
    who = viewer(SWAP_OWNER, "write")
    shift_swaps.withdraw(str(schedule_id), str(swap_id), who.user_id)
    return _to(_back(f"/schedules/{schedule_id}/swaps/{swap_id}"), "withdrawn")


def _back(default: str) -> str:
    back = request.form.get("back", "")
    return back if _BACK.fullmatch(back) else default


def _to(path: str, did: str) -> Response:
    return redirect(f"{path}?did={did}", code=303)  # type: ignore[return-value]
