"""Who is told about a shift swap, and the messages that tell them (through the outbox).

When a swap is asked for, taken or withdrawn, a `shift_swap` message goes to:

- the schedule's notice channel (`schedules.notice_channel_id`), if it has one, and
- the schedule's **members**: every user a rule of the schedule names directly, and every
  participant of a rotation a rule names (overrides and temporary schedules do not make a
  member), plus the swap's requester and taker — except whoever did this step (they know).
  At most MAX_MEMBERS people are told. A person is told on each of their verified, enabled
  contact methods of a non-urgent type (email, Slack, webhook): a swap is not worth a call.

The messages are rows of outgoing_messages written in the caller's transaction (delivered by the
worker like on-call notices; nothing is sent inside the request). Each carries the swap's page
URL, and a dedup key per swap, step and destination, so a step is told at most once.
"""

from __future__ import annotations

from typing import Any

import structlog

from app.directory import users
from app.messages import create
from app.oncall import schedules as stored_schedules
from app.oncall.rows import Conn, Row

log = structlog.get_logger(__name__)

KIND = "shift_swap"
EVENTS = ("requested", "taken", "withdrawn")
MAX_MEMBERS = 100
QUIET_TYPES = ("email", "slack", "webhook")  # contact method types a swap is told through

_MEMBERS = """
SELECT user_id::text AS id FROM schedule_rules
WHERE schedule_id = %(sid)s AND user_id IS NOT NULL
UNION
SELECT p.user_id::text FROM schedule_rules r
JOIN rotation_participants p ON p.rotation_id = r.rotation_id
WHERE r.schedule_id = %(sid)s
ORDER BY 1
LIMIT %(limit)s
"""

_METHODS = """
SELECT id::text AS id, user_id::text AS user_id FROM contact_methods
WHERE user_id = ANY(%(ids)s::uuid[]) AND verified_at IS NOT NULL AND NOT disabled
  AND type = ANY(%(types)s)
ORDER BY user_id, created_at, id
"""


def members(conn: Conn, schedule_id: str) -> list[str]:
    """The schedule's members (see the module docstring), sorted, at most MAX_MEMBERS."""
    rows = conn.execute(_MEMBERS, {"sid": schedule_id, "limit": MAX_MEMBERS}).fetchall()
    return [row["id"] for row in rows]


def swap_url(public_url: str, swap: Row) -> str:
    return f"{public_url}/schedules/{swap['schedule_id']}/swaps/{swap['id']}"


def tell(
    conn: Conn, swap: Row, event: str, actor_id: str | None, *, public_url: str, max_attempts: int
) -> list[int]:
    """Queue the `event` message of `swap` to its schedule's channel and members; their ids."""
    schedule = stored_schedules.get_schedule(conn, swap["schedule_id"])
    if schedule is None:
        return []
    people = set(members(conn, swap["schedule_id"]))
    people |= {u for u in (swap["requester_id"], swap["taken_by"]) if u}
    people.discard(actor_id or "")
    payload = _payload(conn, swap, event, schedule, public_url)
    queued: list[int | None] = []
    channel = stored_schedules.notice_channels(conn, [swap["schedule_id"]]).get(swap["schedule_id"])
    if channel is not None:
        queued.append(
            create.to_channel(
                conn, KIND, channel, f"swap:{swap['id']}:{event}:channel:{channel}",
                max_attempts=max_attempts, schedule_id=swap["schedule_id"], payload=payload,
            )
        )  # fmt: skip
    methods = conn.execute(
        _METHODS, {"ids": sorted(people)[:MAX_MEMBERS], "types": list(QUIET_TYPES)}
    )
    for method in methods.fetchall():
        queued.append(
            create.to_contact_method(
                conn, KIND, method["id"], f"swap:{swap['id']}:{event}:cm:{method['id']}",
                max_attempts=max_attempts, payload=payload,
            )
        )  # fmt: skip
    ids = [q for q in queued if q is not None]
    log.info("shift_swap_notice_queued", swap_id=swap["id"], swap_event=event, messages=len(ids))
    return ids


def _payload(conn: Conn, swap: Row, event: str, schedule: Row, public_url: str) -> dict[str, Any]:
    names = users.user_names(conn, [u for u in (swap["requester_id"], swap["taken_by"]) if u])

    def person(user_id: str | None) -> dict[str, Any] | None:
        return None if user_id is None else {"id": user_id, "name": names.get(user_id)}

    return {
        "event": event,
        "swap_id": swap["id"],
        "schedule_id": swap["schedule_id"],
        "schedule_name": schedule["name"],
        "time_zone": schedule["time_zone"],
        "requester": person(swap["requester_id"]),
        "taker": person(swap["taken_by"]),
        "start": swap["start"].isoformat(),
        "end": swap["end"].isoformat(),
        "note": swap["note"],
        "url": swap_url(public_url, swap),
    }
