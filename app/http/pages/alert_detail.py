"""One alert's page (`/alerts/<id>`): summary, details (Markdown, no raw HTML), source, dedup
key, duplicate count, status, where its escalation stands and when the next step fires, the
messages sent about it with their outcome, and its whole log saying who acted and how.

`POST /alerts/<id>/acknowledge|close|escalate` act on it as the signed-in user (CSRF token
required), through the API's rule; the log entry says "via web".
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from app.alerts import escalation_state, store
from app.directory import services, users
from app.http.api.routing import transaction
from app.http.pages import actions
from app.http.pages.base import page, pages_blueprint, viewer
from app.http.pages.formatting import describe, markdown
from app.http.permissions import EVERYONE
from app.messages import store as messages
from app.platform.errors import NotFound

ALERT = "/alerts/<int(min=1, max=9223372036854775807):alert_id>"  # a Postgres bigint
MAX_MESSAGES = 100  # newest messages about the alert shown


@pages_blueprint.get(ALERT)
def alert_page(alert_id: int) -> Response:
    """The alert's page."""
    viewer(EVERYONE)
    with transaction() as conn:
        alert = store.get_alert(conn, alert_id)
        if alert is None:
            raise NotFound(f"no alert with id {alert_id}")
        service = services.get_service(conn, alert["service_id"])
        escalation = escalation_state.position(conn, alert_id)
        sent = messages.list_messages(conn, {"alert_id": alert_id}, MAX_MESSAGES)
        names = users.user_names(conn, _people(alert["log"], sent))
    return page(
        "pages/alert.html",
        title=f"Alert #{alert_id}",
        alert=alert,
        details=markdown(alert["details"]),
        service=service,
        escalation=escalation,
        messages=sent,
        names=names,
        entries=[(entry, describe(entry, names)) for entry in alert["log"]],
        notice=actions.notice(request.args),
        back=f"/alerts/{alert_id}",
    )


def _people(log: list[dict[str, Any]], sent: list[dict[str, Any]]) -> set[str]:
    """Everyone the page names: who acted on the alert, and who was messaged."""
    found = {str(e["actor_id"]) for e in log if e["actor_type"] == "user" and e["actor_id"]}
    return found | {str(m["user_id"]) for m in sent if m["user_id"]}


@pages_blueprint.post(ALERT + "/acknowledge", defaults={"action": "acknowledge"})
@pages_blueprint.post(ALERT + "/close", defaults={"action": "close"})
@pages_blueprint.post(ALERT + "/escalate", defaults={"action": "escalate"})
def alert_action(alert_id: int, action: str) -> Response:
    """Acknowledge, close or escalate this alert, then go back to the page the form was on."""
    who = viewer(EVERYONE, "write")
    done = actions.act_on_many(who, action, [str(alert_id)])
    return actions.back_to(request.form.get("back") or f"/alerts/{alert_id}", done)
