"""Signing in with a password, server-side sessions, their expiry and revocation, CSRF, sign-in
limits, and /api/v1 acting as the signed-in user (README, Signing in)."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher

from app.directory import passwords
from app.http.session_cookie import COOKIE
from config.settings import Settings
from tests.support.api import Api
from tests.support.signin import PASSWORD, make_user, sign_in, signed_in
from tests.support.teams import make_team

ME = "/api/v1/me"


def cookie_header(response: Any) -> str:
    found = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    assert len(found) == 1, response.headers
    return str(found[0])


def session_token(client: Any) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return str(cookie.value)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    assert body["code"] == code
    assert set(body) == {"error", "code", "details", "request_id"}
    return body


@pytest.fixture
def user(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn)


@pytest.fixture
def admin(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn, "admin")


@pytest.fixture
def app_with(settings_for: Callable[..., Settings]) -> Iterator[Callable[..., Any]]:
    """app_with(**settings) -> a Klaxon app on this test's servers with those settings."""
    from app import create_app

    built: list[Any] = []

    def build(**overrides: str) -> Any:
        app = create_app(settings_for(**overrides))
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["klaxon"].stop()


# ---- signing in ------------------------------------------------------------------------------


def test_sign_in_sets_a_lax_httponly_cookie_holding_only_a_random_token(
    client, db_conn, user
) -> None:
    response = sign_in(client, user["email"].upper())  # emails match whatever their case
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["kind"] == "user" and body["scope"] == "write" and body["api_key"] is None
    assert body["user"]["id"] == user["id"] and "password_hash" not in body["user"]
    assert len(body["csrf_token"]) == 64
    cookie = cookie_header(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # http://localhost in tests
    assert f"Max-Age={7 * 86400}" in cookie
    assert response.headers["Cache-Control"] == "no-store"
    token = session_token(client)
    assert len(token) >= 43  # 256 bits, URL-safe base64
    row = db_conn.execute("SELECT * FROM sessions").fetchone()
    assert row["id"] == body["session"]["id"] or str(row["id"]) == body["session"]["id"]
    assert bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert token not in repr(row)
    assert (row["expires_at"] - row["created_at"]).total_seconds() == pytest.approx(7 * 86400, 1)
    assert (row["idle_expires_at"] - row["created_at"]).total_seconds() == pytest.approx(
        12 * 3600, abs=1
    )
    me = client.get(ME)
    assert me.status_code == 200
    assert me.get_json()["user"]["email"] == user["email"]
    assert me.get_json()["csrf_token"] == body["csrf_token"]


def test_sign_in_takes_a_form_too(client, user) -> None:
    response = client.post("/auth/login", data={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 200
    assert client.get(ME).get_json()["kind"] == "user"


def test_the_cookie_is_secure_when_the_public_url_is_https(app_with, user) -> None:
    client = app_with(KLAXON_PUBLIC_URL="https://klaxon.example.com").test_client()
    assert "Secure" in cookie_header(sign_in(client, user["email"]))


def test_settings_set_the_session_lifetimes(app_with, db_conn, user) -> None:
    client = app_with(KLAXON_SESSION_IDLE="600", KLAXON_SESSION_MAX="3600").test_client()
    response = sign_in(client, user["email"])
    assert "Max-Age=3600" in cookie_header(response)
    row = db_conn.execute("SELECT * FROM sessions").fetchone()
    assert (row["idle_expires_at"] - row["created_at"]).total_seconds() == pytest.approx(600, 1)
    assert (row["expires_at"] - row["created_at"]).total_seconds() == pytest.approx(3600, 1)


def test_wrong_password_and_unknown_email_answer_alike(client, db_conn, user) -> None:
    disabled = make_user(db_conn)
    db_conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (disabled["id"],))
    cases = {
        "wrong password": (user["email"], "not the password"),
        "unknown email": ("nobody@example.com", PASSWORD),
        "no password": (make_user(db_conn, password=None)["email"], PASSWORD),
        "disabled": (disabled["email"], PASSWORD),
    }
    answers = {}
    for case, (email, password) in cases.items():
        response = sign_in(client, email, password)
        body = assert_error(response, 401, "unauthorized")
        assert "Set-Cookie" not in response.headers, case
        answers[case] = (body["error"], repr(body["details"]))
    assert len(set(answers.values())) == 1, answers
    assert db_conn.execute("SELECT count(*) AS n FROM sessions").fetchone()["n"] == 0


def test_an_unknown_email_takes_about_as_long_as_a_wrong_password(client, user) -> None:
    def cost(email: str) -> float:
        started = time.perf_counter()
        assert sign_in(client, email, "not the password").status_code == 401
        return time.perf_counter() - started

    for email in (user["email"], "nobody@example.com"):
        cost(email)  # warm up
    known = statistics.median(cost(user["email"]) for _ in range(3))
    unknown = statistics.median(cost("nobody@example.com") for _ in range(3))
    # Both run one Argon2 verification (milliseconds); a skipped one would be 10x+ faster.
    assert 0.33 < unknown / known < 3, (known, unknown)


@pytest.mark.parametrize(
    "body", [{}, {"email": "a@example.com"}, {"password": PASSWORD}, {"email": 1, "password": "x"}]
)
def test_missing_fields_are_a_422(client, body) -> None:
    body = assert_error(client.post("/auth/login", json=body), 422, "validation_failed")


def test_sign_in_cannot_be_started_by_another_site(client, user) -> None:
    response = sign_in(client, user["email"], headers={"Sec-Fetch-Site": "cross-site"})
    assert_error(response, 403, "forbidden")
    assert "Set-Cookie" not in response.headers


def test_an_old_hash_is_replaced_at_sign_in(client, db_conn, user) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    db_conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (weak, user["id"]))
    assert passwords.needs_rehash(weak)
    assert sign_in(client, user["email"]).status_code == 200
    stored = db_conn.execute(
        "SELECT password_hash FROM users WHERE id = %s", (user["id"],)
    ).fetchone()["password_hash"]
    assert stored != weak and stored.startswith("$argon2id$")
    assert not passwords.needs_rehash(stored)
    assert passwords.verify(stored, PASSWORD)


def test_a_current_hash_is_left_alone(client, db_conn, user) -> None:
    before = db_conn.execute("SELECT password_hash FROM users").fetchone()["password_hash"]
    assert sign_in(client, user["email"]).status_code == 200
    assert db_conn.execute("SELECT password_hash FROM users").fetchone()["password_hash"] == before


# ---- /api/v1 with a session ------------------------------------------------------------------


def test_a_user_reads_and_writes_but_is_no_admin(client, db_conn, user) -> None:
    team = make_team(db_conn, managers=[user])
    csrf = signed_in(client, user)
    assert client.get("/api/v1/services").status_code == 200
    created = client.post(
        "/api/v1/services",
        json={"name": "by-session", "team_id": team["id"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert created.status_code == 201, created.get_json()
    unowned = client.post(
        "/api/v1/services", json={"name": "no team"}, headers={"X-CSRF-Token": csrf}
    )
    assert_error(unowned, 403, "forbidden")
    assert client.get("/api/v1/api-keys").get_json()["items"] == []  # only their own keys
    made = client.post(
        "/api/v1/api-keys", json={"name": "mine", "scope": "admin", "owner_user_id": user["id"]},
        headers={"X-CSRF-Token": csrf},
    )  # fmt: skip
    assert_error(made, 403, "forbidden")


def test_an_admin_user_has_admin_scope(client, admin) -> None:
    signed_in(client, admin)
    assert client.get("/api/v1/api-keys").status_code == 200
    assert client.get(ME).get_json()["scope"] == "admin"


def test_actions_by_a_session_are_logged_as_the_user(client, db_conn, user, make_service) -> None:
    from tests.support.inbound import make_alert

    alert_id = make_alert(db_conn, make_service()["id"])
    csrf = signed_in(client, user)
    response = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.get_json()
    row = db_conn.execute(
        "SELECT actor_type, actor_id FROM alert_logs "
        "WHERE alert_id = %s AND event = 'acknowledged'",
        (alert_id,),
    ).fetchone()
    assert row == {"actor_type": "user", "actor_id": user["id"]}


def test_a_key_with_a_cookie_is_judged_by_the_key(client, user, make_api_key) -> None:
    signed_in(client, user)
    reader = Api(client, make_api_key("read"))
    assert_error(reader.post("/services", json={"name": "x"}), 403, "forbidden")
    assert reader.get("/me").get_json()["kind"] == "api_key"


def test_me_describes_an_api_key(client, make_api_key) -> None:
    api = Api(client, make_api_key("write"))
    body = api.get("/me").get_json()
    assert body["kind"] == "api_key" and body["scope"] == "write"
    assert body["api_key"]["scope"] == "write" and body["api_key"]["name"] == "test-write"
    assert body["user"] is None and body["session"] is None and body["csrf_token"] is None
    assert api.get("/me/sessions").get_json() == {"items": [], "next_cursor": None}
    assert_error(
        api.post("/me/password", json={"current_password": "x", "new_password": "y" * 8}),
        403,
        "forbidden",
    )


# ---- CSRF ------------------------------------------------------------------------------------


def test_state_changes_with_a_session_need_its_csrf_token(client, db_conn, user) -> None:
    other = Api(client.application.test_client(), None)
    other_csrf = signed_in(other.client, make_user(db_conn))
    csrf = signed_in(client, user)
    body = {"name": "needs-csrf", "team_id": make_team(db_conn, managers=[user])["id"]}
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": other_csrf}):
        response = client.post("/api/v1/services", json=body, headers=headers)
        assert_error(response, 403, "csrf_failed")
    assert db_conn.execute("SELECT count(*) AS n FROM services").fetchone()["n"] == 0
    created = client.post("/api/v1/services", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    service = created.get_json()["id"]
    assert_error(client.delete(f"/api/v1/services/{service}"), 403, "csrf_failed")
    patched = client.patch(
        f"/api/v1/services/{service}", json={"description": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert patched.status_code == 200


def test_reads_with_a_session_need_no_csrf_token(client, user) -> None:
    signed_in(client, user)
    assert client.get("/api/v1/users").status_code == 200


def test_api_key_requests_need_no_csrf_token(client, make_api_key) -> None:
    created = Api(client, make_api_key("write")).post("/services", json={"name": "by-key"})
    assert created.status_code == 201


def test_sign_out_takes_the_token_as_a_form_field(client, user) -> None:
    csrf = signed_in(client, user)
    assert_error(client.post("/auth/logout"), 403, "csrf_failed")
    assert client.get(ME).status_code == 200
    response = client.post("/auth/logout", data={"csrf_token": csrf})
    assert response.status_code == 204


# ---- expiry ----------------------------------------------------------------------------------


def test_a_session_idle_too_long_ends(client, db_conn, user) -> None:
    signed_in(client, user)
    db_conn.execute("UPDATE sessions SET idle_expires_at = now() - interval '1 second'")
    assert_error(client.get(ME), 401, "unauthorized")


def test_a_session_past_its_absolute_expiry_ends_however_busy(client, db_conn, user) -> None:
    signed_in(client, user)
    db_conn.execute(
        "UPDATE sessions SET created_at = now() - interval '8 days', "
        "expires_at = now() - interval '1 second', "
        "idle_expires_at = now() - interval '1 second', last_seen_at = now() - interval '1 hour'"
    )
    assert_error(client.get(ME), 401, "unauthorized")


def test_tiny_lifetimes_end_a_session_on_their_own(app_with, db_conn, user) -> None:
    from tests.support.wait import wait_until

    client = app_with(KLAXON_SESSION_IDLE="1", KLAXON_SESSION_MAX="2").test_client()
    signed_in(client, user)
    assert client.get(ME).status_code == 200
    wait_until(lambda: client.get(ME).status_code == 401, timeout=10, what="session expiry")


def test_use_moves_the_idle_expiry_at_most_once_a_minute(client, db_conn, user) -> None:
    signed_in(client, user)
    db_conn.execute(
        "UPDATE sessions SET last_seen_at = now() - interval '2 minutes', "
        "idle_expires_at = now() + interval '1 minute'"
    )
    assert client.get(ME).status_code == 200
    first = db_conn.execute("SELECT last_seen_at, idle_expires_at FROM sessions").fetchone()
    assert (first["idle_expires_at"] - first["last_seen_at"]).total_seconds() == pytest.approx(
        12 * 3600, abs=1
    )
    assert client.get(ME).status_code == 200  # within the minute: no write
    assert db_conn.execute("SELECT last_seen_at, idle_expires_at FROM sessions").fetchone() == first


# ---- revocation ------------------------------------------------------------------------------


def test_sign_out_revokes_the_row_so_a_kept_cookie_stops_working(client, db_conn, user) -> None:
    csrf = signed_in(client, user)
    token = session_token(client)
    response = client.post("/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert f"{COOKIE}=;" in cookie_header(response)
    assert db_conn.execute("SELECT revoked_at FROM sessions").fetchone()["revoked_at"] is not None
    client.set_cookie(COOKIE, token)  # a copy of the cookie kept from before
    assert_error(client.get(ME), 401, "unauthorized")


def test_revoking_one_of_my_sessions_ends_only_that_one(app_with, db_conn, user) -> None:
    app = app_with()
    laptop, phone = app.test_client(), app.test_client()
    csrf = signed_in(laptop, user)
    signed_in(phone, user)
    listed = laptop.get("/api/v1/me/sessions").get_json()["items"]
    assert len(listed) == 2
    phone_id = phone.get(ME).get_json()["session"]["id"]
    assert_error(laptop.delete(f"/api/v1/me/sessions/{phone_id}"), 403, "csrf_failed")
    response = laptop.delete(f"/api/v1/me/sessions/{phone_id}", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert_error(phone.get(ME), 401, "unauthorized")
    assert laptop.get(ME).status_code == 200
    assert [s["id"] for s in laptop.get("/api/v1/me/sessions").get_json()["items"]] != [phone_id]
    again = laptop.delete(f"/api/v1/me/sessions/{phone_id}", headers={"X-CSRF-Token": csrf})
    assert_error(again, 404, "not_found")


def test_i_cannot_revoke_someone_elses_session(app_with, db_conn, user) -> None:
    app = app_with()
    mine, theirs = app.test_client(), app.test_client()
    csrf = signed_in(mine, user)
    signed_in(theirs, make_user(db_conn))
    their_id = theirs.get(ME).get_json()["session"]["id"]
    response = mine.delete(f"/api/v1/me/sessions/{their_id}", headers={"X-CSRF-Token": csrf})
    assert_error(response, 404, "not_found")
    assert theirs.get(ME).status_code == 200


def test_a_password_change_ends_my_other_sessions(app_with, db_conn, user) -> None:
    app = app_with()
    laptop, phone = app.test_client(), app.test_client()
    csrf = signed_in(laptop, user)
    signed_in(phone, user)
    new = "a brand new passphrase"
    change = {"current_password": PASSWORD, "new_password": new}
    assert_error(laptop.post("/api/v1/me/password", json=change), 403, "csrf_failed")
    headers = {"X-CSRF-Token": csrf}
    wrong = laptop.post(
        "/api/v1/me/password", json={**change, "current_password": "nope"}, headers=headers
    )
    assert_error(wrong, 422, "validation_failed")
    short = laptop.post(
        "/api/v1/me/password", json={**change, "new_password": "short"}, headers=headers
    )
    assert_error(short, 422, "validation_failed")
    assert phone.get(ME).status_code == 200
    assert laptop.post("/api/v1/me/password", json=change, headers=headers).status_code == 204
    assert_error(phone.get(ME), 401, "unauthorized")
    assert laptop.get(ME).status_code == 200
    fresh = app.test_client()
    assert_error(sign_in(fresh, user["email"]), 401, "unauthorized")
    assert sign_in(fresh, user["email"], new).status_code == 200


def test_an_admin_signs_a_user_out_everywhere(app_with, db_conn, user, admin) -> None:
    app = app_with()
    boss, laptop, phone = app.test_client(), app.test_client(), app.test_client()
    csrf = signed_in(boss, admin)
    signed_in(laptop, user)
    signed_in(phone, user)
    listed = boss.get(f"/api/v1/users/{user['id']}/sessions").get_json()["items"]
    assert len(listed) == 2
    assert_error(laptop.get(f"/api/v1/users/{user['id']}/sessions"), 403, "forbidden")
    response = boss.post(
        f"/api/v1/users/{user['id']}/sessions/revoke", headers={"X-CSRF-Token": csrf}
    )
    assert response.get_json() == {"revoked": 2}
    for client in (laptop, phone):
        assert_error(client.get(ME), 401, "unauthorized")
    assert boss.get(ME).status_code == 200
    assert boss.get(f"/api/v1/users/{user['id']}/sessions").get_json()["items"] == []


def test_disabling_or_deleting_a_user_ends_their_sessions_at_once(app_with, db_conn, user) -> None:
    app = app_with()
    first, second = app.test_client(), app.test_client()
    signed_in(first, user)
    other = make_user(db_conn)
    signed_in(second, other)
    db_conn.execute("UPDATE users SET disabled_at = now() WHERE id = %s", (user["id"],))
    assert_error(first.get(ME), 401, "unauthorized")
    db_conn.execute("DELETE FROM users WHERE id = %s", (other["id"],))
    assert_error(second.get(ME), 401, "unauthorized")


# ---- sign-in limits --------------------------------------------------------------------------


def test_sign_ins_are_limited_per_account_even_with_the_right_password(app_with, user) -> None:
    client = app_with(KLAXON_LIMIT_SIGNIN_PER_ACCOUNT="3/minute").test_client()
    for _ in range(3):
        assert sign_in(client, user["email"], "wrong password").status_code == 401
    limited = sign_in(client, user["email"].upper())
    body = assert_error(limited, 429, "too_many_requests")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert body["details"]["retry_after"] == int(limited.headers["Retry-After"])
    # An account that does not exist is limited the same way: the 429 tells nothing.
    for _ in range(3):
        assert sign_in(client, "nobody@example.com").status_code == 401
    assert_error(sign_in(client, "nobody@example.com"), 429, "too_many_requests")


def test_sign_ins_are_limited_per_client_address(app_with, db_conn, user) -> None:
    client = app_with(KLAXON_LIMIT_SIGNIN_PER_ADDRESS="3/minute").test_client()
    here, elsewhere = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "198.51.100.8"}
    for n in range(3):
        response = sign_in(client, f"guess{n}@example.com", environ_base=here)
        assert response.status_code == 401
    assert_error(sign_in(client, user["email"], environ_base=here), 429, "too_many_requests")
    assert sign_in(client, user["email"], environ_base=elsewhere).status_code == 200


def test_password_changes_count_against_the_account(app_with, user) -> None:
    client = app_with(KLAXON_LIMIT_SIGNIN_PER_ACCOUNT="3/minute").test_client()
    csrf = signed_in(client, user)  # one attempt
    change = {"current_password": "guess", "new_password": "x" * 8}
    for _ in range(2):
        wrong = client.post("/api/v1/me/password", json=change, headers={"X-CSRF-Token": csrf})
        assert wrong.status_code == 422
    again = client.post("/api/v1/me/password", json=change, headers={"X-CSRF-Token": csrf})
    assert_error(again, 429, "too_many_requests")


# ---- what a signed-in user who is not an admin may change --------------------------------------


def test_a_user_changes_their_own_profile_and_contact_methods_only(
    client, db_conn, user, admin
) -> None:
    csrf = {"X-CSRF-Token": signed_in(client, user)}
    mine = client.patch(f"/api/v1/users/{user['id']}", json={"name": "Me"}, headers=csrf)
    assert mine.status_code == 200, mine.get_json()
    theirs = f"/api/v1/users/{admin['id']}"
    assert_error(client.patch(theirs, json={"name": "Mallory"}, headers=csrf), 403, "forbidden")
    hook = {"name": "mine now", "type": "webhook", "address": "https://hooks.example.com/x"}
    stolen = client.post(f"{theirs}/contact-methods", json=hook, headers=csrf)
    assert_error(stolen, 403, "forbidden")
    assert_error(client.delete(theirs, headers=csrf), 403, "forbidden")
    assert client.get(f"{theirs}/contact-methods").status_code == 200  # reading is allowed
    name = db_conn.execute("SELECT name FROM users WHERE id = %s", (admin["id"],)).fetchone()
    assert name["name"] == admin["name"]


def test_only_an_admin_sets_a_role(client, db_conn, user, admin, make_api_key) -> None:
    csrf = {"X-CSRF-Token": signed_in(client, user)}
    promote = client.patch(f"/api/v1/users/{user['id']}", json={"role": "admin"}, headers=csrf)
    assert_error(promote, 403, "forbidden")
    new_admin = {"name": "Eve", "email": "eve@example.com", "role": "admin"}
    assert_error(client.post("/api/v1/users", json=new_admin, headers=csrf), 403, "forbidden")
    role = db_conn.execute("SELECT role FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert role["role"] == "user"
    write_key = {"Authorization": f"Bearer {make_api_key('write')}"}
    client.delete_cookie("klaxon_session")
    assert_error(client.post("/api/v1/users", json=new_admin, headers=write_key), 403, "forbidden")
    admin_csrf = {"X-CSRF-Token": signed_in(client, admin)}
    granted = client.patch(
        f"/api/v1/users/{user['id']}", json={"role": "admin"}, headers=admin_csrf
    )
    assert granted.status_code == 200 and granted.get_json()["role"] == "admin"


def test_an_admin_disables_a_user_who_is_signed_out_at_once_and_kept_out(
    app_with, db_conn, user, admin
) -> None:
    app = app_with()
    theirs, mine = app.test_client(), app.test_client()
    signed_in(theirs, user)
    csrf = {"X-CSRF-Token": signed_in(mine, admin)}
    disabled = mine.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=csrf)
    assert disabled.status_code == 200, disabled.get_json()
    assert disabled.get_json()["disabled_at"] is not None
    assert_error(theirs.get(ME), 401, "unauthorized")
    assert sign_in(theirs, user["email"]).status_code == 401
    enabled = mine.patch(f"/api/v1/users/{user['id']}", json={"disabled": False}, headers=csrf)
    assert enabled.status_code == 200 and enabled.get_json()["disabled_at"] is None
    assert sign_in(theirs, user["email"]).status_code == 200


def test_only_an_admin_disables_a_user(client, db_conn, user, make_api_key) -> None:
    csrf = {"X-CSRF-Token": signed_in(client, user)}
    own = client.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=csrf)
    assert_error(own, 403, "forbidden")
    client.delete_cookie("klaxon_session")
    write_key = {"Authorization": f"Bearer {make_api_key('write')}"}
    by_key = client.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=write_key)
    assert_error(by_key, 403, "forbidden")
    row = db_conn.execute("SELECT disabled_at FROM users WHERE id = %s", (user["id"],)).fetchone()
    assert row["disabled_at"] is None
