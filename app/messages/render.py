"""Turn a claimed message row (app.messages.store.claim) into a provider-ready Delivery.

Subject and plain text are complete on their own for every kind (an SMS or a push shows only
them); alert messages carry signed acknowledge/close links for their recipient and channel,
and SMS alerts a reply code ("reply 1a to acknowledge").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.messages.links import ActionLink, action_url
from app.providers.base import AlertView, Delivery, Links
from config.settings import Settings

SUMMARY_IN_SUBJECT = 120  # characters of the alert summary a subject line carries
DETAILS_IN_TEXT = 1500  # characters of alert details in a plain-text body (SMS bodies are cut
# shorter by the Twilio provider itself)

# Allocates the SMS reply code of (contact method, alert); app.messages.reply_codes.allocate
# bound to a connection.
ReplyCodes = Callable[[str, int], int]


def render(settings: Settings, row: Mapping[str, Any], reply_code: ReplyCodes | None) -> Delivery:
    """The Delivery for one claimed row. `reply_code` is used for SMS alert messages only."""
    alert = _alert_view(row)
    kind = str(row["kind"])
    payload = row["payload"] or {}
    links = _links(settings, row, alert) if kind in ("alert", "status_update") else None
    code = None
    if kind == "alert" and row["dest_type"] == "sms" and alert and reply_code is not None:
        code = reply_code(str(row["contact_method_id"]), alert.id)
    subject, text = _TEXT[kind](row, alert, payload)
    if links is not None:
        text += f"\n\nAcknowledge: {links.acknowledge}\nClose: {links.close}"
    if code is not None:
        text += f"\n\nReply {code}a to acknowledge, {code}c to close."
    return Delivery(
        message_id=int(row["id"]),
        kind=kind,
        dest_type=str(row["dest_type"]),
        address=str(row["address"]),
        subject=subject,
        text=text,
        attempt=int(row["attempts"]),
        signing_secret=row["signing_secret"],
        alert=alert,
        status=payload.get("status") if kind == "status_update" else None,
        code=str(payload["code"]) if kind == "verification" and "code" in payload else None,
        links=links,
        reply_code=code,
        extra=_extra(row, payload),
    )


def _alert_view(row: Mapping[str, Any]) -> AlertView | None:
    if row["alert_id"] is None or row["summary"] is None:
        return None
    return AlertView(
        id=int(row["alert_id"]),
        summary=str(row["summary"]),
        details=str(row["details"] or ""),
        status=str(row["alert_status"]),
        service_id=str(row["service_id"]),
        service_name=str(row["service_name"]),
        created_at=row["alert_created_at"],
    )


def _links(settings: Settings, row: Mapping[str, Any], alert: AlertView | None) -> Links | None:
    """Signed links, unless there is nothing left to act on (the alert is closed)."""
    if alert is None or alert.status == "closed":
        return None
    via = str(row["dest_type"])

    def url(action: str) -> str:
        return action_url(settings, ActionLink(alert.id, action, row["user_id"], via=via))

    return Links(acknowledge=url("acknowledge"), close=url("close"))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _alert_text(
    row: Mapping[str, Any], alert: AlertView | None, _payload: Mapping[str, Any]
) -> tuple[str, str]:
    if alert is None:
        return "[Klaxon] Alert", "An alert needs your attention."
    subject = f"[Klaxon] Alert #{alert.id}: {_short(alert.summary, SUMMARY_IN_SUBJECT)}"
    text = f"Alert #{alert.id} on {alert.service_name}: {alert.summary}"
    if alert.details:
        text += f"\n\n{_short(alert.details, DETAILS_IN_TEXT)}"
    return subject, text


def _status_text(
    row: Mapping[str, Any], alert: AlertView | None, payload: Mapping[str, Any]
) -> tuple[str, str]:
    status = str(payload.get("status") or (alert.status if alert else "updated"))
    if alert is None:
        return f"[Klaxon] Alert {status}", f"An alert you were paged about was {status}."
    subject = f"[Klaxon] Alert #{alert.id} {status}: {_short(alert.summary, SUMMARY_IN_SUBJECT)}"
    text = f"Alert #{alert.id} on {alert.service_name} was {status}: {alert.summary}"
    actor = payload.get("by")
    if actor:
        text += f"\n{status.capitalize()} by {actor}."
    return subject, text


def _verification_text(
    row: Mapping[str, Any], _alert: AlertView | None, payload: Mapping[str, Any]
) -> tuple[str, str]:
    code = payload.get("code", "")
    return (
        f"[Klaxon] Verification code {code}",
        f"Your Klaxon verification code for {row['dest_name']} is {code}.",
    )


def _test_text(
    row: Mapping[str, Any], _alert: AlertView | None, _payload: Mapping[str, Any]
) -> tuple[str, str]:
    return (
        "[Klaxon] Test message",
        f"This is a test message from Klaxon to {row['dest_name']}. It works.",
    )


def _oncall_text(
    row: Mapping[str, Any], _alert: AlertView | None, payload: Mapping[str, Any]
) -> tuple[str, str]:
    schedule = row["schedule_name"] or "a schedule"
    names = [_person(u) for u in payload.get("users") or []]
    who = ", ".join(names) if names else "nobody"
    return f"[Klaxon] On call for {schedule}: {who}", f"Now on call for {schedule}: {who}."


_SWAP_SUBJECTS = {
    "requested": "Cover wanted",
    "taken": "Cover found",
    "withdrawn": "Cover no longer wanted",
}


def _swap_text(
    row: Mapping[str, Any], _alert: AlertView | None, payload: Mapping[str, Any]
) -> tuple[str, str]:
    """A shift swap asked for, taken or withdrawn (app.oncall.swap_notices), with its link."""
    event = str(payload.get("event") or "requested")
    schedule = payload.get("schedule_name") or row["schedule_name"] or "a schedule"
    requester = _person(payload.get("requester") or "someone")
    span = _span(payload)
    subject = f"[Klaxon] {_SWAP_SUBJECTS.get(event, 'Shift swap')} for {schedule}: {span}"
    text = {
        "requested": f"{requester} asks for cover in {schedule}, {span}.",
        "taken": f"{_person(payload.get('taker') or 'someone')} covers {requester} in "
        f"{schedule}, {span}.",
        "withdrawn": f"{requester} no longer needs cover in {schedule}, {span}.",
    }.get(event, f"A shift swap in {schedule}, {span}.")
    if event == "requested" and payload.get("note"):
        text += f"\n\n{_short(str(payload['note']), DETAILS_IN_TEXT)}"
    return subject, text + f"\n\n{payload.get('url', '')}"


def _span(payload: Mapping[str, Any]) -> str:
    """The swap's span in its schedule's zone, named (recipients' own zones are not known)."""
    try:
        tz = ZoneInfo(str(payload.get("time_zone") or "UTC"))
        start = datetime.fromisoformat(str(payload["start"])).astimezone(tz)
        end = datetime.fromisoformat(str(payload["end"])).astimezone(tz)
    except (KeyError, ValueError, ZoneInfoNotFoundError):
        return "a stretch of a shift"
    shown_end = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"{start:%Y-%m-%d %H:%M} to {shown_end} {end.tzname() or tz.key}"


def _person(user: Any) -> str:
    if isinstance(user, Mapping):
        return str(user.get("name") or user.get("id") or "?")
    return str(user)


def _extra(row: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    if row["kind"] == "oncall_notice":
        return {"schedule_id": row["schedule_id"], "users": list(payload.get("users") or [])}
    if row["kind"] == "shift_swap":
        return {key: payload.get(key) for key in ("event", "swap_id", "schedule_id", "url")}
    return {}


_TEXT: dict[
    str, Callable[[Mapping[str, Any], AlertView | None, Mapping[str, Any]], tuple[str, str]]
] = {
    "alert": _alert_text,
    "status_update": _status_text,
    "verification": _verification_text,
    "test": _test_text,
    "oncall_notice": _oncall_text,
    "shift_swap": _swap_text,
}
