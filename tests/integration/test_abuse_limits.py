"""Abuse limits on real Redis: each holds, answers 429 with Retry-After, and leaves valid traffic
alone — failed credentials per client address (ingest, heartbeat, /api/v1, admin login, action
links), verification codes per address and per user, test sends per address."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from app.directory import heartbeat_monitors, users
from app.messages import links
from app.messages.links import ActionLink
from config.settings import Settings
from tests.conftest import SECRET_KEY
from tests.support.api import Api
from tests.support.inbound import make_alert, make_user

FAILS = 3  # failed credentials allowed per client address in these tests
LIMITS = {
    "KLAXON_LIMIT_FAILED_AUTH": f"{FAILS}/minute",
    "KLAXON_LIMIT_VERIFY_PER_ADDRESS": "2/hour",
    "KLAXON_LIMIT_VERIFY_PER_USER": "3/hour",
    "KLAXON_LIMIT_TEST_SENDS": "2/hour",
    "KLAXON_LIMIT_SIGNIN_PER_ADDRESS": f"{FAILS}/minute",
}
GENERIC = "/api/v2/generic/incoming"
CLIENT_A = {"REMOTE_ADDR": "198.51.100.7"}
CLIENT_B = {"REMOTE_ADDR": "198.51.100.8"}


@pytest.fixture
def web_app(settings_for: Callable[..., Settings]) -> Iterator[Any]:
    from app import create_app

    app = create_app(settings_for(**LIMITS))
    app.config["TESTING"] = True
    yield app
    app.extensions["klaxon"].stop()


def assert_limited(response: Any, within: int = 60) -> int:
    """A 429 in the JSON envelope whose Retry-After is a whole number of seconds in 1..within."""
    assert response.status_code == 429, response.get_data(as_text=True)
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= within
    if response.mimetype == "application/json":
        body = response.get_json()
        assert body["code"] == "too_many_requests" and body["details"]["retry_after"] == wait
    return wait


# ---- failed credentials --------------------------------------------------------------------


def test_failed_ingest_keys_are_limited_per_client_and_valid_keys_never(client, make_service):
    token = make_service()["integration_key"]["token"]
    for _ in range(FAILS):
        assert client.post(f"{GENERIC}?token=kli_wrong", environ_base=CLIENT_A).status_code == 401
    assert_limited(client.post(f"{GENERIC}?token=kli_wrong", environ_base=CLIENT_A))
    assert_limited(client.post(GENERIC, environ_base=CLIENT_A))  # no key at all counts too
    # The same client with a valid key is served; another client's failures are its own.
    ok = client.post(f"{GENERIC}?token={token}&summary=fine", environ_base=CLIENT_A)
    assert ok.status_code == 204
    assert client.post(f"{GENERIC}?token=kli_wrong", environ_base=CLIENT_B).status_code == 401


def test_unknown_heartbeat_secrets_count_as_failed_credentials(client, db_conn, make_service):
    monitor = heartbeat_monitors.create_heartbeat_monitor(db_conn, make_service()["id"], "job", 60)
    for _ in range(FAILS):
        assert client.post("/api/v2/heartbeat/khb_guess", environ_base=CLIENT_A).status_code == 404
    assert_limited(client.post("/api/v2/heartbeat/khb_guess2", environ_base=CLIENT_A))
    good = client.post(f"/api/v2/heartbeat/{monitor['checkin_secret']}", environ_base=CLIENT_A)
    assert good.status_code == 200


def test_failed_api_keys_are_limited_and_a_valid_key_is_served(client, make_api_key):
    bad = Api(client, "klx_" + "0" * 32 + "_nope")
    for _ in range(FAILS):
        assert bad.get("/services", environ_base=CLIENT_A).status_code == 401
    assert_limited(bad.get("/services", environ_base=CLIENT_A))
    assert_limited(Api(client, None).get("/services", environ_base=CLIENT_A))
    good = Api(client, make_api_key("read"))
    assert good.get("/services", environ_base=CLIENT_A).status_code == 200


def test_admin_sign_ins_are_limited_per_client_address(client, db_conn):
    from tests.support.signin import PASSWORD, admin_sign_in, make_user

    admin = make_user(db_conn, "admin")

    def sign_in(email: str, password: str, client_address: dict[str, str]) -> Any:
        return admin_sign_in(client, email, password, environ_base=client_address)

    for n in range(FAILS):
        assert sign_in(f"guess{n}@example.com", "wrong", CLIENT_A).status_code == 401
    limited = sign_in(admin["email"], PASSWORD, CLIENT_A)  # every attempt counts, right or not
    assert_limited(limited)
    assert "Too many sign-in attempts" in limited.get_data(as_text=True)
    assert sign_in(admin["email"], PASSWORD, CLIENT_B).status_code == 303


def test_invalid_action_links_are_limited_and_a_valid_link_works(client, db_conn, make_service):
    alert_id = make_alert(db_conn, make_service()["id"], "disk full")
    link = ActionLink(alert_id, "acknowledge", str(make_user(db_conn)["id"]), "email")
    valid = links.PATH + links.make_token(SECRET_KEY, link)
    for n in range(FAILS):
        assert client.get(f"{links.PATH}forged{n}", environ_base=CLIENT_A).status_code == 404
    limited = client.post(f"{links.PATH}forged", environ_base=CLIENT_A)
    assert_limited(limited)
    assert limited.headers["X-Frame-Options"] == "DENY"  # still one of the action pages
    assert client.get(valid, environ_base=CLIENT_A).status_code == 200
    assert client.post(valid, environ_base=CLIENT_A).status_code == 200


@pytest.fixture
def proxied(settings_for: Callable[..., Settings]) -> Iterator[Any]:
    """A client of an app behind one trusted proxy (KLAXON_PROXY_HOPS=1)."""
    from app import create_app

    app = create_app(settings_for(**LIMITS, KLAXON_PROXY_HOPS="1"))
    app.config["TESTING"] = True
    yield app.test_client()
    app.extensions["klaxon"].stop()


def test_limits_follow_the_forwarded_client_behind_a_trusted_proxy(proxied):

    def attempt(client_ip: str) -> int:
        headers = {"X-Forwarded-For": f"203.0.113.1, {client_ip}"}
        return int(
            proxied.post(GENERIC, headers=headers, environ_base=CLIENT_A).status_code  # the proxy
        )

    assert [attempt("192.0.2.10") for _ in range(FAILS + 1)] == [401] * FAILS + [429]
    assert attempt("192.0.2.11") == 401  # another client behind the same proxy


def test_without_a_trusted_proxy_a_forged_forwarded_header_does_not_escape(client):
    for n in range(FAILS):
        forged = {"X-Forwarded-For": f"192.0.2.{n}"}
        assert client.post(GENERIC, headers=forged, environ_base=CLIENT_A).status_code == 401
    forged = {"X-Forwarded-For": "192.0.2.99"}
    assert_limited(client.post(GENERIC, headers=forged, environ_base=CLIENT_A))


# ---- verification codes and test sends -------------------------------------------------------


@pytest.fixture
def api(client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(client, make_api_key("write"))


def new_user(db_conn: psycopg.Connection[Any]) -> str:
    tag = uuid.uuid4().hex[:8]
    return str(users.create_user(db_conn, "Ada", f"ada-{tag}@example.com")["id"])


def webhook(address: str) -> dict[str, str]:
    return {"name": "hook", "type": "webhook", "address": address}


def codes_sent(db_conn: psycopg.Connection[Any]) -> int:
    row = db_conn.execute(
        "SELECT count(*) AS n FROM outgoing_messages WHERE kind = 'verification'"
    ).fetchone()
    return int(row["n"]) if row else 0


def test_codes_to_one_address_are_limited_however_they_are_asked_for(api, db_conn):
    user = new_user(db_conn)
    many = f"/users/{user}/contact-methods"
    address = "https://192.0.2.10/a"
    first = api.post(many, json=webhook(address))  # code 1: create
    assert first.status_code == 201
    assert api.delete(f"{many}/{first.get_json()['id']}").status_code == 204
    again = api.post(many, json=webhook(address))  # code 2: delete and re-create
    assert again.status_code == 201
    assert api.delete(f"{many}/{again.get_json()['id']}").status_code == 204
    before = codes_sent(db_conn)
    assert_limited(api.post(many, json=webhook(address)), within=3600)  # a third: refused
    other = api.post(many, json=webhook("https://192.0.2.10/b"))
    assert other.status_code == 201
    moved = api.patch(f"{many}/{other.get_json()['id']}", json={"address": address})
    assert_limited(moved, within=3600)  # an address change counts the same
    # Refused means nothing happened: no method, no address change, no code.
    assert codes_sent(db_conn) == before + 1
    kept = api.get(f"{many}/{other.get_json()['id']}").get_json()
    assert kept["address"] == "https://192.0.2.10/b"
    assert [m["address"] for m in api.get(many).get_json()["items"]] == [kept["address"]]


def test_codes_for_one_user_are_limited_and_other_users_are_not(api, db_conn):
    user, other = new_user(db_conn), new_user(db_conn)
    for n in range(3):
        created = api.post(
            f"/users/{user}/contact-methods", json=webhook(f"https://192.0.2.20/{n}")
        )
        assert created.status_code == 201
    assert_limited(
        api.post(f"/users/{user}/contact-methods", json=webhook("https://192.0.2.20/3")),
        within=3600,
    )
    fine = api.post(f"/users/{other}/contact-methods", json=webhook("https://192.0.2.20/9"))
    assert fine.status_code == 201


def test_test_sends_to_one_address_are_limited(api, db_conn):
    user = new_user(db_conn)
    method = api.post(
        f"/users/{user}/contact-methods", json=webhook("https://192.0.2.20/t")
    ).get_json()
    db_conn.execute("UPDATE contact_methods SET verified_at = now() WHERE id = %s", (method["id"],))
    path = f"/users/{user}/contact-methods/{method['id']}/test"
    assert [api.post(path).status_code for _ in range(2)] == [202, 202]
    assert_limited(api.post(path), within=3600)
    tests_queued = db_conn.execute(
        "SELECT count(*) AS n FROM outgoing_messages WHERE kind = 'test'"
    ).fetchone()
    assert tests_queued == {"n": 2}
