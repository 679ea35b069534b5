"""GET /api/v1/openapi.json: an OpenAPI 3.1 document covering every /api/v1 route."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.test_api_auth import RULES, required_scope


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_document_is_openapi_3_1_with_bearer_security(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer klx_…`",
    }
    assert document["components"]["securitySchemes"]["session"]["type"] == "apiKey"
    assert document["components"]["securitySchemes"]["session"]["in"] == "cookie"
    assert document["components"]["securitySchemes"]["session"]["name"] == "klaxon_session"
    assert document["security"] == [{"bearer": []}, {"session": []}]


def test_document_lists_every_route_with_its_scope(document: dict[str, Any]) -> None:
    listed = {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routes = {(openapi_path(rule.rule), method) for rule, method in RULES}
    assert listed == routes
    for rule, method in RULES:
        operation = document["paths"][openapi_path(rule.rule)][method.lower()]
        if rule.rule.endswith("/openapi.json"):
            assert operation["security"] == [] and operation["x-required-scope"] is None
        else:
            assert operation["x-required-scope"] == required_scope(rule.rule, method)
            assert "security" not in operation  # the document-wide bearer requirement
            assert {"401", "403"} <= set(operation["responses"])


def test_request_bodies_and_parameters_come_from_the_validating_schemas(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    body = document["paths"]["/api/v1/users"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/UserCreate"
    }
    assert schemas["UserCreate"]["required"] == ["name", "email"]
    assert schemas["UserCreate"]["additionalProperties"] is False
    params = {p["name"]: p for p in document["paths"]["/api/v1/alerts"]["get"]["parameters"]}
    assert set(params) == {"cursor", "limit", "service_id", "status", "q", "since", "until"}
    assert params["limit"]["schema"]["maximum"] == 200
    assert params["status"]["schema"]["enum"] == ["triggered", "acknowledged", "closed"]


def test_forward_only_conflicts_are_documented(document: dict[str, Any]) -> None:
    alert = "/api/v1/alerts/{alert_id}"
    for action in ("acknowledge", "escalate"):
        assert "409" in document["paths"][f"{alert}/{action}"]["post"]["responses"]
