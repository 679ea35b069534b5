"""Which services' escalation policies can reach a user (the web app's "My services"):
a step naming them, a rotation they take part in, a schedule that could put them on call."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from app.escalation import policies
from app.oncall.rotations import create_rotation
from app.oncall.schedule_rules import create_schedule_rule
from app.oncall.schedules import create_schedule
from tests.support.signin import make_user


def policy_for(conn: psycopg.Connection[Any], target_type: str, target_id: str) -> str:
    policy = policies.create_policy(
        conn,
        {"name": f"p-{uuid.uuid4().hex[:6]}", "description": "", "repeat_count": 0},
        [{"delay_minutes": 5, "targets": [{"type": target_type, "id": target_id}]}],
    )
    return str(policy["id"])


def test_services_reach_a_user_directly_through_a_rotation_or_a_schedule(
    db_conn: psycopg.Connection[Any], make_service: Callable[..., dict[str, Any]]
) -> None:
    ada, bob = make_user(db_conn)["id"], make_user(db_conn)["id"]
    with db_conn.transaction():
        rotation = create_rotation(
            db_conn,
            {"name": "rot", "description": "", "type": "daily", "shift_length": 1,
             "start": "2020-01-01T00:00:00Z", "time_zone": "UTC", "start_index": 0},
            [ada],
        )["id"]  # fmt: skip
    schedule = create_schedule(db_conn, "sched", "UTC")["id"]
    create_schedule_rule(db_conn, schedule, {"target_type": "user", "target_id": ada})
    other_schedule = create_schedule(db_conn, "other", "UTC")["id"]
    create_schedule_rule(db_conn, other_schedule, {"target_type": "user", "target_id": bob})

    expected = set()
    for target_type, target_id in (("user", ada), ("rotation", rotation), ("schedule", schedule)):
        service = make_service()
        db_conn.execute(
            "UPDATE services SET escalation_policy_id = %s WHERE id = %s",
            (policy_for(db_conn, target_type, target_id), service["id"]),
        )
        expected.add(service["id"])
    for target_type, target_id in (("user", bob), ("schedule", other_schedule)):
        unrelated = make_service()
        db_conn.execute(
            "UPDATE services SET escalation_policy_id = %s WHERE id = %s",
            (policy_for(db_conn, target_type, target_id), unrelated["id"]),
        )
    make_service()  # no policy at all

    assert set(policies.services_reaching(db_conn, ada)) == expected
    assert len(policies.services_reaching(db_conn, bob)) == 2
    assert policies.services_reaching(db_conn, make_user(db_conn)["id"]) == []
