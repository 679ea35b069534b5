"""On call now (`/on-call`): for every service, who its escalation policy has on call at each
step right now (what `GET /api/v1/services/<id>/on-call` answers, service by service), and the
signed-in person's current and next shifts (what `GET /api/v1/users/<id>/on-call-next` reads).

The services part costs a fixed number of queries however many services, schedules and
rotations there are (app.escalation.on_call_now): one for the services, two for their policies,
about seven for every schedule and rotation they name, one for the names. It shows at most
MAX_SERVICES services, by name, and says so when there are more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response

from app.directory import services, users
from app.escalation import on_call_now
from app.http.api.routing import transaction
from app.http.pages.base import page, pages_blueprint, viewer
from app.http.permissions import EVERYONE
from app.oncall import schedules, user_shifts

MAX_SERVICES = 200  # services the page shows (the rest: a note saying how many are not shown)
SHIFT_HORIZON_DAYS = 90  # how far ahead "your next shift" looks (as /users/<id>/on-call-next)
FIRST_LOOK_DAYS = 8  # computed first: 90 days of a busy schedule's shifts is the page's cost


@pages_blueprint.get("/on-call")
def on_call_page() -> Response:
    """The page."""
    who = viewer(EVERYONE)
    now = datetime.now(UTC)
    with transaction() as conn:
        listed = services.list_services(conn, limit=MAX_SERVICES + 1)
        shown = sorted(listed[:MAX_SERVICES], key=lambda s: s["name"].lower())
        found = on_call_now.services_on_call(conn, shown, now)
        names = users.user_names(conn, on_call_now.user_ids(found.values()))
        mine = _my_shifts(conn, who.user_id, now)
    return page(
        "pages/on_call.html",
        title="On call now",
        rows=[(s, found[str(s["id"])]) for s in shown],
        names=names,
        more=len(listed) > MAX_SERVICES,
        max_services=MAX_SERVICES,
        now=now,
        **mine,
    )


def _my_shifts(conn: Any, user_id: str, now: datetime) -> dict[str, Any]:
    current: list[user_shifts.UserShift] = []
    upcoming: user_shifts.UserShift | None = None
    for days in (FIRST_LOOK_DAYS, SHIFT_HORIZON_DAYS):  # most people's next shift is near
        shifts = user_shifts.user_shifts(conn, user_id, now, now + timedelta(days=days))
        current, upcoming = user_shifts.current_and_next(shifts, now)
        if upcoming is not None:
            break
    ids = {s.schedule_id for s in current} | ({upcoming.schedule_id} if upcoming else set())
    schedule_names = {i: (schedules.get_schedule(conn, i) or {}).get("name", i) for i in ids}
    return {
        "current": current,
        "upcoming": upcoming,
        "schedule_names": schedule_names,
        "horizon_days": SHIFT_HORIZON_DAYS,
    }
