"""Who is engaged on each alert (`alert_engagements`): its only writer besides the trigger that
deactivates an alert's engagements when it is acknowledged or closed.

The escalation pass engages the users a step reaches; the notification pass moves each
engagement to its next rule; a new notification rule makes its user's active engagements due
again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from app.platform import engine_pass

# Users deleted since the policy was read are skipped by the join, not a failed batch.
_ENGAGE = """
INSERT INTO alert_engagements AS g (alert_id, user_id, seq, engaged_at, active, next_rule_at)
SELECT v.alert_id, u.id, 1, now(), true, now()
FROM unnest(%(alert_ids)s::bigint[], %(user_ids)s::uuid[]) AS v(alert_id, user_id)
JOIN users u ON u.id = v.user_id
ON CONFLICT (alert_id, user_id) DO UPDATE
SET seq = g.seq + 1, engaged_at = now(), active = true, next_rule_at = now()
"""


def engage(conn: psycopg.Connection[Any], pairs: Sequence[tuple[int, str]]) -> None:
    """Engage each (alert id, user id) now, in one statement: seq 1, or seq + 1 for a user
    engaged before (their notification rules fire again); due at once."""
    conn.execute(_ENGAGE, engine_pass.columns(list(pairs), ("alert_ids", "user_ids")))


_RESCHEDULE = """
UPDATE alert_engagements g SET next_rule_at = v.next_rule_at, active = v.active
FROM unnest(%(alert_ids)s::bigint[], %(user_ids)s::uuid[], %(next)s::timestamptz[],
            %(active)s::bool[]) AS v(alert_id, user_id, next_rule_at, active)
WHERE g.alert_id = v.alert_id AND g.user_id = v.user_id
"""

Schedule = tuple[int, str, datetime | None, bool]


def reschedule(conn: psycopg.Connection[Any], rows: Sequence[Schedule]) -> None:
    """Set each (alert id, user id) engagement's next rule time and whether it is still active,
    in one statement."""
    names = ("alert_ids", "user_ids", "next", "active")
    conn.execute(_RESCHEDULE, engine_pass.columns(list(rows), names))


def recheck_user(conn: psycopg.Connection[Any], user_id: str) -> int:
    """Make the user's active engagements due now; how many."""
    return conn.execute(
        "UPDATE alert_engagements SET next_rule_at = now() WHERE user_id = %s AND active",
        (user_id,),
    ).rowcount
