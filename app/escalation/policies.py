"""Escalation policies: ordered steps, each with targets and a delay, repeated a number of
times; and what changing a policy does to the alerts already escalating on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from app.alerts import escalation_state
from app.oncall import loading
from app.platform.sql_fragments import EVENTS_CHANNEL, keyset_page, update_row

POLICY_COLUMNS = (
    "id::text AS id, name, description, repeat_count, team_id::text AS team_id, created_at, "
    "updated_at"
)
# target type -> (its column in escalation_step_targets, the table its id lives in)
TARGET_TABLES = {
    "user": ("user_id", "users"),
    "schedule": ("schedule_id", "schedules"),
    "rotation": ("rotation_id", "rotations"),
    "channel": ("channel_id", "notification_channels"),
}

Steps = Sequence[dict[str, Any]]  # [{"delay_minutes": int, "targets": [{"type", "id"}]}]


# ---- targets -----------------------------------------------------------------------------------


def missing_targets(conn: psycopg.Connection[Any], steps: Steps) -> list[tuple[int, int]]:
    """(step index, target index) of every target whose id does not exist. The rows found are
    locked (FOR KEY SHARE) so they cannot vanish before the caller's commit."""
    wanted: dict[str, set[str]] = {kind: set() for kind in TARGET_TABLES}
    for step in steps:
        for target in step["targets"]:
            wanted[target["type"]].add(str(target["id"]))
    found: dict[str, set[str]] = {}
    for kind, ids in wanted.items():
        table = TARGET_TABLES[kind][1]
        rows = conn.execute(
            f"SELECT id::text AS id FROM {table} WHERE id = ANY(%s::uuid[]) FOR KEY SHARE",
            (sorted(ids),),
        ).fetchall()
        found[kind] = {row["id"] for row in rows}
    return [
        (i, j)
        for i, step in enumerate(steps)
        for j, target in enumerate(step["targets"])
        if str(target["id"]) not in found[target["type"]]
    ]


def _replace_steps(conn: psycopg.Connection[Any], policy_id: str, steps: Steps) -> None:
    conn.execute("DELETE FROM escalation_steps WHERE policy_id = %s", (policy_id,))
    for position, step in enumerate(steps):
        row = conn.execute(
            "INSERT INTO escalation_steps (policy_id, position, delay_minutes) "
            "VALUES (%s, %s, %s) RETURNING id",
            (policy_id, position, step["delay_minutes"]),
        ).fetchone()
        assert row is not None
        for order, target in enumerate(step["targets"]):
            column = TARGET_TABLES[target["type"]][0]
            conn.execute(
                f"INSERT INTO escalation_step_targets (step_id, target_type, {column}, position) "
                "VALUES (%s, %s, %s, %s)",
                (row["id"], target["type"], str(target["id"]), order),
            )


_STEPS = """
SELECT s.policy_id::text AS policy_id, s.id::text AS id, s.position, s.delay_minutes,
       coalesce(json_agg(json_build_object(
           'type', t.target_type,
           'id', coalesce(t.user_id, t.schedule_id, t.rotation_id, t.channel_id)::text,
           'name', coalesce(u.name, sc.name, r.name, ch.name)) ORDER BY t.position, t.id)
           FILTER (WHERE t.id IS NOT NULL), '[]') AS targets
FROM escalation_steps s
LEFT JOIN escalation_step_targets t ON t.step_id = s.id
LEFT JOIN users u ON u.id = t.user_id
LEFT JOIN schedules sc ON sc.id = t.schedule_id
LEFT JOIN rotations r ON r.id = t.rotation_id
LEFT JOIN notification_channels ch ON ch.id = t.channel_id
WHERE s.policy_id = ANY(%s::uuid[])
GROUP BY s.id
ORDER BY s.policy_id, s.position
"""


def _with_steps(conn: psycopg.Connection[Any], policies: list[dict[str, Any]]) -> None:
    """Attach each policy's steps (in order, with their targets) as `steps`."""
    by_id = {p["id"]: p for p in policies}
    for policy in policies:
        policy["steps"] = []
    for step in conn.execute(_STEPS, (list(by_id),)).fetchall():
        by_id[step["policy_id"]]["steps"].append(dict(step))


# ---- policies ----------------------------------------------------------------------------------


def create_policy(
    conn: psycopg.Connection[Any], fields: dict[str, Any], steps: Steps
) -> dict[str, Any]:
    row = conn.execute(
        "INSERT INTO escalation_policies (name, description, repeat_count, team_id) VALUES "
        f"(%(name)s, %(description)s, %(repeat_count)s, %(team_id)s) RETURNING {POLICY_COLUMNS}",
        {"team_id": None, **fields},
    ).fetchone()
    assert row is not None
    _replace_steps(conn, row["id"], steps)
    policy = get_policy(conn, row["id"])
    assert policy is not None
    return policy


def get_policy(
    conn: psycopg.Connection[Any], policy_id: str, lock: bool = False
) -> dict[str, Any] | None:
    row = conn.execute(
        f"SELECT {POLICY_COLUMNS} FROM escalation_policies WHERE id = %s"
        + (" FOR UPDATE" if lock else ""),
        (policy_id,),
    ).fetchone()
    if row is None:
        return None
    policy = dict(row)
    _with_steps(conn, [policy])
    return policy


def get_policies(
    conn: psycopg.Connection[Any], policy_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Several policies with their steps, by id, in two queries (missing ids are left out)."""
    rows = conn.execute(
        f"SELECT {POLICY_COLUMNS} FROM escalation_policies WHERE id = ANY(%s::uuid[])",
        (list(policy_ids),),
    ).fetchall()
    policies = [dict(r) for r in rows]
    if policies:
        _with_steps(conn, policies)
    return {p["id"]: p for p in policies}


def list_policies(
    conn: psycopg.Connection[Any], after: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    rows = keyset_page(conn, POLICY_COLUMNS, "escalation_policies", after, limit)
    policies = [dict(r) for r in rows]
    _with_steps(conn, policies)
    return policies


def update_policy(
    conn: psycopg.Connection[Any],
    policy_id: str,
    changes: dict[str, Any],
    steps: Steps | None,
) -> dict[str, Any] | None:
    """Apply `changes` (name, description, repeat_count) and, if given, replace every step."""
    row = update_row(
        conn, "escalation_policies", POLICY_COLUMNS, "id = %(id)s", {"id": policy_id}, changes
    )
    if row is None:
        return None
    if steps is not None:
        _replace_steps(conn, policy_id, steps)
    return get_policy(conn, policy_id)


def services_using(conn: psycopg.Connection[Any], policy_id: str) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT id::text AS id, name FROM services WHERE escalation_policy_id = %s ORDER BY name",
        (policy_id,),
    ).fetchall()


def delete_policy(conn: psycopg.Connection[Any], policy_id: str) -> bool:
    return conn.execute("DELETE FROM escalation_policies WHERE id = %s", (policy_id,)).rowcount > 0


def lock_policy(conn: psycopg.Connection[Any], policy_id: str) -> bool:
    """Whether the policy exists; if so it cannot be deleted before the caller commits."""
    row = conn.execute(
        "SELECT 1 FROM escalation_policies WHERE id = %s FOR KEY SHARE", (policy_id,)
    ).fetchone()
    return row is not None


def restart_waiting_alerts(conn: psycopg.Connection[Any], service_id: str) -> int:
    """Alerts of the service that are triggered and never fired a step become due now (an alert
    raised while the service had no policy is paged as soon as it gets one); the engine is
    woken on commit. How many alerts were made due."""
    due = escalation_state.restart_waiting(conn, service_id)
    if due:
        conn.execute(
            f"SELECT pg_notify('{EVENTS_CHANNEL}', json_build_object("
            "'service_id', %s::text, 'event', 'escalation_policy_changed')::text)",
            (service_id,),
        )
    return due


def release_held_alerts(conn: psycopg.Connection[Any], service_id: str) -> int:
    """Alerts of the service held by its maintenance window become due now, and the engine is
    woken on commit: a window that ended (or moved into the past) releases them at once, and one
    moved to a new future end holds them again until that end, not the old one. How many."""
    released = escalation_state.release_held(conn, service_id)
    if released:
        conn.execute(
            f"SELECT pg_notify('{EVENTS_CHANNEL}', json_build_object("
            "'service_id', %s::text, 'event', 'maintenance_changed')::text)",
            (service_id,),
        )
    return released


# ---- who is on call for a service --------------------------------------------------------------


# ---- who a policy can reach -------------------------------------------------------------------


def services_reaching(conn: psycopg.Connection[Any], user_id: str) -> list[str]:
    """The ids of services whose escalation policy can reach this user: a step names them, or a
    rotation they take part in, or a schedule that could put them on call (the schedules
    app.oncall.loading.schedule_ids_for_user finds)."""
    schedule_ids = loading.schedule_ids_for_user(conn, user_id)
    rows = conn.execute(
        """
        SELECT id::text AS id FROM services WHERE escalation_policy_id IN (
            SELECT st.policy_id FROM escalation_steps st
            JOIN escalation_step_targets t ON t.step_id = st.id
            WHERE t.user_id = %(u)s
               OR t.schedule_id = ANY(%(schedules)s::uuid[])
               OR t.rotation_id IN (SELECT rotation_id FROM rotation_participants
                                    WHERE user_id = %(u)s))
        ORDER BY id
        """,
        {"u": user_id, "schedules": schedule_ids},
    ).fetchall()
    return [row["id"] for row in rows]
