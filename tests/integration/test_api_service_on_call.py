"""Issue 5 pieces: GET /services/<id>/on-call (who each step of the service's policy has on call
now or at `at`), and schedules' notice_channel_id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.directory import users as directory_users
from tests.support.api import Api, created


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


def make_user(db_conn: psycopg.Connection[Any], name: str) -> str:
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
    return str(directory_users.create_user(db_conn, name, email)["id"])


def new_channel(api: Api, name: str = "ops") -> dict[str, Any]:
    body = {"name": name, "type": "webhook", "address": "https://192.0.2.10/ops"}
    return created(api.post("/notification-channels", json=body))


@pytest.fixture
def paged_service(api: Api, db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """A service whose policy has a user and a channel in step 0, a schedule and a rotation in
    step 1. The schedule has Bea on call all day every day; the rotation (from 2030) has Cy."""
    ada, bea, cy = (make_user(db_conn, name) for name in ("Ada", "Bea", "Cy"))
    schedule = created(api.post("/schedules", json={"name": "follow", "time_zone": "UTC"}))
    created(
        api.post(
            f"/schedules/{schedule['id']}/rules", json={"target_type": "user", "target_id": bea}
        )
    )
    rotation = created(
        api.post(
            "/rotations",
            json={"name": "r", "type": "weekly", "start": "2030-01-01T00:00:00Z",
                  "time_zone": "UTC", "participants": [cy]},
        )
    )  # fmt: skip
    channel = new_channel(api)
    policy = created(
        api.post(
            "/escalation-policies",
            json={
                "name": "primary",
                "steps": [
                    {"delay_minutes": 5, "targets": [{"type": "user", "id": ada},
                                                     {"type": "channel", "id": channel["id"]}]},
                    {"delay_minutes": 5, "targets": [{"type": "schedule", "id": schedule["id"]},
                                                     {"type": "rotation", "id": rotation["id"]}]},
                ],
            },
        )
    )  # fmt: skip
    service = created(
        api.post("/services", json={"name": "checkout", "escalation_policy_id": policy["id"]})
    )
    return {"service": service, "policy": policy, "users": {"ada": ada, "bea": bea, "cy": cy},
            "ids": {"schedule": schedule["id"], "rotation": rotation["id"],
                    "channel": channel["id"]}}  # fmt: skip


def on_call_by_target(body: dict[str, Any]) -> dict[tuple[int, str], list[dict[str, str]]]:
    return {
        (step["position"], target["type"]): target["users"]
        for step in body["steps"]
        for target in step["targets"]
    }


def test_who_is_on_call_per_step_and_target(api: Api, paged_service: dict[str, Any]) -> None:
    users = paged_service["users"]
    service_id = paged_service["service"]["id"]
    response = api.get(
        f"/services/{service_id}/on-call", query_string={"at": "2031-06-01T12:00:00Z"}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["service_id"] == service_id and body["at"] == "2031-06-01T12:00:00Z"
    assert body["escalation_policy_id"] == paged_service["policy"]["id"]
    assert body["escalation_policy_name"] == "primary"
    assert [s["id"] for s in body["steps"]] == [s["id"] for s in paged_service["policy"]["steps"]]
    assert on_call_by_target(body) == {
        (0, "user"): [{"id": users["ada"], "name": "Ada"}],
        (0, "channel"): [],
        (1, "schedule"): [{"id": users["bea"], "name": "Bea"}],
        (1, "rotation"): [{"id": users["cy"], "name": "Cy"}],
    }
    channel = body["steps"][0]["targets"]
    assert {t["id"] for t in channel} == {users["ada"], paged_service["ids"]["channel"]}


def test_now_is_the_default_and_a_rotation_not_started_has_no_one(
    api: Api, paged_service: dict[str, Any]
) -> None:
    body = api.get(f"/services/{paged_service['service']['id']}/on-call").get_json()
    assert on_call_by_target(body)[(1, "rotation")] == []  # it starts in 2030
    assert on_call_by_target(body)[(1, "schedule")][0]["name"] == "Bea"


def test_a_service_without_a_policy_has_no_steps(api: Api) -> None:
    service = created(api.post("/services", json={"name": "lonely"}))
    body = api.get(f"/services/{service['id']}/on-call").get_json()
    assert body["escalation_policy_id"] is None and body["escalation_policy_name"] is None
    assert body["steps"] == []


def test_unknown_service_and_bad_time(api: Api, paged_service: dict[str, Any]) -> None:
    assert api.get(f"/services/{uuid.uuid4()}/on-call").status_code == 404
    bad = api.get(
        f"/services/{paged_service['service']['id']}/on-call", query_string={"at": "noon"}
    )
    assert bad.status_code == 422
    assert bad.get_json()["details"]["errors"][0]["field"].split(".")[0] == "at"


# ---- schedules' on-call notice channel ---------------------------------------------------------


def test_schedules_take_a_notice_channel(api: Api) -> None:
    channel = new_channel(api)
    schedule = created(
        api.post(
            "/schedules",
            json={"name": "s", "time_zone": "UTC", "notice_channel_id": channel["id"]},
        )
    )
    assert schedule["notice_channel_id"] == channel["id"]
    path = f"/schedules/{schedule['id']}"
    assert api.get(path).get_json()["notice_channel_id"] == channel["id"]
    assert api.get("/schedules").get_json()["items"][0]["notice_channel_id"] == channel["id"]
    renamed = api.patch(path, json={"name": "renamed"}).get_json()
    assert renamed["notice_channel_id"] == channel["id"] and renamed["name"] == "renamed"
    cleared = api.patch(path, json={"notice_channel_id": None}).get_json()
    assert cleared["notice_channel_id"] is None
    again = api.patch(path, json={"notice_channel_id": channel["id"]}).get_json()
    assert again["notice_channel_id"] == channel["id"]
    assert api.delete(f"/notification-channels/{channel['id']}").status_code == 204
    assert api.get(path).get_json()["notice_channel_id"] is None
    plain = created(api.post("/schedules", json={"name": "plain", "time_zone": "UTC"}))
    assert plain["notice_channel_id"] is None


def test_an_unknown_notice_channel_is_422(api: Api) -> None:
    unknown = str(uuid.uuid4())
    body = {"name": "s", "time_zone": "UTC", "notice_channel_id": unknown}
    response = api.post("/schedules", json=body)
    assert response.status_code == 422
    assert response.get_json()["details"]["errors"][0]["field"] == "notice_channel_id"
    assert api.get("/schedules").get_json()["items"] == []  # nothing half-made
    schedule = created(api.post("/schedules", json={"name": "s", "time_zone": "UTC"}))
    patched = api.patch(
        f"/schedules/{schedule['id']}", json={"notice_channel_id": unknown, "name": "t"}
    )
    assert patched.status_code == 422
    assert api.get(f"/schedules/{schedule['id']}").get_json()["name"] == "s"
