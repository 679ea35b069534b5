"""/api/v1/escalation-policies: CRUD with ordered steps and targets, step replacement, targets
that must exist, delete-in-use 409; services' escalation_policy_id and the alerts it restarts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.alerts import store as alerts
from app.contacts import channels
from app.directory import users
from app.oncall.rotations import create_rotation
from app.oncall.schedules import create_schedule
from tests.support.api import Api, created


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


@pytest.fixture
def world(db_conn: psycopg.Connection[Any]) -> dict[str, str]:
    """One of each target kind, by type."""
    tag = uuid.uuid4().hex[:6]
    user = users.create_user(db_conn, "Ada", f"ada-{tag}@example.com")["id"]
    schedule = create_schedule(db_conn, f"sched-{tag}", "UTC")["id"]
    with db_conn.transaction():
        rotation = create_rotation(
            db_conn,
            {
                "name": f"rot-{tag}",
                "description": "",
                "type": "daily",
                "shift_length": 1,
                "start": "2020-01-01T00:00:00Z",
                "time_zone": "UTC",
                "start_index": 0,
            },
            [user],
        )["id"]
    channel = channels.create_channel(
        db_conn,
        {"name": f"ch-{tag}", "type": "webhook", "address": "https://192.0.2.12/",
         "status_updates": True},
    )["id"]  # fmt: skip
    return {"user": user, "schedule": schedule, "rotation": rotation, "channel": channel}


def targets(world: dict[str, str], *kinds: str) -> list[dict[str, str]]:
    return [{"type": kind, "id": world[kind]} for kind in kinds]


def new_policy(api: Api, world: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {
        "name": "primary",
        "description": "pages the team",
        "repeat_count": 2,
        "steps": [
            {"delay_minutes": 5, "targets": targets(world, "user", "channel")},
            {"delay_minutes": 10, "targets": targets(world, "schedule", "rotation")},
        ],
        **fields,
    }
    return created(api.post("/escalation-policies", json=body))


def shape(policy: dict[str, Any]) -> list[tuple[int, int, list[tuple[str, str]]]]:
    return [
        (s["position"], s["delay_minutes"], [(t["type"], t["id"]) for t in s["targets"]])
        for s in policy["steps"]
    ]


def test_create_get_list_delete(api: Api, world: dict[str, str]) -> None:
    policy = new_policy(api, world)
    assert policy["name"] == "primary" and policy["repeat_count"] == 2
    assert shape(policy) == [
        (0, 5, [("user", world["user"]), ("channel", world["channel"])]),
        (1, 10, [("schedule", world["schedule"]), ("rotation", world["rotation"])]),
    ]
    names = {t["type"]: t["name"] for s in policy["steps"] for t in s["targets"]}
    assert names["user"] == "Ada" and names["channel"].startswith("ch-")
    path = f"/escalation-policies/{policy['id']}"
    assert api.get(path).get_json() == policy
    other = new_policy(api, world, name="secondary", steps=[])
    assert other["steps"] == [] and other["repeat_count"] == 2
    assert api.walk("/escalation-policies", limit=1) == [policy, other]
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404


def test_patch_replaces_steps_as_a_whole(
    api: Api, world: dict[str, str], db_conn: psycopg.Connection[Any]
) -> None:
    policy = new_policy(api, world)
    path = f"/escalation-policies/{policy['id']}"
    renamed = api.patch(path, json={"name": "renamed", "repeat_count": 0}).get_json()
    assert renamed["steps"] == policy["steps"]  # steps untouched when not sent
    steps = [
        {"delay_minutes": 1, "targets": targets(world, "rotation")},
        {"delay_minutes": 2, "targets": targets(world, "user")},
        {"delay_minutes": 3, "targets": targets(world, "channel", "schedule")},
    ]
    response = api.patch(path, json={"steps": steps})
    assert response.status_code == 200, response.get_json()
    replaced = response.get_json()
    assert replaced["name"] == "renamed" and replaced["repeat_count"] == 0
    assert [(s["position"], s["delay_minutes"]) for s in replaced["steps"]] == [
        (0, 1),
        (1, 2),
        (2, 3),
    ]
    assert not {s["id"] for s in replaced["steps"]} & {s["id"] for s in policy["steps"]}
    rows = db_conn.execute(
        "SELECT count(*) AS n FROM escalation_steps WHERE policy_id = %s", (policy["id"],)
    ).fetchone()
    assert rows == {"n": 3}
    emptied = api.patch(path, json={"steps": []}).get_json()
    assert emptied["steps"] == []


def test_a_failed_replacement_changes_nothing(api: Api, world: dict[str, str]) -> None:
    policy = new_policy(api, world)
    path = f"/escalation-policies/{policy['id']}"
    steps = [
        {"delay_minutes": 1, "targets": targets(world, "user")},
        {"delay_minutes": 2, "targets": [{"type": "schedule", "id": world["rotation"]}]},
    ]
    response = api.patch(path, json={"name": "changed", "steps": steps})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["details"]["errors"][0]["field"] == "steps.1.targets.0.id"
    assert api.get(path).get_json() == policy


@pytest.mark.parametrize("kind", ["user", "schedule", "rotation", "channel"])
def test_every_target_must_exist(api: Api, world: dict[str, str], kind: str) -> None:
    steps = [
        {"delay_minutes": 1, "targets": targets(world, "user")},
        {"delay_minutes": 1, "targets": [*targets(world, "channel"),
                                          {"type": kind, "id": str(uuid.uuid4())}]},
    ]  # fmt: skip
    response = api.post("/escalation-policies", json={"name": "p", "steps": steps})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["details"]["errors"][0]["field"] == "steps.1.targets.1.id"
    assert kind in response.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"repeat_count": 21}, "repeat_count"),
        ({"repeat_count": -1}, "repeat_count"),
        ({"steps": [{"delay_minutes": 0, "targets": []}]}, "steps.0.delay_minutes"),
        ({"steps": [{"delay_minutes": 10081, "targets": []}]}, "steps.0.delay_minutes"),
        ({"steps": [{"delay_minutes": 1, "targets": []}]}, "steps.0.targets"),
        (
            {
                "steps": [
                    {"delay_minutes": 1, "targets": [{"type": "team", "id": str(uuid.uuid4())}]}
                ]
            },
            "steps.0.targets.0.type",
        ),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_bodies_name_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/escalation-policies", json={"name": "p", **body})
    assert response.status_code == 422, response.get_json()
    assert field in [e["field"] for e in response.get_json()["details"]["errors"]]


def test_a_target_twice_in_one_step_is_refused(api: Api, world: dict[str, str]) -> None:
    steps = [{"delay_minutes": 1, "targets": targets(world, "user", "user")}]
    response = api.post("/escalation-policies", json={"name": "p", "steps": steps})
    assert response.status_code == 422
    assert response.get_json()["details"]["errors"][0]["field"] == "steps.0.targets"


def test_names_are_unique(api: Api, world: dict[str, str]) -> None:
    new_policy(api, world, name="Primary")
    response = api.post("/escalation-policies", json={"name": "primary"})
    assert response.status_code == 409
    assert response.get_json()["details"]["field"] == "name"


def test_deleting_a_target_removes_it_from_steps(
    api: Api, world: dict[str, str], db_conn: psycopg.Connection[Any]
) -> None:
    policy = new_policy(api, world)
    db_conn.execute("DELETE FROM notification_channels WHERE id = %s", (world["channel"],))
    shown = api.get(f"/escalation-policies/{policy['id']}").get_json()
    assert shown["steps"][0]["targets"] == [{"type": "user", "id": world["user"], "name": "Ada"}]


# ---- services and their policy -----------------------------------------------------------------


def test_services_take_a_policy_and_a_used_policy_cannot_be_deleted(
    api: Api, world: dict[str, str]
) -> None:
    policy = new_policy(api, world)
    service = created(
        api.post("/services", json={"name": "checkout", "escalation_policy_id": policy["id"]})
    )
    assert service["escalation_policy_id"] == policy["id"]
    other = created(api.post("/services", json={"name": "search"}))
    assert other["escalation_policy_id"] is None
    patched = api.patch(f"/services/{other['id']}", json={"escalation_policy_id": policy["id"]})
    assert patched.get_json()["escalation_policy_id"] == policy["id"]
    refused = api.delete(f"/escalation-policies/{policy['id']}")
    assert refused.status_code == 409, refused.get_json()
    assert "checkout" in refused.get_json()["error"] and "search" in refused.get_json()["error"]
    assert set(refused.get_json()["details"]["services"]) == {service["id"], other["id"]}
    for s in (service, other):
        cleared = api.patch(f"/services/{s['id']}", json={"escalation_policy_id": None})
        assert cleared.get_json()["escalation_policy_id"] is None
    assert api.get(f"/services/{service['id']}").get_json()["escalation_policy_id"] is None
    assert api.delete(f"/escalation-policies/{policy['id']}").status_code == 204


def test_an_unknown_policy_on_a_service_is_422(api: Api) -> None:
    unknown = str(uuid.uuid4())
    response = api.post("/services", json={"name": "x", "escalation_policy_id": unknown})
    assert response.status_code == 422
    assert response.get_json()["details"]["errors"][0]["field"] == "escalation_policy_id"
    service = created(api.post("/services", json={"name": "y"}))
    patched = api.patch(f"/services/{service['id']}", json={"escalation_policy_id": unknown})
    assert patched.status_code == 422
    bad = api.patch(f"/services/{service['id']}", json={"escalation_policy_id": "nope"})
    assert bad.status_code == 422
    missing = api.patch(f"/services/{uuid.uuid4()}", json={"escalation_policy_id": None})
    assert missing.status_code == 404


def escalation(db_conn: psycopg.Connection[Any], alert_id: int) -> dict[str, Any]:
    row = db_conn.execute(
        "SELECT next_step_at, last_step_at FROM alert_escalations WHERE alert_id = %s",
        (alert_id,),
    ).fetchone()
    assert row is not None
    return dict(row)


def test_getting_a_policy_restarts_alerts_that_never_escalated(
    api: Api, world: dict[str, str], db_conn: psycopg.Connection[Any]
) -> None:
    policy = new_policy(api, world)
    service = created(api.post("/services", json={"name": "checkout"}))
    waiting, escalated, acked = (
        alerts.raise_alert(db_conn, service["id"], f"alert {n}").alert_id for n in range(3)
    )
    # What the engine leaves behind: no policy, so nothing is due; one alert already paged.
    db_conn.execute(
        "UPDATE alert_escalations SET next_step_at = NULL WHERE service_id = %s", (service["id"],)
    )
    db_conn.execute(
        "UPDATE alert_escalations SET last_step_at = now() - interval '1 hour', step_index = 1 "
        "WHERE alert_id = %s",
        (escalated,),
    )
    db_conn.execute("UPDATE alerts SET status = 'acknowledged' WHERE id = %s", (acked,))
    db_conn.execute("LISTEN klaxon_events")
    before = db_conn.execute("SELECT now() AS t").fetchone()
    assert before is not None
    response = api.patch(f"/services/{service['id']}", json={"escalation_policy_id": policy["id"]})
    assert response.status_code == 200, response.get_json()
    assert escalation(db_conn, waiting)["next_step_at"] >= before["t"]
    assert escalation(db_conn, escalated)["next_step_at"] is None
    assert escalation(db_conn, acked)["next_step_at"] is None
    notices = [n.payload for n in db_conn.notifies(timeout=5, stop_after=1)]
    assert notices and '"escalation_policy_changed"' in notices[0]
    # Setting the same policy again changes nothing.
    db_conn.execute("UPDATE alert_escalations SET next_step_at = NULL WHERE alert_id = %s",
                    (waiting,))  # fmt: skip
    api.patch(f"/services/{service['id']}", json={"escalation_policy_id": policy["id"]})
    assert escalation(db_conn, waiting)["next_step_at"] is None
    # A different policy restarts it again.
    second = new_policy(api, world, name="second")
    api.patch(f"/services/{service['id']}", json={"escalation_policy_id": second["id"]})
    assert escalation(db_conn, waiting)["next_step_at"] is not None
