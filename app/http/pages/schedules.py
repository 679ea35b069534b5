"""The schedule pages: `/schedules` (every schedule with its team, zone and who is on call now,
and a form to create one) and `/schedules/<id>` (a week, month or list view of its final shifts
in the viewer's zone, each part marked by its source; its rules, temporary schedules and
overrides with the forms that change them, app.http.pages.schedule_edits).

Reads are for everyone signed in, as GET /api/v1/schedules is; the shifts are the ones
GET …/shifts answers for the same range (app.oncall.shift_sources runs that computation), so
the page agrees with the API shift by shift. `?view=week|month|list&date=YYYY-MM-DD` is checked
(a 422 page otherwise) and every view covers at most six weeks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import psycopg
from flask import Response, redirect, request

from app.directory import teams, users
from app.http.api.routing import transaction
from app.http.api.schedules.computation import computed, load_for_computation
from app.http.api.schedules.schedule import add_schedule
from app.http.api.schedules.shared import require_schedule
from app.http.api.schemas.base import rfc3339, sorted_time_zones
from app.http.api.schemas.schedules import ScheduleCreate
from app.http.pages import schedule_calendar as calendar
from app.http.pages.base import Viewer, page, pages_blueprint, viewer
from app.http.pages.formatting import zone_or_default
from app.http.pages.profile_forms import form_model
from app.http.pages.schedule_blocks import Blocks, Options, options
from app.http.permissions import EVERYONE, check_form_team_create, managed_teams, may_change
from app.oncall import compute, resolve, shift_sources
from app.oncall import overrides as stored_overrides
from app.oncall import rotations as stored_rotations
from app.oncall import schedule_rules as stored_rules
from app.oncall import schedules as stored_schedules
from app.oncall import temporary_schedules as stored_temporaries
from app.platform.errors import invalid

SCHEDULE = "/schedules/<uuid:schedule_id>"
MAX_SCHEDULES = 200  # schedules the list shows (each computes who is on call now)
MAX_PEOPLE = 1000  # users a picker offers
MAX_ROTATIONS = 500  # rotations a rule's picker offers
MAX_ITEMS = 200  # rules and temporary schedules the page lists
MAX_OVERRIDES = 50  # overrides in view the page lists (the calendar shows them all)
# The notices a form may leave (a fixed word in the URL, never text from the request).
NOTICES = {
    "override-added": "Override saved.",
    "override-deleted": "Override deleted.",
    "rule-added": "Rule added.",
    "rule-changed": "Rule saved.",
    "rule-deleted": "Rule deleted.",
    "temporary-added": "Temporary schedule added.",
    "temporary-changed": "Temporary schedule saved.",
    "temporary-deleted": "Temporary schedule deleted.",
}


def viewer_zone(who: Viewer) -> calendar.ZoneInfo:
    """The viewer's profile zone (UTC when it is unknown)."""
    return zone_or_default(who.time_zone)


@pages_blueprint.get("/schedules")
def schedule_list() -> Response:
    """Every schedule by name with its team, zone and who is on call now; the create form."""
    who = viewer(EVERYONE)
    now = datetime.now(UTC)
    with transaction() as conn:
        rows = stored_schedules.list_schedules(conn, None, MAX_SCHEDULES)
        team_rows = teams.list_teams(conn, None, MAX_PEOPLE)
        on_call = _on_call_now(conn, [row["id"] for row in rows], now)
        names = users.user_names(conn, {u for found in on_call.values() for u in found or ()})
    rows.sort(key=lambda s: s["name"].lower())
    mine = managed_teams(who.identity)
    return page(
        "pages/schedules.html",
        title="Schedules",
        schedules=rows,
        team_names={t["id"]: t["name"] for t in team_rows},
        on_call=on_call,
        names=names,
        creatable_teams=[t for t in team_rows if who.identity.admin or t["id"] in mine],
        may_create=who.identity.admin or bool(mine),
        zones=sorted_time_zones(),
        default_zone=who.time_zone,
    )


def _on_call_now(
    conn: psycopg.Connection[Any], schedule_ids: list[str], now: datetime
) -> dict[str, list[str] | None]:
    """Who each schedule has on call now (None: it cannot be computed, which the list says
    rather than showing nobody)."""
    loaded = resolve.load_targets(conn, {("schedule", i) for i in schedule_ids})
    found: dict[str, list[str] | None] = {}
    for schedule_id, value in loaded.schedules.items():
        try:
            found[schedule_id] = sorted(compute.on_call_now(value, loaded.rotations, now))
        except ValueError:
            found[schedule_id] = None
    return found


@pages_blueprint.post("/schedules")
def create_schedule() -> Response:
    """Create a schedule (owned by a team the viewer manages; admins may leave it teamless)."""
    who = viewer(EVERYONE, "write")
    fields = {k: request.form.get(k, "").strip() for k in ("name", "time_zone", "description")}
    team = request.form.get("team_id", "").strip()
    body = form_model(ScheduleCreate, {**fields, "team_id": team or None})
    team_id = None if body.team_id is None else str(body.team_id)
    with transaction() as conn:
        check_form_team_create(conn, who.identity, team_id)
    row = add_schedule(body)
    return redirect(f"/schedules/{row['id']}", code=303)  # type: ignore[return-value]


@pages_blueprint.get(SCHEDULE)
def schedule_page(schedule_id: UUID) -> Response:
    """One schedule's calendar (week, month or list) and what makes it up."""
    who = viewer(EVERYONE)
    tz = viewer_zone(who)
    view = request.args.get("view", "week")
    if view not in calendar.VIEWS:
        raise invalid("view", f"must be one of {', '.join(calendar.VIEWS)}")
    today = datetime.now(tz).date()
    anchor = calendar.parse_day(request.args.get("date"), today)
    if anchor is None:
        raise invalid("date", "must be a date YYYY-MM-DD between 1971-01-01 and 9998-12-01")
    shown = calendar.span(view, anchor, tz)
    with transaction() as conn:
        row = require_schedule(conn, schedule_id)
        value, rotations = load_for_computation(conn, schedule_id)
        parts = _parts_of(conn, row, schedule_id, shown)
    shifts = computed(shift_sources.sourced_shifts, value, rotations, shown.start, shown.end)
    if view == "list":
        shifts = shifts[: calendar.LIST_LIMIT]
    removals = shift_sources.removals(value, shown.start, shown.end)
    people = {s.shift.user_id for s in shifts} | {r.user_id for r in removals}
    with transaction() as conn:
        names = users.user_names(conn, people - set(parts["names"])) | parts["names"]
    can_edit = may_change(who.identity, row["team_id"])
    return page(
        "pages/schedule.html",
        title=row["name"],
        schedule=row,
        can_edit=can_edit,
        tz=tz,
        zone_name=tz.key,
        shown=shown,
        today=today,
        shifts=shifts,
        pieces=calendar.by_day(shifts, shown.days, tz),
        removed_by_day=calendar.removals_by_day(removals, shown.days, tz),
        names=names,
        draw=Blocks(names, who.user_id, can_edit),
        calendar=calendar,
        rfc3339=rfc3339,
        back=f"/schedules/{schedule_id}?view={view}&date={anchor.isoformat()}",
        notice=NOTICES.get(request.args.get("did", ""), ""),
        local_input=lambda moment: local_input(moment, tz),
        at=lambda moment: calendar.local_text(moment, tz),
        day_label=day_label,
        title_of=lambda: range_title(shown),
        **{k: v for k, v in parts.items() if k != "names"},
    )


def _parts_of(
    conn: psycopg.Connection[Any], row: dict[str, Any], schedule_id: UUID, shown: calendar.Span
) -> dict[str, Any]:
    """The schedule's rules, temporary schedules and overrides (those in view), the people and
    rotations its forms offer, and the names all of these need."""
    sid = str(schedule_id)
    rules = stored_rules.list_schedule_rules(conn, sid, None, MAX_ITEMS)
    temporaries = stored_temporaries.list_temporary_schedules(conn, sid, None, MAX_ITEMS)
    overrides, overrides_total = stored_overrides.overrides_between(
        conn, sid, shown.start, shown.end, MAX_OVERRIDES
    )
    people = users.list_users(conn, None, MAX_PEOPLE)
    rotations = stored_rotations.list_rotations(conn, None, MAX_ROTATIONS)
    team = teams.get_team(conn, row["team_id"]) if row["team_id"] else None
    names = {p["id"]: p["name"] for p in people}
    missing = {r["target_id"] for r in rules if r["target_type"] == "user"}
    missing |= {o[k] for o in overrides for k in ("add_user_id", "remove_user_id") if o[k]}
    missing |= {s["user_id"] for t in temporaries for s in t["shifts"]}
    names |= users.user_names(conn, missing - set(names))
    people = sorted(people, key=lambda p: p["name"].lower())
    rotations = sorted(rotations, key=lambda r: r["name"].lower())
    return {
        "rules": rules,
        "temporaries": temporaries,
        "overrides": overrides,
        "overrides_total": overrides_total,
        "people": people,
        "person_options": Options(options((p["id"], p["name"]) for p in people)),
        "target_options": Options(
            '<optgroup label="Rotations">'
            + options((f"rotation:{r['id']}", r["name"]) for r in rotations)
            + '</optgroup><optgroup label="People">'
            + options((f"user:{p['id']}", p["name"]) for p in people)
            + "</optgroup>"
        ),
        "rotation_names": {r["id"]: r["name"] for r in rotations},
        "team": team,
        "names": names,
        "weekday_names": WEEKDAYS,
    }


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def local_input(moment: datetime, tz: calendar.ZoneInfo) -> str:
    """A datetime-local field's value for `moment` in `tz`."""
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def day_label(day: date) -> str:
    """A day as a calendar's column names it: "Sun 14 Mar"."""
    return f"{WEEKDAYS[day.weekday()]} {day:%d %b}"


def range_title(shown: calendar.Span) -> str:
    """What the view covers, in words."""
    if shown.view == "month":
        return f"{shown.anchor:%B %Y}"
    last = shown.days[-1]
    return f"{day_label(shown.days[0])} {shown.days[0].year} to {day_label(last)} {last.year}"
