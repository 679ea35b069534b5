"""The audit log page of the administration: `/admin/audit`, newest first, filtered by actor,
target and time range exactly as GET /api/v1/audit is (its own query schema and
`audit_page`), a page at a time with the API's cursor. Each event's changes read as
"column: before → after"; times are in the viewer's zone, and a time range typed without a zone
is taken in it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Response, request

from app.directory import users
from app.http.api.audit import audit_page
from app.http.api.pagination import InvalidCursor
from app.http.api.routing import transaction
from app.http.api.schemas.audit import AuditQuery
from app.http.pages.admin_base import ADMIN, admin, admin_page
from app.http.pages.base import pages_blueprint
from app.http.pages.profile_forms import form_model
from app.platform.errors import invalid

AUDIT = ADMIN + "/audit"
FILTERS = ("actor_type", "actor_id", "target_type", "target_id", "since", "until")
ACTOR_TYPES = ("user", "api_key", "system")
PAGE_SIZE = 50


def local_time(text: str, zone: str) -> str:
    """A time from the form: as typed when it names its offset, else taken in `zone` (a
    datetime-local field sends none); anything unreadable is left for the schema to refuse."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            return text
    return moment.isoformat()


def audit_query(args: Mapping[str, str], zone: str) -> AuditQuery:
    """The page's query string as the API's AuditQuery (a 422 page naming a bad field)."""
    given = {k: args.get(k, "").strip() for k in (*FILTERS, "cursor")}
    given = {k: v for k, v in given.items() if v}
    for field in ("since", "until"):
        if field in given:
            given[field] = local_time(given[field], zone)
    return form_model(AuditQuery, {**given, "limit": PAGE_SIZE})


@pages_blueprint.get(AUDIT)
def admin_audit() -> Response:
    """One page of audit events matching the filters."""
    who = admin()
    query = audit_query(request.args, who.time_zone)
    try:
        found = audit_page(query)
    except InvalidCursor:
        raise invalid(
            "cursor", "not a cursor this page issued: start from the first page"
        ) from None
    with transaction() as conn:
        actors = {e.actor_id for e in found.items if e.actor_type == "user" and e.actor_id}
        names = users.user_names(conn, actors)
    filters = {k: request.args.get(k, "").strip()[:200] for k in FILTERS}
    kept = {k: v for k, v in filters.items() if v}
    older = (
        f"{AUDIT}?{urlencode({**kept, 'cursor': found.next_cursor})}" if found.next_cursor else ""
    )
    return admin_page(
        "pages/admin_audit.html", "audit", "Audit log",
        events=found.items, names=names, filters=filters, actor_types=ACTOR_TYPES,
        older=older, newest=f"{AUDIT}?{urlencode(kept)}" if query.cursor else "",
        filter_link=lambda **f: f"{AUDIT}?{urlencode(f)}", shown=shown,
    )  # fmt: skip


def shown(value: Any) -> str:
    """A changed column's value as a short text (a long one cut, with an ellipsis)."""
    text = "null" if value is None else str(value)
    return text if len(text) <= 300 else text[:300] + "…"
