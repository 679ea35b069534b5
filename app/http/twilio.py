"""Twilio's webhooks: inbound SMS replies, message/call status callbacks, voice keypad presses.

Every request must carry a valid `X-Twilio-Signature` over the public URL (KLAXON_PUBLIC_URL +
path + query) and its POST parameters, keyed with TWILIO_AUTH_TOKEN: 403 otherwise, 404 when
Twilio is not configured at all. Answers are TwiML (application/xml).

- POST /api/v2/twilio/sms: `1a` acknowledges, `1c` closes the alert this number was sent as
  code 1; STOP/START/HELP keywords.
- POST /api/v2/twilio/status: MessageStatus/CallStatus callbacks move a sent message to
  delivered or failed (by its provider message id, Twilio's SID).
- POST /api/v2/twilio/voice?message_id=<id>: the keypad (<Gather> action) of a voice page:
  4 acknowledges, 6 closes the message's alert.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

import psycopg
import structlog
from flask import Blueprint, Response, current_app, request

from app.alerts import store
from app.alerts.store import Actor
from app.contacts import contact_methods
from app.http.runtime import WebRuntime
from app.http.twilio_signature import HEADER, is_valid
from app.messages import inbound, reply_codes, sms_replies
from app.messages import store as messages_store
from app.messages.sms_replies import XML_DECLARATION, Command
from app.platform.errors import Forbidden, NotFound

log = structlog.get_logger(__name__)

twilio_blueprint = Blueprint("twilio", __name__)

TWIML = "application/xml"
SMS_PATH = "/api/v2/twilio/sms"
STATUS_PATH = "/api/v2/twilio/status"
VOICE_PATH = "/api/v2/twilio/voice"  # ?message_id=<id>

_STATUS = {"acknowledge": "acknowledged", "close": "closed"}


def _runtime() -> WebRuntime:
    runtime: WebRuntime = current_app.extensions["klaxon"]
    runtime.start()
    return runtime


def _verify() -> WebRuntime:
    """This request came from Twilio (NotFound / Forbidden otherwise)."""
    runtime = _runtime()
    twilio = runtime.settings.delivery.twilio
    if twilio is None:
        raise NotFound("Twilio is not configured (set TWILIO_ACCOUNT_SID and friends)")
    url = runtime.settings.public_url + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    params = list(request.form.items(multi=True))
    if not is_valid(twilio.auth_token, url, params, request.headers.get(HEADER)):
        log.warning("twilio_signature_rejected", path=request.path, signed_url=url)
        raise Forbidden(
            f"{HEADER} is missing or does not match; Twilio must call {url} "
            "(KLAXON_PUBLIC_URL + path) and TWILIO_AUTH_TOKEN must be this account's"
        )
    return runtime


def _twiml(body: str) -> Response:
    return Response(body, status=200, content_type=TWIML)


# ------------------------------------------------------------------------------ inbound SMS

MAX_SID = 64  # Twilio's SIDs are 34 characters


@twilio_blueprint.post(SMS_PATH)
def sms() -> Response:
    """An SMS someone sent to our Twilio number; the TwiML answer is our reply to them. A
    MessageSid seen before (a retry, a replay: app.messages.inbound) is answered with nothing and
    changes nothing."""
    runtime = _verify()
    sender = request.form.get("From", "")
    sid = request.form.get("MessageSid", "")[:MAX_SID]
    command = sms_replies.parse(request.form.get("Body", ""))
    with runtime.db.transaction() as conn:
        if sid and not inbound.first_seen(conn, sid):
            log.info("sms_replay_ignored", command=command.kind)
            return _twiml(sms_replies.twiml_message(None))
        reply = _answer(conn, sender, command)
    return _twiml(sms_replies.twiml_message(reply))


def _answer(conn: psycopg.Connection[Any], sender: str, command: Command) -> str | None:
    if command.kind == "help":
        return sms_replies.HELP_TEXT
    if command.kind == "stop":
        stopped = contact_methods.stop_number(conn, sender)
        log.info("sms_stop_received", contact_methods=stopped)
        return None  # Twilio confirms STOP itself and blocks any reply of ours
    method = contact_methods.sms_method_for_number(conn, sender)
    if method is None:
        log.info("sms_from_unknown_number", command=command.kind)
        return sms_replies.UNKNOWN_NUMBER
    structlog.contextvars.bind_contextvars(contact_method_id=method["id"])
    if command.kind == "start":
        started = contact_methods.restart_number(conn, sender)
        log.info("sms_start_received", contact_methods=started)
        return sms_replies.RESTARTED
    if command.kind == "unknown":
        log.info("sms_reply_not_understood")
        return sms_replies.not_understood()
    return _act_on_code(conn, method, command)


def _act_on_code(conn: psycopg.Connection[Any], method: dict[str, Any], command: Command) -> str:
    assert command.code is not None and command.action is not None
    alert_id = reply_codes.lookup(conn, method["id"], command.code)
    if alert_id is None:
        log.info("sms_reply_unknown_code", code=command.code)
        return sms_replies.no_such_code(command.code)
    actor = Actor("user", method["user_id"])
    meta = {"via": "sms", "contact_method_id": method["id"]}
    changed = store.set_status(conn, alert_id, _STATUS[command.action], actor, meta)
    alert = store.alert_card(conn, alert_id)
    assert alert is not None  # a reply code row goes with its alert (ON DELETE CASCADE)
    log.info("sms_reply_acted", alert_id=alert_id, action=command.action, changed=changed)
    if changed:
        return sms_replies.done(command.code, alert_id, command.action, alert["summary"])
    return sms_replies.already(command.code, alert_id, alert["status"])


# ------------------------------------------------------------------------- status callbacks

DELIVERED = frozenset({"delivered", "completed"})
# A call that was not answered is as undelivered as an SMS the carrier refused.
FAILED = frozenset({"failed", "undelivered", "busy", "no-answer", "canceled"})


@twilio_blueprint.post(STATUS_PATH)
def status_callback() -> Response:
    """Twilio reports what became of a message or call we sent."""
    runtime = _verify()
    form = request.form
    if form.get("MessageStatus"):
        sid, state = form.get("MessageSid", ""), form["MessageStatus"].lower()
    else:
        sid, state = form.get("CallSid", ""), form.get("CallStatus", "").lower()
    if not sid or state not in DELIVERED | FAILED:
        return Response(status=204)  # queued, ringing, in-progress…: nothing to record
    error = f"twilio: {state}"
    if form.get("ErrorCode"):
        error += f" (error {form['ErrorCode']})"
    with runtime.db.transaction() as conn:
        if state in DELIVERED:
            message_ids = messages_store.provider_delivered(conn, "twilio", sid)
        else:
            message_ids = messages_store.provider_failed(conn, "twilio", sid, error)
    log.info(
        "twilio_status_recorded",
        provider_message_id=sid,
        state=state,
        message_ids=message_ids,
    )
    return Response(status=204)


# -------------------------------------------------------------------------------- voice keypad

VOICE_DIGITS = {"4": "acknowledge", "6": "close"}
PROMPT = "Press 4 to acknowledge, or 6 to close this alert."


@twilio_blueprint.post(VOICE_PATH)
def voice() -> Response:
    """A keypad press during a voice page (the <Gather> action)."""
    runtime = _verify()
    try:
        message_id = int(request.args.get("message_id", ""))
    except ValueError:
        return _twiml(_say("Sorry, this call cannot be answered. Goodbye."))
    digits = request.form.get("Digits", "")
    action = VOICE_DIGITS.get(digits)
    with runtime.db.transaction() as conn:
        message = messages_store.twilio_alert_message(conn, message_id)
        if message is None:
            return _twiml(_say("Sorry, this alert no longer exists. Goodbye."))
        if action is None:
            return _twiml(_reprompt(runtime, message_id, request.args.get("retry") == "1"))
        actor = Actor("user", message["user_id"]) if message["user_id"] else Actor("system")
        meta = {
            "via": "voice",
            "contact_method_id": message["cm_id"],
            "message_id": str(message_id),
        }
        changed = store.set_status(conn, message["alert_id"], _STATUS[action], actor, meta)
        current = store.alert_status(conn, message["alert_id"])
    log.info("voice_keypad_acted", alert_id=message["alert_id"], action=action, changed=changed)
    status = current or "gone"
    if changed:
        return _twiml(_say(f"Alert {message['alert_id']} {_STATUS[action]}. Goodbye."))
    return _twiml(_say(f"Alert {message['alert_id']} is already {status}. Goodbye."))


def _say(text: str) -> str:
    return f"{XML_DECLARATION}<Response><Say>{escape(text)}</Say><Hangup/></Response>"


def _reprompt(runtime: WebRuntime, message_id: int, retried: bool) -> str:
    """Ask once more for a valid key; after a second miss, say goodbye."""
    if retried:
        return _say("No valid key was pressed. Goodbye.")
    action = f"{runtime.settings.public_url}{VOICE_PATH}?message_id={message_id}&retry=1"
    return (
        f"{XML_DECLARATION}<Response>"
        f'<Gather numDigits="1" timeout="10" method="POST" action={quoteattr(action)}>'
        f"<Say>That key is not an option. {escape(PROMPT)}</Say></Gather>"
        "<Say>No key was pressed. Goodbye.</Say><Hangup/></Response>"
    )
