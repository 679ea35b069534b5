"""How the pages show things: times in the viewer's zone (named), an alert's details as
Markdown without raw HTML, and a log entry as a sentence saying who acted and how."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markdown_it import MarkdownIt
from markupsafe import Markup

# CommonMark with raw HTML off: a sender's `<script>` is shown as text. Links are kept
# (markdown-it refuses javascript:, vbscript:, file: and data: URLs other than images).
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
# The zone a profile has until its user picks one: then the browser's zone is shown instead.
DEFAULT_ZONE = "UTC"


def markdown(text: str) -> Markup:
    """An alert's details (at most 6 KiB, app.alerts.store.MAX_DETAILS) as safe HTML."""
    return Markup(_MARKDOWN.render(text))  # html disabled: every tag in `text` is escaped


def zone_or_default(name: str) -> ZoneInfo:
    """The IANA zone `name`, or DEFAULT_ZONE's when it is unknown (a profile's zone is checked
    when it is set; this guards a page against one the system's zone data no longer has)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def when(moment: datetime | None, zone: str) -> Markup:
    """A <time> element: the moment in the viewer's profile zone, named; with the default zone
    app.js rewrites it into the browser's zone (data-local), naming that one."""
    if moment is None:
        return Markup("—")
    tz = zone_or_default(zone)
    zone = tz.key
    local = moment.astimezone(tz)
    shown = f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or zone}"
    browser = ' data-local="1"' if zone == DEFAULT_ZONE else ""
    return Markup('<time datetime="{}" title="{}"{}>{}</time>').format(
        moment.isoformat(), zone, Markup(browser), shown
    )


# How an action was taken, from the log entry's meta `via` (actions from links, SMS, Slack,
# voice and these pages record it) or, without one, from who acted.
_VIA = {"web": "web", "sms": "SMS", "slack": "Slack", "voice": "voice", "email": "email"}
_EVENTS = {
    "created": "raised",
    "acknowledged": "acknowledged",
    "closed": "closed",
    "escalation_requested": "escalation requested",
    "duplicate_suppressed": "duplicate received",
}


def via(entry: Mapping[str, Any]) -> str:
    """How the actor acted: web, link, SMS, Slack, voice, API or the system."""
    meta = entry.get("meta") or {}
    said = _VIA.get(str(meta.get("via", "")), str(meta.get("via", "")))
    if meta.get("link"):
        return f"{said} link" if said else "link"
    if said:
        return said
    return {"api_key": "API", "integration_key": "integration", "heartbeat": "heartbeat"}.get(
        str(entry.get("actor_type")), ""
    )


def describe(entry: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """One log entry as a sentence: "acknowledged by Ada via web"."""
    event = _EVENTS.get(str(entry["event"]), str(entry["event"]).replace("_", " "))
    if entry["event"] == "duplicate_suppressed":
        count = int((entry.get("meta") or {}).get("count", 1))
        event = f"{event} ({count} time{'' if count == 1 else 's'})"
    actor_type, actor_id = entry.get("actor_type"), entry.get("actor_id")
    who = names.get(str(actor_id), "") if actor_type == "user" else ""
    how = via(entry)
    text = event + (f" by {who}" if who else "") + (f" via {how}" if how else "")
    return text + (f": {entry['message']}" if entry.get("message") else "")
