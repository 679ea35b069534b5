"""Notification rules: page engaged users through their rules as each rule's delay elapses.

Works on active alert_engagements whose `next_rule_at` has come (locked, SKIP LOCKED, in batches).
For each, every rule of the user with `engaged_at + delay` <= now, on a usable contact method
(verified, not disabled, not stopped by an SMS STOP), and made before that moment (a rule added too
late for this engagement is skipped, see app.contacts.notification_plan), gets an `alert` message
row with dedup key `alert:<alert>:<rule>:<engagement seq>` — so a rule fires once per engagement
however often this runs, and a re-engagement (a later step, a repeat) fires the rules again. Then
`next_rule_at` moves to the next rule still to come, or NULL.

A user no rule can reach (no rules, or only unusable methods) is logged on the alert as
`notification_failed`, saying why, once per engagement. Acknowledging or closing the alert
deactivates its engagements (a trigger), so no further rules fire. A rule's delay is in minutes
of `settings.delivery.minute_seconds` seconds.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import psycopg
import structlog

from app.alerts import engagements
from app.alerts import log as alert_logs
from app.contacts.notification_plan import UserRule, plan
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

BATCH = 500  # due engagements locked and handled per transaction
TIMEOUT = 20.0  # seconds: the engine's limit on one run of this module
BUDGET = TIMEOUT / 2  # seconds of batches per run before handing the cycle back

_DUE = """
SELECT g.alert_id, g.user_id::text AS user_id, g.seq, g.engaged_at, a.status, now() AS now
FROM alert_engagements g
JOIN alerts a ON a.id = g.alert_id
WHERE g.active AND g.next_rule_at <= now()
ORDER BY g.next_rule_at
LIMIT %(limit)s
FOR UPDATE OF g SKIP LOCKED
"""

_RULES = """
SELECT r.id::text AS id, r.user_id::text AS user_id, r.contact_method_id::text AS method_id,
       r.delay_minutes, r.created_at, cm.verified_at IS NOT NULL AS verified, cm.disabled,
       cm.stopped_at IS NOT NULL AS stopped, cm.type AS method_type, cm.name AS method_name,
       cm.address
FROM notification_rules r
JOIN contact_methods cm ON cm.id = r.contact_method_id
WHERE r.user_id = ANY(%(user_ids)s::uuid[])
ORDER BY r.delay_minutes, r.id
"""

_MESSAGES = insert_and_notify_sql(
    "kind, contact_method_id, dest_type, provider, user_id, alert_id, rule_id, dedup_key, "
    "max_attempts",
    f"""SELECT 'alert', cm.id, cm.type,
           {provider_sql("cm.type")},
           cm.user_id, v.alert_id, r.id, 'alert:' || v.alert_id || ':' || r.id || ':' || v.seq,
           %(max_attempts)s
    FROM unnest(%(alert_ids)s::bigint[], %(rule_ids)s::uuid[], %(seqs)s::int[])
         AS v(alert_id, rule_id, seq)
    JOIN notification_rules r ON r.id = v.rule_id
    JOIN contact_methods cm ON cm.id = r.contact_method_id""",
)

_DUE_IN = (
    "SELECT min(next_rule_at) - now() AS due_in FROM alert_engagements "
    "WHERE active AND next_rule_at IS NOT NULL"
)


def why_unusable(row: dict[str, Any]) -> str:
    """Why a rule's contact method cannot be used now ("" when it can)."""
    if row["disabled"]:
        return "disabled"
    if row["stopped"]:
        return "stopped (SMS STOP)"
    return "" if row["verified"] else "not verified"


def rule_rows(conn: psycopg.Connection[Any], user_ids: set[str]) -> list[dict[str, Any]]:
    """The users' rules (soonest first) with their contact method's state, type, name and
    address (the policy preview shows them)."""
    return conn.execute(_RULES, {"user_ids": sorted(user_ids)}).fetchall()


def user_rule(row: dict[str, Any]) -> UserRule:
    """A row of `rule_rows` as the plan's rule."""
    why = why_unusable(row)
    return UserRule(
        row["id"], row["method_id"], row["delay_minutes"], not why, why, row["created_at"]
    )


def load_rules(conn: psycopg.Connection[Any], user_ids: set[str]) -> dict[str, list[UserRule]]:
    """Each user's rules with whether their contact method can be used now."""
    rules: dict[str, list[UserRule]] = defaultdict(list)
    for row in rule_rows(conn, user_ids):
        rules[row["user_id"]].append(user_rule(row))
    return rules


def one_batch(conn: psycopg.Connection[Any], settings: Settings, batch: int = BATCH) -> int:
    """Send the due rules of up to `batch` engagements in this transaction; how many."""
    rows = conn.execute(_DUE, {"limit": batch}).fetchall()
    if not rows:
        return 0
    now: datetime = rows[0]["now"]
    rules = load_rules(conn, {row["user_id"] for row in rows})
    messages: list[tuple[int, str, int]] = []
    schedule: list[engagements.Schedule] = []
    failures: list[tuple[int, str, int, str]] = []
    for row in rows:
        alert_id, user_id, seq = row["alert_id"], row["user_id"], row["seq"]
        if row["status"] == "closed":  # the trigger deactivates these; belt and braces
            schedule.append((alert_id, user_id, None, False))
            continue
        p = plan(rules[user_id], row["engaged_at"], now, settings.delivery.minute_seconds)
        messages.extend((alert_id, rule.id, seq) for rule in p.due)
        schedule.append((alert_id, user_id, p.next_rule_at, True))
        if p.failure:
            failures.append((alert_id, user_id, seq, p.failure))
    _write(conn, settings, messages, schedule, failures)
    log.debug("notification_rules_batch", rows=len(rows), messages=len(messages))
    return len(rows)


def _write(
    conn: psycopg.Connection[Any],
    settings: Settings,
    messages: list[tuple[int, str, int]],
    schedule: list[engagements.Schedule],
    failures: list[tuple[int, str, int, str]],
) -> None:
    if messages:
        params: dict[str, Any] = columns(messages, ("alert_ids", "rule_ids", "seqs"))
        conn.execute(_MESSAGES, {**params, "max_attempts": settings.delivery.max_attempts})
    engagements.reschedule(conn, schedule)
    if failures:
        alert_logs.add_unreachable(conn, settings.instance, failures)


def run(ctx: ModuleContext) -> float | None:
    return run_batches(
        ctx,
        lambda conn: one_batch(conn, ctx.settings),
        lambda conn: seconds_until(conn, _DUE_IN),
        BATCH,
        BUDGET,
    )


MODULE = EngineModule("notification_rules", run, TIMEOUT)
