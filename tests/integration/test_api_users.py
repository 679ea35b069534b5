"""/api/v1/users against real Postgres: CRUD, validation, conflicts, pagination."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import Api


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


def new_user(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"name": "Ada Lovelace", "email": f"ada-{uuid.uuid4().hex[:8]}@example.com", **fields}
    response = api.post("/users", json=body)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def field_errors(response: Any) -> set[str]:
    body = response.get_json()
    assert set(body) == {"error", "code", "details", "request_id"}
    return {e["field"] for e in body["details"].get("errors", [])}


def test_create_then_get_returns_the_user_with_string_id_and_utc_times(
    client: Any, make_api_key: Callable[[str], str]
) -> None:
    api = Api(client, make_api_key("admin"))  # making an admin takes admin scope
    user = new_user(api, role="admin", time_zone="Europe/Berlin")
    assert user["role"] == "admin" and user["time_zone"] == "Europe/Berlin"
    assert isinstance(user["id"], str) and user["created_at"].endswith("Z")
    assert api.get(f"/users/{user['id']}").get_json() == {**user, "teams": []}


def test_defaults_role_user_and_time_zone_utc(api: Api) -> None:
    user = new_user(api)
    assert (user["role"], user["time_zone"]) == ("user", "UTC")


def test_patch_changes_only_the_given_fields(api: Api) -> None:
    user = new_user(api)
    response = api.patch(f"/users/{user['id']}", json={"time_zone": "America/New_York"})
    assert response.status_code == 200
    changed = response.get_json()
    assert changed["time_zone"] == "America/New_York"
    assert changed["name"] == user["name"] and changed["email"] == user["email"]


def test_delete_removes_the_user_and_a_second_delete_is_404(api: Api) -> None:
    user = new_user(api)
    assert api.delete(f"/users/{user['id']}").status_code == 204
    assert api.get(f"/users/{user['id']}").status_code == 404
    assert api.delete(f"/users/{user['id']}").status_code == 404


def test_duplicate_email_is_409_whatever_its_case(api: Api) -> None:
    user = new_user(api)
    response = api.post("/users", json={"name": "Other", "email": user["email"].upper()})
    assert response.status_code == 409
    assert response.get_json()["details"] == {"field": "email"}


def test_patch_to_a_taken_email_is_409(api: Api) -> None:
    first, second = new_user(api), new_user(api)
    response = api.patch(f"/users/{second['id']}", json={"email": first["email"]})
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "email": "a@b", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "A", "email": "a@b", "time_zone": "../../etc/passwd"}, "time_zone"),
        ({"name": "A", "email": "not-an-email"}, "email"),
        ({"name": "", "email": "a@b"}, "name"),
        ({"name": "   ", "email": "a@b"}, "name"),
        ({"name": "x" * 201, "email": "a@b"}, "name"),
        ({"name": "nul\x00byte", "email": "a@b"}, "name"),
        ({"name": "two\nlines", "email": "a@b"}, "name"),
        ({"name": "A", "email": "a@b", "role": "root"}, "role"),
        ({"name": "A", "email": "a@b", "shoe_size": 42}, "shoe_size"),
        ({"email": "a@b"}, "name"),
        ({"name": 5, "email": "a@b"}, "name"),
    ],
)
def test_invalid_user_is_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/users", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in field_errors(response)
    assert field in response.get_json()["error"]


def test_patch_with_null_for_a_required_field_is_422(api: Api) -> None:
    user = new_user(api)
    response = api.patch(f"/users/{user['id']}", json={"name": None})
    assert response.status_code == 422
    assert field_errors(response) == {"name"}


def test_rejected_values_are_not_echoed(api: Api) -> None:
    response = api.post("/users", json={"name": "A", "email": "secret-value-123"})
    assert response.status_code == 422
    assert "secret-value-123" not in response.get_data(as_text=True)


def test_malformed_json_is_400_and_wrong_content_type_415(api: Api) -> None:
    bad = api.post("/users", data="{not json", content_type="application/json")
    assert (bad.status_code, bad.get_json()["code"]) == (400, "malformed_json")
    wrong = api.post("/users", data="name=A", content_type="application/x-www-form-urlencoded")
    assert (wrong.status_code, wrong.get_json()["code"]) == (415, "unsupported_media_type")
    array = api.post("/users", json=[{"name": "A", "email": "a@b"}])
    assert array.status_code == 400


def test_deeply_nested_json_is_400_not_500(api: Api) -> None:
    response = api.post("/users", data="[" * 50_000 + "]" * 50_000, content_type="application/json")
    assert response.status_code in (400, 413)


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    response = api.post("/users", json={"name": "A", "email": "a@b", "pad": "x" * 100_000})
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_unknown_and_malformed_ids_are_404(api: Api) -> None:
    assert api.get(f"/users/{uuid.uuid4()}").status_code == 404
    assert api.get("/users/not-a-uuid").status_code == 404
    assert api.patch(f"/users/{uuid.uuid4()}", json={"name": "B"}).status_code == 404
    assert api.get("/users/not-a-uuid").get_json()["code"] == "not_found"


def test_pagination_walks_every_user_exactly_once(api: Api) -> None:
    created = {new_user(api)["id"] for _ in range(7)}
    seen = [user["id"] for user in api.walk("/users", limit=3)]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == created


def test_limit_out_of_range_and_bad_cursor_are_rejected(api: Api) -> None:
    assert api.get("/users", query_string={"limit": 0}).status_code == 422
    assert api.get("/users", query_string={"limit": 201}).status_code == 422
    bad = api.get("/users", query_string={"cursor": "garbage!"})
    assert (bad.status_code, bad.get_json()["details"]) == (400, {"field": "cursor"})
