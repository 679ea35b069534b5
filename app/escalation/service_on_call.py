"""Who a service's escalation policy reaches now and at its next handoff: the service page's
"on call now and next" (who is on call is on_call_now's computation, as for the API)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from app.escalation import on_call_now
from app.oncall import resolve

# How far ahead the service page looks for the next handoff: a week covers every weekly
# rotation, and computing shifts costs in proportion to the handoffs in the range.
NEXT_HANDOFF_HORIZON = timedelta(days=7)


def steps_on_call(
    conn: psycopg.Connection[Any], policy: dict[str, Any] | None, at: datetime
) -> list[dict[str, Any]]:
    """The policy's steps, each target with `user_ids` on call at `at` (no policy: none)."""
    return [] if policy is None else on_call_now.policy_on_call(conn, policy, at)


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
