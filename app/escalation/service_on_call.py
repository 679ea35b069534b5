"""Who a service's escalation policy reaches: per step and target, the users on call at an
instant, and when that next changes. Behind `GET /api/v1/services/<id>/on-call` and the
service page's "on call now and next"."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from app.oncall import resolve

# How far ahead the service page looks for the next handoff: a week covers every weekly
# rotation, and computing shifts costs in proportion to the handoffs in the range.
NEXT_HANDOFF_HORIZON = timedelta(days=7)


def steps_on_call(
    conn: psycopg.Connection[Any], policy: dict[str, Any] | None, at: datetime
) -> list[dict[str, Any]]:
    """The policy's steps, each target with `user_ids` on call at `at` (no policy: none)."""
    if policy is None:
        return []
    return [
        {
            **step,
            "targets": [
                {**t, "user_ids": resolve.target_on_call(conn, t["type"], t["id"], at)}
                for t in step["targets"]
            ],
        }
        for step in policy["steps"]
    ]


def next_handoff(
    conn: psycopg.Connection[Any], policy: dict[str, Any] | None, at: datetime
) -> datetime | None:
    """The soonest moment after `at` (within NEXT_HANDOFF_HORIZON) at which any schedule or
    rotation the policy targets hands over; None when none does."""
    if policy is None:
        return None
    found = [
        resolve.target_next_handoff(conn, t["type"], t["id"], at, NEXT_HANDOFF_HORIZON)
        for step in policy["steps"]
        for t in step["targets"]
    ]
    return min((moment for moment in found if moment is not None), default=None)
