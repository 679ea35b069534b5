"""Who each service's escalation policy has on call at an instant, step by step: what
`GET /api/v1/services/<id>/on-call` answers for one service and the web app's on-call page for
many.

Any number of services costs a fixed number of queries, not a few per service or per target:
their policies load in two (app.escalation.policies.get_policies), every schedule and rotation
the policies name in about seven more (app.oncall.resolve.targets_on_call), and each distinct
schedule or rotation is computed once however many steps and services name it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import psycopg

from app.escalation import policies
from app.oncall import resolve


def services_on_call(
    conn: psycopg.Connection[Any], services: Iterable[Mapping[str, Any]], at: datetime
) -> dict[str, dict[str, Any]]:
    """By service id: `escalation_policy_id`, `escalation_policy_name` and `steps` (each with its
    targets, each target with `user_ids` on call through it at `at`; channels have none)."""
    services = list(services)
    wanted = {s["escalation_policy_id"] for s in services if s["escalation_policy_id"]}
    found = policies.get_policies(conn, sorted(wanted))
    targets = {
        (t["type"], t["id"]) for p in found.values() for s in p["steps"] for t in s["targets"]
    }
    engaged = resolve.targets_on_call(conn, targets, at)
    return {
        str(s["id"]): _on_call(found.get(str(s["escalation_policy_id"])), engaged) for s in services
    }


Engaged = Mapping[tuple[str, str], list[str]]


def policy_on_call(
    conn: psycopg.Connection[Any], policy: Mapping[str, Any], at: datetime
) -> list[dict[str, Any]]:
    """One policy's steps, each target with `user_ids` on call through it at `at`."""
    targets = {(t["type"], t["id"]) for s in policy["steps"] for t in s["targets"]}
    engaged = resolve.targets_on_call(conn, targets, at)
    return [_step(step, engaged) for step in policy["steps"]]


def _on_call(policy: Mapping[str, Any] | None, engaged: Engaged) -> dict[str, Any]:
    steps = [] if policy is None else [_step(step, engaged) for step in policy["steps"]]
    return {
        "escalation_policy_id": policy["id"] if policy else None,
        "escalation_policy_name": policy["name"] if policy else None,
        "steps": steps,
    }


def _step(step: Mapping[str, Any], engaged: Engaged) -> dict[str, Any]:
    targets = [{**t, "user_ids": list(engaged[(t["type"], t["id"])])} for t in step["targets"]]
    return {**step, "targets": targets}


def user_ids(on_call: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every user some step of these answers has on call (to name them in one query)."""
    return {u for o in on_call for s in o["steps"] for t in s["targets"] for u in t["user_ids"]}
