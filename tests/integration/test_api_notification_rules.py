"""/api/v1/users/<id>/notification-rules: a user's own contact methods with delays."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.contacts import contact_methods
from app.directory import users
from tests.support.api import Api, created


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


def make_user(db_conn: psycopg.Connection[Any], name: str) -> str:
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
    return str(users.create_user(db_conn, name, email)["id"])


def make_method(db_conn: psycopg.Connection[Any], user: str) -> str:
    address = f"https://hooks.example.com/{uuid.uuid4().hex}"
    return str(
        contact_methods.create_contact_method(db_conn, user, "hook", "webhook", address, False)[
            "id"
        ]
    )


def test_create_list_get_delete(api: Api, db_conn: psycopg.Connection[Any]) -> None:
    user = make_user(db_conn, "ada")
    method = make_method(db_conn, user)
    rules = [
        created(
            api.post(
                f"/users/{user}/notification-rules",
                json={"contact_method_id": method, "delay_minutes": delay},
            )
        )
        for delay in (0, 5, 10080)
    ]
    assert [(r["user_id"], r["contact_method_id"]) for r in rules] == [(user, method)] * 3
    assert [r["delay_minutes"] for r in rules] == [0, 5, 10080]
    listed = api.walk(f"/users/{user}/notification-rules", limit=2)
    assert listed == rules
    path = f"/users/{user}/notification-rules/{rules[1]['id']}"
    assert api.get(path).get_json() == rules[1]
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404


def test_a_duplicate_method_and_delay_is_a_conflict(
    api: Api, db_conn: psycopg.Connection[Any]
) -> None:
    user = make_user(db_conn, "ada")
    body = {"contact_method_id": make_method(db_conn, user), "delay_minutes": 3}
    created(api.post(f"/users/{user}/notification-rules", json=body))
    again = api.post(f"/users/{user}/notification-rules", json=body)
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["details"]["field"] == "delay_minutes"


def test_only_the_users_own_contact_methods(api: Api, db_conn: psycopg.Connection[Any]) -> None:
    ada, bob = make_user(db_conn, "ada"), make_user(db_conn, "bob")
    for method in (make_method(db_conn, bob), str(uuid.uuid4())):
        response = api.post(
            f"/users/{ada}/notification-rules",
            json={"contact_method_id": method, "delay_minutes": 0},
        )
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["details"]["errors"][0]["field"] == "contact_method_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"delay_minutes": -1}, "delay_minutes"),
        ({"delay_minutes": 10081}, "delay_minutes"),
        ({"delay_minutes": "soon"}, "delay_minutes"),
        ({"contact_method_id": "nope"}, "contact_method_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_bodies_name_the_field(
    api: Api, db_conn: psycopg.Connection[Any], body: dict[str, Any], field: str
) -> None:
    user = make_user(db_conn, "ada")
    full = {"contact_method_id": make_method(db_conn, user), "delay_minutes": 1, **body}
    response = api.post(f"/users/{user}/notification-rules", json=full)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.get_json()["details"]["errors"]]


def test_unknown_user_or_rule_is_404(api: Api, db_conn: psycopg.Connection[Any]) -> None:
    nobody = uuid.uuid4()
    assert api.get(f"/users/{nobody}/notification-rules").status_code == 404
    body = {"contact_method_id": str(uuid.uuid4()), "delay_minutes": 0}
    assert api.post(f"/users/{nobody}/notification-rules", json=body).status_code == 404
    user = make_user(db_conn, "ada")
    assert api.get(f"/users/{user}/notification-rules/{uuid.uuid4()}").status_code == 404


def test_deleting_the_contact_method_deletes_its_rules(
    api: Api, db_conn: psycopg.Connection[Any]
) -> None:
    user = make_user(db_conn, "ada")
    method = make_method(db_conn, user)
    rule = created(
        api.post(
            f"/users/{user}/notification-rules",
            json={"contact_method_id": method, "delay_minutes": 0},
        )
    )
    assert api.delete(f"/users/{user}/contact-methods/{method}").status_code == 204
    assert api.get(f"/users/{user}/notification-rules/{rule['id']}").status_code == 404
