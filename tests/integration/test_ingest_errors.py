"""The bad-input matrix for every ingest endpoint: auth, body limits, content types, malformed
JSON, and database failures — each a clear 4xx/503 in the JSON envelope, and nothing written."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from app.ingest.body import MAX_BODY
from tests.fixtures.ingest import alerts, error_of, new_key, raw, revoke, row_counts
from tests.support.net import closed_port

GENERIC = "/api/v2/generic/incoming"
GRAFANA = "/api/v2/grafana/incoming"
ALERTMANAGER = "/api/v2/prometheusalertmanager/incoming"
# endpoint -> (integration key type, a valid body)
ENDPOINTS = {
    GENERIC: ("generic", b'{"summary": "disk full", "details": "on db-1"}'),
    GRAFANA: ("grafana", raw("grafana_unified_firing.json")),
    ALERTMANAGER: ("prometheusAlertmanager", raw("alertmanager_firing.json")),
}
ALL = pytest.mark.parametrize("url", list(ENDPOINTS))


@pytest.fixture
def service(make_service: Any) -> dict[str, Any]:
    return make_service()


@pytest.fixture
def key_for(db_conn: Any, service: dict[str, Any]) -> Callable[[str], str]:
    """key_for(url) -> a token of the right integration type for that endpoint."""
    return lambda url: new_key(db_conn, service["id"], ENDPOINTS[url][0])


def post_json(client: Any, url: str, token: str | None, body: bytes, **kwargs: Any) -> Any:
    query = f"?token={token}" if token else ""
    kwargs.setdefault("content_type", "application/json")
    return client.post(url + query, data=body, **kwargs)


@pytest.fixture
def nothing_written(db_conn: Any) -> Iterator[None]:
    """Asserts, after the test, that no alert, log, key use or check-in was recorded."""
    before = row_counts(db_conn)
    yield
    assert row_counts(db_conn) == before


# ---- authentication ---------------------------------------------------------------------------


def assert_unauthorized(response: Any, *secrets: str) -> dict[str, Any]:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = error_of(response)
    assert body["code"] == "unauthorized"
    text = response.get_data(as_text=True)
    for secret in secrets:
        if len(secret) >= 8:
            assert secret not in text
    return body


@ALL
def test_missing_token_is_a_401_saying_where_to_put_one(client, url, nothing_written):
    body = assert_unauthorized(post_json(client, url, None, ENDPOINTS[url][1]))
    assert "token" in body["error"] and "Bearer" in body["error"]


@ALL
@pytest.mark.parametrize(
    "kind", ["unknown", "wrong secret", "malformed", "api key", "revoked", "wrong type"]
)
def test_bad_tokens_all_get_the_same_401_that_never_echoes_them(
    client, db_conn, service, key_for, make_api_key, url, kind
):
    good = key_for(url)
    before = row_counts(db_conn)
    token = {
        "unknown": f"kli_{uuid.uuid4().hex}_{'s' * 32}",
        "wrong secret": good[:-4] + "AAAA",
        "malformed": "kli_not-a-uuid_secret",
        "api key": make_api_key("admin"),
        "revoked": good,
        "wrong type": new_key(
            db_conn, service["id"], "grafana" if url != GRAFANA else "prometheusAlertmanager"
        ),
    }[kind]
    if kind == "revoked":
        revoke(db_conn, good)
    response = post_json(client, url, token, ENDPOINTS[url][1])
    body = assert_unauthorized(response, token, token.split("_", 2)[2])
    assert body["error"] == "integration key not accepted for this endpoint"
    assert row_counts(db_conn) == before


def test_an_email_key_is_not_a_generic_key(client, db_conn, service, nothing_written):
    email = new_key(db_conn, service["id"], "email")
    assert_unauthorized(post_json(client, GENERIC, email, ENDPOINTS[GENERIC][1]), email)


@ALL
def test_a_bad_token_with_a_bad_body_is_still_401_first(client, url, nothing_written):
    token = f"kli_{uuid.uuid4().hex}_secret"
    assert_unauthorized(post_json(client, url, token, b"{not json"), token)


@ALL
def test_a_revoked_key_stops_working_at_once(client, db_conn, key_for, url):
    token = key_for(url)
    assert post_json(client, url, token, ENDPOINTS[url][1]).status_code in (200, 204)
    revoke(db_conn, token)
    assert_unauthorized(post_json(client, url, token, ENDPOINTS[url][1]), token)


def test_basic_auth_with_a_wrong_password_is_401(client, nothing_written):
    response = client.post(f"{GENERIC}?summary=x", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert_unauthorized(response, "bar")


def test_undecodable_basic_auth_is_401_not_500(client, nothing_written):
    response = client.post(f"{GENERIC}?summary=x", headers={"Authorization": "Basic %%%"})
    assert_unauthorized(response)


# ---- body size -------------------------------------------------------------------------------


def padded_generic(size: int) -> bytes:
    """A valid generic JSON body of exactly `size` bytes."""
    head = b'{"summary": "big", "details": "'
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_body_of_exactly_the_limit_is_accepted(client, db_conn, key_for):
    body = padded_generic(MAX_BODY)
    assert len(body) == MAX_BODY
    assert post_json(client, GENERIC, key_for(GENERIC), body).status_code == 204
    assert len(alerts(db_conn)[0]["details"]) == 6 * 1024  # clipped by the store


@ALL
def test_content_length_over_the_limit_is_413(client, key_for, url, nothing_written):
    response = post_json(client, url, key_for(url), padded_generic(MAX_BODY + 1))
    assert response.status_code == 413
    body = error_of(response)
    assert body["code"] == "payload_too_large"
    assert body["details"] == {"max_bytes": MAX_BODY}


@ALL
def test_chunked_body_over_the_limit_is_413_not_truncated(client, key_for, url, nothing_written):
    """Werkzeug would cut a chunked body at MAX_CONTENT_LENGTH and parse the rest as whole."""
    response = client.post(
        url + f"?token={key_for(url)}",
        input_stream=io.BytesIO(padded_generic(MAX_BODY + 1)),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


def test_chunked_body_within_the_limit_is_read_whole(client, db_conn, key_for):
    response = client.post(
        GENERIC + f"?token={key_for(GENERIC)}",
        input_stream=io.BytesIO(b'{"summary": "chunked"}'),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 204
    assert alerts(db_conn)[0]["summary"] == "chunked"


def test_the_limit_applies_before_authentication(client, nothing_written):
    response = post_json(client, GENERIC, None, padded_generic(MAX_BODY + 1))
    assert response.status_code == 413


# ---- content types and malformed JSON -----------------------------------------------------


@pytest.mark.parametrize("url", [GRAFANA, ALERTMANAGER])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_json_only_endpoints_refuse_other_content_types_with_415(
    client, key_for, url, content_type, nothing_written
):
    response = post_json(client, url, key_for(url), ENDPOINTS[url][1], content_type=content_type)
    assert response.status_code == 415
    body = error_of(response)
    assert content_type in body["error"]
    assert body["details"]["supported"] == ["application/json"]


def test_generic_refuses_a_body_of_an_unsupported_type_with_415(client, key_for, nothing_written):
    response = post_json(client, GENERIC, key_for(GENERIC), b"summary: x", content_type="text/yaml")
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in error_of(response)["error"]


@pytest.mark.parametrize("url", [GRAFANA, ALERTMANAGER])
def test_json_endpoints_read_a_json_body_sent_without_content_type(client, key_for, url):
    response = post_json(client, url, key_for(url), ENDPOINTS[url][1], content_type="")
    assert response.status_code == 200


@pytest.mark.parametrize("url", [GRAFANA, ALERTMANAGER])
def test_json_endpoints_need_a_body(client, key_for, url, nothing_written):
    response = post_json(client, url, key_for(url), b"")
    assert response.status_code == 400
    assert "empty" in error_of(response)["error"]


@ALL
@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"summary": "x",}', "malformed JSON: Expecting property name"),
        (b'{"summary": "x"', "malformed JSON"),
        (b"{'summary': 'x'}", "malformed JSON"),
        (b'{"summary": "x"} trailing', "malformed JSON: Extra data"),
        (b"[1, 2]", "must be a JSON object, not an array"),
        (b'"just a string"', "must be a JSON object, not a string"),
        (b"null", "must be a JSON object, not null"),
        (b'{"summary": "caf\xe9"}', "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),
    ],
)
def test_malformed_json_is_a_400_saying_what_is_wrong(
    client, key_for, url, body, says, nothing_written
):
    response = post_json(client, url, key_for(url), body)
    assert response.status_code == 400
    assert says in error_of(response)["error"]


def test_malformed_json_error_points_at_the_line_and_column(client, key_for, nothing_written):
    response = post_json(client, GENERIC, key_for(GENERIC), b'{\n  "summary": "x",\n}')
    details = error_of(response)["details"]
    assert (details["line"], details["column"]) == (3, 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"summary": 42}, "summary"),
        ({"summary": ["a"]}, "summary"),
        ({"summary": "s", "details": {"a": 1}}, "details"),
        ({"summary": "s", "dedup": 7}, "dedup"),
        ({"summary": "s", "action": True}, "action"),
        ({"summary": "s", "meta": "a=b"}, "meta"),
    ],
)
def test_generic_wrong_field_types_are_a_400_naming_the_field(
    client, key_for, body, field, nothing_written
):
    response = post_json(client, GENERIC, key_for(GENERIC), json.dumps(body).encode())
    assert response.status_code == 400
    err = error_of(response)
    assert err["details"]["field"] == field
    assert err["error"].startswith(field)


@pytest.mark.parametrize("url", [*ENDPOINTS, "/api/v2/heartbeat/x"])
def test_other_methods_are_405_in_the_envelope(client, url):
    response = client.get(url)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_a_multipart_body_with_too_many_parts_is_a_400(client, key_for, nothing_written):
    boundary = "b0undary"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n'
        for i in range(500)
    )
    response = post_json(
        client,
        GENERIC,
        key_for(GENERIC),
        f"{parts}--{boundary}--\r\n".encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400
    assert "more than 200 fields" in error_of(response)["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"summary=caf\xe9", "application/x-www-form-urlencoded", "malformed form body"),
        (b"--x\r\ngarbage", "multipart/form-data; boundary=x", "malformed form body"),
        (b"summary=x", "multipart/form-data", "malformed form body"),
    ],
)
def test_malformed_form_bodies_are_a_400(
    client, key_for, body, content_type, says, nothing_written
):
    response = post_json(client, GENERIC, key_for(GENERIC), body, content_type=content_type)
    assert response.status_code == 400
    assert says in error_of(response)["error"]


# ---- the database failing: 503 + Retry-After, never a false success --------------------------


def test_database_down_is_503_with_retry_after(settings_for, make_service):
    from app import create_app

    app = create_app(
        settings_for(
            DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/x",
            KLAXON_CHECK_TIMEOUT="1",
        )
    )
    try:
        token = make_service()["integration_key"]["token"]
        response = app.test_client().post(f"{GENERIC}?token={token}&summary=x")
    finally:
        app.extensions["klaxon"].stop()
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert error_of(response)["code"] == "unavailable"


@pytest.fixture
def failing_commit(db_conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Every transaction that wrote an alert fails at COMMIT with a serialization failure."""
    db_conn.execute(
        """
        CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'simulated commit failure' USING ERRCODE = '40001'; END $$;
        CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT OR UPDATE ON alerts
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();
        """
    )
    yield
    db_conn.execute("DROP TRIGGER fail_at_commit ON alerts; DROP FUNCTION fail_at_commit()")


@ALL
def test_a_failed_commit_is_503_and_nothing_is_reported_accepted(
    client, db_conn, key_for, url, failing_commit
):
    token = key_for(url)
    response = post_json(client, url, token, ENDPOINTS[url][1])
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert alerts(db_conn) == []


def test_a_connection_lost_mid_request_is_503_and_the_retry_succeeds(client, db_conn, key_for):
    db_conn.execute(
        """
        CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$;
        CREATE TRIGGER die BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION die();
        """
    )
    token = key_for(GENERIC)
    response = client.post(f"{GENERIC}?token={token}&summary=lost")
    assert response.status_code == 503
    assert alerts(db_conn) == []
    db_conn.execute("DROP TRIGGER die ON alerts; DROP FUNCTION die()")
    assert client.post(f"{GENERIC}?token={token}&summary=lost").status_code == 204
    assert [a["summary"] for a in alerts(db_conn)] == ["lost"]
