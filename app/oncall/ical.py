"""iCalendar (RFC 5545) feeds of on-call shifts, for calendar clients' subscriptions.

One VEVENT per shift, times in UTC. A schedule's feed names the person on call in each event's
SUMMARY ("On call: Ada Lovelace", the schedule in DESCRIPTION); a user's own feed names the
schedule instead ("On call: Payments"), since every event there is theirs. A shift's UID is
derived from what identifies it (schedule, user, start), so a client refreshing the feed updates
events rather than duplicating them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from icalendar import Calendar, Event

from app.oncall.model import Shift

PRODID = "-//Klaxon//On-call schedules//EN"
UID_DOMAIN = "klaxon.oncall"


@dataclass(frozen=True)
class FeedShift:
    """A shift of a named schedule, as the feed shows it; `user_name` set: name the person."""

    schedule_id: str
    schedule_name: str
    shift: Shift
    user_name: str | None = None


def shift_uid(schedule_id: str, shift: Shift) -> str:
    """A stable UID for this shift: the same shift always gets the same one."""
    key = f"{schedule_id}|{shift.user_id}|{shift.start.astimezone(UTC).isoformat()}"
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@{UID_DOMAIN}"


def build_calendar(name: str, shifts: Iterable[FeedShift], stamp: datetime) -> bytes:
    """The .ics text of a calendar called `name` with one event per shift."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    for item in shifts:
        calendar.add_component(_event(item, stamp))
    return bytes(calendar.to_ical())


def _event(item: FeedShift, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", shift_uid(item.schedule_id, item.shift))
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", item.shift.start.astimezone(UTC))
    event.add("dtend", item.shift.end.astimezone(UTC))
    if item.user_name is None:
        event.add("summary", f"On call: {item.schedule_name}")
    else:
        event.add("summary", f"On call: {item.user_name}")
        event.add("description", f"Schedule: {item.schedule_name}")
    return event
