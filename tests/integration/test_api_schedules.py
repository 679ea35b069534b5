"""/api/v1/schedules: CRUD, rules, overrides, temporary schedules, shifts and who is on call."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app import directory
from app.oncall import compute, store
from tests.support.api import Api, created


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


@pytest.fixture
def users(db_conn: psycopg.Connection[Any]) -> list[str]:
    return [
        directory.create_user(db_conn, f"user {n}", f"s{n}-{uuid.uuid4().hex[:6]}@example.com")[
            "id"
        ]
        for n in range(3)
    ]


def new_schedule(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": f"sched-{uuid.uuid4().hex[:8]}", "time_zone": "Europe/London", **fields}
    return created(api.post("/schedules", json=body))


def errors_of(response: Any) -> set[str]:
    return {e["field"] for e in response.get_json()["details"].get("errors", [])}


# ---- schedules -----------------------------------------------------------------------------------


def test_create_get_patch_delete_a_schedule(api: Api) -> None:
    schedule = new_schedule(api, description="payments on call")
    path = f"/schedules/{schedule['id']}"
    assert api.get(path).get_json() == schedule
    patched = api.patch(path, json={"time_zone": "Asia/Kolkata"}).get_json()
    assert patched["time_zone"] == "Asia/Kolkata" and patched["description"] == "payments on call"
    assert [s["id"] for s in api.get("/schedules").get_json()["items"]] == [schedule["id"]]
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_schedule_names_are_unique_case_insensitively(api: Api) -> None:
    new_schedule(api, name="Primary")
    assert api.post("/schedules", json={"name": "primary", "time_zone": "UTC"}).status_code == 409


def test_unknown_time_zone_is_422_naming_the_field(api: Api) -> None:
    response = api.post("/schedules", json={"name": "x", "time_zone": "Europe/Atlantis"})
    assert response.status_code == 422 and errors_of(response) == {"time_zone"}
    schedule = new_schedule(api)
    patched = api.patch(f"/schedules/{schedule['id']}", json={"time_zone": "EST5EDT-ish"})
    assert patched.status_code == 422
    assert {field.split(".")[0] for field in errors_of(patched)} == {"time_zone"}


# ---- rules ---------------------------------------------------------------------------------------


def test_rules_crud_for_users_and_rotations(api: Api, users: list[str]) -> None:
    schedule = new_schedule(api)
    rules = f"/schedules/{schedule['id']}/rules"
    rule = created(
        api.post(
            rules,
            json={
                "target_type": "user",
                "target_id": users[0],
                "weekdays": [4, 0, 4],
                "start_time": "22:00",
                "end_time": "06:00",
            },
        )
    )
    assert rule["weekdays"] == [0, 4] and rule["start_time"] == "22:00:00"
    rotation = created(
        api.post(
            "/rotations",
            json={
                "name": "r",
                "type": "weekly",
                "start": "2030-01-07T09:00:00Z",
                "time_zone": "UTC",
                "participants": users,
            },
        )
    )
    moved = api.patch(
        f"{rules}/{rule['id']}", json={"target_type": "rotation", "target_id": rotation["id"]}
    ).get_json()
    assert moved["target_type"] == "rotation" and moved["target_id"] == rotation["id"]
    assert moved["weekdays"] == [0, 4]
    assert api.get(f"{rules}/{rule['id']}").get_json() == moved
    assert [r["id"] for r in api.get(rules).get_json()["items"]] == [rule["id"]]
    half = api.patch(f"{rules}/{rule['id']}", json={"target_type": "user"})
    assert half.status_code == 422
    assert api.delete(f"{rules}/{rule['id']}").status_code == 204
    assert api.get(f"{rules}/{rule['id']}").status_code == 404


def test_rule_with_an_unknown_target_is_404_and_bad_weekdays_422(
    api: Api, users: list[str]
) -> None:
    rules = f"/schedules/{new_schedule(api)['id']}/rules"
    missing = {"target_type": "rotation", "target_id": str(uuid.uuid4())}
    assert api.post(rules, json=missing).status_code == 404
    bad = api.post(rules, json={"target_type": "user", "target_id": users[0], "weekdays": [7]})
    assert bad.status_code == 422
    none = api.post(rules, json={"target_type": "user", "target_id": users[0], "weekdays": []})
    assert none.status_code == 422


# ---- overrides -----------------------------------------------------------------------------------


def test_overrides_add_remove_replace_and_may_overlap(api: Api, users: list[str]) -> None:
    overrides = f"/schedules/{new_schedule(api)['id']}/overrides"
    span = {"start": "2030-02-01T00:00:00Z", "end": "2030-02-02T00:00:00Z"}
    add = created(api.post(overrides, json={"kind": "add", "add_user_id": users[0], **span}))
    remove = created(
        api.post(overrides, json={"kind": "remove", "remove_user_id": users[0], **span})
    )
    replace = created(
        api.post(
            overrides,
            json={"kind": "replace", "add_user_id": users[1], "remove_user_id": users[2], **span},
        )
    )
    assert add["start"] == span["start"] and remove["add_user_id"] is None
    assert replace["remove_user_id"] == users[2]
    listed = api.get(overrides).get_json()["items"]
    assert [o["id"] for o in listed] == [add["id"], remove["id"], replace["id"]]
    assert api.get(f"{overrides}/{add['id']}").get_json() == add
    assert api.delete(f"{overrides}/{add['id']}").status_code == 204
    assert api.get(f"{overrides}/{add['id']}").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "add", "start": "2030-02-02T00:00:00Z", "end": "2030-02-01T00:00:00Z"},
        {"kind": "add", "start": "2030-02-01T00:00:00Z", "end": "2030-02-01T00:00:00Z"},
        {"kind": "remove", "start": "2030-02-01T00:00:00Z", "end": "2030-02-02T00:00:00Z"},
        {"kind": "swap", "start": "2030-02-01T00:00:00Z", "end": "2030-02-02T00:00:00Z"},
    ],
)
def test_bad_overrides_are_422(api: Api, users: list[str], body: dict[str, Any]) -> None:
    overrides = f"/schedules/{new_schedule(api)['id']}/overrides"
    if body["kind"] == "add":
        body = {**body, "add_user_id": users[0]}
    assert api.post(overrides, json=body).status_code == 422


# ---- temporary schedules -------------------------------------------------------------------------


def test_temporary_schedules_crud_and_shifts_must_lie_within(api: Api, users: list[str]) -> None:
    temporaries = f"/schedules/{new_schedule(api)['id']}/temporary-schedules"
    body = {
        "start": "2030-03-01T00:00:00Z",
        "end": "2030-03-03T00:00:00Z",
        "shifts": [
            {"user_id": users[1], "start": "2030-03-02T00:00:00Z", "end": "2030-03-03T00:00:00Z"},
            {"user_id": users[0], "start": "2030-03-01T00:00:00Z", "end": "2030-03-02T00:00:00Z"},
        ],
    }
    temporary = created(api.post(temporaries, json=body))
    assert [s["user_id"] for s in temporary["shifts"]] == [users[0], users[1]]
    assert api.get(f"{temporaries}/{temporary['id']}").get_json() == temporary
    assert [t["id"] for t in api.get(temporaries).get_json()["items"]] == [temporary["id"]]
    outside = {**body, "end": "2030-03-02T12:00:00Z"}
    assert api.post(temporaries, json=outside).status_code == 422
    backwards = {"start": "2030-03-03T00:00:00Z", "end": "2030-03-01T00:00:00Z"}
    assert api.post(temporaries, json=backwards).status_code == 422
    assert api.delete(f"{temporaries}/{temporary['id']}").status_code == 204
    assert api.get(f"{temporaries}/{temporary['id']}").status_code == 404


# ---- shifts and who is on call -------------------------------------------------------------------


def seeded_schedule(api: Api, users: list[str]) -> dict[str, Any]:
    """Weekdays 09:00-17:00 London: a daily rotation of users 0 and 1; nights: user 2."""
    schedule = new_schedule(api)
    rotation = created(
        api.post(
            "/rotations",
            json={
                "name": "days",
                "type": "daily",
                "start": "2030-03-25T09:00:00Z",
                "time_zone": "Europe/London",
                "participants": users[:2],
            },
        )
    )
    rules = f"/schedules/{schedule['id']}/rules"
    created(
        api.post(
            rules,
            json={
                "target_type": "rotation",
                "target_id": rotation["id"],
                "weekdays": [0, 1, 2, 3, 4],
                "start_time": "09:00",
                "end_time": "17:00",
            },
        )
    )
    night = {"target_type": "user", "target_id": users[2], "start_time": "17:00"}
    created(api.post(rules, json={**night, "end_time": "09:00"}))
    override = {"kind": "replace", "add_user_id": users[0], "remove_user_id": users[2]}
    span = {"start": "2030-03-27T20:00:00Z", "end": "2030-03-27T22:00:00Z"}
    created(api.post(f"/schedules/{schedule['id']}/overrides", json={**override, **span}))
    return schedule


def test_shifts_are_what_compute_returns_for_the_stored_schedule(
    api: Api, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    schedule = seeded_schedule(api, users)
    start, end = datetime(2030, 3, 24, tzinfo=UTC), datetime(2030, 4, 3, tzinfo=UTC)
    response = api.get(
        f"/schedules/{schedule['id']}/shifts",
        query_string={"start": "2030-03-24T00:00:00Z", "end": "2030-04-03T00:00:00Z"},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    value = store.load_schedule(db_conn, schedule["id"])
    assert value is not None
    rotations = store.load_rotations(db_conn, store.rotation_ids_of(value))
    expected = compute.schedule_shifts(value, rotations, start, end)
    assert body["items"] == [
        {
            "user_id": s.user_id,
            "start": s.start.isoformat().replace("+00:00", "Z"),
            "end": s.end.isoformat().replace("+00:00", "Z"),
        }
        for s in expected
    ]
    assert body["next_cursor"] is None and len(body["items"]) > 10
    # Monday 2030-03-25 is in GMT (09:00 local = 09:00 UTC); Monday 2030-04-01, the rotation's
    # eighth day, is in British Summer Time (09:00 local = 08:00 UTC).
    monday = {"user_id": users[0], "start": "2030-03-25T09:00:00Z", "end": "2030-03-25T17:00:00Z"}
    summer = {"user_id": users[1], "start": "2030-04-01T08:00:00Z", "end": "2030-04-01T16:00:00Z"}
    assert monday in body["items"] and summer in body["items"]


def test_shifts_default_to_the_next_seven_days(api: Api, users: list[str]) -> None:
    schedule = seeded_schedule(api, users)
    body = api.get(f"/schedules/{schedule['id']}/shifts").get_json()
    start = datetime.fromisoformat(body["start"])
    assert datetime.fromisoformat(body["end"]) - start == timedelta(days=7)
    assert abs(start - datetime.now(UTC)) < timedelta(minutes=1)


def test_absurd_or_backwards_ranges_are_422_with_computes_message(
    api: Api, users: list[str]
) -> None:
    shifts = f"/schedules/{seeded_schedule(api, users)['id']}/shifts"
    century = api.get(
        shifts, query_string={"start": "2030-01-01T00:00:00Z", "end": "2130-01-01T00:00:00Z"}
    )
    assert century.status_code == 422 and "range" in century.get_json()["error"]
    backwards = api.get(
        shifts, query_string={"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
    )
    assert backwards.status_code == 422
    assert api.get(f"/schedules/{uuid.uuid4()}/shifts").status_code == 404


def test_who_is_on_call_applies_rules_and_overrides(api: Api, users: list[str]) -> None:
    path = f"/schedules/{seeded_schedule(api, users)['id']}/on-call"
    # Wednesday 2030-03-27 is the rotation's third day: user 0 by day; user 2 at night, except
    # 20:00-22:00 UTC where user 0 replaces them.
    assert api.get(path, query_string={"at": "2030-03-27T10:00:00Z"}).get_json()["user_ids"] == [
        users[0]
    ]
    assert api.get(path, query_string={"at": "2030-03-27T19:00:00Z"}).get_json()["user_ids"] == [
        users[2]
    ]
    assert api.get(path, query_string={"at": "2030-03-27T21:00:00Z"}).get_json()["user_ids"] == [
        users[0]
    ]
    assert "user_ids" in api.get(path).get_json()


def test_when_am_i_on_call_next(
    api: Api, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    schedule = new_schedule(api, time_zone="UTC")
    soon = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    span = {"start": soon.isoformat(), "end": (soon + timedelta(hours=4)).isoformat()}
    created(
        api.post(
            f"/schedules/{schedule['id']}/overrides",
            json={"kind": "add", "add_user_id": users[1], **span},
        )
    )
    body = api.get(f"/users/{users[1]}/on-call-next").get_json()
    assert body["shift"]["schedule_id"] == schedule["id"]
    assert datetime.fromisoformat(body["shift"]["start"]) == soon
    assert api.get(f"/users/{users[0]}/on-call-next").get_json()["shift"] is None
    assert api.get(f"/users/{uuid.uuid4()}/on-call-next").status_code == 404
