"""A small on-call world for the escalation policy pages' tests and benchmark: a team with a
manager; Ada, on call in schedule "Primary" (a rule on a daily rotation of Ada alone), reached
by SMS at once and by voice 5 minutes later (both verified); Bo, whose only method is not
verified; schedule "Nobody" with no rule (nobody on call); channel "#ops"."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from app.contacts import channels, contact_methods, notification_rules
from app.directory import users
from app.oncall.rotations import create_rotation
from app.oncall.schedule_rules import create_schedule_rule
from app.oncall.schedules import create_schedule
from tests.support.signin import make_user
from tests.support.teams import make_team


def number() -> str:
    """A phone number of the fictional 555 range, different each time."""
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


def person(
    conn: psycopg.Connection[Any], name: str, verified: bool, phone: str, *delays: int
) -> str:
    """A user named `name` (plus a tag) with an SMS method (and a voice one on the same number)
    and a rule per delay, alternating SMS and voice; its id."""
    tag = secrets.token_hex(3)
    user = users.create_user(conn, f"{name} {tag}", f"{name.lower()}-{tag}@example.com")["id"]
    methods = []
    for kind in ("sms", "voice"):
        method = contact_methods.create_contact_method(conn, user, kind, kind, phone, False)
        if verified:
            contact_methods.mark_verified(conn, method["id"])
        methods.append(method["id"])
    for i, delay in enumerate(delays):
        notification_rules.create_rule(conn, user, methods[i % 2], delay)
    return str(user)


def policy_world(conn: psycopg.Connection[Any], zone: str = "UTC") -> dict[str, Any]:
    """The world, by name: manager, other (a manager of another team), team, ada, bo,
    rotation, primary, nobody (schedules), ops (channel), ada_phone."""
    tag = secrets.token_hex(3)
    manager, other = make_user(conn), make_user(conn)
    team = make_team(conn, managers=[manager], name=f"Payments {tag}")
    make_team(conn, managers=[other], name=f"Storage {tag}")
    ada_phone = number()
    ada = person(conn, "Ada", True, ada_phone, 0, 5)
    bo = person(conn, "Bo", False, number(), 0)
    with conn.transaction():
        rotation = create_rotation(
            conn,
            {"name": f"Ada alone {tag}", "description": "", "type": "daily", "shift_length": 1,
             "start": "2020-01-01T00:00:00Z", "time_zone": zone, "start_index": 0,
             "team_id": team["id"]},
            [ada],
        )  # fmt: skip
    primary = create_schedule(conn, f"Primary {tag}", zone, "", team["id"])
    create_schedule_rule(
        conn, primary["id"], {"target_type": "rotation", "target_id": rotation["id"]}
    )
    nobody = create_schedule(conn, f"Nobody {tag}", zone, "", team["id"])
    ops = channels.create_channel(
        conn,
        {"name": f"#ops-{tag}", "type": "webhook", "address": "https://192.0.2.12/",
         "status_updates": False, "team_id": team["id"]},
    )  # fmt: skip
    return {"manager": manager, "other": other, "team": team, "ada": ada, "bo": bo,
            "rotation": rotation, "primary": primary, "nobody": nobody, "ops": ops,
            "tag": tag, "ada_phone": ada_phone}  # fmt: skip
