"""Every public route, driven from the app's own route map, against bodies at that route's size
cap in adversarial shapes (tests/support/hostile.py), with and without valid credentials, with
a Content-Length and chunked: each answer is a 2xx or 4xx, never a 5xx, and costs well under a
second of CPU. The app runs in this thread (Flask's test client), so the CPU time measured is
the request's own; bench/hostile_mix.py measures it precisely on gunicorn."""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest

from app.http.slack import slack_signature
from app.http.twilio_signature import HEADER as TWILIO_HEADER
from app.http.twilio_signature import signature as twilio_signature
from app.platform.body_limits import limit_for
from tests.fixtures.ingest import new_key
from tests.support.hostile import FORM, JSON, SHAPES, Shape
from tests.support.signin import admin_sign_in, make_user

# Per request: generous, as GC pauses and one-time work (the OpenAPI document) count too; the
# quadratic patterns took minutes at these sizes. bench/hostile_mix.py measures precisely.
CPU_SECONDS = 1.0
PUBLIC_URL = "https://klaxon.example.com"
TWILIO_TOKEN = "twilio-auth-token-for-tests"
SLACK_SECRET = "slack-signing-secret-for-tests"
INGEST_KEY_TYPES = {
    "generic": "generic",
    "grafana": "grafana",
    "alertmanager": "prometheusAlertmanager",
}
_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclass(frozen=True)
class Target:
    """One route and method, and how a caller with valid credentials would call it."""

    endpoint: str
    blueprint: str | None
    method: str
    rule: str


def targets(app: Any) -> list[Target]:
    """Every route and method of the app (HEAD and OPTIONS are answered by Flask itself)."""
    found = []
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append(Target(rule.endpoint, blueprint, method, rule.rule))
    return found


@pytest.fixture
def world(settings_for: Any, db_conn: Any, make_service: Any, make_api_key: Any) -> Iterator[dict]:
    from app import create_app

    app = create_app(
        settings_for(
            KLAXON_PUBLIC_URL=PUBLIC_URL,
            TWILIO_ACCOUNT_SID="AC0123456789abcdef0123456789abcdef",
            TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
            TWILIO_FROM_NUMBER="+15550001111",
            SLACK_BOT_TOKEN="xoxb-test-token",
            SLACK_SIGNING_SECRET=SLACK_SECRET,
        )
    )
    app.config["TESTING"] = True
    service = make_service()
    admin_key = make_api_key("admin")
    keys = {name: new_key(db_conn, service["id"], kind) for name, kind in INGEST_KEY_TYPES.items()}
    monitor = app.test_client().post(
        f"/api/v1/services/{service['id']}/heartbeat-monitors",
        json={"name": "nightly", "timeout_seconds": 3600},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert monitor.status_code == 201, monitor.get_json()
    yield {
        "app": app,
        "service_id": service["id"],
        "admin_key": admin_key,
        "admin_user": make_user(db_conn, "admin"),
        "keys": keys,
        "monitor_secret": monitor.get_json()["checkin_secret"],
    }
    app.extensions["klaxon"].stop()


def path_for(target: Target, world: dict, valid: bool) -> str:
    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "default", match.group(2)
        if name == "service_id":
            return str(world["service_id"])
        if name == "secret" and valid:
            return str(world["monitor_secret"])
        return {"uuid": str(uuid.uuid4()), "int": "1"}.get(converter, "x")

    return _ARGUMENT.sub(value, target.rule)


def credentials(target: Target, world: dict, path: str, body: bytes, shape: Shape) -> dict:
    """Query string and headers that make the request's credentials valid for its route."""
    blueprint = target.blueprint or ""
    if blueprint == "ingest":
        kind = next((k for k in INGEST_KEY_TYPES if k in target.endpoint), "generic")
        return {"query_string": {"token": world["keys"][kind]}}
    if blueprint == "api":
        return {"headers": {"Authorization": f"Bearer {world['admin_key']}"}}
    if blueprint == "twilio":
        params = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        params = params if shape.content_type == FORM else []
        sig = twilio_signature(TWILIO_TOKEN, PUBLIC_URL + path, params)
        return {"headers": {TWILIO_HEADER: sig}}
    if blueprint == "slack":
        stamp = str(int(time.time()))
        sig = slack_signature(SLACK_SECRET, stamp, body)
        return {"headers": {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig}}
    return {}


def answered_well(target: Target, status: int) -> bool:
    """A 2xx/3xx/4xx; the probes may say 503, truthfully: no listener, worker or engine runs."""
    return status < 500 or (target.blueprint == "health" and status == 503)


def signed_in(client: Any, world: dict) -> None:
    """An admin session cookie, for the admin pages and the RQ dashboard."""
    response = admin_sign_in(client, world["admin_user"]["email"])
    assert response.status_code == 303


def send(client: Any, target: Target, path: str, body: bytes, shape: Shape, chunked: bool,
         extra: dict) -> Any:  # fmt: skip
    headers = {"Content-Type": shape.content_type, **extra.get("headers", {})}
    kwargs: dict[str, Any] = {"query_string": extra.get("query_string"), "headers": headers}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        kwargs["input_stream"] = io.BytesIO(body)
        kwargs["environ_overrides"] = {"wsgi.input_terminated": True}  # as gunicorn sets it
    else:
        kwargs["data"] = body
    return client.open(path, method=target.method, **kwargs)


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_every_route_answers_hostile_bodies_at_its_cap_with_a_4xx_or_2xx_quickly(
    world, shape, chunked
):
    app = world["app"]
    bodies: dict[int, bytes] = {}
    anonymous, trusted = app.test_client(), app.test_client()
    signed_in(trusted, world)
    problems = []
    for target in targets(app):
        limit = limit_for(target.blueprint)
        body = bodies.setdefault(limit, shape.build(limit))
        for valid, client in ((False, anonymous), (True, trusted)):
            path = path_for(target, world, valid)
            extra = credentials(target, world, path, body, shape) if valid else {}
            started = time.thread_time()
            response = send(client, target, path, body, shape, chunked, extra)
            cpu = time.thread_time() - started
            status = response.status_code
            if not answered_well(target, status) or status == 413 or cpu > CPU_SECONDS:
                problems.append((target.method, target.rule, valid, status, round(cpu, 3)))
    assert problems == []


# Routes that read their body, one per class of limit (the others answer without reading it,
# and gunicorn drops what they left unread).
READERS = (
    Target("ingest.generic_incoming", "ingest", "POST", "/api/v2/generic/incoming"),
    Target("ingest.grafana_incoming", "ingest", "POST", "/api/v2/grafana/incoming"),
    Target(
        "ingest.alertmanager_incoming", "ingest", "POST", "/api/v2/prometheusalertmanager/incoming"
    ),
    Target("ingest.heartbeat_checkin", "ingest", "POST", "/api/v2/heartbeat/<secret>"),
    Target("api.create_user", "api", "POST", "/api/v1/users"),
    Target("twilio.sms", "twilio", "POST", "/api/v2/twilio/sms"),
    Target("slack.actions", "slack", "POST", "/api/v2/slack/actions"),
    Target("admin.login", "admin", "POST", "/admin/login"),
)


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("target", READERS, ids=[t.endpoint for t in READERS])
def test_a_body_one_byte_over_its_routes_cap_is_413_and_one_at_it_is_not(world, target, chunked):
    client = world["app"].test_client()
    limit = limit_for(target.blueprint)
    path = path_for(target, world, valid=True)
    # /api/v1 reads only JSON (415 first), the form endpoints only forms; the rest read anything.
    reads = {"api": JSON, "twilio": FORM, "admin": FORM}.get(target.blueprint or "")
    for shape in SHAPES:
        if reads is not None and shape.content_type != reads:
            continue
        for size, over in ((limit, False), (limit + 1, True)):
            body = shape.build(size)
            extra = credentials(target, world, path, body, shape)
            response = send(client, target, path, body, shape, chunked, extra)
            assert (response.status_code == 413) is over, (shape.name, size, response.status_code)
            if over:
                assert response.get_json()["code"] == "payload_too_large"
                assert response.get_json()["details"] == {"max_bytes": limit}


def test_an_unknown_path_is_404_whatever_the_body_declares(world):
    client = world["app"].test_client()
    response = client.post("/api/v1/schedules/not-a-uuid/temporary-schedules", data=b"x" * 99_999)
    assert response.status_code == 404


def test_a_declared_length_over_any_routes_cap_is_413_before_anything_is_read(world):
    app = world["app"]
    client = app.test_client()
    for target in targets(app):
        limit = limit_for(target.blueprint)
        path = path_for(target, world, valid=False)
        response = client.open(path, method=target.method, data=b"x" * (limit + 1))
        assert response.status_code == 413, (target.method, target.rule, response.status_code)
        assert response.get_json()["details"] == {"max_bytes": limit}


# ---- what is decided before the body is read ---------------------------------------------------
# Each request below carries a chunked body one byte over its route's cap: an answer other than
# 413 proves the body was never read.


def over_cap(client: Any, path: str, blueprint: str, **kwargs: Any) -> Any:
    body = b"x" * (limit_for(blueprint) + 1)
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", **kwargs.pop("headers", {})},
        environ_overrides={"wsgi.input_terminated": True},
        content_type=kwargs.pop("content_type", "application/json"),
        **kwargs,
    )


@pytest.mark.parametrize("token", [None, "x", "kli_00000000-0000-0000-0000-000000000000_nope"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/generic/incoming",
        "/api/v2/grafana/incoming",
        "/api/v2/prometheusalertmanager/incoming",
    ],
)
def test_ingest_refuses_a_missing_or_wrong_key_before_reading_the_body(client, path, token):
    query = {"token": token} if token else None
    assert over_cap(client, path, "ingest", query_string=query).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"} if token else {}
    assert over_cap(client, path, "ingest", headers=bearer).status_code == 401


def test_ingest_with_a_key_of_another_type_is_refused_before_reading_the_body(world):
    client = world["app"].test_client()
    query = {"token": world["keys"]["grafana"]}
    response = over_cap(client, "/api/v2/generic/incoming", "ingest", query_string=query)
    assert response.status_code == 401


def test_a_heartbeat_to_an_unknown_secret_is_404_before_reading_the_body(client):
    assert over_cap(client, "/api/v2/heartbeat/not-an-id", "ingest").status_code == 404


def test_slack_unconfigured_is_404_before_reading_the_body(client):
    stamp = str(int(time.time()))
    response = over_cap(
        client, "/api/v2/slack/actions", "slack", headers={"X-Slack-Request-Timestamp": stamp}
    )
    assert response.status_code == 404


@pytest.mark.parametrize("stamp", ["", "not-a-time", "stale", "future"])
def test_slack_outside_its_timestamp_window_is_403_before_reading_the_body(world, stamp):
    shifts = {"stale": -301, "future": 301}
    if stamp in shifts:
        stamp = str(int(time.time()) + shifts[stamp])
    client = world["app"].test_client()
    response = over_cap(
        client, "/api/v2/slack/actions", "slack", headers={"X-Slack-Request-Timestamp": stamp}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/api/v2/twilio/sms", "/api/v2/twilio/status"])
def test_twilio_unconfigured_is_404_before_reading_the_body(client, path):
    response = over_cap(client, path, "twilio", content_type=FORM)
    assert response.status_code == 404
