"""Acknowledge/close links: GET /actions/<token> confirms, POST /actions/<token> acts.

A link is a signed, expiring token (app.messages.links) naming one alert and one action. GET (and so
HEAD) only renders a confirmation page and never changes anything: chat apps, mail scanners and
link previewers fetch URLs, and must not acknowledge a page on someone's behalf. The button
POSTs to the same URL.

CSRF: the POST needs no separate CSRF token. What authorises it is the signed token in its URL,
which only the link's recipient has; a forged cross-site POST would have to carry that token,
and whoever has it may act anyway. No cookie or session is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from flask import Blueprint, Response, current_app, render_template

from app.alerts import store
from app.alerts.store import Actor
from app.http.page_headers import PAGE_HEADERS
from app.http.runtime import WebRuntime
from app.messages import links
from app.platform import ratelimit
from app.platform.errors import RETRY_AFTER_SECONDS
from app.platform.pool import Unavailable

log = structlog.get_logger(__name__)

actions_blueprint = Blueprint("actions", __name__, template_folder="templates")

_TARGET = {"acknowledge": "acknowledged", "close": "closed"}
_VERB = {"acknowledge": "Acknowledge", "close": "Close"}


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    message: str = ""
    alert: dict[str, Any] | None = None
    retry_after: int | None = None


def _runtime() -> WebRuntime:
    runtime: WebRuntime = current_app.extensions["klaxon"]
    runtime.start()
    return runtime


def _render(page: Page, template: str = "actions/message.html", **extra: Any) -> Response:
    html = render_template(
        template,
        title=page.title,
        heading=page.title,
        message=page.message,
        alert=page.alert,
        **extra,
    )
    response = Response(html, status=page.status, content_type="text/html; charset=utf-8")
    response.headers.update(PAGE_HEADERS)
    if page.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if page.retry_after is not None:
        response.headers["Retry-After"] = str(page.retry_after)
    return response


def _read(token: str) -> links.ActionLink | Page:
    settings = _runtime().settings
    try:
        return links.read_token(settings.secret_key, token, settings.delivery.link_ttl)
    except links.LinkExpired:
        log.info("action_link_refused", reason="expired")
        return Page(
            410,
            "This link has expired",
            "Acknowledge and close links work for a limited time. Open the alert in Klaxon, "
            "or use a link from a newer notification.",
        )
    except links.LinkInvalid:
        log.info("action_link_refused", reason="invalid")
        limited = ratelimit.failed_credentials("action-link")
        if limited is not None:
            return Page(
                429,
                "Too many invalid links",
                f"Too many invalid links were opened from your address; retry in "
                f"{limited.retry_after} s.",
                retry_after=limited.retry_after,
            )
        return Page(404, "This link is not valid", "Check that the whole link was copied.")


def _unavailable() -> Response:
    return _render(
        Page(503, "Klaxon is temporarily unavailable", "Nothing was changed. Try again shortly.")
    )


@actions_blueprint.get("/actions/<token>")
def confirm(token: str) -> Response:
    """The confirmation page. Never changes state (GET and HEAD)."""
    link = _read(token)
    if isinstance(link, Page):
        return _render(link)
    try:
        with _runtime().db.autocommit() as conn:
            alert = store.alert_card(conn, link.alert_id)
    except Unavailable:
        return _unavailable()
    if alert is None:
        return _render(Page(404, "This alert no longer exists"))
    done = _already(link.action, alert)
    if done is not None:
        return _render(Page(200, done, alert=alert))
    title = f"{_VERB[link.action]} alert #{alert['id']}?"
    return _render(
        Page(200, title, alert=alert),
        "actions/confirm.html",
        action=link.action,
        button=f"{_VERB[link.action]} alert",
    )


@actions_blueprint.post("/actions/<token>")
def act(token: str) -> Response:
    """Acknowledge or close the link's alert, as the link's recipient, and say what happened."""
    link = _read(token)
    if isinstance(link, Page):
        return _render(link)
    actor = Actor("user", link.user_id) if link.user_id else Actor("system")
    try:
        with _runtime().db.transaction() as conn:
            changed = store.set_status(
                conn, link.alert_id, _TARGET[link.action], actor, {"via": link.via, "link": True}
            )
            alert = store.alert_card(conn, link.alert_id)
    except Unavailable:
        return _unavailable()
    page = _outcome(link, changed, alert)
    log.info(
        "action_link_used",
        alert_id=link.alert_id,
        action=link.action,
        via=link.via,
        user_id=link.user_id,
        changed=changed,
        status=page.status,
    )
    return _render(page)


def _outcome(link: links.ActionLink, changed: bool, alert: dict[str, Any] | None) -> Page:
    if alert is None:
        return Page(404, "This alert no longer exists")
    if changed:
        return Page(200, f"Alert #{alert['id']} {_TARGET[link.action]}", alert=alert)
    if link.action == "acknowledge" and alert["status"] == "closed":
        return Page(409, f"Alert #{alert['id']} is already closed", "There is nothing to "
                    "acknowledge: a closed alert stays closed.", alert)  # fmt: skip
    return Page(200, _already(link.action, alert) or "Nothing to do", alert=alert)


def _already(action: str, alert: dict[str, Any]) -> str | None:
    """The title saying the action is moot for the alert's status, or None if it is not."""
    status = alert["status"]
    if status == "closed":
        return f"Alert #{alert['id']} is already closed"
    if action == "acknowledge" and status == "acknowledged":
        return f"Alert #{alert['id']} is already acknowledged"
    return None
