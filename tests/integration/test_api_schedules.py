"""/api/v1/schedules: CRUD, rules, overrides, temporary schedules, shifts and who is on call."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from app.directory import users as directory_users
from app.oncall import compute
from app.oncall.loading import load_schedule, rotation_ids_of
from app.oncall.rotations import load_rotations
from tests.support.api import Api, created


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


@pytest.fixture
def users(db_conn: psycopg.Connection[Any]) -> list[str]:
    return [
        directory_users.create_user(
            db_conn, f"user {n}", f"s{n}-{uuid.uuid4().hex[:6]}@example.com"
        )["id"]
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
    ("body", "field"),
    [
        ({"kind": "add", "start": "2030-02-02T00:00:00Z", "end": "2030-02-01T00:00:00Z"}, "end"),
        ({"kind": "add", "start": "2030-02-01T00:00:00Z", "end": "2030-02-01T00:00:00Z"}, "end"),
        (
            {"kind": "remove", "start": "2030-02-01T00:00:00Z", "end": "2030-02-02T00:00:00Z"},
            "remove_user_id",
        ),
        ({"kind": "swap", "start": "2030-02-01T00:00:00Z", "end": "2030-02-02T00:00:00Z"}, "kind"),
    ],
)
def test_bad_overrides_are_422_naming_the_field(
    api: Api, users: list[str], body: dict[str, Any], field: str
) -> None:
    overrides = f"/schedules/{new_schedule(api)['id']}/overrides"
    if body["kind"] == "add":
        body = {**body, "add_user_id": users[0]}
    response = api.post(overrides, json=body)
    assert response.status_code == 422 and errors_of(response) == {field}
    assert api.get(overrides).get_json()["items"] == []


def test_override_of_an_unknown_user_is_422_naming_the_field(api: Api, users: list[str]) -> None:
    overrides = f"/schedules/{new_schedule(api)['id']}/overrides"
    body = {"kind": "replace", "add_user_id": users[0], "remove_user_id": str(uuid.uuid4())}
    response = api.post(overrides, json={**body, **SPAN})
    assert response.status_code == 422 and errors_of(response) == {"remove_user_id"}
    add = {"kind": "add", "add_user_id": users[0], **SPAN}
    assert api.post(f"/schedules/{uuid.uuid4()}/overrides", json=add).status_code == 404


SPAN = {"start": "2030-02-01T00:00:00Z", "end": "2030-02-02T00:00:00Z"}


def new_override(api: Api, schedule_id: str, **fields: Any) -> dict[str, Any]:
    return created(api.post(f"/schedules/{schedule_id}/overrides", json={**SPAN, **fields}))


def test_patch_an_override_changes_its_span_kind_and_users(api: Api, users: list[str]) -> None:
    schedule = new_schedule(api)
    override = new_override(api, schedule["id"], kind="add", add_user_id=users[0])
    path = f"/schedules/{schedule['id']}/overrides/{override['id']}"
    later = api.patch(path, json={"end": "2030-02-03T00:00:00Z"})
    assert later.status_code == 200, later.get_json()
    assert later.get_json() == {**override, "end": "2030-02-03T00:00:00Z"}
    replace = {"kind": "replace", "remove_user_id": users[1]}
    replaced = api.patch(path, json=replace).get_json()
    assert (replaced["kind"], replaced["add_user_id"], replaced["remove_user_id"]) == (
        "replace",
        users[0],
        users[1],
    )
    removal = {"kind": "remove", "add_user_id": None, "remove_user_id": users[2]}
    removed = api.patch(path, json=removal).get_json()
    assert (removed["kind"], removed["add_user_id"], removed["remove_user_id"]) == (
        "remove",
        None,
        users[2],
    )
    assert api.get(path).get_json() == removed
    assert removed["id"] == override["id"] and removed["created_at"] == override["created_at"]


def test_patched_overrides_change_who_is_on_call(api: Api, users: list[str]) -> None:
    schedule = new_schedule(api, time_zone="UTC")
    override = new_override(api, schedule["id"], kind="add", add_user_id=users[0])
    on_call = f"/schedules/{schedule['id']}/on-call"
    at = {"at": "2030-02-01T12:00:00Z"}
    assert api.get(on_call, query_string=at).get_json()["user_ids"] == [users[0]]
    path = f"/schedules/{schedule['id']}/overrides/{override['id']}"
    assert api.patch(path, json={"add_user_id": users[1]}).status_code == 200
    assert api.get(on_call, query_string=at).get_json()["user_ids"] == [users[1]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2030-01-31T00:00:00Z"}, "end"),  # before the stored start
        ({"start": "2030-02-02T00:00:00Z"}, "end"),  # equal to the stored end
        ({"kind": "replace"}, "remove_user_id"),  # replace needs someone to remove
        ({"kind": "remove", "remove_user_id": "USER1"}, "add_user_id"),  # add's user kept
        ({"remove_user_id": "USER1"}, "remove_user_id"),  # add takes no one to remove
        ({"add_user_id": None}, "add_user_id"),  # add needs someone to add
        ({"add_user_id": "UNKNOWN"}, "add_user_id"),  # no such user
        ({"kind": None}, "kind"),
        ({"kind": "swap"}, "kind"),
        ({"start": "yesterday"}, "start"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_patch_that_would_break_an_override_is_422_naming_the_field_and_changes_nothing(
    api: Api,
    users: list[str],
    db_conn: psycopg.Connection[Any],
    change: dict[str, Any],
    field: str,
) -> None:
    schedule = new_schedule(api)
    override = new_override(api, schedule["id"], kind="add", add_user_id=users[0])
    path = f"/schedules/{schedule['id']}/overrides/{override['id']}"
    swaps = {"USER1": users[1], "UNKNOWN": str(uuid.uuid4())}
    body = {key: swaps.get(value, value) for key, value in change.items()}
    response = api.patch(path, json=body)
    assert response.status_code == 422, response.get_json()
    assert {name.split(".")[0] for name in errors_of(response)} == {field}
    assert api.get(path).get_json() == override
    row = db_conn.execute(
        "SELECT kind, add_user_id::text, remove_user_id FROM schedule_overrides WHERE id = %s",
        (override["id"],),
    ).fetchone()
    assert row == {"kind": "add", "add_user_id": users[0], "remove_user_id": None}


def test_the_database_holds_an_overrides_constraints_too(
    api: Api, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    override = new_override(api, new_schedule(api)["id"], kind="add", add_user_id=users[0])
    with pytest.raises(psycopg.errors.CheckViolation):
        db_conn.execute(
            "UPDATE schedule_overrides SET kind = 'replace' WHERE id = %s", (override["id"],)
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        db_conn.execute(
            "UPDATE schedule_overrides SET end_at = start_at WHERE id = %s", (override["id"],)
        )


def test_patch_of_an_unknown_override_is_404(api: Api, users: list[str]) -> None:
    schedule, other = new_schedule(api), new_schedule(api)
    override = new_override(api, schedule["id"], kind="add", add_user_id=users[0])
    end = {"end": "2030-02-03T00:00:00Z"}
    assert (
        api.patch(f"/schedules/{schedule['id']}/overrides/{uuid.uuid4()}", json=end).status_code
        == 404
    )
    assert (
        api.patch(f"/schedules/{other['id']}/overrides/{override['id']}", json=end).status_code
        == 404
    )
    assert (
        api.patch(f"/schedules/{uuid.uuid4()}/overrides/{override['id']}", json=end).status_code
        == 404
    )
    assert (
        api.patch(f"/schedules/{schedule['id']}/overrides/not-a-uuid", json=end).status_code == 404
    )


def test_patching_needs_a_write_key(
    api: Api, client: Any, make_api_key: Callable[[str], str], users: list[str]
) -> None:
    schedule = new_schedule(api)
    override = new_override(api, schedule["id"], kind="add", add_user_id=users[0])
    temporary = created(
        api.post(f"/schedules/{schedule['id']}/temporary-schedules", json={**SPAN, "shifts": []})
    )
    reader = Api(client, make_api_key("read"))
    end = {"end": "2030-02-03T00:00:00Z"}
    for path in (
        f"/schedules/{schedule['id']}/overrides/{override['id']}",
        f"/schedules/{schedule['id']}/temporary-schedules/{temporary['id']}",
    ):
        assert reader.patch(path, json=end).status_code == 403
        assert reader.get(path).get_json()["end"] == SPAN["end"]
        assert api.patch(path, json=end).status_code == 200


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


TEMPORARY = {
    "start": "2030-03-01T00:00:00Z",
    "end": "2030-03-03T00:00:00Z",
}


def new_temporary(api: Api, schedule_id: str, users: list[str]) -> dict[str, Any]:
    body = {
        **TEMPORARY,
        "shifts": [
            {"user_id": users[0], "start": "2030-03-01T00:00:00Z", "end": "2030-03-02T00:00:00Z"},
            {"user_id": users[1], "start": "2030-03-02T00:00:00Z", "end": "2030-03-03T00:00:00Z"},
        ],
    }
    return created(api.post(f"/schedules/{schedule_id}/temporary-schedules", json=body))


def test_patch_a_temporary_schedules_span_keeps_its_shifts(
    api: Api, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    schedule = new_schedule(api)
    temporary = new_temporary(api, schedule["id"], users)
    path = f"/schedules/{schedule['id']}/temporary-schedules/{temporary['id']}"
    wider = {"start": "2030-02-28T00:00:00Z", "end": "2030-03-04T00:00:00Z"}
    response = api.patch(path, json=wider)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**temporary, **wider}
    assert api.get(path).get_json() == {**temporary, **wider}
    spans = db_conn.execute(
        "SELECT DISTINCT span_start, span_end FROM temporary_schedule_shifts "
        "WHERE temporary_schedule_id = %s",
        (temporary["id"],),
    ).fetchall()
    assert spans == [
        {
            "span_start": datetime(2030, 2, 28, tzinfo=UTC),
            "span_end": datetime(2030, 3, 4, tzinfo=UTC),
        }
    ]


def test_patch_replaces_a_temporary_schedules_shifts_wholesale(api: Api, users: list[str]) -> None:
    schedule = new_schedule(api, time_zone="UTC")
    temporary = new_temporary(api, schedule["id"], users)
    path = f"/schedules/{schedule['id']}/temporary-schedules/{temporary['id']}"
    # A new span the old shifts do not fit, with new shifts that do (they may overlap, as POST's).
    shifts = [
        {"user_id": users[2], "start": "2030-04-01T00:00:00Z", "end": "2030-04-02T00:00:00Z"},
        {"user_id": users[0], "start": "2030-04-01T12:00:00Z", "end": "2030-04-01T18:00:00Z"},
    ]
    body = {"start": "2030-04-01T00:00:00Z", "end": "2030-04-02T00:00:00Z", "shifts": shifts}
    response = api.patch(path, json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**temporary, **body, "shifts": [shifts[0], shifts[1]]}
    on_call = f"/schedules/{schedule['id']}/on-call"
    at = {"at": "2030-04-01T13:00:00Z"}
    assert api.get(on_call, query_string=at).get_json()["user_ids"] == sorted(users[::2])
    gone = {"at": "2030-03-01T12:00:00Z"}
    assert api.get(on_call, query_string=gone).get_json()["user_ids"] == []
    emptied = api.patch(path, json={"shifts": []}).get_json()
    assert emptied["shifts"] == [] and emptied["start"] == body["start"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end": "2030-02-28T00:00:00Z"}, "end"),  # before the stored start
        ({"start": "2030-03-03T00:00:00Z"}, "end"),  # equal to the stored end
        ({"end": "2030-03-02T12:00:00Z"}, "shifts"),  # the kept second shift would stick out
        ({"start": "2030-03-01T06:00:00Z"}, "shifts"),  # the kept first shift would stick out
        (
            {
                "shifts": [
                    {
                        "user_id": "USER0",
                        "start": "2030-03-02T00:00:00Z",
                        "end": "2030-03-04T00:00:00Z",
                    }
                ]
            },
            "shifts",
        ),
        (
            {
                "shifts": [
                    {
                        "user_id": "USER0",
                        "start": "2030-03-02T00:00:00Z",
                        "end": "2030-03-01T00:00:00Z",
                    }
                ]
            },
            "shifts",
        ),
        (
            {
                "shifts": [
                    {
                        "user_id": "UNKNOWN",
                        "start": "2030-03-01T00:00:00Z",
                        "end": "2030-03-02T00:00:00Z",
                    }
                ]
            },
            "shifts",
        ),
        ({"shifts": None}, "shifts"),
        ({"start": None}, "start"),
        ({"name": "cover"}, "name"),
    ],
)
def test_patch_that_would_break_a_temporary_schedule_is_422_and_changes_nothing(
    api: Api, users: list[str], change: dict[str, Any], field: str
) -> None:
    schedule = new_schedule(api)
    temporary = new_temporary(api, schedule["id"], users)
    path = f"/schedules/{schedule['id']}/temporary-schedules/{temporary['id']}"
    swaps = {"USER0": users[0], "UNKNOWN": str(uuid.uuid4())}
    if "shifts" in change and change["shifts"] is not None:
        change = {"shifts": [{**s, "user_id": swaps[s["user_id"]]} for s in change["shifts"]]}
    response = api.patch(path, json=change)
    assert response.status_code == 422, response.get_json()
    assert {name.split(".")[0] for name in errors_of(response)} == {field}
    assert api.get(path).get_json() == temporary


def test_temporary_schedule_errors_name_the_shift(api: Api, users: list[str]) -> None:
    schedule = new_schedule(api)
    temporary = new_temporary(api, schedule["id"], users)
    path = f"/schedules/{schedule['id']}/temporary-schedules/{temporary['id']}"
    inside = {"start": "2030-03-01T00:00:00Z", "end": "2030-03-01T06:00:00Z"}
    unknown = str(uuid.uuid4())
    shifts = [{"user_id": users[0], **inside}, {"user_id": unknown, **inside}]
    response = api.patch(path, json={"shifts": shifts})
    assert errors_of(response) == {"shifts.1.user_id"} and unknown in response.get_json()["error"]
    posted = api.post(
        f"/schedules/{schedule['id']}/temporary-schedules", json={**TEMPORARY, "shifts": shifts}
    )
    assert posted.status_code == 422 and errors_of(posted) == {"shifts.1.user_id"}
    late = [{"user_id": users[0], "start": "2030-03-02T00:00:00Z", "end": "2030-03-05T00:00:00Z"}]
    assert errors_of(api.patch(path, json={"shifts": late})) == {"shifts.0"}
    shrink = api.patch(path, json={"end": "2030-03-02T12:00:00Z"})
    assert errors_of(shrink) == {"shifts"} and "send shifts" in shrink.get_json()["error"]


def test_patch_of_an_unknown_temporary_schedule_is_404(api: Api, users: list[str]) -> None:
    schedule, other = new_schedule(api), new_schedule(api)
    temporary = new_temporary(api, schedule["id"], users)
    end = {"end": "2030-03-04T00:00:00Z"}
    temporaries = "temporary-schedules"
    for path in (
        f"/schedules/{schedule['id']}/{temporaries}/{uuid.uuid4()}",
        f"/schedules/{other['id']}/{temporaries}/{temporary['id']}",
        f"/schedules/{uuid.uuid4()}/{temporaries}/{temporary['id']}",
    ):
        assert api.patch(path, json=end).status_code == 404


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
    value = load_schedule(db_conn, schedule["id"])
    assert value is not None
    rotations = load_rotations(db_conn, rotation_ids_of(value))
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


def test_absurd_or_backwards_ranges_are_422_naming_end(api: Api, users: list[str]) -> None:
    shifts = f"/schedules/{seeded_schedule(api, users)['id']}/shifts"
    century = api.get(
        shifts, query_string={"start": "2030-01-01T00:00:00Z", "end": "2130-01-01T00:00:00Z"}
    )
    assert century.status_code == 422
    assert century.get_json()["details"]["errors"] == [
        {
            "field": "end",
            "message": "must be at most 732 days after start; ask in pieces",
            "type": "value_error",
        }
    ]
    backwards = api.get(
        shifts, query_string={"start": "2030-01-02T00:00:00Z", "end": "2030-01-01T00:00:00Z"}
    )
    assert backwards.status_code == 422
    assert backwards.get_json()["details"]["errors"] == [
        {"field": "end", "message": "must be after start", "type": "value_error"}
    ]
    just_two_years = {"start": "2030-01-01T00:00:00Z", "end": "2032-01-03T00:00:00Z"}
    assert api.get(shifts, query_string=just_two_years).status_code == 200
    assert api.get(f"/schedules/{uuid.uuid4()}/shifts").status_code == 404


def test_a_schedule_whose_rotation_lost_its_participants_is_a_409_not_a_422(
    api: Api, users: list[str], db_conn: psycopg.Connection[Any]
) -> None:
    schedule = seeded_schedule(api, users)
    db_conn.execute("DELETE FROM rotation_participants")
    for path in ("shifts", "on-call"):
        response = api.get(f"/schedules/{schedule['id']}/{path}")
        assert response.status_code == 409, response.get_json()
        body = response.get_json()
        assert body["code"] == "schedule_not_computable"
        assert "has no participants" in body["error"]


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
