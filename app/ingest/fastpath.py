"""The hot path: one alert raised with one integration key, in one statement and one round trip.

The general path (`events.apply` inside `Database.transaction`) costs four round trips: BEGIN,
the key lookup, the upsert, COMMIT. A generic-API trigger — by far the most common request —
needs none of that ceremony: this statement verifies the key, upserts the alert, logs, sends
NOTIFY and commits, all in one autocommit statement, composed of the fragments the tables'
owners export. It writes exactly what `integration_keys.verify_integration_key` followed by
`store.raise_alert` would (tested side by side).

Two choices, on purpose:
- The secret is compared as a SHA-256 digest inside Postgres, not with hmac.compare_digest: a
  timing difference can only reveal how many leading bytes of a *digest* match, which says
  nothing about a 192-bit secret (preimage resistance); the row is found by the key's id.
- A duplicate commits with synchronous_commit off. Every duplicate hits the same open alert's
  row and holds its lock until commit; waiting for the WAL flush under that lock serialized
  repeats at one disk flush each. A crash can lose the last fraction of a second of duplicate
  counts — never an alert: a new alert, a close or an acknowledgement is flushed before 2xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from app.alerts import log as alert_logs
from app.alerts import store
from app.directory import integration_keys
from app.ingest.events import Event
from app.platform import tokens
from app.platform.sql_fragments import EVENTS_CHANNEL

# The alert the key's service raises, when the key is of the route's type.
_KEYS_ALERT = """SELECT service_id, %(summary)s, %(details)s, %(dedup_key)s, type
    FROM key WHERE type = %(key_type)s"""

_RAISE_WITH_KEY = f"""
WITH key AS (
    SELECT id, service_id, type, last_used_at FROM integration_keys
    WHERE id = %(key_id)s AND revoked_at IS NULL AND secret_hash = %(secret_hash)s
), used AS (
    {integration_keys.mark_used_sql("SELECT id FROM key WHERE type = %(key_type)s")}
), upsert AS (
{store.upsert_sql(_KEYS_ALERT)}
), {alert_logs.raise_logs("'integration_key'", "%(key_id)s::text", "%(meta)s")}
SELECT upsert.id AS alert_id, k.service_id::text AS service_id, upsert.is_new,
       {alert_logs.RECOUNT_COLUMNS},
       pg_notify('{EVENTS_CHANNEL}', json_build_object(
           'alert_id', upsert.id,
           'event', CASE WHEN upsert.is_new THEN 'created' ELSE 'duplicate' END)::text),
       CASE WHEN NOT upsert.is_new THEN set_config('synchronous_commit', 'off', true) END
FROM key k JOIN upsert ON upsert.service_id = k.service_id
"""


@dataclass(frozen=True)
class Raised:
    alert_id: int
    service_id: str
    is_new: bool


def raise_with_key(
    conn: psycopg.Connection[Any], token: str, key_type: str, event: Event
) -> Raised | None:
    """Raise `event` (a trigger) for the key `token` proves, if it is live and of `key_type`.

    None when it is not (unknown, wrong secret, revoked, other type): nothing was written.
    `conn` must be in autocommit mode, so the statement commits before this returns.
    """
    parsed = tokens.parse_token(tokens.INTEGRATION_PREFIX, token)
    if parsed is None:
        return None
    key_id, secret = parsed
    row = conn.execute(
        _RAISE_WITH_KEY,
        {
            "key_id": key_id,
            "secret_hash": tokens.digest(secret),
            "key_type": key_type,
            "summary": store.fold_summary(event.summary),
            "details": store.clip_details(event.details),
            "dedup_key": event.dedup_key(),
            "meta": Jsonb({"meta": dict(event.meta)} if event.meta else {}),
        },
    ).fetchone()
    if row is None:
        return None
    alert_logs.recount(conn, row)
    return Raised(int(row["alert_id"]), row["service_id"], bool(row["is_new"]))
