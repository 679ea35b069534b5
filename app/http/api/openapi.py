"""GET /api/v1/openapi.json: the OpenAPI 3.1 document, generated from the routes' own schemas.

The document is public: it describes the API's shape (which the source code publishes anyway)
and holds no data, so tooling such as client generators and schemathesis can fetch it without a
key.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Response, current_app, jsonify

from app.http.api.routing import ROUTES, endpoint, spec

EXTENSION_KEY = "klaxon_openapi"


def document() -> dict[str, Any]:
    """The OpenAPI document, built once per app; each operation says the scope it needs and
    who may use it (`x-permission`: its rule in app.http.permissions)."""
    cached: dict[str, Any] | None = current_app.extensions.get(EXTENSION_KEY)
    if cached is None:
        cached = _annotated(copy.deepcopy(spec.spec))
        current_app.extensions[EXTENSION_KEY] = cached
    return cached


def _openapi_path(rule: str) -> str:
    """/api/v1/users/<uuid:user_id> -> /api/v1/users/{user_id}"""
    parts = []
    for piece in rule.split("/"):
        if piece.startswith("<") and piece.endswith(">"):
            piece = "{" + piece[1:-1].split(":")[-1] + "}"
        parts.append(piece)
    return "/".join(parts)


def _annotated(doc: dict[str, Any]) -> dict[str, Any]:
    for route in ROUTES:
        operation = doc["paths"][_openapi_path(route.rule)][route.method.lower()]
        operation["x-required-scope"] = route.scope
        needs = f"Requires an API key with scope `{route.scope}`." if route.scope else "Public."
        if route.allow is not None:
            operation["x-permission"] = route.allow.name
            needs += f" Who may: {route.allow.says}."
        operation["description"] = f"{operation.get('description') or ''}\n\n{needs}".strip()
    return doc


@endpoint("/openapi.json", "GET", None, "meta", HTTP_200=None)
def openapi_document() -> Response:
    """This OpenAPI 3.1 document."""
    return jsonify(document())
