"""The permission matrix: every /api/v1 route by every kind of caller, with its expected status.

ROUTES below is the map of who may do what: each route (from the app's own route table,
app.http.api.routing.ROUTES) names its scope and its rule; GRID gives, for each (scope, rule),
the status each caller gets. A route missing from ROUTES, or listed but gone, fails
`test_every_route_has_an_entry`. The world is built once: team A (a manager, a member and a
spare member) owns a service, an escalation policy, a schedule, a rotation and a channel; team
B has its own manager; an admin; a personal key (write) of each of those users, a team key of
A (write) and a read-only service key.

"OK" means the request passed authentication and its rule: the answer is anything but 401/403
(each request carries a valid body, built from the OpenAPI document with team A wherever a
body names a team, so it really runs; sub-resources that need not exist are random ids, 404
once allowed). Refused cells must be exactly 401 or 403.
Routes that delete run last, sub-resources before parents, and within a route the refused
callers go first, so a delete by an allowed caller cannot turn a later 403 into a 404.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.directory import api_keys
from app.http.api.routing import API_PREFIX
from config.settings import Settings
from tests.support.api import offline_app
from tests.support.inbound import make_alert
from tests.support.openapi_bodies import request_body
from tests.support.signin import make_user, signed_in
from tests.support.teams import make_team

OK = "ok"
CALLERS = (
    "anonymous", "member", "manager", "other_manager", "admin",
    "member_key", "manager_key", "other_manager_key", "admin_key", "team_key", "read_key",
)  # fmt: skip

# (scope, rule) -> the status of each caller, in CALLERS' order.
#   anon   member manager other  admin  | member_k manager_k other_k admin_k team_k read_k
GRID: dict[tuple[str, str], tuple[Any, ...]] = {
    ("read", "everyone"): (401, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK),
    ("write", "everyone"): (401, OK, OK, OK, OK, OK, OK, OK, OK, OK, 403),
    # a password change: a signed-in user's own (a key has no password)
    ("write", "sessions"): (401, OK, OK, OK, OK, 403, 403, 403, 403, 403, 403),
    # team A's things (sub-resources follow their parent; creating and moving name team A)
    ("write", "team"): (401, 403, OK, 403, OK, 403, OK, 403, OK, OK, 403),
    # the member's own profile, contact methods, notification rules, calendar feeds
    ("write", "self"): (401, OK, 403, 403, OK, OK, 403, 403, OK, 403, 403),
    ("write", "admins"): (401, 403, 403, 403, OK, 403, 403, 403, OK, 403, 403),
    ("admin", "admins"): (401, 403, 403, 403, OK, 403, 403, 403, 403, 403, 403),
    # the member's personal key: its owner, or an admin acting with admin scope
    ("read", "key holder"): (401, OK, 403, 403, OK, OK, 403, 403, 403, 403, 403),
    ("write", "key holder"): (401, OK, 403, 403, OK, OK, 403, 403, 403, 403, 403),
    # a person (asking for and taking shift swaps): no team or service key
    ("write", "users"): (401, OK, OK, OK, OK, OK, OK, OK, OK, 403, 403),
    # a swap's withdrawal: its requester or TEAM (the matrix's swap ids are random: a person who
    # is neither gets the 404 of the swap, not a 403; test_api_shift_swaps checks the 403s)
    ("write", "swap owner"): (401, OK, OK, OK, OK, OK, OK, OK, OK, OK, 403),
}

# Every route: "METHOD path" (path variables by name) -> (scope, rule).
ROUTES: dict[str, tuple[str, str]] = {
    "GET /openapi.json": ("public", "public"),
    # alerts: anyone signed in reads them and acts on them
    "GET /alerts": ("read", "everyone"),
    "GET /alerts/<alert_id>": ("read", "everyone"),
    "GET /alerts/<alert_id>/log": ("read", "everyone"),
    "POST /alerts/<alert_id>/acknowledge": ("write", "everyone"),
    "POST /alerts/<alert_id>/close": ("write", "everyone"),
    "POST /alerts/<alert_id>/escalate": ("write", "everyone"),
    "POST /services/<service_id>/alerts/acknowledge": ("write", "everyone"),
    "POST /services/<service_id>/alerts/close": ("write", "everyone"),
    # API keys (the target is the member's personal key; creating names team A as owner)
    "GET /api-keys": ("read", "everyone"),
    "POST /api-keys": ("write", "team"),
    "GET /api-keys/<key_id>": ("read", "key holder"),
    "DELETE /api-keys/<key_id>": ("write", "key holder"),
    # invitations and the audit log: admins only
    "GET /invitations": ("admin", "admins"),
    "POST /invitations": ("admin", "admins"),
    "DELETE /invitations/<invitation_id>": ("admin", "admins"),
    "GET /audit": ("admin", "admins"),
    # teams
    "GET /teams": ("read", "everyone"),
    "POST /teams": ("write", "admins"),
    "GET /teams/<team_id>": ("read", "everyone"),
    "PATCH /teams/<team_id>": ("write", "admins"),
    "DELETE /teams/<team_id>": ("write", "admins"),
    "GET /teams/<team_id>/members": ("read", "everyone"),
    "POST /teams/<team_id>/members": ("write", "team"),
    "PATCH /teams/<team_id>/members/<user_id>": ("write", "team"),
    "DELETE /teams/<team_id>/members/<user_id>": ("write", "team"),
    # notification channels
    "GET /notification-channels": ("read", "everyone"),
    "POST /notification-channels": ("write", "team"),
    "GET /notification-channels/<channel_id>": ("read", "everyone"),
    "PATCH /notification-channels/<channel_id>": ("write", "team"),
    "DELETE /notification-channels/<channel_id>": ("write", "team"),
    "POST /notification-channels/<channel_id>/test": ("write", "team"),
    # services and what hangs off them
    "GET /services": ("read", "everyone"),
    "POST /services": ("write", "team"),
    "GET /services/<service_id>": ("read", "everyone"),
    "PATCH /services/<service_id>": ("write", "team"),
    "DELETE /services/<service_id>": ("write", "team"),
    "GET /services/<service_id>/on-call": ("read", "everyone"),
    "GET /services/<service_id>/heartbeat-monitors": ("read", "everyone"),
    "POST /services/<service_id>/heartbeat-monitors": ("write", "team"),
    "GET /services/<service_id>/heartbeat-monitors/<monitor_id>": ("read", "everyone"),
    "PATCH /services/<service_id>/heartbeat-monitors/<monitor_id>": ("write", "team"),
    "DELETE /services/<service_id>/heartbeat-monitors/<monitor_id>": ("write", "team"),
    "POST /services/<service_id>/heartbeat-monitors/<monitor_id>/rotate-secret": ("write", "team"),
    "GET /services/<service_id>/integration-keys": ("read", "everyone"),
    "POST /services/<service_id>/integration-keys": ("write", "team"),
    "GET /services/<service_id>/integration-keys/<key_id>": ("read", "everyone"),
    "DELETE /services/<service_id>/integration-keys/<key_id>": ("write", "team"),
    # escalation policies
    "GET /escalation-policies": ("read", "everyone"),
    "POST /escalation-policies": ("write", "team"),
    "GET /escalation-policies/<policy_id>": ("read", "everyone"),
    "GET /escalation-policies/<policy_id>/preview": ("read", "everyone"),
    "PATCH /escalation-policies/<policy_id>": ("write", "team"),
    "DELETE /escalation-policies/<policy_id>": ("write", "team"),
    # rotations
    "GET /rotations": ("read", "everyone"),
    "POST /rotations": ("write", "team"),
    "GET /rotations/<rotation_id>": ("read", "everyone"),
    "PATCH /rotations/<rotation_id>": ("write", "team"),
    "DELETE /rotations/<rotation_id>": ("write", "team"),
    "POST /rotations/<rotation_id>/advance": ("write", "team"),
    "POST /rotations/<rotation_id>/active": ("write", "team"),
    "GET /rotations/<rotation_id>/on-call": ("read", "everyone"),
    # schedules and what hangs off them
    "GET /schedules": ("read", "everyone"),
    "POST /schedules": ("write", "team"),
    "GET /schedules/<schedule_id>": ("read", "everyone"),
    "PATCH /schedules/<schedule_id>": ("write", "team"),
    "DELETE /schedules/<schedule_id>": ("write", "team"),
    "GET /schedules/<schedule_id>/shifts": ("read", "everyone"),
    "GET /schedules/<schedule_id>/on-call": ("read", "everyone"),
    "GET /schedules/<schedule_id>/rules": ("read", "everyone"),
    "POST /schedules/<schedule_id>/rules": ("write", "team"),
    "GET /schedules/<schedule_id>/rules/<rule_id>": ("read", "everyone"),
    "PATCH /schedules/<schedule_id>/rules/<rule_id>": ("write", "team"),
    "DELETE /schedules/<schedule_id>/rules/<rule_id>": ("write", "team"),
    "GET /schedules/<schedule_id>/overrides": ("read", "everyone"),
    "POST /schedules/<schedule_id>/overrides": ("write", "team"),
    "GET /schedules/<schedule_id>/overrides/<override_id>": ("read", "everyone"),
    "PATCH /schedules/<schedule_id>/overrides/<override_id>": ("write", "team"),
    "DELETE /schedules/<schedule_id>/overrides/<override_id>": ("write", "team"),
    "GET /schedules/<schedule_id>/temporary-schedules": ("read", "everyone"),
    "POST /schedules/<schedule_id>/temporary-schedules": ("write", "team"),
    "GET /schedules/<schedule_id>/temporary-schedules/<temporary_id>": ("read", "everyone"),
    "PATCH /schedules/<schedule_id>/temporary-schedules/<temporary_id>": ("write", "team"),
    "DELETE /schedules/<schedule_id>/temporary-schedules/<temporary_id>": ("write", "team"),
    "GET /schedules/<schedule_id>/swaps": ("read", "everyone"),
    "POST /schedules/<schedule_id>/swaps": ("write", "users"),
    "GET /schedules/<schedule_id>/swaps/<swap_id>": ("read", "everyone"),
    "POST /schedules/<schedule_id>/swaps/<swap_id>/take": ("write", "users"),
    "POST /schedules/<schedule_id>/swaps/<swap_id>/withdraw": ("write", "swap owner"),
    "GET /schedules/<schedule_id>/calendar-subscriptions": ("read", "everyone"),
    "POST /schedules/<schedule_id>/calendar-subscriptions": ("write", "team"),
    "DELETE /schedules/<schedule_id>/calendar-subscriptions/<subscription_id>": ("write", "team"),
    # users: everyone reads; a user changes their own things; admins the rest
    "GET /users": ("read", "everyone"),
    "POST /users": ("write", "admins"),
    "GET /users/<user_id>": ("read", "everyone"),
    "PATCH /users/<user_id>": ("write", "self"),
    "DELETE /users/<user_id>": ("write", "admins"),
    "GET /users/<user_id>/on-call-next": ("read", "everyone"),
    "GET /users/<user_id>/contact-methods": ("read", "everyone"),
    "POST /users/<user_id>/contact-methods": ("write", "self"),
    "GET /users/<user_id>/contact-methods/<cm_id>": ("read", "everyone"),
    "PATCH /users/<user_id>/contact-methods/<cm_id>": ("write", "self"),
    "DELETE /users/<user_id>/contact-methods/<cm_id>": ("write", "self"),
    "POST /users/<user_id>/contact-methods/<cm_id>/send-verification": ("write", "self"),
    "POST /users/<user_id>/contact-methods/<cm_id>/verify": ("write", "self"),
    "POST /users/<user_id>/contact-methods/<cm_id>/test": ("write", "self"),
    "GET /users/<user_id>/notification-rules": ("read", "everyone"),
    "POST /users/<user_id>/notification-rules": ("write", "self"),
    "GET /users/<user_id>/notification-rules/<rule_id>": ("read", "everyone"),
    "DELETE /users/<user_id>/notification-rules/<rule_id>": ("write", "self"),
    "GET /users/<user_id>/calendar-subscriptions": ("read", "everyone"),
    "POST /users/<user_id>/calendar-subscriptions": ("write", "self"),
    "DELETE /users/<user_id>/calendar-subscriptions/<subscription_id>": ("write", "self"),
    "GET /users/<user_id>/sessions": ("admin", "admins"),
    "POST /users/<user_id>/sessions/revoke": ("admin", "admins"),
    # the caller's own
    "GET /me": ("read", "everyone"),
    "GET /me/sessions": ("read", "everyone"),
    "DELETE /me/sessions/<session_id>": ("write", "everyone"),
    "POST /me/password": ("write", "sessions"),
    "GET /messages": ("read", "everyone"),
    "GET /messages/<message_id>": ("read", "everyone"),
}

# Routes whose `user_id` is the spare member rather than the member (they act on someone
# else, and must not sign the member out or delete them halfway through the matrix).
ON_SPARE = re.compile(
    r"^(/teams/<team_id>/members/|/users/<user_id>/sessions|DELETE /users/<user_id>$)"
)


def short(rule: str) -> str:
    """/api/v1/alerts/<int(min=1):alert_id> -> /alerts/<alert_id>"""
    return re.sub(r"<(?:[^>:]*:)?(\w+)>", r"<\1>", rule.removeprefix(API_PREFIX))


def declared() -> list[tuple[str, str]]:
    offline_app()
    from app.http.api.routing import ROUTES as DECLARED

    return [(route.method, short(route.rule)) for route in DECLARED]


def test_every_route_has_an_entry() -> None:
    routes = {f"{method} {path}" for method, path in declared()}
    assert sorted(routes - set(ROUTES)) == [], "add these routes to ROUTES (who may use them)"
    assert sorted(set(ROUTES) - routes) == [], "these routes are gone: remove them from ROUTES"
    for entry in ROUTES.values():
        assert entry == ("public", "public") or entry in GRID, entry


# ---- the world -------------------------------------------------------------------------------


@pytest.fixture
def matrix_app(settings_for: Callable[..., Settings]) -> Any:
    """The app with the failed-credentials limit out of the way: the anonymous caller is
    refused once per route, far more than a real client's minute allows."""
    from app import create_app

    app = create_app(settings_for(KLAXON_LIMIT_FAILED_AUTH="100000/minute"))
    app.config["TESTING"] = True
    yield app
    app.extensions["klaxon"].stop()


def _insert(conn: psycopg.Connection[Any], sql: str, *params: Any) -> str:
    row = conn.execute(sql + " RETURNING id::text AS id", params).fetchone()
    assert row is not None
    return str(row["id"])


def build_world(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    people = {name: make_user(conn, role="admin" if name == "admin" else "user")
              for name in ("member", "manager", "other_manager", "admin", "spare")}  # fmt: skip
    team_a = make_team(
        conn, managers=[people["manager"]], members=[people["member"], people["spare"]]
    )
    make_team(conn, managers=[people["other_manager"]])
    a = team_a["id"]
    service = _insert(conn, "INSERT INTO services (name, team_id) VALUES ('s', %s)", a)
    # A second thing of team A's, so that deleting team A stays a 409 and keeps its key.
    _insert(conn, "INSERT INTO services (name, team_id) VALUES ('kept', %s)", a)
    owned = {
        "policy_id": "INSERT INTO escalation_policies (name, team_id) VALUES ('p', %s)",
        "schedule_id": "INSERT INTO schedules (name, time_zone, team_id) VALUES ('c', 'UTC', %s)",
        "rotation_id": "INSERT INTO rotations (name, type, shift_length, start_at, time_zone, "
        "team_id) VALUES ('r', 'daily', 1, now(), 'UTC', %s)",
        "channel_id": "INSERT INTO notification_channels (name, type, address, signing_secret, "
        "team_id) VALUES ('h', 'webhook', 'https://hooks.example.com/h', 'secret', %s)",
    }
    ids = {name: _insert(conn, sql, a) for name, sql in owned.items()}
    member = people["member"]["id"]
    ids |= {
        "team_id": a,
        "service_id": service,
        "alert_id": str(make_alert(conn, service)),
        "member_id": member,
        "spare_id": people["spare"]["id"],
        "api_key_id": api_keys.create_api_key(conn, "target", "read", member)["id"],
    }
    keys = {f"{name}_key": api_keys.create_api_key(conn, name, "write", people[name]["id"])["key"]
            for name in ("member", "manager", "other_manager", "admin")}  # fmt: skip
    keys["team_key"] = api_keys.create_api_key(conn, "team", "write", owner_team_id=a)["key"]
    keys["read_key"] = api_keys.create_api_key(conn, "reader", "read")["key"]
    return {"people": people, "ids": ids, "keys": keys}


def callers(app: Any, world: dict[str, Any]) -> dict[str, tuple[Any, dict[str, str]]]:
    """Each caller: a test client (with its session cookie) and the headers it sends."""
    found: dict[str, tuple[Any, dict[str, str]]] = {"anonymous": (app.test_client(), {})}
    for name in ("member", "manager", "other_manager", "admin"):
        client = app.test_client()
        csrf = signed_in(client, world["people"][name])
        found[name] = (client, {"X-CSRF-Token": csrf})
    for name, key in world["keys"].items():
        found[name] = (app.test_client(), {"Authorization": f"Bearer {key}"})
    return found


def concrete(method: str, path: str, ids: dict[str, str]) -> str:
    """The path with the world's ids (random ones for sub-resources: allowed callers get 404)."""
    user = (
        ids["spare_id"]
        if ON_SPARE.match(path) or ON_SPARE.match(f"{method} {path}")
        else ids["member_id"]
    )
    values = {**ids, "user_id": user, "message_id": "1"}
    if path.startswith("/api-keys/"):
        values["key_id"] = ids["api_key_id"]

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1)) or str(uuid.uuid4())

    return API_PREFIX + re.sub(r"<(\w+)>", fill, path)


def openapi_path(path: str) -> str:
    """/teams/<team_id> -> /api/v1/teams/{team_id}"""
    return API_PREFIX + re.sub(r"<(\w+)>", r"{\1}", path)


def order(route: str) -> tuple[bool, int]:
    """Deletes last, the deepest first."""
    method, path = route.split(" ", 1)
    return method == "DELETE", -path.count("/")


def test_every_caller_gets_the_status_the_matrix_gives(
    matrix_app: Any, db_conn: psycopg.Connection[Any]
) -> None:
    world = build_world(db_conn)
    who = callers(matrix_app, world)
    team = world["ids"]["team_id"]
    wrong: list[str] = []
    for route in sorted((r for r in ROUTES if ROUTES[r][0] != "public"), key=order):
        method, path = route.split(" ", 1)
        statuses = dict(zip(CALLERS, GRID[ROUTES[route]], strict=True))
        url = concrete(method, path, world["ids"])
        body = request_body(openapi_path(path), method, team_id=team, owner_team_id=team)
        kwargs = {} if body is None else {"json": body}
        for caller in sorted(CALLERS, key=lambda c: statuses[c] == OK):  # refused ones first
            client, headers = who[caller]
            got = client.open(url, method=method, headers=headers, **kwargs).status_code
            want = statuses[caller]
            if (want == OK and got in (401, 403)) or (want != OK and got != want):
                wrong.append(f"{route} as {caller}: {got}, expected {want}")
    assert wrong == [], "\n".join(wrong)
