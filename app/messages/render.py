"""Turn a claimed message row (app.messages.store.claim) into a provider-ready Delivery.

Subject and plain text are complete on their own for every kind (an SMS or a push shows only
them); alert messages carry signed acknowledge/close links for their recipient and channel,
and SMS alerts a reply code ("reply 1a to acknowledge").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

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


def _person(user: Any) -> str:
    if isinstance(user, Mapping):
        return str(user.get("name") or user.get("id") or "?")
    return str(user)


def _extra(row: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    if row["kind"] == "oncall_notice":
        return {"schedule_id": row["schedule_id"], "users": list(payload.get("users") or [])}
    return {}


_TEXT: dict[
    str, Callable[[Mapping[str, Any], AlertView | None, Mapping[str, Any]], tuple[str, str]]
] = {
    "alert": _alert_text,
    "status_update": _status_text,
    "verification": _verification_text,
    "test": _test_text,
    "oncall_notice": _oncall_text,
}
