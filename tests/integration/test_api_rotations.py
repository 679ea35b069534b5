"""/api/v1/rotations: CRUD with ordered participants, advance / set active, who is on call."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.directory import users as directory_users
from tests.support.api import Api


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


@pytest.fixture
def users(db_conn: psycopg.Connection[Any]) -> list[str]:
    return [
        directory_users.create_user(
            db_conn, f"user {n}", f"u{n}-{uuid.uuid4().hex[:6]}@example.com"
        )["id"]
        for n in range(3)
    ]


def rotation_body(users: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "name": "primary",
        "type": "daily",
        "start": "2030-01-01T09:00:00-05:00",
        "time_zone": "America/New_York",
        "participants": users,
        **fields,
    }


def new_rotation(api: Api, users: list[str], **fields: Any) -> dict[str, Any]:
    response = api.post("/rotations", json=rotation_body(users, **fields))
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def test_create_get_patch_delete_a_rotation_keeps_participant_order(
    api: Api, users: list[str]
) -> None:
    order = [users[2], users[0], users[2]]  # a user may appear more than once
    rotation = new_rotation(api, order, shift_length=2)
    assert rotation["participants"] == order
    assert rotation["start"] == "2030-01-01T14:00:00Z" and rotation["start_index"] == 0
    assert api.get(f"/rotations/{rotation['id']}").get_json() == rotation
    path = f"/rotations/{rotation['id']}"
    patched = api.patch(path, json={"participants": users[:2], "type": "weekly"}).get_json()
    assert patched["participants"] == users[:2] and patched["type"] == "weekly"
    assert patched["shift_length"] == 2
    listed = api.get("/rotations").get_json()
    assert [r["id"] for r in listed["items"]] == [rotation["id"]] and listed["next_cursor"] is None
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_rotations_list_in_pages(api: Api, users: list[str]) -> None:
    ids = [new_rotation(api, users, name=f"r{n}")["id"] for n in range(3)]
    first = api.get("/rotations", query_string={"limit": 2}).get_json()
    second = api.get(
        "/rotations", query_string={"limit": 2, "cursor": first["next_cursor"]}
    ).get_json()
    assert [r["id"] for r in first["items"] + second["items"]] == ids
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"participants": []}, "participants"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"type": "fortnightly"}, "type"),
        ({"shift_length": 0}, "shift_length"),
        ({"start": "2030-01-01T09:00:00"}, "start"),
    ],
)
def test_bad_rotations_are_422_naming_the_field(
    api: Api, users: list[str], change: dict[str, Any], field: str
) -> None:
    response = api.post("/rotations", json=rotation_body(users, **change))
    assert response.status_code == 422
    assert field in {e["field"] for e in response.get_json()["details"]["errors"]}


def test_unknown_participant_is_404(api: Api) -> None:
    response = api.post("/rotations", json=rotation_body([str(uuid.uuid4())]))
    assert response.status_code == 404


def test_rotation_on_call_follows_handoffs_at_local_time(api: Api, users: list[str]) -> None:
    rotation = new_rotation(api, users)  # daily at 09:00 New York, from 2030-01-01
    path = f"/rotations/{rotation['id']}/on-call"
    before = api.get(path, query_string={"at": "2030-01-01T13:59:59Z"}).get_json()
    assert before["user_ids"] == []
    day2 = api.get(path, query_string={"at": "2030-01-02T14:00:00Z"}).get_json()
    assert day2["user_ids"] == [users[1]]
    # 2030-03-10 is a DST change in New York: 09:00 local is 13:00 UTC from then on.
    march = api.get(path, query_string={"at": "2030-03-11T13:00:00Z"}).get_json()
    day = (datetime(2030, 3, 11, tzinfo=UTC) - datetime(2030, 1, 1, tzinfo=UTC)).days
    assert march["user_ids"] == [users[day % 3]]


def test_advance_and_set_active_take_effect_now_and_keep_handoff_times(
    api: Api, users: list[str]
) -> None:
    start = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)
    rotation = new_rotation(api, users, start=start.isoformat(), time_zone="UTC")
    path = f"/rotations/{rotation['id']}"
    now_on = api.get(path + "/on-call").get_json()["user_ids"]
    assert now_on == [users[10 % 3]]
    advanced = api.post(path + "/advance").get_json()
    assert advanced["start"] == rotation["start"]  # handoff times unchanged
    assert api.get(path + "/on-call").get_json()["user_ids"] == [users[11 % 3]]
    activated = api.post(path + "/active", json={"index": 0})
    assert activated.status_code == 200, activated.get_json()
    assert api.get(path + "/on-call").get_json()["user_ids"] == [users[0]]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later = api.get(path + "/on-call", query_string={"at": tomorrow}).get_json()
    assert later["user_ids"] == [users[1]]
    too_far = api.post(path + "/active", json={"index": 3})
    assert too_far.status_code == 422
    assert [e["field"] for e in too_far.get_json()["details"]["errors"]] == ["index"]


def test_set_active_before_the_start_chooses_who_takes_the_first_shift(
    api: Api, users: list[str]
) -> None:
    rotation = new_rotation(api, users)
    path = f"/rotations/{rotation['id']}"
    assert api.post(path + "/active", json={"index": 2}).get_json()["start_index"] == 2
    first = api.get(path + "/on-call", query_string={"at": "2030-01-01T14:00:00Z"}).get_json()
    assert first["user_ids"] == [users[2]]


def test_deleting_a_user_removes_their_positions(
    api: Api, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    rotation = new_rotation(api, [users[0], users[1], users[0]])
    directory_users.delete_user(db_conn, users[0])
    assert api.get(f"/rotations/{rotation['id']}").get_json()["participants"] == [users[1]]


def test_reading_needs_no_more_than_read_scope(
    client: Any, make_api_key: Callable[[str], str], api: Api, users: list[str]
) -> None:
    rotation = new_rotation(api, users)
    reader = Api(client, make_api_key("read"))
    assert reader.get(f"/rotations/{rotation['id']}").status_code == 200
    assert reader.post(f"/rotations/{rotation['id']}/advance").status_code == 403


def test_no_one_is_on_call_before_a_rotation_starts_directly_or_through_a_schedule(
    api: Api, users: list[str]
) -> None:
    # Unlike GoAlert, which extends a rotation backwards from its start, Klaxon's rotation covers
    # nothing before its first handoff (README, "On-call schedules").
    rotation = new_rotation(api, users, start="2030-01-01T09:00:00Z", time_zone="UTC")
    body = {"name": f"s-{uuid.uuid4().hex[:6]}", "time_zone": "UTC"}
    schedule = api.post("/schedules", json=body).get_json()
    rule = {"target_type": "rotation", "target_id": rotation["id"]}
    assert api.post(f"/schedules/{schedule['id']}/rules", json=rule).status_code == 201

    for at, expected in (
        ("2029-12-01T00:00:00Z", []),
        ("2030-01-01T08:59:59Z", []),
        ("2030-01-01T09:00:00Z", [users[0]]),
    ):
        query = {"at": at}
        rotation_on = api.get(f"/rotations/{rotation['id']}/on-call", query_string=query)
        schedule_on = api.get(f"/schedules/{schedule['id']}/on-call", query_string=query)
        assert rotation_on.get_json()["user_ids"] == expected, at
        assert schedule_on.get_json()["user_ids"] == expected, at
    step = {"delay_minutes": 5, "targets": [{"type": "rotation", "id": rotation["id"]}]}
    policy = api.post("/escalation-policies", json={"name": "p", "steps": [step]}).get_json()
    body = {"name": f"svc-{uuid.uuid4().hex[:6]}", "escalation_policy_id": policy["id"]}
    service = api.post("/services", json=body).get_json()
    for at, expected in (("2029-12-31T23:00:00Z", []), ("2030-01-01T10:00:00Z", [users[0]])):
        answer = api.get(f"/services/{service['id']}/on-call", query_string={"at": at})
        [target] = answer.get_json()["steps"][0]["targets"]
        assert [user["id"] for user in target["users"]] == expected, at
    span = {"start": "2029-12-31T00:00:00Z", "end": "2030-01-02T12:00:00Z"}
    shifts = api.get(f"/schedules/{schedule['id']}/shifts", query_string=span).get_json()
    assert [(s["user_id"], s["start"], s["end"]) for s in shifts["items"]] == [
        (users[0], "2030-01-01T09:00:00Z", "2030-01-02T09:00:00Z"),
        (users[1], "2030-01-02T09:00:00Z", "2030-01-02T12:00:00Z"),
    ]
