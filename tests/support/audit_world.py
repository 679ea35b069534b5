"""A small world of configuration made through /api/v1, for the audit log's tests: one of each
thing a mutating route can act on, and the secrets that were shown once while making it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from tests.support.api import Api, created
from tests.support.signin import PASSWORD, make_user

WEBHOOK = "http://127.0.0.1:9/hook"  # loopback is allowed in the tests' settings; never called


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class World:
    """Ids of everything made (by kind), and every secret shown while making it."""

    ids: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    verify_code: str = ""

    def __getitem__(self, kind: str) -> str:
        return self.ids[kind]


def build(api: Api, conn: psycopg.Connection[Any]) -> World:
    """Make the world with `api` (an admin key) and `conn` (users with passwords)."""
    world = World()
    ids = world.ids
    for name in ("user", "user2", "spare_user"):
        ids[name] = make_user(conn)["id"]
    ids["email"] = conn.execute("SELECT email FROM users WHERE id = %s", (ids["user"],)).fetchone()[
        "email"
    ]
    world.secrets.append(PASSWORD)
    _directory(api, world)
    _escalation(api, world)
    _oncall(api, conn, world)
    _contacts(api, conn, world)
    return world


def _directory(api: Api, world: World) -> None:
    ids = world.ids
    service = created(api.post("/services", json={"name": unique("svc")}))
    ids["service"] = service["id"]
    key = created(api.post(f"/services/{service['id']}/integration-keys", json={}))
    ids["integration_key"] = key["id"]
    world.secrets.append(key["token"])
    monitor = created(
        api.post(
            f"/services/{service['id']}/heartbeat-monitors",
            json={"name": "nightly", "timeout_seconds": 300},
        )
    )
    ids["heartbeat_monitor"] = monitor["id"]
    world.secrets.append(monitor["checkin_secret"])
    api_key = created(api.post("/api-keys", json={"name": unique("key"), "scope": "read"}))
    ids["api_key"] = api_key["id"]
    world.secrets.append(api_key["key"])
    ids["team"] = team = created(api.post("/teams", json={"name": unique("team")}))["id"]
    created(api.post(f"/teams/{team}/members", json={"user_id": ids["user2"], "role": "member"}))
    invitation = {"email": f"{unique('invitee')}@example.com", "name": "Invitee"}
    invited = created(api.post("/invitations", json=invitation))
    ids["invitation"] = invited["id"]
    if invited.get("link"):  # no SMTP in these tests: the link is shown once, like a secret
        world.secrets.append(invited["link"].rsplit("/", 1)[1])


def _escalation(api: Api, world: World) -> None:
    ids = world.ids
    step = {"delay_minutes": 5, "targets": [{"type": "user", "id": ids["user"]}]}
    policy = created(
        api.post("/escalation-policies", json={"name": unique("policy"), "steps": [step]})
    )
    ids["policy"] = policy["id"]
    channel = created(
        api.post(
            "/notification-channels",
            json={"name": unique("chan"), "type": "webhook", "address": WEBHOOK},
        )
    )
    ids["channel"] = channel["id"]
    world.secrets.append(channel["signing_secret"])


def _swap(api: Api, conn: psycopg.Connection[Any], world: World) -> None:
    """A schedule of user2's, and an open shift swap user2 asked for in it (a person asks:
    the admin key that builds the world has no user, so the swap is asked for directly)."""
    from app.oncall import swaps

    ids = world.ids
    schedule = created(api.post("/schedules", json={"name": unique("swaps"), "time_zone": "UTC"}))
    ids["swap_schedule"] = sid = schedule["id"]
    created(
        api.post(f"/schedules/{sid}/rules", json={"target_type": "user", "target_id": ids["user2"]})
    )
    span = (datetime(2031, 4, 1, tzinfo=UTC), datetime(2031, 4, 2, tzinfo=UTC))
    ids["swap"] = swaps.request_swap(conn, sid, ids["user2"], span, "", datetime.now(UTC))["id"]


def _oncall(api: Api, conn: psycopg.Connection[Any], world: World) -> None:
    ids = world.ids
    rotation = created(
        api.post(
            "/rotations",
            json={
                "name": unique("rot"),
                "type": "daily",
                "start": "2026-01-01T00:00:00Z",
                "time_zone": "UTC",
                "participants": [ids["user"], ids["user2"]],
            },
        )
    )
    ids["rotation"] = rotation["id"]
    schedule = created(api.post("/schedules", json={"name": unique("sched"), "time_zone": "UTC"}))
    ids["schedule"] = sid = schedule["id"]
    rule = {"target_type": "user", "target_id": ids["user"]}
    ids["schedule_rule"] = created(api.post(f"/schedules/{sid}/rules", json=rule))["id"]
    override = {
        "kind": "add",
        "add_user_id": ids["user"],
        "start": "2030-01-01T00:00:00Z",
        "end": "2030-01-02T00:00:00Z",
    }
    ids["override"] = created(api.post(f"/schedules/{sid}/overrides", json=override))["id"]
    temporary = {"start": "2030-02-01T00:00:00Z", "end": "2030-02-02T00:00:00Z", "shifts": []}
    path = f"/schedules/{sid}/temporary-schedules"
    ids["temporary_schedule"] = created(api.post(path, json=temporary))["id"]
    _swap(api, conn, world)
    for owner, base in (("schedule", f"/schedules/{sid}"), ("user", f"/users/{ids['user']}")):
        subscription = created(api.post(f"{base}/calendar-subscriptions"))
        ids[f"{owner}_subscription"] = subscription["id"]
        world.secrets.append(subscription["url"].rsplit("/", 1)[1].removesuffix(".ics"))


def _contacts(api: Api, conn: psycopg.Connection[Any], world: World) -> None:
    ids = world.ids
    body = {"name": "hook", "type": "webhook", "address": WEBHOOK}
    method = created(api.post(f"/users/{ids['user']}/contact-methods", json=body))
    ids["contact_method"] = method["id"]
    world.secrets.append(method["signing_secret"])
    row = conn.execute(
        "SELECT payload->>'code' AS code FROM outgoing_messages "
        "WHERE contact_method_id = %s AND kind = 'verification' ORDER BY id DESC LIMIT 1",
        (method["id"],),
    ).fetchone()
    world.verify_code = row["code"]
    world.secrets.append(row["code"])
    rule = {"contact_method_id": method["id"], "delay_minutes": 0}
    path = f"/users/{ids['user']}/notification-rules"
    ids["notification_rule"] = created(api.post(path, json=rule))["id"]
