"""SMS reply codes: the short number an SMS names an alert by ("reply 1a to acknowledge").

Alert ids grow long; a code per (contact method, alert) stays one to three digits (GoAlert's
scheme). A code is held while its alert is open. A closed alert keeps its row — so a late
"1a" can be answered "alert 1 is already closed" — until its code is the smallest free one
and is handed to a new alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

MAX_CODE = 999  # the schema's CHECK (code BETWEEN 1 AND 999)


class CodesExhausted(Exception):
    """Every code 1..999 of this contact method is held by an open alert."""


# Serialises allocation per contact method until the caller's transaction ends: two messages to
# the same number rendered at once must not both pick the same free code.
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('klaxon.sms_reply_codes:' || %s, 0))"

_EXISTING = "SELECT code FROM sms_reply_codes WHERE contact_method_id = %s AND alert_id = %s"

# The smallest code not held by an open alert (a closed alert's code is free for reuse).
_SMALLEST_FREE = """
SELECT c AS code FROM generate_series(1, %(max)s) AS c
WHERE NOT EXISTS (
    SELECT 1 FROM sms_reply_codes r JOIN alerts a ON a.id = r.alert_id
    WHERE r.contact_method_id = %(cm)s AND r.code = c AND a.status <> 'closed'
)
ORDER BY c LIMIT 1
"""

# Two statements: a data-modifying CTE's DELETE is not visible to the INSERT's unique check.
_FREE = "DELETE FROM sms_reply_codes WHERE contact_method_id = %(cm)s AND code = %(code)s"
_TAKE = """
INSERT INTO sms_reply_codes (contact_method_id, code, alert_id)
VALUES (%(cm)s, %(code)s, %(alert)s)
"""


def allocate(conn: psycopg.Connection[Any], contact_method_id: str, alert_id: int) -> int:
    """The reply code for `alert_id` on this contact method, allocating one if needed.

    Reuses the pair's row; otherwise takes the smallest code not held by an open alert,
    replacing a closed alert's row if one holds it. Safe under concurrency (an advisory lock
    per contact method held to the end of the caller's transaction). Raises CodesExhausted
    when 999 open alerts hold every code.
    """
    with conn.transaction():  # a savepoint inside the caller's transaction, or its own one
        conn.execute(_LOCK, (str(contact_method_id),))
        row = conn.execute(_EXISTING, (contact_method_id, alert_id)).fetchone()
        if row is not None:
            return int(_first(row, "code"))
        free = conn.execute(_SMALLEST_FREE, {"max": MAX_CODE, "cm": contact_method_id}).fetchone()
        if free is None:
            raise CodesExhausted(
                f"contact method {contact_method_id}: all {MAX_CODE} SMS reply codes are held "
                "by open alerts; close some alerts"
            )
        code = int(_first(free, "code"))
        conn.execute(_FREE, {"cm": contact_method_id, "code": code})
        conn.execute(_TAKE, {"cm": contact_method_id, "code": code, "alert": alert_id})
        return code


def lookup(conn: psycopg.Connection[Any], contact_method_id: str, code: int) -> int | None:
    """The alert this contact method was sent as `code`, or None."""
    if not 1 <= code <= MAX_CODE:
        return None
    row = conn.execute(
        "SELECT alert_id FROM sms_reply_codes WHERE contact_method_id = %s AND code = %s",
        (contact_method_id, code),
    ).fetchone()
    return None if row is None else int(_first(row, "alert_id"))


def _first(row: Any, name: str) -> Any:
    """Column `name` of a dict row, or column 0 of a tuple row (callers use either)."""
    return row[name] if isinstance(row, Mapping) else row[0]
