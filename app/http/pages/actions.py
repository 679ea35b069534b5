"""Acting on alerts from the pages: acknowledge, close, escalate, one or several at once.

Each alert goes through the API's own rule (app.http.api.alerts.change_status / escalate) in
its own transaction, as the signed-in user, and its log entry says `via: web`. An alert that
cannot take the action (closed, or gone) is skipped and counted, never a reason to undo the
others. The browser then goes back to the page it came from (a local path only) with a notice
of what happened, so a reload repeats nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import structlog
from flask import Response, redirect

from app.alerts.store import Actor
from app.http.api.alerts import InvalidTransition, change_status, escalate
from app.http.api.routing import transaction
from app.http.pages.base import Viewer, local_next
from app.platform.errors import NotFound, invalid

log = structlog.get_logger(__name__)

WEB = {"via": "web"}  # the log entry's meta for an action taken on these pages
ACTIONS = ("acknowledge", "close", "escalate")
_STATUS = {"acknowledge": "acknowledged", "close": "closed"}
MAX_BULK = 100  # alerts one bulk action may name (two pages of the list)
MAX_ID = 9223372036854775807  # alert ids are Postgres bigints


@dataclass(frozen=True)
class Done:
    action: str
    changed: int
    skipped: int


def act_on_many(who: Viewer, action: str, raw_ids: Iterable[str]) -> Done:
    """Take `action` on every alert named; 422 for an unknown action, no alert, too many, or an
    id that is not one."""
    if action not in ACTIONS:
        raise invalid("action", f"must be one of {', '.join(ACTIONS)}")
    ids = _alert_ids(list(raw_ids))
    changed = skipped = 0
    for alert_id in ids:
        if act_on_one(who, action, alert_id):
            changed += 1
        else:
            skipped += 1
    log.info("web_alert_action", action=action, changed=changed, skipped=skipped)
    return Done(action, changed, skipped)


def _alert_ids(raw: list[str]) -> list[int]:
    if not raw:
        raise invalid("alert_id", "select at least one alert")
    if len(raw) > MAX_BULK:
        raise invalid("alert_id", f"at most {MAX_BULK} alerts at once")
    if not all(v.isdigit() and 0 < len(v) < 20 and 0 < int(v) <= MAX_ID for v in raw):
        raise invalid("alert_id", "must be alert ids")
    return sorted({int(v) for v in raw})


def act_on_one(who: Viewer, action: str, alert_id: int) -> bool:
    """Take `action` on one alert; False when it could not (closed, gone) or changed nothing."""
    actor = Actor("user", who.user_id)
    try:
        with transaction() as conn:
            if action == "escalate":
                escalate(conn, alert_id, actor, WEB)
                return True
            return change_status(conn, alert_id, _STATUS[action], actor, WEB)
    except (InvalidTransition, NotFound):
        return False


def back_to(path: str | None, done: Done) -> Response:
    """303 to the local page the form came from, with a notice of what was done."""
    target = local_next(path)
    parts = urlsplit(target)
    kept = "&".join(p for p in parts.query.split("&") if p and not p.startswith(_NOTICE_KEYS))
    notice = urlencode({"did": done.action, "changed": done.changed, "skipped": done.skipped})
    query = f"{kept}&{notice}" if kept else notice
    return redirect(f"{parts.path}?{query}", code=303)  # type: ignore[return-value]


_NOTICE_KEYS = ("did=", "changed=", "skipped=")
_PAST = {"acknowledge": "Acknowledged", "close": "Closed", "escalate": "Escalation requested for"}


def notice(args: Mapping[str, str]) -> str:
    """The sentence a page shows after an action (from fixed words and numbers only)."""
    action, changed, skipped = args.get("did", ""), args.get("changed", ""), args.get("skipped", "")
    if action not in _PAST or not changed.isdigit() or not skipped.isdigit():
        return ""
    plural = "" if changed == "1" else "s"
    text = f"{_PAST[action]} {int(changed)} alert{plural}."
    if skipped != "0":
        text += f" {int(skipped)} skipped (already done, closed or gone)."
    return text
