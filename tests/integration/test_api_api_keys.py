"""/api/v1/api-keys: admin only; the key is shown once; DELETE revokes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.directory import api_keys
from tests.support.api import Api


@pytest.fixture
def admin(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("admin"))


def test_create_returns_the_key_once_and_it_works(
    admin: Api, client: Any, db_conn: psycopg.Connection[Any]
) -> None:
    created = admin.post("/api-keys", json={"name": "ci deploys", "scope": "write"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["key"].startswith("klx_") and body["scope"] == "write"
    assert body["revoked_at"] is None and body["last_used_at"] is None
    verified = api_keys.verify_api_key(db_conn, body["key"])
    assert verified is not None and verified.id == body["id"]
    assert (
        Api(client, body["key"]).post("/users", json={"name": "A", "email": "a@b"}).status_code
        == 201
    )


def test_list_and_get_never_show_the_key(admin: Api) -> None:
    body = admin.post("/api-keys", json={"name": "reader", "scope": "read"}).get_json()
    listed = admin.get("/api-keys").get_json()["items"]
    fetched = admin.get(f"/api-keys/{body['id']}").get_json()
    assert body["id"] in [k["id"] for k in listed]
    for shown in (*listed, fetched):
        assert "key" not in shown and "secret_hash" not in shown
    assert body["key"] not in str(listed) + str(fetched)
    assert fetched == {k: v for k, v in body.items() if k != "key"}


def test_revoke_marks_the_key_and_refuses_it(admin: Api, client: Any) -> None:
    body = admin.post("/api-keys", json={"name": "temp", "scope": "read"}).get_json()
    assert admin.delete(f"/api-keys/{body['id']}").status_code == 204
    assert admin.get(f"/api-keys/{body['id']}").get_json()["revoked_at"] is not None
    assert Api(client, body["key"]).get("/alerts").status_code == 401
    assert admin.delete(f"/api-keys/{uuid.uuid4()}").status_code == 404


def test_last_used_at_is_recorded(admin: Api, client: Any) -> None:
    body = admin.post("/api-keys", json={"name": "temp", "scope": "read"}).get_json()
    Api(client, body["key"]).get("/alerts")
    assert admin.get(f"/api-keys/{body['id']}").get_json()["last_used_at"] is not None


@pytest.mark.parametrize("scope", ["read", "write"])
def test_only_admin_keys_manage_api_keys(
    client: Any, make_api_key: Callable[[str], str], scope: str
) -> None:
    """A service key below admin scope sees no key (it owns none: lists show an identity its
    own and its teams' keys) and cannot make one."""
    api = Api(client, make_api_key(scope))
    listed = api.get("/api-keys")
    assert listed.status_code == 200
    assert listed.get_json()["items"] == []
    assert api.post("/api-keys", json={"name": "escalate", "scope": "admin"}).status_code == 403
    assert api.post("/api-keys", json={"name": "same", "scope": "read"}).status_code == 403


@pytest.mark.parametrize(
    "body", [{"name": "x", "scope": "root"}, {"name": "", "scope": "read"}, {"scope": "read"}]
)
def test_invalid_api_key_request_is_422(admin: Api, body: dict[str, Any]) -> None:
    assert admin.post("/api-keys", json=body).status_code == 422


def test_api_keys_paginate_exactly_once(admin: Api) -> None:
    made = {
        admin.post("/api-keys", json={"name": f"k{n}", "scope": "read"}).get_json()["id"]
        for n in range(5)
    }
    seen = [k["id"] for k in admin.walk("/api-keys", limit=2)]
    assert len(seen) == len(set(seen)) == 6  # the five plus the admin key itself
    assert made < set(seen)
