"""A schedule for shift-swap tests: Alice on call 09:00-17:00 UTC every day (a user rule), a
rotation of Bob and Dave the rest of the day, a notice channel; Carol outside it. Each person
has a verified email contact method and a personal write key."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from tests.support.signin import make_user

Conn = psycopg.Connection[Any]
PEOPLE = ("alice", "bob", "dave", "carol")


def _id(conn: Conn, sql: str, *params: Any) -> str:
    row = conn.execute(sql + " RETURNING id::text AS id", params).fetchone()
    assert row is not None
    return str(row["id"])


def tomorrow_at(hour: int, days: int = 1) -> datetime:
    """`hour`:00 UTC, `days` days from today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days, hours=hour)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def swap_world(conn: Conn, team_id: str | None = None) -> dict[str, Any]:
    """The schedule (owned by `team_id`), its people, their keys and contact methods."""
    from app.directory import api_keys

    people = {name: make_user(conn) for name in PEOPLE}
    for name, user in people.items():
        conn.execute("UPDATE users SET name = %s WHERE id = %s", (name.title(), user["id"]))
    channel = _id(
        conn,
        "INSERT INTO notification_channels (name, type, address) VALUES (%s, 'slack', %s)",
        f"ops-{secrets.token_hex(3)}",
        f"C{secrets.token_hex(4)}",
    )
    schedule = _id(
        conn,
        "INSERT INTO schedules (name, time_zone, notice_channel_id, team_id) "
        "VALUES ('Primary', 'UTC', %s, %s)",
        channel,
        team_id,
    )
    rotation = _id(
        conn,
        "INSERT INTO rotations (name, type, shift_length, start_at, time_zone) "
        "VALUES ('nights', 'daily', 1, '2026-01-01T17:00:00Z', 'UTC')",
    )
    for position, name in enumerate(("bob", "dave")):
        conn.execute(
            "INSERT INTO rotation_participants (rotation_id, position, user_id) "
            "VALUES (%s, %s, %s)",
            (rotation, position, people[name]["id"]),
        )
    conn.execute(
        "INSERT INTO schedule_rules (schedule_id, target_type, user_id, start_time, end_time) "
        "VALUES (%s, 'user', %s, '09:00', '17:00')",
        (schedule, people["alice"]["id"]),
    )
    conn.execute(
        "INSERT INTO schedule_rules (schedule_id, target_type, rotation_id, start_time, end_time) "
        "VALUES (%s, 'rotation', %s, '17:00', '09:00')",
        (schedule, rotation),
    )
    methods = {}
    for name, user in people.items():
        methods[name] = _id(
            conn,
            "INSERT INTO contact_methods (user_id, name, type, address, verified_at) "
            "VALUES (%s, 'mail', 'email', %s, now())",
            user["id"],
            user["email"],
        )
    keys = {
        name: api_keys.create_api_key(conn, name, "write", user["id"])["key"]
        for name, user in people.items()
    }
    ids = {name: user["id"] for name, user in people.items()}
    return {"schedule": schedule, "channel": channel, "rotation": rotation, "people": people,
            "ids": ids, "methods": methods, "keys": keys}  # fmt: skip
