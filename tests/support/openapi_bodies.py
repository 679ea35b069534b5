"""Request bodies a route's schema accepts, built from the served OpenAPI document (the
generated 422 tests vary one field of such a body; the permission matrix sends it whole)."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from tests.support.api import PREFIX, offline_app

# Valid times for required date-time fields: an `end` after every other time.
START, END = "2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z"


@functools.cache
def document() -> dict[str, Any]:
    found: dict[str, Any] = offline_app().test_client().get(PREFIX + "/openapi.json").get_json()
    return found


def schemas() -> dict[str, Any]:
    found: dict[str, Any] = document()["components"]["schemas"]
    return found


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a `$ref` names (or the schema itself)."""
    if "$ref" in schema:
        return resolve(schemas()[schema["$ref"].rsplit("/", 1)[-1]])
    return schema


def not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null member of an `anyOf: [X, null]` (nullable fields), resolved."""
    schema = resolve(schema)
    for member in schema.get("anyOf", []):
        if resolve(member).get("type") != "null":
            return resolve(member)
    return schema


def valid(schema: dict[str, Any], name: str = "") -> Any:
    """A value the schema accepts (required properties only, for objects)."""
    schema = not_null(schema)
    if "enum" in schema:
        return schema["enum"][0]
    if "examples" in schema:
        return schema["examples"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {key: valid(props[key], key) for key in schema.get("required", [])}
    if kind == "array":
        return [valid(schema["items"]) for _ in range(max(1, schema.get("minItems", 0)))]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    return {
        "date-time": END if name == "end" else START,
        "uuid": str(uuid.uuid4()),
        "time": "09:00:00",
    }.get(schema.get("format", ""), "name@example.com" if "pattern" in schema else "x")


def request_body(path: str, method: str, **fields: Any) -> dict[str, Any] | None:
    """A valid body for the operation at OpenAPI `path` (e.g. /api/v1/users/{user_id}), or
    None when it takes none; `fields` set those properties its schema has."""
    operation = document()["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    schema = resolve(content["application/json"]["schema"])
    body: dict[str, Any] = valid(schema)
    known = schema.get("properties", {})
    return body | {name: value for name, value in fields.items() if name in known}
