"""Escalation policies as plain values, loaded in one query for a whole engine pass."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

TARGET_TYPES = ("user", "schedule", "rotation", "channel")


@dataclass(frozen=True)
class Target:
    type: str  # one of TARGET_TYPES
    id: str


@dataclass(frozen=True)
class Step:
    delay_minutes: int  # after this step fires, the next one fires this many minutes later
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Policy:
    id: str
    repeat_count: int  # how many more passes over the steps after the first
    steps: tuple[Step, ...]  # in position order; positions need not be contiguous


_LOAD = """
SELECT p.id::text AS policy_id, p.repeat_count, s.id::text AS step_id, s.delay_minutes,
       t.target_type, coalesce(t.user_id, t.schedule_id, t.rotation_id, t.channel_id)::text
           AS target_id
FROM escalation_policies p
LEFT JOIN escalation_steps s ON s.policy_id = p.id
LEFT JOIN escalation_step_targets t ON t.step_id = s.id
WHERE p.id = ANY(%(ids)s::uuid[])
ORDER BY p.id, s.position, s.id, t.target_type, target_id
"""


def load_policies(conn: psycopg.Connection[Any], policy_ids: Iterable[str]) -> dict[str, Policy]:
    """The policies with these ids as they stand now (missing ids are left out)."""
    ids = sorted(set(policy_ids))
    if not ids:
        return {}
    rows = conn.execute(_LOAD, {"ids": ids}).fetchall()
    return build_policies(rows)


def build_policies(rows: Iterable[dict[str, Any]]) -> dict[str, Policy]:
    """Fold the joined rows of _LOAD (ordered by policy, position) into Policy values."""
    repeat: dict[str, int] = {}
    steps: dict[str, dict[str, tuple[int, list[Target]]]] = {}
    for row in rows:
        policy_id = row["policy_id"]
        repeat[policy_id] = row["repeat_count"]
        policy_steps = steps.setdefault(policy_id, {})  # dicts keep insertion (position) order
        if row["step_id"] is None:
            continue
        _, targets = policy_steps.setdefault(row["step_id"], (row["delay_minutes"], []))
        if row["target_type"] is not None:
            targets.append(Target(row["target_type"], row["target_id"]))
    return {
        policy_id: Policy(
            policy_id,
            repeat[policy_id],
            tuple(Step(delay, tuple(targets)) for delay, targets in steps[policy_id].values()),
        )
        for policy_id in repeat
    }
