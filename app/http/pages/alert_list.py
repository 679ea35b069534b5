"""The alert list (`/alerts`, and `/` leads there): filtered by status, service, "my services"
and text; newest first; cursor-paged (`before`, an alert id).

It keeps itself current without a server thread per open tab: the table polls
`/alerts/rows` every 2 s (htmx), sending the newest alert-log id it shows (`version`); while no
alert has logged anything since, the answer is an empty 204 after one index probe
(app.alerts.log.latest_entry_id), else the table again. Selected rows can be acknowledged,
closed or escalated at once (`POST /alerts/bulk`), each through the same rule as the API's
action, logged as the user "via web".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Response, redirect, request

from app.alerts import log as alert_log
from app.alerts import store
from app.directory import services
from app.escalation import policies
from app.http.api.routing import transaction
from app.http.pages import actions
from app.http.pages.base import HOME, Viewer, local_next, page, pages_blueprint, viewer
from app.http.permissions import EVERYONE

PAGE_SIZE = 50  # alerts a page shows
MAX_QUERY = 200  # characters of the text filter read at all
MAX_SERVICES = 1000  # services the filter offers (and names the rows' services from)
STATUS_CHOICES = ("open", "triggered", "acknowledged", "closed", "all")
_STATUSES = {"open": ["triggered", "acknowledged"], "all": None}


@dataclass(frozen=True)
class ListQuery:
    """What the list shows, read leniently from the URL: an unknown value means "no filter"."""

    status: str = "open"
    service_id: str = ""
    mine: bool = False
    q: str = ""
    before: int | None = None

    @classmethod
    def from_args(cls, args: Any) -> ListQuery:
        status = args.get("status", "open")
        before = args.get("before", "")
        return cls(
            status=status if status in STATUS_CHOICES else "open",
            service_id=args.get("service", "")[:36],
            mine=args.get("mine") == "1",
            q=args.get("q", "")[:MAX_QUERY].strip(),
            before=int(before) if before.isdigit() and 0 < len(before) < 19 else None,
        )

    def params(self, **changes: Any) -> str:
        """This query as a URL query string, with `changes`."""
        values = {"status": self.status, "service": self.service_id, "mine": "1" if self.mine
                  else "", "q": self.q, "before": self.before or "", **changes}  # fmt: skip
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


@pages_blueprint.get("/")
def home() -> Response:
    return redirect(HOME, code=303)  # type: ignore[return-value]


@pages_blueprint.get("/alerts")
def alert_list() -> Response:
    """The alert list page."""
    who = viewer(EVERYONE)
    query = ListQuery.from_args(request.args)
    return page("pages/alerts.html", title="Alerts", notice=actions.notice(request.args),
                **table(who, query))  # fmt: skip


@pages_blueprint.get("/alerts/rows")
def alert_rows() -> Response:
    """The list's table, or 204 while nothing has changed since `version`."""
    who = viewer(EVERYONE)
    query = ListQuery.from_args(request.args)
    shown = request.args.get("version", "")
    with transaction() as conn:
        latest = alert_log.latest_entry_id(conn)
    if shown.isdigit() and int(shown) == latest:
        return Response(status=204)
    return page("pages/_alert_table.html", **table(who, query))


def table(who: Viewer, query: ListQuery) -> dict[str, Any]:
    """What the alert table shows for `query` (also on a service's page, with its service)."""
    with transaction() as conn:
        version = alert_log.latest_entry_id(conn)  # first: a change after it shows next poll
        named = services.list_services(conn, limit=MAX_SERVICES)
        mine = policies.services_reaching(conn, who.user_id) if query.mine else None
        rows = store.list_alerts(conn, _filter(query, mine))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return {
        "query": query,
        "alerts": rows,
        "version": version,
        "service_names": {s["id"]: s["name"] for s in named},
        "services": sorted(named, key=lambda s: s["name"].lower()),
        "statuses": STATUS_CHOICES,
        "next_page": query.params(before=rows[-1]["id"]) if more else "",
        "back": local_next(request.full_path.replace("/alerts/rows", "/alerts", 1)),
    }


def _filter(query: ListQuery, mine: list[str] | None) -> store.AlertFilter:
    status = query.status if query.status not in _STATUSES else None
    return store.AlertFilter(
        service_id=query.service_id if _is_uuid(query.service_id) else None,
        status=status,
        statuses=_STATUSES.get(query.status),
        service_ids=mine,
        q=query.q or None,
        before_id=query.before,
        limit=PAGE_SIZE,
    )


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@pages_blueprint.post("/alerts/bulk")
def bulk_action() -> Response:
    """Acknowledge, close or escalate every selected alert (form fields `action`, `alert_id`)."""
    who = viewer(EVERYONE, "write")
    done = actions.act_on_many(
        who, request.form.get("action", ""), request.form.getlist("alert_id")
    )
    return actions.back_to(request.form.get("back"), done)
