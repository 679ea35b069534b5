"""A small world for engine-module tests: people, rules, channels, policies, and a ModuleContext.

Everything is plain SQL on the test's own database (the schema is the contract), so the engine
modules are exercised against exactly the rows the API would write.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
import pytest

from app.alerts import store
from app.platform.engine_pass import ModuleContext
from app.platform.pool import Database
from app.platform.redis_client import make_redis

Conn = psycopg.Connection[Any]


@pytest.fixture(name="make_ctx")
def _make_ctx(settings_for: Callable[..., Any]) -> Iterator[Callable[..., ModuleContext]]:
    """make_ctx(**env) -> a ModuleContext on this test's database and Redis; closed after."""
    made: list[ModuleContext] = []

    def make(**env: str) -> ModuleContext:
        settings = settings_for(**env)
        ctx = ModuleContext(
            settings,
            make_redis(settings.redis_url, settings.check_timeout, settings.redis_tls),
            Database(settings, application_name="test-engine"),
        )
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.database.close()
        ctx.redis.close()


def user(conn: Conn, name: str | None = None) -> str:
    name = name or f"user-{secrets.token_hex(3)}"
    row = conn.execute(
        "INSERT INTO users (name, email) VALUES (%s, %s) RETURNING id::text AS id",
        (name, f"{name}-{secrets.token_hex(3)}@example.com"),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def method(
    conn: Conn,
    user_id: str,
    *,
    type: str = "email",
    verified: bool = True,
    status_updates: bool = False,
    disabled: bool = False,
) -> str:
    """A contact method of `user_id` (email or sms; no signing secret needed)."""
    address = (
        f"{secrets.token_hex(4)}@example.com"
        if type == "email"
        else f"+1555{secrets.randbelow(10**7):07d}"
    )
    row = conn.execute(
        "INSERT INTO contact_methods (user_id, name, type, address, verified_at, status_updates, "
        "disabled) VALUES (%s, %s, %s, %s, CASE WHEN %s THEN now() END, %s, %s) "
        "RETURNING id::text AS id",
        (user_id, f"{type} method", type, address, verified, status_updates, disabled),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def rule(conn: Conn, user_id: str, method_id: str, delay: int = 0) -> str:
    row = conn.execute(
        "INSERT INTO notification_rules (user_id, contact_method_id, delay_minutes) "
        "VALUES (%s, %s, %s) RETURNING id::text AS id",
        (user_id, method_id, delay),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def reachable_user(conn: Conn, name: str | None = None, **method_options: Any) -> tuple[str, str]:
    """A user with one verified email method and a delay-0 rule on it: (user id, method id)."""
    user_id = user(conn, name)
    method_id = method(conn, user_id, **method_options)
    rule(conn, user_id, method_id, 0)
    return user_id, method_id


def channel(conn: Conn, *, status_updates: bool = True) -> str:
    row = conn.execute(
        "INSERT INTO notification_channels (name, type, address, status_updates) "
        "VALUES (%s, 'slack', %s, %s) RETURNING id::text AS id",
        (f"channel-{secrets.token_hex(3)}", f"C{secrets.token_hex(4)}", status_updates),
    ).fetchone()
    assert row is not None
    return str(row["id"])


Targets = Sequence[tuple[str, str]]  # (target type, id)


def policy(conn: Conn, steps: Sequence[tuple[int, Targets]], repeat: int = 0) -> str:
    """A policy with `steps` = [(delay minutes, [(target type, id), ...]), ...]."""
    row = conn.execute(
        "INSERT INTO escalation_policies (name, repeat_count) VALUES (%s, %s) "
        "RETURNING id::text AS id",
        (f"policy-{secrets.token_hex(3)}", repeat),
    ).fetchone()
    assert row is not None
    policy_id = str(row["id"])
    for position, (delay, targets) in enumerate(steps):
        add_step(conn, policy_id, position, delay, targets)
    return policy_id


def add_step(conn: Conn, policy_id: str, position: int, delay: int, targets: Targets) -> str:
    row = conn.execute(
        "INSERT INTO escalation_steps (policy_id, position, delay_minutes) "
        "VALUES (%s, %s, %s) RETURNING id::text AS id",
        (policy_id, position, delay),
    ).fetchone()
    assert row is not None
    step_id = str(row["id"])
    for target_type, target_id in targets:
        column = {"user": "user_id", "schedule": "schedule_id", "rotation": "rotation_id"}.get(
            target_type, "channel_id"
        )
        conn.execute(
            f"INSERT INTO escalation_step_targets (step_id, target_type, {column}) "
            "VALUES (%s, %s, %s)",
            (step_id, target_type, target_id),
        )
    return step_id


def use_policy(conn: Conn, service_id: str, policy_id: str | None) -> None:
    conn.execute(
        "UPDATE services SET escalation_policy_id = %s WHERE id = %s", (policy_id, service_id)
    )


def alert(conn: Conn, service_id: str, summary: str | None = None) -> int:
    raised = store.raise_alert(conn, service_id, summary or f"alert {secrets.token_hex(4)}")
    return raised.alert_id


def escalation(conn: Conn, alert_id: int) -> dict[str, Any]:
    row = conn.execute(
        "SELECT *, next_step_at - now() AS due_in FROM alert_escalations WHERE alert_id = %s",
        (alert_id,),
    ).fetchone()
    assert row is not None
    return dict(row)


def make_due(conn: Conn, alert_id: int) -> None:
    """Time travel: the alert's next step is due now."""
    conn.execute(
        "UPDATE alert_escalations SET next_step_at = now() WHERE alert_id = %s", (alert_id,)
    )


def engagements(conn: Conn, alert_id: int) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        "SELECT user_id::text AS user_id, seq, active, next_rule_at, engaged_at "
        "FROM alert_engagements WHERE alert_id = %s",
        (alert_id,),
    ).fetchall()
    return {row["user_id"]: dict(row) for row in rows}


def messages(conn: Conn, alert_id: int | None = None, kind: str | None = None) -> list[dict]:
    rows = conn.execute(
        "SELECT id, kind, contact_method_id::text AS contact_method_id, "
        "channel_id::text AS channel_id, user_id::text AS user_id, dest_type, provider, "
        "rule_id::text AS rule_id, payload, dedup_key, max_attempts, status "
        "FROM outgoing_messages WHERE (%(a)s::bigint IS NULL OR alert_id = %(a)s) "
        "AND (%(k)s::text IS NULL OR kind = %(k)s) ORDER BY id",
        {"a": alert_id, "k": kind},
    ).fetchall()
    return [dict(row) for row in rows]


def log_events(conn: Conn, alert_id: int, event: str | None = None) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT event, actor_type, actor_id, message, meta FROM alert_logs "
        "WHERE alert_id = %s AND (%s::text IS NULL OR event = %s) ORDER BY id",
        (alert_id, event, event),
    ).fetchall()
    return [dict(row) for row in rows]


def mark_sent(conn: Conn, message_ids: Sequence[int]) -> None:
    """What a worker does: pending -> sending -> sent."""
    for status in ("sending", "sent"):
        conn.execute(
            "UPDATE outgoing_messages SET status = %s WHERE id = ANY(%s)", (status, message_ids)
        )
