"""Every /api/v1 route demands a valid API key of the right scope; keys never reach logs.

Routes are enumerated from the Flask url_map, not from a list kept by hand, so a route added
without authentication fails here. Policy: GET needs `read`, changes need `write`, another
user's sessions, invitations and the audit log need `admin`; only /api/v1/openapi.json is public.
Who may change which thing beyond its scope (teams, owners):
tests/integration/test_permission_matrix.py. Sessions are held to the same table in
tests/integration/test_signin.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import structlog
from werkzeug.routing import IntegerConverter, Rule, UUIDConverter

from app.directory import api_keys
from tests.support.api import Api, offline_app

PUBLIC = {("/api/v1/openapi.json", "GET")}
# Routes only a signed-in user can use: a key of the right scope gets past authentication and is
# then told that it has no password (403 with its own message).
USER_ONLY = {("/api/v1/me/password", "POST")}
# Routes only a person can use (a session or a personal key): a service key of the right scope
# gets past authentication and is then told it has no user (403 with its own message). Asking
# for a swap is one too, but its missing body is refused first (415).
PERSON_ONLY = {("/api/v1/schedules/<uuid:schedule_id>/swaps/<uuid:swap_id>/take", "POST")}
BELOW = {"write": "read", "admin": "write"}


def api_rules() -> list[tuple[Rule, str]]:
    """(rule, method) for every /api/v1 route of a freshly built app."""
    app = offline_app()
    return sorted(
        (
            (rule, method)
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/v1/")
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
        ),
        key=lambda pair: (pair[0].rule, pair[1]),
    )


def required_scope(rule: str, method: str) -> str:
    if rule.startswith(
        ("/api/v1/users/<uuid:user_id>/sessions", "/api/v1/audit", "/api/v1/invitations")
    ):
        return "admin"
    return "read" if method == "GET" else "write"


def concrete_path(rule: Rule) -> str:
    """The rule with each variable filled in with a value its converter accepts."""
    path = rule.rule
    for name, converter in rule._converters.items():
        if isinstance(converter, UUIDConverter):
            value = str(uuid.uuid4())
        elif isinstance(converter, IntegerConverter):
            value = "1"
        else:
            value = "x"
        start = path.index("<")
        assert path[path.index(">") - len(name) : path.index(">")] == name
        path = path[:start] + value + path[path.index(">") + 1 :]
    return path


RULES = api_rules()
SECURED = [(rule, method) for rule, method in RULES if (rule.rule, method) not in PUBLIC]


def test_the_api_has_the_routes_this_test_expects() -> None:
    assert len(SECURED) >= 29
    assert {(rule.rule, method) for rule, method in RULES} >= PUBLIC


def send(client: Any, method: str, path: str, authorization: str | None) -> Any:
    headers = {"Authorization": authorization} if authorization else {}
    return client.open(path, method=method, headers=headers)


@pytest.mark.parametrize(("rule", "method"), SECURED, ids=[f"{m} {r.rule}" for r, m in SECURED])
def test_route_refuses_missing_invalid_revoked_and_weaker_keys(
    client: Any,
    db_conn: psycopg.Connection[Any],
    make_api_key: Callable[[str], str],
    rule: Rule,
    method: str,
) -> None:
    path = concrete_path(rule)
    scope = required_scope(rule.rule, method)
    revoked = api_keys.create_api_key(db_conn, "revoked", "admin")
    api_keys.revoke_api_key(db_conn, revoked["id"])
    good = make_api_key(scope)
    key_id, _, _ = good.removeprefix("klx_").partition("_")
    refused = {
        "missing": None,
        "not a bearer": f"Basic {good}",
        "garbage": "Bearer not-a-key",
        "unknown id": f"Bearer klx_{uuid.uuid4().hex}_secret",
        "wrong secret": f"Bearer klx_{key_id}_wrong-secret",
        "revoked": f"Bearer {revoked['key']}",
    }
    for case, authorization in refused.items():
        response = send(client, method, path, authorization)
        assert response.status_code == 401, f"{case}: {response.status_code}"
        assert response.get_json()["code"] == "unauthorized"
        assert good not in response.get_data(as_text=True)
    if scope in BELOW:
        weaker = send(client, method, path, f"Bearer {make_api_key(BELOW[scope])}")
        assert weaker.status_code == 403, weaker.get_json()
        assert weaker.get_json()["code"] == "forbidden"
    allowed = send(client, method, path, f"Bearer {good}")
    if (rule.rule, method) in USER_ONLY:
        body = {"current_password": "x" * 8, "new_password": "y" * 8}
        headers = {"Authorization": f"Bearer {good}"}
        allowed = client.open(path, method=method, headers=headers, json=body)
        assert allowed.status_code == 403
        assert "an API key has no password" in allowed.get_json()["error"]
        return
    if (rule.rule, method) in PERSON_ONLY:
        assert allowed.status_code == 403
        assert "personal API key" in allowed.get_json()["error"]
        return
    assert allowed.status_code not in (401, 403), allowed.get_json()


def test_openapi_document_is_public(client: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json()["openapi"].startswith("3.1")


def test_a_revoked_key_is_refused_at_once(client: Any, make_api_key: Callable[[str], str]) -> None:
    admin = Api(client, make_api_key("admin"))
    created = admin.post("/api-keys", json={"name": "short-lived", "scope": "read"}).get_json()
    short_lived = Api(client, created["key"])
    assert short_lived.get("/services").status_code == 200
    assert admin.delete(f"/api-keys/{created['id']}").status_code == 204
    assert short_lived.get("/services").status_code == 401


def test_api_keys_never_appear_in_logs(
    client: Any,
    caplog: pytest.LogCaptureFixture,
    make_api_key: Callable[[str], str],
    make_service: Callable[..., dict[str, Any]],
) -> None:
    admin, reader = make_api_key("admin"), make_api_key("read")
    service = make_service()
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        api = Api(client, admin)
        created = api.post("/api-keys", json={"name": "fresh", "scope": "write"}).get_json()
        api.get("/api-keys")
        api.post("/users", json={"name": "A", "email": admin})  # a key in a rejected field
        api.post(f"/services/{service['id']}/integration-keys", json={"type": "generic"})
        Api(client, reader).post("/api-keys", json={"name": "x", "scope": "admin"})  # 403
        Api(client, admin[:-3] + "abc").get("/services")  # 401 with a near-miss key
        Api(client, f"{admin}?token={service['integration_key']['token']}").get("/alerts")
    assert len([e for e in events if e["event"] == "api_request"]) == 7
    logged = repr(events) + caplog.text
    for secret in (admin, reader, created["key"], admin[:-3] + "abc"):
        assert secret not in logged
    assert service["integration_key"]["token"] not in logged
