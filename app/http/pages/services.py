"""The services pages: `/services` (every service with its open-alert count and owning team)
and `/services/<id>` (its alerts, escalation policy, who is on call now and next, integration
keys, heartbeat monitors and maintenance window).

Reads are for everyone signed in, as GET /api/v1/services is. Changes (create or revoke an
integration key, start or end maintenance) take the API's own rule, TEAM (admins, managers of
the owning team), checked by the POST handlers (a 403 page otherwise); the page shows their
controls only to those the rule lets through. A new key's token is shown exactly once: the
POST keeps it in Redis under a random nonce bound to the user, and the page it redirects to
takes it out (app.http.pages.one_showing), so a reload, or anyone else, sees it no more.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from flask import Response, redirect, request

from app.alerts import store
from app.directory import heartbeat_monitors, integration_keys, services, teams, users
from app.escalation import policies, service_on_call
from app.http.api.routing import NotFound, settings, transaction
from app.http.api.services import require_service, set_maintenance
from app.http.pages import alert_list, one_showing
from app.http.pages.base import Viewer, page, pages_blueprint, viewer
from app.http.permissions import EVERYONE, TEAM, may_change
from app.platform.errors import invalid

SERVICE = "/services/<uuid:service_id>"
MAX_SERVICES = 1000  # services the list shows (as the alert list's filter offers)
MAX_ROWS = 100  # integration keys / heartbeat monitors a service page shows
NEW_KEY = "integration-key"  # what a new key is kept as for its one showing (one_showing)
# Maintenance durations the page offers, in minutes (the API takes any end time).
MAINTENANCE_MINUTES = (30, 60, 120, 240, 480, 1440)


@pages_blueprint.get("/services")
def service_list() -> Response:
    """Every service by name, with its open alerts (one grouped query) and owning team."""
    viewer(EVERYONE)
    with transaction() as conn:
        rows = services.list_services(conn, limit=MAX_SERVICES)
        counts = store.open_alert_counts(conn)
        team_names = {t["id"]: t["name"] for t in teams.list_teams(conn, limit=MAX_SERVICES)}
    rows.sort(key=lambda s: s["name"].lower())
    return page("pages/services.html", title="Services", services=rows, counts=counts,
                team_names=team_names, now=datetime.now(UTC))  # fmt: skip


@pages_blueprint.get(SERVICE)
def service_page(service_id: UUID) -> Response:
    """One service's page."""
    who = viewer(EVERYONE)
    query = alert_list.ListQuery.from_args(request.args)
    query = alert_list.ListQuery(status=query.status, service_id=str(service_id))
    new_key = _take_new_key(who, str(service_id), request.args.get("key", ""))
    with transaction() as conn:
        service = require_service(conn, service_id)
        context = _service_context(conn, service)
    return page(
        "pages/service.html",
        title=service["name"],
        service=service,
        can_edit=may_change(who.identity, service["team_id"]),
        new_key=new_key,
        notice=_NOTICES.get(request.args.get("did", ""), ""),
        maintenance_minutes=MAINTENANCE_MINUTES,
        **context,
        **{**alert_list.table(who, query), "back": f"/services/{service_id}"},
    )


def _service_context(conn: Any, service: dict[str, Any]) -> dict[str, Any]:
    """Everything the page shows about the service besides its alerts."""
    now = datetime.now(UTC)
    policy_id = service["escalation_policy_id"]
    policy = policies.get_policy(conn, policy_id) if policy_id else None
    on_call_now = service_on_call.steps_on_call(conn, policy, now)
    next_at = service_on_call.next_handoff(conn, policy, now)
    on_call_next: list[dict[str, Any] | None] = [None] * len(on_call_now)
    if next_at is not None:
        on_call_next = list(service_on_call.steps_on_call(conn, policy, next_at))
    steps = on_call_now + [s for s in on_call_next if s is not None]
    people = {u for s in steps for t in s["targets"] for u in t["user_ids"]}
    team = teams.get_team(conn, service["team_id"]) if service["team_id"] else None
    return {
        "policy": policy,
        "on_call": list(zip(on_call_now, on_call_next, strict=True)),
        "next_at": next_at,
        "has_shifts": any(
            t["type"] in ("schedule", "rotation") for s in steps for t in s["targets"]
        ),
        "names": users.user_names(conn, people),
        "team": team,
        "keys": integration_keys.list_integration_keys(conn, service["id"], None, MAX_ROWS),
        "monitors": heartbeat_monitors.list_heartbeat_monitors(conn, service["id"], None, MAX_ROWS),
        "in_maintenance": service["maintenance_until"] is not None
        and service["maintenance_until"] > now,
    }


# ---- integration keys --------------------------------------------------------------------------


def _take_new_key(who: Viewer, service_id: str, nonce: str) -> dict[str, Any] | None:
    """The key created just now by this user for this service, once (then it is gone)."""
    shown = one_showing.take(NEW_KEY, who.user_id, nonce)
    return shown if shown is not None and shown.get("service_id") == service_id else None


@pages_blueprint.post(SERVICE + "/integration-keys")
def create_key(service_id: UUID) -> Response:
    """Create an integration key, then show its URL and a curl example once."""
    who = viewer(TEAM, "write")
    key_type = request.form.get("type", "generic")
    if key_type not in integration_keys.INTEGRATION_TYPES:
        raise invalid("type", f"must be one of {', '.join(integration_keys.INTEGRATION_TYPES)}")
    name = " ".join(request.form.get("name", "").split())[:200]
    with transaction() as conn:
        require_service(conn, service_id)
        row = integration_keys.create_integration_key(conn, str(service_id), key_type, name)
        url = integration_keys.integration_url(settings().public_url, key_type, row["token"])
        curl = integration_keys.test_alert_curl(url) if key_type in ("generic", "email") else ""
        shown = {"service_id": str(service_id), "id": row["id"], "type": key_type, "url": url,
                 "curl": curl}  # fmt: skip
        # Before the commit: if Redis cannot keep it, no key exists that nobody ever saw.
        nonce = one_showing.keep(NEW_KEY, who.user_id, shown)
    return _back(service_id, f"key={nonce}", "#keys")


@pages_blueprint.post(SERVICE + "/integration-keys/<uuid:key_id>/revoke")
def revoke_key(service_id: UUID, key_id: UUID) -> Response:
    """Revoke an integration key: its token stops working now."""
    viewer(TEAM, "write")
    with transaction() as conn:
        if not integration_keys.revoke_integration_key(conn, str(service_id), str(key_id)):
            raise NotFound(f"service {service_id} has no integration key {key_id}")
    return _back(service_id, "did=revoked", "#keys")


# ---- maintenance -------------------------------------------------------------------------------


@pages_blueprint.post(SERVICE + "/maintenance")
def start_maintenance(service_id: UUID) -> Response:
    """Put the service in maintenance for the chosen number of minutes (its alerts are held)."""
    viewer(TEAM, "write")
    minutes = request.form.get("minutes", "")
    if not minutes.isdigit() or int(minutes) not in MAINTENANCE_MINUTES:
        raise invalid("minutes", f"must be one of {', '.join(map(str, MAINTENANCE_MINUTES))}")
    until = datetime.now(UTC) + timedelta(minutes=int(minutes))
    with transaction() as conn:
        set_maintenance(conn, str(service_id), until)
    return _back(service_id, "did=maintenance_started", "#maintenance")


@pages_blueprint.post(SERVICE + "/maintenance/end")
def end_maintenance(service_id: UUID) -> Response:
    """End the maintenance window now: the alerts it held escalate again."""
    viewer(TEAM, "write")
    with transaction() as conn:
        set_maintenance(conn, str(service_id), None)
    return _back(service_id, "did=maintenance_ended", "#maintenance")


_NOTICES = {
    "revoked": "Integration key revoked: its token no longer works.",
    "maintenance_started": "Maintenance started: new alerts are held until it ends.",
    "maintenance_ended": "Maintenance ended.",
}


def _back(service_id: UUID, query: str, anchor: str) -> Response:
    return redirect(f"/services/{service_id}?{query}{anchor}", code=303)  # type: ignore[return-value]
