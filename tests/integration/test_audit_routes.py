"""Every /api/v1 route that changes configuration writes exactly one audit_events row, naming
its actor, its action (the route's operation name) and its target.

The routes come from `ROUTES` (app.http.api.routing), not from a list kept here: a new route
that changes state needs a recipe below (a valid request, and the target it should record) or
an entry in app.http.api.audited.NOT_AUDITED, or this test fails naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from app.http.api.audited import NOT_AUDITED
from tests.support.api import Api, offline_app
from tests.support.audit_world import WEBHOOK, World, build, unique
from tests.support.signin import PASSWORD, signed_in

CREATED = "created"  # the target is the row the request inserted


@dataclass(frozen=True)
class Call:
    """One request of a recipe: path (under /api/v1), body, and the target it should record:
    (table, id), or (table, CREATED) for the row it inserts into that table."""

    path: str
    target: tuple[str, str]
    json: Any = None
    as_user: bool = False  # sent by the world's user, signed in (session and CSRF token)


def _user_subs(w: World) -> str:
    return f"/users/{w['user']}/calendar-subscriptions"


def _schedule_subs(w: World) -> str:
    return f"/schedules/{w['schedule']}/calendar-subscriptions"


def _contact(w: World) -> str:
    return f"/users/{w['user']}/contact-methods/{w['contact_method']}"


def _monitor(w: World) -> str:
    return f"/services/{w['service']}/heartbeat-monitors/{w['heartbeat_monitor']}"


SOON = {"start": "2031-01-01T00:00:00Z", "end": "2031-01-02T00:00:00Z"}
SWAP_SPAN = {"start": "2031-03-01T00:00:00Z", "end": "2031-03-02T00:00:00Z"}

RECIPES: dict[str, Callable[[World], Call]] = {
    "create_api_key": lambda w: Call(
        "/api-keys", ("api_keys", CREATED), {"name": unique("k"), "scope": "read"}
    ),
    "revoke_api_key": lambda w: Call(f"/api-keys/{w['api_key']}", ("api_keys", w["api_key"])),
    "create_team": lambda w: Call("/teams", ("teams", CREATED), {"name": unique("t")}),
    "update_team": lambda w: Call(
        f"/teams/{w['team']}", ("teams", w["team"]), {"description": "db"}
    ),
    "delete_team": lambda w: Call(f"/teams/{w['team']}", ("teams", w["team"])),
    # a membership has no id of its own: its team is the target
    "add_team_member": lambda w: Call(
        f"/teams/{w['team']}/members", ("teams", w["team"]), {"user_id": w["spare_user"]}
    ),
    "update_team_member": lambda w: Call(
        f"/teams/{w['team']}/members/{w['user2']}", ("teams", w["team"]), {"role": "manager"}
    ),
    "remove_team_member": lambda w: Call(
        f"/teams/{w['team']}/members/{w['user2']}", ("teams", w["team"])
    ),
    "create_invitation": lambda w: Call(
        "/invitations",
        ("signin_links", CREATED),
        {"email": f"{unique('new')}@example.com", "name": "New Person"},
    ),
    "revoke_invitation": lambda w: Call(
        f"/invitations/{w['invitation']}", ("signin_links", w["invitation"])
    ),
    "create_notification_channel": lambda w: Call(
        "/notification-channels",
        ("notification_channels", CREATED),
        {"name": unique("c"), "type": "webhook", "address": WEBHOOK},
    ),
    "update_notification_channel": lambda w: Call(
        f"/notification-channels/{w['channel']}",
        ("notification_channels", w["channel"]),
        {"name": unique("renamed")},
    ),
    "delete_notification_channel": lambda w: Call(
        f"/notification-channels/{w['channel']}", ("notification_channels", w["channel"])
    ),
    "create_contact_method": lambda w: Call(
        f"/users/{w['user']}/contact-methods",
        ("contact_methods", CREATED),
        {"name": "other hook", "type": "webhook", "address": WEBHOOK + "/2"},
    ),
    "update_contact_method": lambda w: Call(
        _contact(w), ("contact_methods", w["contact_method"]), {"name": "renamed"}
    ),
    "delete_contact_method": lambda w: Call(_contact(w), ("contact_methods", w["contact_method"])),
    "verify_contact_method": lambda w: Call(
        _contact(w) + "/verify", ("contact_methods", w["contact_method"]), {"code": w.verify_code}
    ),
    "create_service": lambda w: Call("/services", ("services", CREATED), {"name": unique("s")}),
    "update_service": lambda w: Call(
        f"/services/{w['service']}", ("services", w["service"]), {"description": "payments"}
    ),
    "delete_service": lambda w: Call(f"/services/{w['service']}", ("services", w["service"])),
    "create_escalation_policy": lambda w: Call(
        "/escalation-policies",
        ("escalation_policies", CREATED),
        {
            "name": unique("p"),
            "steps": [{"delay_minutes": 1, "targets": [{"type": "user", "id": w["user2"]}]}],
        },
    ),
    "update_escalation_policy": lambda w: Call(
        f"/escalation-policies/{w['policy']}",
        ("escalation_policies", w["policy"]),
        {"repeat_count": 3},
    ),
    "delete_escalation_policy": lambda w: Call(
        f"/escalation-policies/{w['policy']}", ("escalation_policies", w["policy"])
    ),
    "create_heartbeat_monitor": lambda w: Call(
        f"/services/{w['service']}/heartbeat-monitors",
        ("heartbeat_monitors", CREATED),
        {"name": "hourly", "timeout_seconds": 3600},
    ),
    "rotate_heartbeat_secret": lambda w: Call(
        _monitor(w) + "/rotate-secret", ("heartbeat_monitors", w["heartbeat_monitor"])
    ),
    "update_heartbeat_monitor": lambda w: Call(
        _monitor(w), ("heartbeat_monitors", w["heartbeat_monitor"]), {"timeout_seconds": 600}
    ),
    "delete_heartbeat_monitor": lambda w: Call(
        _monitor(w), ("heartbeat_monitors", w["heartbeat_monitor"])
    ),
    "create_integration_key": lambda w: Call(
        f"/services/{w['service']}/integration-keys",
        ("integration_keys", CREATED),
        {"type": "grafana"},
    ),
    "revoke_integration_key": lambda w: Call(
        f"/services/{w['service']}/integration-keys/{w['integration_key']}",
        ("integration_keys", w["integration_key"]),
    ),
    "revoke_my_session": lambda w: Call(
        f"/me/sessions/{w['session']}", ("sessions", w["session"]), as_user=True
    ),
    "change_my_password": lambda w: Call(
        "/me/password",
        ("users", w["user"]),
        {"current_password": PASSWORD, "new_password": "a new and long pass phrase"},
        as_user=True,
    ),
    "create_notification_rule": lambda w: Call(
        f"/users/{w['user']}/notification-rules",
        ("notification_rules", CREATED),
        {"contact_method_id": w["contact_method"], "delay_minutes": 10},
    ),
    "delete_notification_rule": lambda w: Call(
        f"/users/{w['user']}/notification-rules/{w['notification_rule']}",
        ("notification_rules", w["notification_rule"]),
    ),
    "create_rotation": lambda w: Call(
        "/rotations",
        ("rotations", CREATED),
        {
            "name": unique("r"),
            "type": "weekly",
            "start": "2026-01-05T09:00:00Z",
            "time_zone": "UTC",
            "participants": [w["user"]],
        },
    ),
    "update_rotation": lambda w: Call(
        f"/rotations/{w['rotation']}", ("rotations", w["rotation"]), {"shift_length": 2}
    ),
    "delete_rotation": lambda w: Call(f"/rotations/{w['rotation']}", ("rotations", w["rotation"])),
    "advance_rotation": lambda w: Call(
        f"/rotations/{w['rotation']}/advance", ("rotations", w["rotation"])
    ),
    "set_active_participant": lambda w: Call(
        f"/rotations/{w['rotation']}/active",
        ("rotations", w["rotation"]),
        {"index": 1 - int(w["on_call_index"])},
    ),
    "create_schedule": lambda w: Call(
        "/schedules", ("schedules", CREATED), {"name": unique("sc"), "time_zone": "Europe/Berlin"}
    ),
    "update_schedule": lambda w: Call(
        f"/schedules/{w['schedule']}", ("schedules", w["schedule"]), {"description": "primary"}
    ),
    "delete_schedule": lambda w: Call(f"/schedules/{w['schedule']}", ("schedules", w["schedule"])),
    "create_rule": lambda w: Call(
        f"/schedules/{w['schedule']}/rules",
        ("schedule_rules", CREATED),
        {"target_type": "rotation", "target_id": w["rotation"]},
    ),
    "update_rule": lambda w: Call(
        f"/schedules/{w['schedule']}/rules/{w['schedule_rule']}",
        ("schedule_rules", w["schedule_rule"]),
        {"weekdays": [0, 1, 2]},
    ),
    "delete_rule": lambda w: Call(
        f"/schedules/{w['schedule']}/rules/{w['schedule_rule']}",
        ("schedule_rules", w["schedule_rule"]),
    ),
    "create_override": lambda w: Call(
        f"/schedules/{w['schedule']}/overrides",
        ("schedule_overrides", CREATED),
        {"kind": "remove", "remove_user_id": w["user"], **SOON},
    ),
    "update_override": lambda w: Call(
        f"/schedules/{w['schedule']}/overrides/{w['override']}",
        ("schedule_overrides", w["override"]),
        {"end": "2030-01-03T00:00:00Z"},
    ),
    "delete_override": lambda w: Call(
        f"/schedules/{w['schedule']}/overrides/{w['override']}",
        ("schedule_overrides", w["override"]),
    ),
    "create_temporary_schedule": lambda w: Call(
        f"/schedules/{w['schedule']}/temporary-schedules",
        ("temporary_schedules", CREATED),
        {**SOON, "shifts": [{"user_id": w["user2"], **SOON}]},
    ),
    "update_temporary_schedule": lambda w: Call(
        f"/schedules/{w['schedule']}/temporary-schedules/{w['temporary_schedule']}",
        ("temporary_schedules", w["temporary_schedule"]),
        {"end": "2030-02-03T00:00:00Z"},
    ),
    "delete_temporary_schedule": lambda w: Call(
        f"/schedules/{w['schedule']}/temporary-schedules/{w['temporary_schedule']}",
        ("temporary_schedules", w["temporary_schedule"]),
    ),
    # asked for by the world's user (on call all day by the schedule's rule); the world's swap
    # was asked for by user2 in its own schedule (tests.support.audit_world)
    "create_shift_swap": lambda w: Call(
        f"/schedules/{w['schedule']}/swaps", ("shift_swaps", CREATED), SWAP_SPAN, as_user=True
    ),
    "take_shift_swap": lambda w: Call(
        f"/schedules/{w['swap_schedule']}/swaps/{w['swap']}/take",
        ("shift_swaps", w["swap"]),
        as_user=True,
    ),
    "withdraw_shift_swap": lambda w: Call(
        f"/schedules/{w['swap_schedule']}/swaps/{w['swap']}/withdraw", ("shift_swaps", w["swap"])
    ),
    "create_schedule_subscription": lambda w: Call(
        _schedule_subs(w), ("calendar_subscriptions", CREATED)
    ),
    "revoke_schedule_subscription": lambda w: Call(
        f"{_schedule_subs(w)}/{w['schedule_subscription']}",
        ("calendar_subscriptions", w["schedule_subscription"]),
    ),
    "create_user_subscription": lambda w: Call(_user_subs(w), ("calendar_subscriptions", CREATED)),
    "revoke_user_subscription": lambda w: Call(
        f"{_user_subs(w)}/{w['user_subscription']}",
        ("calendar_subscriptions", w["user_subscription"]),
    ),
    "revoke_user_sessions": lambda w: Call(
        f"/users/{w['user']}/sessions/revoke", ("users", w["user"])
    ),
    "create_user": lambda w: Call(
        "/users", ("users", CREATED), {"name": "Grace", "email": f"{unique('g')}@example.com"}
    ),
    "update_user": lambda w: Call(f"/users/{w['user']}", ("users", w["user"]), {"name": "Ada L."}),
    "delete_user": lambda w: Call(f"/users/{w['spare_user']}", ("users", w["spare_user"])),
}


def mutating_routes() -> list[tuple[str, str]]:
    """(operation name, method) of every /api/v1 route that is not a GET."""
    offline_app()  # importing the app declares every route
    from app.http.api.routing import ROUTES

    return sorted(
        (route.endpoint.removeprefix("api."), route.method)
        for route in ROUTES
        if route.method != "GET"
    )


MUTATING = mutating_routes()
AUDITED = [(name, method) for name, method in MUTATING if name not in NOT_AUDITED]


def test_every_route_that_changes_state_is_audited_or_listed_as_not() -> None:
    names = {name for name, _ in MUTATING}
    missing = sorted(name for name, _ in AUDITED if name not in RECIPES)
    assert not missing, (
        f"mutating routes without an audit recipe: {missing}; add each to RECIPES in "
        "tests/integration/test_audit_routes.py, or to NOT_AUDITED in app/http/api/audited.py"
    )
    assert set(NOT_AUDITED) <= names, sorted(set(NOT_AUDITED) - names)
    assert set(RECIPES) <= names, sorted(set(RECIPES) - names)


def audit_rows(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return conn.execute("SELECT * FROM audit_events ORDER BY id").fetchall()


def key_id(token: str) -> str:
    import uuid

    return str(uuid.UUID(token.removeprefix("klx_").partition("_")[0]))


def session_client(web_app: Any, world: World) -> tuple[Any, dict[str, str]]:
    """A client signed in as the world's user, and the headers its changes need."""
    client = web_app.test_client()
    csrf = signed_in(client, {"email": world["email"]})
    me = client.get("/api/v1/me/sessions").get_json()["items"]
    world.ids["session"] = me[0]["id"]
    return client, {"X-CSRF-Token": csrf}


@pytest.mark.parametrize(("name", "method"), AUDITED, ids=[name for name, _ in AUDITED])
def test_each_mutating_route_writes_exactly_one_audit_row(
    web_app: Any,
    client: Any,
    db_conn: psycopg.Connection[Any],
    make_api_key: Callable[[str], str],
    name: str,
    method: str,
) -> None:
    if name not in RECIPES:
        pytest.fail(f"no audit recipe for {name}: add one to RECIPES (or list it in NOT_AUDITED)")
    token = make_api_key("admin")
    api = Api(client, token)
    world = build(api, db_conn)
    on_call = api.get(f"/rotations/{world['rotation']}/on-call").get_json()["user_ids"]
    world.ids["on_call_index"] = str([world["user"], world["user2"]].index(on_call[0]))
    user_client, user_headers = session_client(web_app, world)  # a live session too
    call = RECIPES[name](world)
    if call.as_user:
        sender, actor, headers = Api(user_client, None), ("user", world["user"]), user_headers
    else:
        sender, actor, headers = api, ("api_key", key_id(token)), {}
    before = audit_rows(db_conn)
    kwargs = {"json": call.json} if call.json is not None else {}
    response = sender.request(method, call.path, headers=headers, **kwargs)
    assert response.status_code < 300, response.get_json()
    new = audit_rows(db_conn)[len(before) :]
    assert len(new) == 1, [(row["action"], row["target_type"]) for row in new]
    event = new[0]
    assert (event["actor_type"], event["actor_id"]) == actor
    assert event["action"] == name
    table, target_id = call.target
    assert event["target_type"] == table
    if target_id == CREATED:
        inserted = [c for c in event["changes"] if c["op"] == "insert" and c["table"] == table]
        assert inserted and event["target_id"] == inserted[0]["id"]
        assert event["target_id"] == str(response.get_json()["id"])
    else:
        assert event["target_id"] == target_id
    assert event["change_count"] == len(event["changes"]) >= 1
