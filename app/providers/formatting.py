"""Per-channel renderings of one Delivery: SMS text, voice TwiML, email parts, Slack blocks.

The delivery job renders `subject` and `text` (complete on their own); this module fits them to
each channel's limits and adds what the channel can do (HTML buttons, Slack buttons, keypad).
"""

from __future__ import annotations

import html
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from app.providers.base import Delivery

# One SMS segment: 160 GSM-7 septets, or 70 UCS-2 characters once any other character appears.
GSM7_SEGMENT = 160
UCS2_SEGMENT = 70
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each
ELLIPSIS = "..."  # GSM-7 has no "…"; three dots keep a truncated SMS in one 160-char segment
SLACK_TEXT_LIMIT = 3000  # characters in one section block's text
SLACK_FALLBACK_LIMIT = 4000  # the notification text; Slack truncates longer messages
VOICE_GATHER_SECONDS = 8  # how long a call waits for a key after the message


def gsm7_length(text: str) -> int | None:
    """Septets `text` needs in GSM-7, or None when it needs UCS-2."""
    length = 0
    for ch in text:
        if ch in _GSM7_BASIC:
            length += 1
        elif ch in _GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def fits_one_segment(text: str) -> bool:
    septets = gsm7_length(text)
    return septets <= GSM7_SEGMENT if septets is not None else len(text) <= UCS2_SEGMENT


def _fit(head: str, variable: str, tail: str) -> str:
    """head + variable + tail, cutting `variable` (with "...") so the whole is one segment
    when that is possible at all; otherwise the whole text (a multi-segment SMS)."""
    whole = f"{head}{variable}{tail}"
    if fits_one_segment(whole):
        return whole
    # No more than a segment's worth of `variable` can survive: bound the search.
    for keep in range(min(len(variable) - 1, GSM7_SEGMENT), -1, -1):
        cut = f"{head}{variable[:keep].rstrip()}{ELLIPSIS}{tail}"
        if fits_one_segment(cut):
            return cut
    return whole


def sms_text(delivery: Delivery) -> str:
    """The SMS body: short, with the reply code for alerts."""
    alert = delivery.alert
    if delivery.kind == "verification":
        return f"Klaxon code: {delivery.code}"
    if delivery.kind == "alert" and alert is not None:
        tail = ""
        if delivery.reply_code is not None:
            code = delivery.reply_code
            tail = f" - reply {code}a to ack, {code}c to close"
        return _fit(f"Klaxon #{alert.id}: ", _one_line(alert.summary), tail)
    if delivery.kind == "status_update" and alert is not None:
        return _fit(f"Klaxon #{alert.id} {delivery.status or alert.status}: ", alert.summary, "")
    return _fit("", _one_line(delivery.text), "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _say(text: str) -> str:
    return f'<Say voice="alice">{xml_escape(text)}</Say>'


def voice_twiml(delivery: Delivery, gather_url: str) -> str:
    """TwiML for a call: alerts read the summary and wait for 4 (acknowledge) or 6 (close)."""
    alert = delivery.alert
    if delivery.kind == "verification":
        digits = ". ".join(delivery.code or "")
        spoken = _say(f"Your Klaxon verification code is: {digits}.") + _say(f"Again: {digits}.")
        return f"<Response>{spoken}</Response>"
    if delivery.kind == "alert" and alert is not None:
        message = (
            f"This is Klaxon. Alert {alert.id} on {alert.service_name}: {alert.summary}. "
            "Press 4 to acknowledge, or 6 to close."
        )
        gather = (
            f'<Gather numDigits="1" timeout="{VOICE_GATHER_SECONDS}" method="POST" '
            f"action={quoteattr(gather_url)}>{_say(message)}</Gather>"
        )
        return f"<Response>{gather}{_say('No key was pressed. Goodbye.')}</Response>"
    if delivery.kind == "status_update" and alert is not None:
        status = delivery.status or alert.status
        text = f"This is Klaxon. Alert {alert.id}, {alert.summary}, is now {status}. Goodbye."
        return f"<Response>{_say(text)}</Response>"
    return f"<Response>{_say('This is Klaxon. ' + delivery.text)}</Response>"


def email_text(delivery: Delivery) -> str:
    """The plain-text part: the rendered text, plus the links unless it already has them."""
    lines = [delivery.text.rstrip()]
    links = delivery.links
    if links is not None and links.acknowledge not in delivery.text:
        lines += ["", f"Acknowledge: {links.acknowledge}", f"Close: {links.close}"]
    lines += ["", "-- ", "Sent by Klaxon"]
    return "\n".join(lines) + "\n"


_BUTTON = (
    '<a href="{href}" style="display:inline-block;padding:10px 18px;margin:0 8px 8px 0;'
    "border-radius:4px;background:{colour};color:#ffffff;text-decoration:none;"
    'font-weight:bold">{label}</a>'
)


def email_html(delivery: Delivery) -> str:
    """The HTML part: everything escaped; the action links as buttons."""
    esc = html.escape
    parts = [f'<h2 style="margin:0 0 12px">{esc(delivery.subject)}</h2>']
    alert = delivery.alert
    if alert is not None:
        parts.append(
            '<table style="border-collapse:collapse;margin-bottom:12px">'
            f'<tr><th align="left">Alert</th><td>#{alert.id}</td></tr>'
            f'<tr><th align="left">Service</th><td>{esc(alert.service_name)}</td></tr>'
            f'<tr><th align="left">Status</th><td>{esc(delivery.status or alert.status)}</td></tr>'
            "</table>"
        )
    parts.append(
        f'<pre style="white-space:pre-wrap;font-family:inherit">{esc(delivery.text)}</pre>'
    )
    links = delivery.links
    if links is not None:
        parts.append(
            "<p>"
            + _BUTTON.format(href=esc(links.acknowledge), colour="#1a7f37", label="Acknowledge")
            + _BUTTON.format(href=esc(links.close), colour="#cf222e", label="Close")
            + "</p>"
        )
    parts.append('<p style="color:#666666;font-size:12px">Sent by Klaxon</p>')
    body = "".join(parts)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif">{body}</body></html>'
    )


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def link_token(url: str) -> str:
    """The signed token at the end of an action link (…/actions/<token>)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def slack_fallback(delivery: Delivery) -> str:
    """The notification text (shown in notifications and by clients without blocks)."""
    return _clip(_slack_escape(delivery.text), SLACK_FALLBACK_LIMIT)


def slack_blocks(delivery: Delivery) -> list[dict[str, Any]]:
    """Summary, details, service; Acknowledge/Close buttons and the plain links."""
    alert = delivery.alert
    if alert is None:
        text = _clip(_slack_escape(delivery.text), SLACK_TEXT_LIMIT)
        return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    status = delivery.status or alert.status
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _clip(f"*{_slack_escape(delivery.subject)}*", SLACK_TEXT_LIMIT),
            },
            "fields": [
                {"type": "mrkdwn", "text": f"*Service*\n{_slack_escape(alert.service_name)}"},
                {"type": "mrkdwn", "text": f"*Status*\n{_slack_escape(status)}"},
            ],
        }
    ]
    if alert.details.strip():
        details = _clip(_slack_escape(alert.details), SLACK_TEXT_LIMIT)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": details}})
    links = delivery.links
    if links is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"klaxon_alert_{alert.id}",
                "elements": [
                    _slack_button(
                        "Acknowledge", "klaxon_acknowledge", links.acknowledge, "primary"
                    ),
                    _slack_button("Close", "klaxon_close", links.close, "danger"),
                ],
            }
        )
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"<{links.acknowledge}|Acknowledge in the browser> · "
                        f"<{links.close}|Close in the browser>",
                    }
                ],
            }
        )
    return blocks


def slack_metadata(delivery: Delivery) -> dict[str, Any]:
    """Slack message metadata: the message's and alert's ids, strings as in the REST API."""
    alert = delivery.alert
    return {
        "event_type": "klaxon_message",
        "event_payload": {
            "message_id": str(delivery.message_id),
            "kind": delivery.kind,
            "alert_id": None if alert is None else str(alert.id),
        },
    }


def _slack_button(label: str, action_id: str, link: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": link_token(link),
        "style": style,
    }
