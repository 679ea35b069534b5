"""Ties between temporary schedules, and between overrides, that start at the same instant are
decided by the order they were made, never by chance: the newest temporary schedule wins (as in
GoAlert) and overrides act in the order they were made. Each case is repeated on many schedules
so that a random order (the old tiebreak was a random uuid) passes with odds of 2^-20 at most.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.directory import users as directory_users
from tests.support.api import Api, created

REPEATS = 20  # schedules per case: a coin-flip order passes all of them once in 2^20 runs
SPAN = {"start": "2030-05-01T00:00:00Z", "end": "2030-05-02T00:00:00Z"}
INSIDE = {"at": "2030-05-01T12:00:00Z"}


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


@pytest.fixture
def users(db_conn: psycopg.Connection[Any]) -> list[str]:
    return [
        str(
            directory_users.create_user(
                db_conn, f"u{n}", f"t{n}-{uuid.uuid4().hex[:6]}@example.com"
            )["id"]
        )
        for n in range(3)
    ]


def new_schedule(api: Api, base_user: str | None = None) -> str:
    body = {"name": f"tie-{uuid.uuid4().hex[:8]}", "time_zone": "UTC"}
    schedule_id = str(created(api.post("/schedules", json=body))["id"])
    if base_user:  # on call all day, every day
        rule = {"target_type": "user", "target_id": base_user}
        created(api.post(f"/schedules/{schedule_id}/rules", json=rule))
    return schedule_id


def temporary(api: Api, schedule_id: str, user_id: str) -> str:
    shift = {"user_id": user_id, **SPAN}
    body = {**SPAN, "shifts": [shift]}
    path = f"/schedules/{schedule_id}/temporary-schedules"
    return str(created(api.post(path, json=body))["id"])


def on_call(api: Api, schedule_id: str) -> list[str]:
    response = api.get(f"/schedules/{schedule_id}/on-call", query_string=INSIDE)
    assert response.status_code == 200, response.get_json()
    return list(response.get_json()["user_ids"])


def shift_users(api: Api, schedule_id: str) -> set[str]:
    response = api.get(f"/schedules/{schedule_id}/shifts", query_string=SPAN)
    assert response.status_code == 200, response.get_json()
    return {shift["user_id"] for shift in response.get_json()["items"]}


def test_the_newest_of_two_tied_temporary_schedules_wins_every_time(
    api: Api, users: list[str]
) -> None:
    older, newer = users[0], users[1]
    for _ in range(REPEATS):
        schedule_id = new_schedule(api, base_user=users[2])
        temporary(api, schedule_id, older)
        temporary(api, schedule_id, newer)
        assert on_call(api, schedule_id) == [newer]
        assert shift_users(api, schedule_id) == {newer}


def test_editing_a_temporary_schedule_keeps_its_place_in_the_order(
    api: Api, users: list[str]
) -> None:
    for _ in range(REPEATS):
        schedule_id = new_schedule(api)
        first = temporary(api, schedule_id, users[0])
        temporary(api, schedule_id, users[1])
        shifts = [{"user_id": users[2], **SPAN}]
        path = f"/schedules/{schedule_id}/temporary-schedules/{first}"
        assert api.patch(path, json={"shifts": shifts}).status_code == 200
        assert on_call(api, schedule_id) == [users[1]]  # still the newer one


def test_tied_overrides_act_in_the_order_they_were_made_every_time(
    api: Api, users: list[str]
) -> None:
    a, b, c = users
    for _ in range(REPEATS):
        schedule_id = new_schedule(api, base_user=a)
        overrides = f"/schedules/{schedule_id}/overrides"
        # Made first: A -> B; then B -> C. In that order C is on call; in the other order the
        # B -> C replacement finds no B and A -> B leaves B on call.
        first = {**SPAN, "kind": "replace", "remove_user_id": a, "add_user_id": b}
        created(api.post(overrides, json=first))
        second = {**SPAN, "kind": "replace", "remove_user_id": b, "add_user_id": c}
        created(api.post(overrides, json=second))
        assert on_call(api, schedule_id) == [c]
        assert shift_users(api, schedule_id) == {c}


def test_an_add_then_a_tied_remove_leaves_the_user_off_every_time(
    api: Api, users: list[str]
) -> None:
    a, b, _ = users
    for _ in range(REPEATS):
        schedule_id = new_schedule(api, base_user=a)
        overrides = f"/schedules/{schedule_id}/overrides"
        created(api.post(overrides, json={**SPAN, "kind": "add", "add_user_id": b}))
        created(api.post(overrides, json={**SPAN, "kind": "remove", "remove_user_id": b}))
        assert on_call(api, schedule_id) == [a]
