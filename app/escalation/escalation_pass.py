"""Escalation: fire the due step of every alert whose `next_step_at` has come.

A new alert's row (made by a trigger) is due at once, and its NOTIFY wakes the engine, so step 0
fires within milliseconds. For each due row, in batches, with the row locked (SKIP LOCKED):

- closed, or acknowledged and not forced: nothing more is scheduled (`next_step_at` NULL);
- the service is in maintenance (and the escalation is not forced): held until
  `maintenance_until` (`escalation_held` logged once per hold);
- no policy, or a policy without steps: `no_escalation_policy` logged once per alert, looked at
  again every minute (so setting a policy, or the API making the row due, resumes it);
- otherwise the step at `step_index` of the policy *as it stands now* fires (clamped to its last
  step if the policy shrank): its users, and whoever its schedules and rotations have on call
  at this instant, are engaged (alert_engagements: seq 1, or seq + 1 if engaged before, which
  makes their notification rules fire again); its channels get an `alert` message; the alert
  log gets `escalated` (meta: step, repeat, users, channels, forced), or `no_one_on_call` when
  the step reached nobody. Then the row advances (next step, a repeat, or exhausted) with
  `next_step_at` = now + the fired step's delay. See app.escalation.steps for the rules.

A shift change while an alert is open pages nobody until a step fires again. Everything a batch
decides is written with a handful of set-based statements, whatever the batch size; a minute is
`settings.delivery.minute_seconds` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg.types.json import Jsonb

from app.alerts import engagements, escalation_state
from app.alerts import log as alert_logs
from app.escalation.policy_snapshot import load_policies
from app.escalation.steps import FIRE, HOLD, NO_POLICY, Decision, Due, decide
from app.escalation.targets import Resolver
from app.messages.create import provider_sql
from app.messages.store import insert_and_notify_sql
from app.platform.engine_pass import (
    EngineModule,
    ModuleContext,
    columns,
    run_batches,
    seconds_until,
)
from config.settings import Settings

log = structlog.get_logger(__name__)

BATCH = 500  # due escalations locked and handled per transaction
TIMEOUT = 20.0  # seconds: the engine's limit on one run of this module
BUDGET = TIMEOUT / 2  # seconds of batches per run before handing the cycle back

_DUE = """
SELECT e.alert_id, e.step_index, e.repeats_done, e.forced, e.held, a.status,
       s.escalation_policy_id::text AS policy_id, s.maintenance_until, now() AS now
FROM alert_escalations e
JOIN alerts a ON a.id = e.alert_id
JOIN services s ON s.id = e.service_id
WHERE e.next_step_at <= now()
ORDER BY e.next_step_at
LIMIT %(limit)s
FOR UPDATE OF e SKIP LOCKED
"""

_CHANNEL_MESSAGES = insert_and_notify_sql(
    "kind, channel_id, dest_type, provider, alert_id, payload, dedup_key, max_attempts",
    f"""SELECT 'alert', ch.id, ch.type, {provider_sql("ch.type")}, v.alert_id, v.payload,
           v.dedup_key, %(max_attempts)s
    FROM unnest(%(alert_ids)s::bigint[], %(channel_ids)s::uuid[], %(payloads)s::jsonb[],
                %(dedup_keys)s::text[]) AS v(alert_id, channel_id, payload, dedup_key)
    JOIN notification_channels ch ON ch.id = v.channel_id""",
)

_DUE_IN = (
    "SELECT min(next_step_at) - now() AS due_in FROM alert_escalations "
    "WHERE next_step_at IS NOT NULL"
)


@dataclass
class _Writes:
    """Everything one batch decided, as the rows of its set-based statements."""

    now: datetime
    state: list[escalation_state.Advance] = field(default_factory=list)
    engagements: list[tuple[int, str]] = field(default_factory=list)
    channels: list[tuple[int, str, Jsonb, str]] = field(default_factory=list)
    logs: list[tuple[int, str, str, Jsonb, bool]] = field(default_factory=list)

    def add(self, due: Due, decision: Decision, resolver: Resolver) -> None:
        held = decision.action == HOLD
        fired = decision.action == FIRE
        self.state.append(
            (
                due.alert_id,
                decision.step_index,
                decision.repeats_done,
                decision.next_step_at,
                held,
                fired,
            )
        )
        if held and not due.held:
            until = decision.next_step_at.isoformat() if decision.next_step_at else None
            self._log(due.alert_id, "escalation_held", "service in maintenance", {"until": until})
        elif decision.action == NO_POLICY:
            message = "service has no escalation policy, or its policy has no steps"
            self._log(due.alert_id, "no_escalation_policy", message, {}, once=True)
        elif fired:
            self._fire(due, decision, resolver)

    def _fire(self, due: Due, decision: Decision, resolver: Resolver) -> None:
        assert decision.step is not None
        engaged = resolver.step(decision.step)
        fire_key = f"{decision.repeat}.{decision.fired_index}@{int(self.now.timestamp() * 1e6)}"
        for user_id in engaged.users:
            self.engagements.append((due.alert_id, user_id))
        for channel_id in engaged.channels:
            payload = Jsonb({"step": decision.fired_index, "repeat": decision.repeat})
            dedup = f"alert:{due.alert_id}:channel:{channel_id}:{fire_key}"
            self.channels.append((due.alert_id, channel_id, payload, dedup))
        meta = {
            "step": decision.fired_index,
            "repeat": decision.repeat,
            "users": list(engaged.users),
            "channels": list(engaged.channels),
            "forced": due.forced,
        }
        if engaged.users or engaged.channels:
            self._log(due.alert_id, "escalated", f"step {decision.fired_index} fired", meta)
        else:
            message = f"step {decision.fired_index} fired and reached no one"
            self._log(due.alert_id, "no_one_on_call", message, meta)

    def _log(
        self, alert_id: int, event: str, message: str, meta: dict[str, Any], once: bool = False
    ) -> None:
        self.logs.append((alert_id, event, message, Jsonb(meta), once))

    def apply(self, conn: psycopg.Connection[Any], settings: Settings) -> None:
        escalation_state.advance(conn, self.state)
        if self.engagements:
            engagements.engage(conn, self.engagements)
        if self.channels:
            params = columns(self.channels, ("alert_ids", "channel_ids", "payloads", "dedup_keys"))
            params["max_attempts"] = settings.delivery.max_attempts
            conn.execute(_CHANNEL_MESSAGES, params).fetchall()
        if self.logs:
            alert_logs.add_engine_entries(conn, settings.instance, self.logs)


def one_batch(conn: psycopg.Connection[Any], settings: Settings, batch: int = BATCH) -> int:
    """Handle up to `batch` due escalations in this transaction; how many there were."""
    rows = conn.execute(_DUE, {"limit": batch}).fetchall()
    if not rows:
        return 0
    now: datetime = rows[0]["now"]
    dues = [_due(row) for row in rows]
    policies = load_policies(conn, {d.policy_id for d in dues if d.policy_id})
    resolver = Resolver(conn, now)
    writes = _Writes(now)
    minute = settings.delivery.minute_seconds
    for due in dues:
        policy = policies.get(due.policy_id) if due.policy_id else None
        writes.add(due, decide(due, policy, now, minute), resolver)
    writes.apply(conn, settings)
    log.debug("escalation_batch", rows=len(rows), engaged=len(writes.engagements))
    return len(rows)


def _due(row: dict[str, Any]) -> Due:
    return Due(
        alert_id=row["alert_id"],
        status=row["status"],
        step_index=row["step_index"],
        repeats_done=row["repeats_done"],
        forced=row["forced"],
        held=row["held"],
        policy_id=row["policy_id"],
        maintenance_until=row["maintenance_until"],
    )


def run(ctx: ModuleContext) -> float | None:
    return run_batches(
        ctx,
        lambda conn: one_batch(conn, ctx.settings),
        lambda conn: seconds_until(conn, _DUE_IN),
        BATCH,
        BUDGET,
    )


MODULE = EngineModule("escalation", run, TIMEOUT)
