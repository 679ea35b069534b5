"""/api/v1/users/<id>/contact-methods: CRUD, address checks per type, unconfigured providers,
and verification end to end at the database level (the code is read from the queued message)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from app.directory import users
from config.settings import Settings
from tests.support.api import Api, created

PROVIDERS = {
    "SMTP_URL": "smtp://127.0.0.1:2525",
    "SMTP_FROM": "klaxon@example.com",
    "TWILIO_ACCOUNT_SID": "AC0123456789",
    "TWILIO_AUTH_TOKEN": "twilio-token",
    "TWILIO_FROM_NUMBER": "+15550001111",
    "SLACK_BOT_TOKEN": "xoxb-test",
}


@pytest.fixture
def configured_client(settings_for: Callable[..., Settings]) -> Iterator[Any]:
    """A client of an app with every provider configured (nothing is sent in these tests)."""
    from app import create_app

    app = create_app(settings_for(**PROVIDERS))
    app.config["TESTING"] = True
    yield app.test_client()
    app.extensions["klaxon"].stop()


@pytest.fixture
def api(configured_client: Any, make_api_key: Callable[[str], str]) -> Api:
    return Api(configured_client, make_api_key("write"))


@pytest.fixture
def user(db_conn: psycopg.Connection[Any]) -> str:
    tag = uuid.uuid4().hex[:8]
    return str(users.create_user(db_conn, "Ada", f"ada-{tag}@example.com")["id"])


def new_method(api: Api, user: str, **fields: Any) -> dict[str, Any]:
    body = {"name": "work email", "type": "email", "address": "ada@example.com", **fields}
    return created(api.post(f"/users/{user}/contact-methods", json=body))


def sent_codes(db_conn: psycopg.Connection[Any], cm_id: str) -> list[str]:
    """The codes of the verification messages queued for a method, oldest first."""
    rows = db_conn.execute(
        "SELECT payload->>'code' AS code FROM outgoing_messages "
        "WHERE contact_method_id = %s AND kind = 'verification' ORDER BY id",
        (cm_id,),
    ).fetchall()
    return [row["code"] for row in rows]


def age_code(db_conn: psycopg.Connection[Any], cm_id: str, **moved: str) -> None:
    """Move the pending code's timestamps into the past (e.g. created_at='2 minutes')."""
    for column, interval in moved.items():
        assert column in ("created_at", "expires_at")
        db_conn.execute(
            f"UPDATE contact_method_verifications SET {column} = now() - %s::interval "
            "WHERE contact_method_id = %s",
            (interval, cm_id),
        )


def error_fields(response: Any) -> list[str]:
    return [e["field"] for e in response.get_json()["details"]["errors"]]


def test_create_get_list_patch_delete(api: Api, user: str) -> None:
    method = new_method(api, user, status_updates=True)
    assert method["verified"] is False and method["verified_at"] is None
    assert method["user_id"] == user and method["status_updates"] is True
    assert method["disabled"] is False and method["stopped"] is False
    assert method["signing_secret"] is None
    path = f"/users/{user}/contact-methods/{method['id']}"
    shown = api.get(path).get_json()
    assert shown == {k: v for k, v in method.items() if k != "signing_secret"}
    second = new_method(api, user, type="sms", address="+15551234567", name="phone")
    listed = api.walk(f"/users/{user}/contact-methods", limit=1)
    assert [m["id"] for m in listed] == [method["id"], second["id"]]
    patched = api.patch(path, json={"name": "home", "disabled": True, "status_updates": False})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["name"] == "home" and patched.get_json()["disabled"] is True
    assert patched.get_json()["status_updates"] is False
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404
    assert api.delete(path).status_code == 404


def test_outputs_never_show_the_code_or_its_hash(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    method = new_method(api, user)
    [code] = sent_codes(db_conn, method["id"])
    shown = api.get(f"/users/{user}/contact-methods/{method['id']}").get_data(as_text=True)
    listed = api.get(f"/users/{user}/contact-methods").get_data(as_text=True)
    for text in (shown, listed, repr(method)):
        assert code not in text and "code_hash" not in text


def test_webhook_methods_get_a_signing_secret_shown_once(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    method = new_method(api, user, type="webhook", address="https://192.0.2.10/page")
    assert isinstance(method["signing_secret"], str) and len(method["signing_secret"]) >= 40
    stored = db_conn.execute(
        "SELECT signing_secret FROM contact_methods WHERE id = %s", (method["id"],)
    ).fetchone()
    assert stored is not None and stored["signing_secret"] == method["signing_secret"]
    shown = api.get(f"/users/{user}/contact-methods/{method['id']}").get_json()
    assert "signing_secret" not in shown


@pytest.mark.parametrize(
    ("kind", "address"),
    [
        ("email", "not-an-email"),
        ("sms", "5551234567"),
        ("sms", "+1555"),
        ("voice", "+1555123456789012"),
        ("webhook", "ftp://example.com/x"),
        ("webhook", "https://"),
        ("slack", "#general"),
        ("slack", "ada"),
    ],
)
def test_addresses_are_checked_per_type(api: Api, user: str, kind: str, address: str) -> None:
    body = {"name": "x", "type": kind, "address": address}
    response = api.post(f"/users/{user}/contact-methods", json=body)
    assert response.status_code == 422, response.get_json()
    assert error_fields(response) == ["address"]


def test_schema_violations_name_the_field(api: Api, user: str) -> None:
    response = api.post(f"/users/{user}/contact-methods", json={"name": "x", "type": "fax"})
    assert response.status_code == 422
    assert set(error_fields(response)) == {"type", "address"}


@pytest.mark.parametrize(
    ("kind", "address", "variables"),
    [
        ("email", "ada@example.com", "SMTP_URL and SMTP_FROM"),
        ("sms", "+15551234567", "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER"),
        ("voice", "+15551234567", "TWILIO_ACCOUNT_SID"),
        ("slack", "U012AB3CD", "SLACK_BOT_TOKEN"),
    ],
)
def test_a_type_without_a_configured_provider_is_refused_naming_the_env_vars(
    client: Any,
    make_api_key: Callable[[str], str],
    user: str,
    kind: str,
    address: str,
    variables: str,
) -> None:
    api = Api(client, make_api_key("write"))  # the plain app: no provider configured
    body = {"name": "x", "type": kind, "address": address}
    response = api.post(f"/users/{user}/contact-methods", json=body)
    assert response.status_code == 422, response.get_json()
    assert error_fields(response) == ["type"]
    assert variables in response.get_json()["error"]
    webhook = {"name": "x", "type": "webhook", "address": "http://127.0.0.1:9/hook"}
    assert api.post(f"/users/{user}/contact-methods", json=webhook).status_code == 201


def test_the_same_destination_twice_is_a_conflict(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    new_method(api, user, address="ada@example.com")
    other = users.create_user(db_conn, "Bob", f"bob-{uuid.uuid4().hex[:6]}@example.com")
    body = {"name": "again", "type": "email", "address": "ADA@example.com"}
    for owner in (user, other["id"]):
        response = api.post(f"/users/{owner}/contact-methods", json=body)
        assert response.status_code == 409, response.get_json()
        assert response.get_json()["details"]["field"] == "address"
    assert api.post(f"/users/{user}/contact-methods", json={**body, "type": "webhook",
                    "address": "https://192.0.2.13/ada"}).status_code == 201  # fmt: skip


def test_unknown_user_or_method_is_404(api: Api, user: str) -> None:
    nobody, nothing = uuid.uuid4(), uuid.uuid4()
    body = {"name": "x", "type": "email", "address": "x@example.com"}
    assert api.get(f"/users/{nobody}/contact-methods").status_code == 404
    assert api.post(f"/users/{nobody}/contact-methods", json=body).status_code == 404
    base = f"/users/{user}/contact-methods/{nothing}"
    assert api.get(base).status_code == 404
    assert api.patch(base, json={"name": "y"}).status_code == 404
    assert api.delete(base).status_code == 404
    for action in ("send-verification", "test"):
        assert api.post(f"{base}/{action}").status_code == 404
    assert api.post(f"{base}/verify", json={"code": "123456"}).status_code == 404
    method = new_method(api, user)
    other = f"/users/{nobody}/contact-methods/{method['id']}"  # someone else's method
    assert api.get(other).status_code == 404


def test_creating_queues_a_verification_message_with_a_hashed_code(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    method = new_method(api, user)
    message = db_conn.execute(
        "SELECT kind, status, dest_type, provider, user_id::text AS user_id, payload, "
        "dedup_key FROM outgoing_messages WHERE contact_method_id = %s",
        (method["id"],),
    ).fetchone()
    assert message is not None
    assert (message["kind"], message["status"]) == ("verification", "pending")
    assert (message["dest_type"], message["provider"]) == ("email", "smtp")
    assert message["user_id"] == user and message["dedup_key"].startswith(f"verify:{method['id']}:")
    code = message["payload"]["code"]
    assert len(code) == 6 and code.isdigit()
    pending = db_conn.execute(
        "SELECT code_hash, attempts, expires_at - created_at AS ttl "
        "FROM contact_method_verifications WHERE contact_method_id = %s",
        (method["id"],),
    ).fetchone()
    assert pending is not None and pending["attempts"] == 0
    assert pending["ttl"].total_seconds() == 15 * 60
    assert code.encode() not in bytes(pending["code_hash"])
    assert bytes(pending["code_hash"]) != hashlib.sha256(code.encode()).digest()  # keyed


def test_verify_with_the_code_from_the_message(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    method = new_method(api, user)
    path = f"/users/{user}/contact-methods/{method['id']}"
    [code] = sent_codes(db_conn, method["id"])
    response = api.post(f"{path}/verify", json={"code": code})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["verified"] is True and response.get_json()["verified_at"]
    pending = db_conn.execute(
        "SELECT 1 FROM contact_method_verifications WHERE contact_method_id = %s",
        (method["id"],),
    ).fetchone()
    assert pending is None
    again = api.post(f"{path}/verify", json={"code": "000000"})  # already verified: a no-op
    assert again.status_code == 200 and again.get_json() == response.get_json()
    resend = api.post(f"{path}/send-verification")
    assert resend.status_code == 409


def test_a_wrong_code_counts_and_five_make_the_code_void(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    method = new_method(api, user)
    path = f"/users/{user}/contact-methods/{method['id']}"
    [code] = sent_codes(db_conn, method["id"])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for attempt in range(1, 6):
        response = api.post(f"{path}/verify", json={"code": wrong})
        assert response.status_code == 422, response.get_json()
        assert error_fields(response) == ["code"]
        assert f"{5 - attempt} attempts left" in response.get_json()["error"]
        row = db_conn.execute(
            "SELECT attempts FROM contact_method_verifications WHERE contact_method_id = %s",
            (method["id"],),
        ).fetchone()
        assert row is not None and row["attempts"] == attempt
    void = api.post(f"{path}/verify", json={"code": code})  # even the right code, now
    assert void.status_code == 409, void.get_json()
    assert "send-verification" in void.get_json()["error"]
    assert api.get(path).get_json()["verified"] is False
    age_code(db_conn, method["id"], created_at="2 minutes")
    assert api.post(f"{path}/send-verification").status_code == 202
    new_code = sent_codes(db_conn, method["id"])[-1]
    assert api.post(f"{path}/verify", json={"code": new_code}).status_code == 200


def test_an_expired_code_is_refused(api: Api, user: str, db_conn: psycopg.Connection[Any]) -> None:
    method = new_method(api, user)
    path = f"/users/{user}/contact-methods/{method['id']}"
    [code] = sent_codes(db_conn, method["id"])
    age_code(db_conn, method["id"], expires_at="1 second")
    response = api.post(f"{path}/verify", json={"code": code})
    assert response.status_code == 409, response.get_json()
    assert "expired" in response.get_json()["error"]
    assert api.get(path).get_json()["verified"] is False


def test_resending_is_limited_to_once_a_minute_and_replaces_the_code(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    method = new_method(api, user)
    path = f"/users/{user}/contact-methods/{method['id']}"
    too_soon = api.post(f"{path}/send-verification")
    assert too_soon.status_code == 429, too_soon.get_json()
    assert 1 <= int(too_soon.headers["Retry-After"]) <= 60
    age_code(db_conn, method["id"], created_at="61 seconds")
    resent = api.post(f"{path}/send-verification")
    assert resent.status_code == 202, resent.get_json()
    first, second = sent_codes(db_conn, method["id"])
    message = api.get(f"/messages/{resent.get_json()['message_id']}").get_json()
    assert message["kind"] == "verification" and message["contact_method_id"] == method["id"]
    if first != second:  # the old code stops working (1 in 10^6 they are equal)
        assert api.post(f"{path}/verify", json={"code": first}).status_code == 422
    assert api.post(f"{path}/verify", json={"code": second}).status_code == 200


def test_changing_the_address_makes_it_unverified_and_sends_a_new_code(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    method = new_method(api, user)
    path = f"/users/{user}/contact-methods/{method['id']}"
    [code] = sent_codes(db_conn, method["id"])
    assert api.post(f"{path}/verify", json={"code": code}).status_code == 200
    same = api.patch(path, json={"address": "ada@example.com", "name": "renamed"})
    assert same.get_json()["verified"] is True  # the same address: still verified
    assert len(sent_codes(db_conn, method["id"])) == 1
    bad = api.patch(path, json={"address": "+15551234567"})
    assert bad.status_code == 422 and error_fields(bad) == ["address"]
    moved = api.patch(path, json={"address": "ada@new.example.com"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["verified"] is False and moved.get_json()["verified_at"] is None
    codes = sent_codes(db_conn, method["id"])
    assert len(codes) == 2
    assert api.post(f"{path}/verify", json={"code": codes[1]}).status_code == 200


def test_test_message_needs_a_verified_enabled_unstopped_method(
    api: Api, user: str, db_conn: psycopg.Connection[Any]
) -> None:
    method = new_method(api, user, type="sms", address="+15551234567")
    path = f"/users/{user}/contact-methods/{method['id']}"
    unverified = api.post(f"{path}/test")
    assert unverified.status_code == 409 and "not verified" in unverified.get_json()["error"]
    [code] = sent_codes(db_conn, method["id"])
    assert api.post(f"{path}/verify", json={"code": code}).status_code == 200
    queued = api.post(f"{path}/test")
    assert queued.status_code == 202, queued.get_json()
    row = db_conn.execute(
        "SELECT kind, contact_method_id::text AS cm FROM outgoing_messages WHERE id = %s",
        (int(queued.get_json()["message_id"]),),
    ).fetchone()
    assert row == {"kind": "test", "cm": method["id"]}
    api.patch(path, json={"disabled": True})
    assert api.post(f"{path}/test").status_code == 409
    api.patch(path, json={"disabled": False})
    db_conn.execute("UPDATE contact_methods SET stopped_at = now() WHERE id = %s", (method["id"],))
    stopped = api.post(f"{path}/test")
    assert stopped.status_code == 409 and "STOP" in stopped.get_json()["error"]
    assert api.get(path).get_json()["stopped"] is True


def test_reading_needs_read_and_changing_needs_write(
    configured_client: Any, make_api_key: Callable[[str], str], user: str
) -> None:
    reader = Api(configured_client, make_api_key("read"))
    assert reader.get(f"/users/{user}/contact-methods").status_code == 200
    body = {"name": "x", "type": "email", "address": "x@example.com"}
    assert reader.post(f"/users/{user}/contact-methods", json=body).status_code == 403
