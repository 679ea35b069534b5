"""The shift-swap pages: `/swaps` (open requests across every schedule, and the viewer's own),
`/schedules/<id>/swaps` (a schedule's open requests with Take / Withdraw, and past ones) and
`/schedules/<id>/swaps/<swap_id>` (one swap: the page its messages link to).

Reads are for everyone signed in, as GET /api/v1/schedules/<id>/swaps is. The buttons shown
follow the API's rules: Take for anyone but the requester (USERS), Withdraw for the requester
or TEAM (SWAP_OWNER); the forms they post to are app.http.pages.swap_forms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from flask import Response, request

from app.directory import users
from app.http.api.routing import NotFound, transaction
from app.http.api.schedules.shared import require_schedule
from app.http.pages.base import Viewer, page, pages_blueprint, viewer
from app.http.permissions import EVERYONE, may_change
from app.oncall import schedules as stored_schedules
from app.oncall import swaps

SCHEDULE_SWAPS = "/schedules/<uuid:schedule_id>/swaps"
MAX_SHOWN = 100  # swaps one list on a page shows
NOTICES = {
    "requested": "Cover asked for: the schedule's channel and members are being told.",
    "taken": "You took it: an override puts you on call for that stretch.",
    "withdrawn": "Withdrawn: nobody can take it any more.",
}


def decorate(conn: Any, who: Viewer, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Swaps with their people's and schedule's names, and which buttons the viewer gets."""
    names = users.user_names(
        conn, {u for r in rows for u in (r["requester_id"], r["taken_by"]) if u}
    )
    schedules = stored_schedules.get_schedules(conn, sorted({r["schedule_id"] for r in rows}))
    shown = []
    for row in rows:
        schedule = schedules.get(row["schedule_id"]) or {}
        mine = row["requester_id"] == who.user_id
        is_open = row["status"] == "open"
        shown.append({
            **row,
            "requester_name": names.get(row["requester_id"], "someone"),
            "taker_name": names.get(row["taken_by"] or "", ""),
            "schedule_name": schedule.get("name", "a schedule"),
            "mine": mine,
            "may_take": is_open and not mine,
            "may_withdraw": is_open and (mine or may_change(who.identity, schedule.get("team_id"))),
        })  # fmt: skip
    return shown


@pages_blueprint.get("/swaps")
def swaps_page() -> Response:
    """Open requests across every schedule (anyone may read every schedule), and the viewer's."""
    who = viewer(EVERYONE)
    now = datetime.now(UTC)
    with transaction() as conn:
        open_rows = decorate(conn, who, swaps.open_swaps(conn, now, MAX_SHOWN))
        mine = decorate(conn, who, swaps.swaps_of(conn, who.user_id, now, MAX_SHOWN))
    return page(
        "pages/swaps.html", title="Shift swaps", open_swaps=open_rows, mine=mine,
        zone=who.time_zone, back="/swaps", notice=NOTICES.get(request.args.get("did", ""), ""),
    )  # fmt: skip


@pages_blueprint.get(SCHEDULE_SWAPS)
def schedule_swaps_page(schedule_id: UUID) -> Response:
    """A schedule's open requests (soonest first) and past ones (newest first)."""
    who = viewer(EVERYONE)
    now = datetime.now(UTC)
    with transaction() as conn:
        schedule = require_schedule(conn, schedule_id)
        rows = decorate(conn, who, swaps.list_swaps(conn, str(schedule_id), now, MAX_SHOWN))
    back = f"/schedules/{schedule_id}/swaps"
    return page(
        "pages/schedule_swaps.html", title=f"Shift swaps: {schedule['name']}", schedule=schedule,
        open_swaps=[r for r in rows if r["status"] == "open"],
        past=[r for r in rows if r["status"] != "open"],
        zone=who.time_zone, back=back, notice=NOTICES.get(request.args.get("did", ""), ""),
    )  # fmt: skip


@pages_blueprint.get(SCHEDULE_SWAPS + "/<uuid:swap_id>")
def swap_page(schedule_id: UUID, swap_id: UUID) -> Response:
    """One swap: who asks, when, the note, its status, and the buttons the viewer gets."""
    who = viewer(EVERYONE)
    now = datetime.now(UTC)
    with transaction() as conn:
        row = swaps.get_swap(conn, str(schedule_id), str(swap_id))
        if row is None:
            raise NotFound(f"no shift swap with id {swap_id} in schedule {schedule_id}")
        [swap] = decorate(conn, who, swaps.with_status([row], now))
    return page(
        "pages/swap.html", title=f"Shift swap in {swap['schedule_name']}", swap=swap,
        zone=who.time_zone, back=f"/schedules/{schedule_id}/swaps/{swap_id}",
        notice=NOTICES.get(request.args.get("did", ""), ""),
    )  # fmt: skip
