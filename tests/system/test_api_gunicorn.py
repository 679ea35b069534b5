"""/api/v1 under gunicorn as in production: the API works end to end over real HTTP, and no
API key or integration token reaches the process's logs (access lines included)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.directory import api_keys
from tests.support.procs import KlaxonProcess
from tests.support.wait import wait_until

pytestmark = pytest.mark.system


def call(
    port: int, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, json.loads(raw) if raw else None


def test_api_over_gunicorn_never_logs_keys_or_tokens(
    klaxon_env: dict[str, str],
    db_conn: psycopg.Connection[Any],
    start_web: Callable[..., tuple[KlaxonProcess, int]],
) -> None:
    admin = str(api_keys.create_api_key(db_conn, "ops", "admin")["key"])
    web, port = start_web(klaxon_env)

    status, document = call(port, "GET", "/api/v1/openapi.json")
    assert (status, document["openapi"]) == (200, "3.1.0")
    status, service = call(port, "POST", "/api/v1/services", admin, {"name": "payments"})
    assert status == 201
    status, key = call(
        port, "POST", f"/api/v1/services/{service['id']}/integration-keys", admin, {}
    )
    assert status == 201 and key["token"] in key["url"]
    status, reader = call(port, "POST", "/api/v1/api-keys", admin, {"name": "r", "scope": "read"})
    assert status == 201

    # Secrets in every place a careless log line could pick them up.
    assert call(port, "GET", f"/api/v1/alerts?token={key['token']}", reader["key"])[0] == 422
    assert call(port, "POST", "/api/v1/users", admin, {"name": "A", "email": admin})[0] == 422
    assert call(port, "GET", "/api/v1/services", admin[:-2] + "xx")[0] == 401
    assert (
        call(port, "POST", "/api/v1/api-keys", reader["key"], {"name": "x", "scope": "admin"})[0]
        == 403
    )
    assert call(port, "DELETE", f"/api/v1/api-keys/{reader['id']}", admin)[0] == 204
    assert call(port, "GET", "/api/v1/alerts", reader["key"])[0] == 401

    wait_until(
        lambda: len([e for e in web.log_events() if e.get("event") == "api_request"]) >= 10,
        10,
        "api_request log lines",
    )
    output = web.stderr() + web.stdout()
    for secret in (admin, admin[:-2] + "xx", key["token"], reader["key"]):
        assert secret not in output
    logged_ids = {e.get("api_key_id") for e in web.log_events() if e.get("event") == "api_request"}
    assert reader["id"] in logged_ids
