"""Inbound messages already acted on (`twilio_inbound_messages`), its only writer.

Twilio retries a webhook it got no answer to, and a captured request replays verbatim (its
signature stays valid): each MessageSid is acted on once. Rows older than SEEN_DAYS are pruned
a few at a time by later messages.
"""

from __future__ import annotations

from typing import Any

import psycopg

SEEN_DAYS = 3
_FIRST_SEEN = """
INSERT INTO twilio_inbound_messages (message_sid) VALUES (%s)
ON CONFLICT (message_sid) DO NOTHING RETURNING message_sid
"""
_PRUNE_SEEN = f"""
DELETE FROM twilio_inbound_messages WHERE message_sid IN (
    SELECT message_sid FROM twilio_inbound_messages
    WHERE received_at < now() - interval '{SEEN_DAYS} days'
    ORDER BY received_at LIMIT 100 FOR UPDATE SKIP LOCKED)
"""


def first_seen(conn: psycopg.Connection[Any], sid: str) -> bool:
    """Record `sid`; False when it was recorded before (a concurrent copy waits for ours)."""
    conn.execute(_PRUNE_SEEN)
    return conn.execute(_FIRST_SEEN, (sid,)).fetchone() is not None
