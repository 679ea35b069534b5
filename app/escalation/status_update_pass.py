"""Status updates: tell those already paged about an alert that it was acknowledged or closed.

Works on alert_escalations rows flagged `status_changed` (set by a trigger on every status
change; locked, SKIP LOCKED, in batches). When the alert's status differs from the status last
announced (`notified_status`), a `status_update` message (payload {"status": …}) goes to:

- every contact method that was sent an `alert` message for this alert (status sent or
  delivered), has `status_updates` on (opt-in per method), and is still usable (not disabled,
  not stopped by SMS STOP) — except the methods of the person who made the change (who
  acknowledged by SMS does not need an SMS saying so, nor a call saying they closed it);
- every channel that was sent an `alert` message for it (sent or delivered) and has
  `status_updates` on (the default for channels).

Dedup key `status:<alert>:<status>:<destination id>`: one notice per status and destination.
Then `notified_status` = the status announced and `status_changed` = false. An alert that is
acknowledged and then closed before this module runs gets only the close notice. A page still
pending or failed when the status changes gets no notice: its recipient was never reached.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog

from app.alerts import escalation_state
from app.messages.create import provider_sql
from app.messages.store import NOTIFY_MADE, insert_sql
from app.platform.engine_pass import EngineModule, ModuleContext, columns, run_batches
from config.settings import Settings

log = structlog.get_logger(__name__)

BATCH = 500  # changed alerts locked and handled per transaction
TIMEOUT = 20.0  # seconds: the engine's limit on one run of this module
BUDGET = TIMEOUT / 2

_CHANGED = """
SELECT e.alert_id, a.status, e.notified_status
FROM alert_escalations e JOIN alerts a ON a.id = e.alert_id
WHERE e.status_changed
ORDER BY e.alert_id
LIMIT %(limit)s
FOR UPDATE OF e SKIP LOCKED
"""

_TO_METHODS = f"""SELECT DISTINCT ON (v.alert_id, cm.id)
           'status_update', cm.id, cm.type,
           {provider_sql("cm.type")},
           cm.user_id, v.alert_id, jsonb_build_object('status', v.status),
           'status:' || v.alert_id || ':' || v.status || ':' || cm.id, %(max_attempts)s
    FROM v
    JOIN outgoing_messages m ON m.alert_id = v.alert_id AND m.kind = 'alert'
                            AND m.status IN ('sent', 'delivered')
    JOIN contact_methods cm ON cm.id = m.contact_method_id
    WHERE cm.status_updates AND NOT cm.disabled AND cm.stopped_at IS NULL
      -- whoever made the change knows it already: no notice to their own methods
      AND cm.user_id::text IS DISTINCT FROM (
          SELECT l.actor_id FROM alert_logs l
          WHERE l.alert_id = v.alert_id AND l.event = v.status AND l.actor_type = 'user'
          ORDER BY l.id DESC LIMIT 1)"""

_TO_CHANNELS = f"""SELECT DISTINCT ON (v.alert_id, ch.id)
           'status_update', ch.id, ch.type, {provider_sql("ch.type")}, v.alert_id,
           jsonb_build_object('status', v.status),
           'status:' || v.alert_id || ':' || v.status || ':' || ch.id, %(max_attempts)s
    FROM v
    JOIN outgoing_messages m ON m.alert_id = v.alert_id AND m.kind = 'alert'
                            AND m.status IN ('sent', 'delivered')
    JOIN notification_channels ch ON ch.id = m.channel_id
    WHERE ch.status_updates"""

_INSERT_TO_METHODS = insert_sql(
    "kind, contact_method_id, dest_type, provider, user_id, alert_id, payload, dedup_key, "
    "max_attempts",
    _TO_METHODS,
)
_INSERT_TO_CHANNELS = insert_sql(
    "kind, channel_id, dest_type, provider, alert_id, payload, dedup_key, max_attempts",
    _TO_CHANNELS,
)

_NOTICES = f"""
WITH v AS (
    SELECT * FROM unnest(%(alert_ids)s::bigint[], %(statuses)s::text[]) AS v(alert_id, status)
), to_methods AS (
{_INSERT_TO_METHODS}
), to_channels AS (
{_INSERT_TO_CHANNELS}
), made AS (
    SELECT id FROM to_methods UNION ALL SELECT id FROM to_channels
)
{NOTIFY_MADE}
"""


def one_batch(conn: psycopg.Connection[Any], settings: Settings, batch: int = BATCH) -> int:
    """Queue the notices owed for up to `batch` changed alerts; how many alerts."""
    rows = conn.execute(_CHANGED, {"limit": batch}).fetchall()
    if not rows:
        return 0
    changed = [(r["alert_id"], r["status"]) for r in rows if r["status"] != r["notified_status"]]
    if changed:
        params = columns(changed, ("alert_ids", "statuses"))
        made = conn.execute(
            _NOTICES, {**params, "max_attempts": settings.delivery.max_attempts}
        ).fetchall()
        log.debug("status_updates_batch", alerts=len(changed), messages=len(made))
    everything = [(r["alert_id"], r["status"]) for r in rows]
    escalation_state.mark_announced(conn, everything)
    return len(rows)


def run(ctx: ModuleContext) -> float | None:
    return run_batches(ctx, lambda conn: one_batch(conn, ctx.settings), None, BATCH, BUDGET)


MODULE = EngineModule("status_updates", run, TIMEOUT)
