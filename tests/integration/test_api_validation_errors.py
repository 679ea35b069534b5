"""Every declared input of /api/v1, sent wrong, is one 422 error naming that input for a person.

The cases are generated from the OpenAPI document: for every operation, every query parameter
and every request-body property (nested ones by dotted path, e.g. `steps.0.targets.0.id`), a
value of the wrong type, out of range or of a bad format, derived from the property's schema,
is sent with everything else valid. The answer must be a 422 whose `details.errors` holds
exactly one error, for that field under its public name, with a message that leaks nothing of
the libraries underneath (pydantic's validator chain, "Value error, ", regexes, constant names).
Exactly one error in the whole answer also proves the rest of the request was valid.

Path parameters are not varied: each is an id whose URL converter (uuid, or a bigint for
alerts) answers 404 for anything malformed, by contract, before validation runs. They are
filled with fresh random ids: validation answers before any lookup, so nothing need exist.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.directory import api_keys
from tests.support.api import PREFIX, offline_app
from tests.support.databases import DatabasePool
from tests.support.openapi_bodies import not_null, resolve, valid

DOCUMENT: dict[str, Any] = offline_app().test_client().get(PREFIX + "/openapi.json").get_json()

# What no message may contain: pydantic's validator-chain segments and prefixes, the None
# member of a union, regex syntax, and ALL_CAPS_CONSTANT names.
LEAKS = [
    re.compile(r"Value error", re.I),
    re.compile(r"function-(after|before|plain|wrap)"),
    re.compile(r"Input should be None"),
    re.compile(r"\\[sdw]|\^\[|\]\+|\$\Z|\[\^"),
    re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b"),
]


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # OpenAPI path, e.g. /api/v1/users/{user_id}
    where: str  # "query" or "body"
    field: str  # the public name the error must carry
    query: dict[str, Any]
    body: dict[str, Any] | None

    @property
    def id(self) -> str:
        return f"{self.method} {self.path} {self.where}:{self.field}"


def wrong(schema: dict[str, Any], in_query: bool) -> list[tuple[str, Any]]:
    """(label, value) pairs the schema refuses: wrong type, format, enum, range, length."""
    schema = not_null(schema)
    kind = schema.get("type")
    cases: list[tuple[str, Any]] = []
    if not in_query:  # a query string is always text: no wrong JSON type to send there
        wrong_type = {"string": 12345, "integer": "abc", "boolean": "yes", "array": "abc"}
        cases += [("type", wrong_type.get(kind, "abc"))]
    elif kind == "integer":
        cases += [("type", "abc")]
    if "enum" in schema:
        cases += [("enum", "bogus")]
    fmt = schema.get("format")
    cases += {
        "date-time": [("format", "notadate"), ("range", "1969-12-31T23:59:59Z")],
        "uuid": [("format", "not-a-uuid")],
        "time": [("format", "25:99")],
    }.get(fmt or "", [])
    if "pattern" in schema:
        cases += [("pattern", "no at sign")]
    for bound, delta in (("minimum", -1), ("maximum", 1)):
        if bound in schema:
            cases += [(bound, schema[bound] + delta)]
    if schema.get("minLength", 0) >= 1:
        cases += [("minLength", "")]
    if "maxLength" in schema:
        cases += [("maxLength", "x" * (schema["maxLength"] + 1))]
    if "maxItems" in schema:
        cases += [("maxItems", [valid(schema["items"])] * (schema["maxItems"] + 1))]
    if schema.get("minItems", 0) >= 1:
        cases += [("minItems", [])]
    return cases


def body_cases(
    schema: dict[str, Any], prefix: list[str | int]
) -> Iterator[tuple[list[str | int], str, Any]]:
    """(path, label, bad value) for each property of an object, recursing into nested ones."""
    for name, prop in schema.get("properties", {}).items():
        path = [*prefix, name]
        for label, value in wrong(prop, in_query=False):
            yield path, label, value
        inner = not_null(prop)
        if inner.get("type") == "array":
            item = resolve(inner["items"])
            for label, value in wrong(item, in_query=False):
                yield [*path, 0], label, value
            if item.get("type") == "object":
                yield from body_cases(item, [*path, 0])


def with_value(base: Any, path: list[str | int], value: Any, schema: dict[str, Any]) -> Any:
    """`base` with `value` at `path`, filling valid containers on the way."""
    body = copy.deepcopy(base)
    node, node_schema = body, schema
    for key in path[:-1]:
        node_schema = not_null(node_schema)
        child_schema = (
            node_schema["properties"][key] if isinstance(key, str) else node_schema["items"]
        )
        if isinstance(key, str) and key not in node:
            node[key] = valid(child_schema, key)
        node, node_schema = node[key], child_schema
    node[path[-1]] = value
    return body


def cases() -> Iterator[Any]:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for name, label, value in query_cases(operation):
                case = Case(method.upper(), path, "query", name, {name: value}, None)
                yield pytest.param(case, id=f"{case.id}:{label}")
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            schema = resolve(content["application/json"]["schema"])
            base = valid(schema)
            for field_path, label, value in body_cases(schema, []):
                body = with_value(base, field_path, value, schema)
                field = ".".join(str(p) for p in field_path)
                case = Case(method.upper(), path, "body", field, {}, body)
                yield pytest.param(case, id=f"{case.id}:{label}")


def query_cases(operation: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query":
            for label, value in wrong(parameter["schema"], in_query=True):
                yield parameter["name"], label, value


CASES = list(cases())


def declared_inputs() -> set[str]:
    """Every query parameter and top-level body property the document declares."""
    found = set()
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    found.add(f"{method.upper()} {path} query:{parameter['name']}")
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                schema = resolve(content["application/json"]["schema"])
                for name in schema.get("properties", {}):
                    found.add(f"{method.upper()} {path} body:{name}")
    return found


@pytest.fixture(scope="module")
def shared_api(database_pool: DatabasePool) -> Iterator[tuple[Any, dict[str, str]]]:
    """One app and admin key for every case: each is a single refused request that changes
    nothing, so they can share a database (and need no Redis: validation never reaches it)."""
    import psycopg
    from psycopg.rows import dict_row

    from app import create_app
    from config.settings import load_settings
    from tests.conftest import SECRET_KEY

    url = database_pool.take()
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        token = str(api_keys.create_api_key(conn, "validation", "admin")["key"])
    env = {"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1", "KLAXON_SECRET_KEY": SECRET_KEY}
    app = create_app(load_settings(env))
    app.config["TESTING"] = True
    yield app.test_client(), {"Authorization": f"Bearer {token}"}
    app.extensions["klaxon"].stop()
    database_pool.give_back(url)


def concrete(path: str) -> str:
    """The OpenAPI path with a fresh id for each parameter (a bigint for alerts and messages)."""
    numeric = ("alert_id", "message_id")
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) in numeric else str(uuid.uuid4()), path)


def test_every_query_parameter_and_body_property_has_a_case() -> None:
    covered = {_declared_id(param.values[0]) for param in CASES}
    missing = declared_inputs() - covered
    assert not missing, f"no generated case for: {sorted(missing)}"


def _declared_id(case: Case) -> str:
    return f"{case.method} {case.path} {case.where}:{case.field.split('.')[0]}"


@pytest.mark.parametrize("case", CASES)
def test_a_bad_input_is_one_422_error_naming_it_for_a_person(
    case: Case, shared_api: tuple[Any, dict[str, str]]
) -> None:
    client, headers = shared_api
    response = client.open(
        concrete(case.path),
        method=case.method,
        headers=headers,
        query_string=case.query,
        json=case.body,
    )
    body = response.get_json()
    assert response.status_code == 422, body
    assert body["code"] == "validation_failed"
    errors = body["details"]["errors"]
    assert [error["field"] for error in errors] == [case.field], errors
    message = errors[0]["message"]
    assert message and message[0].islower(), message
    for leak in LEAKS:
        assert not leak.search(message), (leak.pattern, message)
        assert not leak.search(body["error"]), (leak.pattern, body["error"])
    assert body["error"] == f"invalid request: {case.field}: {message}"


def errors_of(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.get_json()
    return list(response.get_json()["details"]["errors"])


def test_a_bad_time_in_a_query_is_one_error_under_its_own_name(
    shared_api: tuple[Any, dict[str, str]],
) -> None:
    client, headers = shared_api
    response = client.get(PREFIX + "/alerts?since=notadate&status=bogus", headers=headers)
    assert sorted(errors_of(response), key=lambda e: e["field"]) == [
        {
            "field": "since",
            "message": "must be an RFC 3339 time with an offset, e.g. 2030-01-31T09:00:00Z",
            "type": "value_error",
        },
        {
            "field": "status",
            "message": "must be one of 'triggered', 'acknowledged' or 'closed'",
            "type": "literal_error",
        },
    ]


def test_an_unknown_time_zone_in_a_patch_names_time_zone(
    shared_api: tuple[Any, dict[str, str]],
) -> None:
    client, headers = shared_api
    path = f"{PREFIX}/schedules/{uuid.uuid4()}"
    response = client.patch(path, headers=headers, json={"time_zone": "Mars/Olympus_Mons"})
    assert errors_of(response) == [
        {
            "field": "time_zone",
            "message": "is not an IANA time zone name (e.g. 'Europe/Berlin' or 'UTC')",
            "type": "value_error",
        }
    ]


def test_a_bad_email_is_described_not_quoted_as_a_regex(
    shared_api: tuple[Any, dict[str, str]],
) -> None:
    client, headers = shared_api
    response = client.post(
        PREFIX + "/users", headers=headers, json={"name": "A", "email": "ada.example.com"}
    )
    assert [(e["field"], e["message"]) for e in errors_of(response)] == [
        ("email", "must be an email address like name@example.com")
    ]


def test_missing_and_unknown_fields_are_each_named(shared_api: tuple[Any, dict[str, str]]) -> None:
    client, headers = shared_api
    response = client.post(PREFIX + "/users", headers=headers, json={"nmae": "Ada"})
    assert [(e["field"], e["message"]) for e in errors_of(response)] == [
        ("name", "is required"),
        ("email", "is required"),
        ("nmae", "is not a field of this request"),
    ]


def test_a_half_rule_target_names_the_missing_half(shared_api: tuple[Any, dict[str, str]]) -> None:
    client, headers = shared_api
    path = f"{PREFIX}/schedules/{uuid.uuid4()}/rules/{uuid.uuid4()}"
    response = client.patch(path, headers=headers, json={"target_type": "user"})
    assert [(e["field"], e["message"]) for e in errors_of(response)] == [
        ("target_id", "target_type and target_id change together: send both")
    ]
