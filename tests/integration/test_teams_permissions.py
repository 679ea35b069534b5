"""Teams, ownership and key owners, rule by rule (the whole map: test_permission_matrix.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.directory import api_keys
from tests.support.api import Api, created
from tests.support.inbound import make_alert
from tests.support.signin import make_user
from tests.support.teams import make_team

User = dict[str, Any]


@pytest.fixture
def admin(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("admin"))


def personal(client: Any, conn: psycopg.Connection[Any], user: User, scope: str = "write") -> Api:
    """Requests with a new personal key of `user`."""
    return Api(client, api_keys.create_api_key(conn, "mine", scope, user["id"])["key"])


def team_key(client: Any, conn: psycopg.Connection[Any], team: dict[str, Any]) -> Api:
    key = api_keys.create_api_key(conn, "team", "write", owner_team_id=team["id"])["key"]
    return Api(client, key)


def assert_refused(response: Any, words: str) -> None:
    assert response.status_code == 403, response.get_json()
    assert words in response.get_json()["error"]


# ---- teams and members -------------------------------------------------------------------------


def test_admins_create_rename_and_delete_teams(admin: Api) -> None:
    team = created(admin.post("/teams", json={"name": "Payments", "description": "money"}))
    assert admin.get(f"/teams/{team['id']}").get_json()["name"] == "Payments"
    assert admin.post("/teams", json={"name": "payments"}).status_code == 409  # names are unique
    renamed = admin.patch(f"/teams/{team['id']}", json={"name": "Billing"})
    assert renamed.get_json()["name"] == "Billing"
    assert [t["id"] for t in admin.walk("/teams", limit=1)] == [team["id"]]
    assert admin.delete(f"/teams/{team['id']}").status_code == 204
    assert admin.get(f"/teams/{team['id']}").status_code == 404


def test_a_team_that_owns_things_cannot_be_deleted(admin: Api) -> None:
    team = created(admin.post("/teams", json={"name": "Ops"}))
    service = created(admin.post("/services", json={"name": "db", "team_id": team["id"]}))
    created(
        admin.post("/schedules", json={"name": "ops", "time_zone": "UTC", "team_id": team["id"]})
    )
    refused = admin.delete(f"/teams/{team['id']}")
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["details"]["owns"] == {"services": 1, "schedules": 1}
    assert "1 services, 1 schedules" in body["error"]
    admin.patch(f"/services/{service['id']}", json={"team_id": None})
    assert admin.delete(f"/teams/{team['id']}").get_json()["details"]["owns"] == {"schedules": 1}


def test_a_manager_manages_their_teams_members_and_no_other_team(
    client: Any, db_conn: psycopg.Connection[Any]
) -> None:
    manager, newcomer, other = make_user(db_conn), make_user(db_conn), make_user(db_conn)
    team, elsewhere = make_team(db_conn, managers=[manager]), make_team(db_conn, managers=[other])
    api = personal(client, db_conn, manager)
    path = f"/teams/{team['id']}/members"
    added = created(api.post(path, json={"user_id": newcomer["id"]}))
    assert added["role"] == "member"
    assert api.post(path, json={"user_id": newcomer["id"]}).status_code == 409
    unknown = "00000000-0000-0000-0000-000000000001"
    assert api.post(path, json={"user_id": unknown}).status_code == 404
    promoted = api.patch(f"{path}/{newcomer['id']}", json={"role": "manager"})
    assert promoted.get_json()["role"] == "manager"
    listed = {m["user_id"]: m["role"] for m in api.walk(path, limit=1)}
    assert listed == {manager["id"]: "manager", newcomer["id"]: "manager"}
    assert api.delete(f"{path}/{newcomer['id']}").status_code == 204
    assert api.delete(f"{path}/{newcomer['id']}").status_code == 404
    assert_refused(
        api.post(f"/teams/{elsewhere['id']}/members", json={"user_id": newcomer["id"]}),
        "manager of team",
    )
    assert api.post("/teams", json={"name": "mine"}).status_code == 403


def test_a_user_shows_their_teams_and_role(client: Any, db_conn: psycopg.Connection[Any]) -> None:
    user = make_user(db_conn)
    alpha = make_team(db_conn, managers=[user], name="Alpha")
    beta = make_team(db_conn, members=[user], name="beta")
    api = personal(client, db_conn, user)
    shown = api.get(f"/users/{user['id']}").get_json()["teams"]
    assert shown == [
        {"id": alpha["id"], "name": "Alpha", "role": "manager"},
        {"id": beta["id"], "name": "beta", "role": "member"},
    ]
    me = api.get("/me").get_json()
    assert me["user"]["id"] == user["id"]
    assert me["user"]["teams"] == shown


# ---- ownership ---------------------------------------------------------------------------------


def test_a_manager_creates_only_for_a_team_they_manage(
    client: Any, db_conn: psycopg.Connection[Any]
) -> None:
    manager, other = make_user(db_conn), make_user(db_conn)
    team, elsewhere = make_team(db_conn, managers=[manager]), make_team(db_conn, managers=[other])
    api = personal(client, db_conn, manager)
    service = created(api.post("/services", json={"name": "web", "team_id": team["id"]}))
    assert service["team_id"] == team["id"]
    assert_refused(api.post("/services", json={"name": "x"}), "team you manage")
    body = {"name": "x", "time_zone": "UTC", "team_id": elsewhere["id"]}
    assert_refused(api.post("/schedules", json=body), "team you manage")
    unknown = {**body, "team_id": "00000000-0000-0000-0000-000000000001"}
    assert api.post("/schedules", json=unknown).status_code == 422
    # what hangs off their service follows it
    key = api.post(f"/services/{service['id']}/integration-keys", json={"type": "generic"})
    assert key.status_code == 201
    other_api = personal(client, db_conn, other)
    assert_refused(
        other_api.post(f"/services/{service['id']}/integration-keys", json={"type": "generic"}),
        f"manager of team {team['id']}",
    )
    assert_refused(other_api.delete(f"/services/{service['id']}"), "manager of team")
    assert other_api.get(f"/services/{service['id']}").status_code == 200  # reads are open


def test_moving_a_thing_between_teams_takes_managing_both(
    client: Any, db_conn: psycopg.Connection[Any]
) -> None:
    manager = make_user(db_conn)
    first, second = make_team(db_conn, managers=[manager]), make_team(db_conn, managers=[manager])
    third = make_team(db_conn)
    api = personal(client, db_conn, manager)
    policy = created(api.post("/escalation-policies", json={"name": "p", "team_id": first["id"]}))
    path = f"/escalation-policies/{policy['id']}"
    assert_refused(api.patch(path, json={"team_id": third["id"]}), "managing both teams")
    assert_refused(api.patch(path, json={"team_id": None}), "managing both teams")
    moved = api.patch(path, json={"team_id": second["id"]})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["team_id"] == second["id"]
    db_conn.execute(
        "DELETE FROM team_members WHERE team_id = %s AND user_id = %s",
        (second["id"], manager["id"]),
    )
    assert_refused(api.patch(path, json={"name": "q"}), f"manager of team {second['id']}")


def test_what_no_team_owns_is_changed_by_admins_only(
    client: Any, db_conn: psycopg.Connection[Any], admin: Api
) -> None:
    manager = make_user(db_conn)
    make_team(db_conn, managers=[manager])
    channel = created(
        admin.post(
            "/notification-channels",
            json={"name": "ops", "type": "webhook", "address": "http://127.0.0.1:9/hook"},
        )
    )
    assert channel["team_id"] is None
    api = personal(client, db_conn, manager)
    path = f"/notification-channels/{channel['id']}"
    assert_refused(api.patch(path, json={"name": "mine"}), "no team owns")
    assert admin.patch(path, json={"name": "renamed"}).status_code == 200


def test_a_team_key_acts_for_its_team_only(client: Any, db_conn: psycopg.Connection[Any]) -> None:
    team, elsewhere = make_team(db_conn), make_team(db_conn)
    api = team_key(client, db_conn, team)
    mine = created(
        api.post("/schedules", json={"name": "a", "time_zone": "UTC", "team_id": team["id"]})
    )
    assert api.patch(f"/schedules/{mine['id']}", json={"description": "x"}).status_code == 200
    refused = api.post(
        "/schedules", json={"name": "b", "time_zone": "UTC", "team_id": elsewhere["id"]}
    )
    assert_refused(refused, "team you manage")
    user = make_user(db_conn)
    assert_refused(api.patch(f"/users/{user['id']}", json={"name": "x"}), "another user")
    assert api.get("/me").get_json()["user"] is None


# ---- users and their own things ----------------------------------------------------------------


def test_a_user_changes_their_own_profile_and_not_anothers(
    client: Any, db_conn: psycopg.Connection[Any]
) -> None:
    user, other = make_user(db_conn), make_user(db_conn)
    api = personal(client, db_conn, user)
    assert api.patch(f"/users/{user['id']}", json={"name": "Me"}).get_json()["name"] == "Me"
    assert_refused(api.patch(f"/users/{other['id']}", json={"name": "x"}), "another user")
    assert_refused(api.patch(f"/users/{user['id']}", json={"role": "admin"}), "only an admin")
    assert_refused(
        api.post("/users", json={"name": "n", "email": "n@example.com"}), "only an admin"
    )


# ---- API keys and their owners -----------------------------------------------------------------


def test_a_personal_key_acts_as_its_user_in_the_alert_log(
    client: Any, db_conn: psycopg.Connection[Any], make_service: Callable[..., dict[str, Any]]
) -> None:
    user = make_user(db_conn)
    alert = make_alert(db_conn, make_service()["id"])
    api = personal(client, db_conn, user)
    assert api.post(f"/alerts/{alert}/acknowledge").status_code == 200
    row = db_conn.execute(
        "SELECT actor_type, actor_id FROM alert_logs "
        "WHERE alert_id = %s AND event = 'acknowledged'",
        (alert,),
    ).fetchone()
    assert row == {"actor_type": "user", "actor_id": user["id"]}


def test_a_disabled_users_personal_key_stops_at_once(
    client: Any, db_conn: psycopg.Connection[Any], admin: Api
) -> None:
    user = make_user(db_conn)
    api = personal(client, db_conn, user)
    assert api.get("/me").status_code == 200
    assert admin.patch(f"/users/{user['id']}", json={"disabled": True}).status_code == 200
    assert api.get("/me").status_code == 401
    assert admin.patch(f"/users/{user['id']}", json={"disabled": False}).status_code == 200
    assert api.get("/me").status_code == 200


def test_a_keys_scope_caps_its_user_and_never_raises_it(
    client: Any, db_conn: psycopg.Connection[Any]
) -> None:
    manager, chief = make_user(db_conn), make_user(db_conn, role="admin")
    team = make_team(db_conn, managers=[manager])
    reader = personal(client, db_conn, manager, "read")
    assert reader.get("/services").status_code == 200
    refused = reader.post("/services", json={"name": "x", "team_id": team["id"]})
    assert_refused(refused, "scope 'read'")
    # a user who is no admin acts with write at most, whatever the key says
    inflated = personal(client, db_conn, manager, "admin")
    assert inflated.get("/me").get_json()["scope"] == "write"
    assert_refused(inflated.get(f"/users/{manager['id']}/sessions"), "its owner acts with")
    # an admin's write key is an admin within write: no role changes
    admins_write = personal(client, db_conn, chief, "write")
    assert admins_write.post("/services", json={"name": "unowned"}).status_code == 201
    assert_refused(
        admins_write.patch(f"/users/{manager['id']}", json={"role": "admin"}), "only an admin"
    )


def test_users_make_personal_keys_for_themselves_within_their_scope(
    client: Any, db_conn: psycopg.Connection[Any]
) -> None:
    user, other = make_user(db_conn), make_user(db_conn)
    api = personal(client, db_conn, user)
    made = created(
        api.post("/api-keys", json={"name": "ci", "scope": "read", "owner_user_id": user["id"]})
    )
    assert made["owner_user_id"] == user["id"]
    assert Api(client, made["key"]).get("/me").get_json()["user"]["id"] == user["id"]
    too_wide = {"name": "x", "scope": "admin", "owner_user_id": user["id"]}
    assert_refused(api.post("/api-keys", json=too_wide), "cannot have 'admin'")
    for_other = {"name": "x", "scope": "read", "owner_user_id": other["id"]}
    assert_refused(api.post("/api-keys", json=for_other), "its own user")
    assert_refused(api.post("/api-keys", json={"name": "x", "scope": "read"}), "service key")


def test_managers_make_team_keys_and_each_sees_only_their_keys(
    client: Any, db_conn: psycopg.Connection[Any], admin: Api
) -> None:
    manager, member, other = make_user(db_conn), make_user(db_conn), make_user(db_conn)
    team = make_team(db_conn, managers=[manager], members=[member])
    api = personal(client, db_conn, manager)
    body = {"name": "deploys", "scope": "write", "owner_team_id": team["id"]}
    team_made = created(api.post("/api-keys", json=body))
    assert team_made["owner_team_id"] == team["id"]
    assert admin.post("/api-keys", json={**body, "scope": "admin"}).status_code == 422
    assert_refused(personal(client, db_conn, member).post("/api-keys", json=body), "team key")
    seen = {key["id"] for key in api.walk("/api-keys", limit=10)}
    own = db_conn.execute(
        "SELECT id::text AS id FROM api_keys WHERE owner_user_id = %s", (manager["id"],)
    ).fetchall()
    assert seen == {team_made["id"]} | {row["id"] for row in own}
    others = personal(client, db_conn, other)
    assert all(key["owner_user_id"] == other["id"] for key in others.walk("/api-keys", limit=10))
    assert_refused(others.delete(f"/api-keys/{team_made['id']}"), "only its owner")
    assert api.delete(f"/api-keys/{team_made['id']}").status_code == 204
    every = admin.walk("/api-keys", limit=50)
    assert {key["id"] for key in every} >= seen
    assert all(
        key["last_used_at"] is not None for key in every if key["owner_user_id"] == manager["id"]
    )
