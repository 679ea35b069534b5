"""Slack interactivity: the Acknowledge/Close buttons of Klaxon's Slack messages.

POST /api/v2/slack/actions is the app's "Interactivity Request URL". Slack signs each request:
`X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<X-Slack-Request-Timestamp>:<raw body>">`, keyed
with the app's signing secret (SLACK_SIGNING_SECRET). A wrong signature or a timestamp more
than five minutes away is a 403 (a replayed request); no signing secret configured is a 404.
Both are decided from the headers, before the body is read.

A button's `value` is an app.messages.links token, so a button acts exactly like the link in an
email: on one alert, with one action, for a limited time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import parse_qs

import structlog
from flask import Blueprint, Response, current_app, jsonify, request

from app.alerts import store
from app.alerts.store import Actor
from app.http.runtime import WebRuntime
from app.messages import links
from app.platform import json_input
from app.platform.errors import BadRequest, Forbidden, NotFound

log = structlog.get_logger(__name__)

slack_blueprint = Blueprint("slack", __name__)

ACTIONS_PATH = "/api/v2/slack/actions"
MAX_SKEW_SECONDS = 300  # Slack's advice: refuse requests older than five minutes (replays)
ACTION_IDS = {"klaxon_acknowledge": "acknowledge", "klaxon_close": "close"}
_STATUS = {"acknowledge": "acknowledged", "close": "closed"}
_VERB = {"acknowledge": "Acknowledged", "close": "Closed"}


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value Slack sends for `body` at `timestamp`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _runtime() -> WebRuntime:
    runtime: WebRuntime = current_app.extensions["klaxon"]
    runtime.start()
    return runtime


def _configured(runtime: WebRuntime) -> str:
    """The signing secret (404 when Slack interactivity is not configured)."""
    slack = runtime.settings.delivery.slack
    if slack is None or not slack.signing_secret:
        raise NotFound("Slack interactivity is not configured (set SLACK_SIGNING_SECRET)")
    return slack.signing_secret


def _fresh_timestamp() -> str:
    """The request's timestamp, if within MAX_SKEW_SECONDS of now (403 otherwise)."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        skew = float("inf")
    if skew > MAX_SKEW_SECONDS:
        log.warning("slack_request_rejected", reason="timestamp")
        raise Forbidden("X-Slack-Request-Timestamp is missing or more than 5 minutes off")
    return timestamp


def _verify_signature(secret: str, timestamp: str, body: bytes) -> None:
    given = request.headers.get("X-Slack-Signature", "")
    expected = slack_signature(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        log.warning("slack_request_rejected", reason="signature")
        raise Forbidden("X-Slack-Signature does not match; check SLACK_SIGNING_SECRET")


def _payload(body: bytes) -> dict[str, Any]:
    try:
        raw = parse_qs(body.decode("utf-8"), strict_parsing=False).get("payload", [""])[0]
        payload = json_input.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest.field("payload", "must be the JSON Slack sends") from exc
    if not isinstance(payload, dict):
        raise BadRequest.field("payload", "must be a JSON object")
    return payload


def _reply(text: str, ephemeral: bool = False) -> Response:
    body: dict[str, Any] = {"text": text, "replace_original": False}
    if ephemeral:
        body["response_type"] = "ephemeral"
    return jsonify(body)


@slack_blueprint.post(ACTIONS_PATH)
def actions() -> Response:
    """A button press in Slack; the JSON answer is what Slack shows back."""
    runtime = _runtime()
    # Configuration and the replay window are decided from the headers alone; only then is
    # the body (at most 16 KiB, app.platform.body_limits) read and its signature checked.
    secret = _configured(runtime)
    timestamp = _fresh_timestamp()
    body = request.get_data(cache=True)
    _verify_signature(secret, timestamp, body)
    payload = _payload(body)
    user = payload.get("user")
    slack_user = str(user.get("id") or "") if isinstance(user, dict) else ""
    actions = payload.get("actions")
    pressed = [
        a
        for a in (actions if isinstance(actions, list) else [])
        if isinstance(a, dict) and a.get("action_id") in ACTION_IDS
    ]
    if payload.get("type") != "block_actions" or not pressed:
        return Response(status=200)  # an interaction that is not ours to handle
    action = pressed[0]
    return _act(runtime, ACTION_IDS[action["action_id"]], str(action.get("value", "")), slack_user)


def _act(runtime: WebRuntime, wanted: str, token: str, slack_user: str) -> Response:
    settings = runtime.settings
    try:
        link = links.read_token(settings.secret_key, token, settings.delivery.link_ttl)
    except links.LinkExpired:
        log.info("slack_action_refused", reason="expired", slack_user=slack_user)
        return _reply("This Klaxon button has expired; open the alert in Klaxon instead.", True)
    except links.LinkInvalid:
        link = None
    if link is None or link.action != wanted:
        log.warning("slack_action_refused", reason="invalid", slack_user=slack_user)
        return _reply("This Klaxon button is not valid.", True)
    actor = Actor("user", link.user_id or slack_user or None)
    meta = {"via": "slack", "slack_user": slack_user}
    with runtime.db.transaction() as conn:
        changed = store.set_status(conn, link.alert_id, _STATUS[link.action], actor, meta)
        status = store.alert_status(conn, link.alert_id)
    log.info(
        "slack_action_used",
        alert_id=link.alert_id,
        action=link.action,
        slack_user=slack_user,
        changed=changed,
    )
    if status is None:
        return _reply(f"Alert #{link.alert_id} no longer exists.", True)
    if changed:
        return _reply(f"{_VERB[link.action]} by <@{slack_user}>")
    return _reply(f"Alert #{link.alert_id} is already {status}.", True)
