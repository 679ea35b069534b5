"""The profile page (/profile) through Flask's test client on real Postgres and Redis (README,
Web app): details, contact methods verified with the queued code, notification rules, calendar
feed and API key shown once, sessions, and above all that nobody reaches another user's contact
methods (no page shows them; forged posts are 404s) and that every form needs the CSRF token."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psycopg
import pytest

from app.contacts import contact_methods
from app.directory import api_keys, sessions
from app.oncall import calendar_subscriptions
from tests.integration.test_web_pages import csrf_of, page_sign_in
from tests.support.signin import make_user


@pytest.fixture
def me(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn)


@pytest.fixture
def other(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Another user, with a contact method of their own."""
    user = make_user(db_conn)
    user["method"] = contact_methods.create_contact_method(
        db_conn, user["id"], "Other's pager", "email", "secret-other@example.com", False
    )
    return user


@pytest.fixture
def csrf(client: Any, me: dict[str, Any]) -> str:
    assert page_sign_in(client, me).status_code == 303
    return csrf_of(client.get("/profile").get_data(as_text=True))


def post(client: Any, path: str, csrf: str, **fields: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf, **fields})


def profile(client: Any) -> str:
    response = client.get("/profile")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def queued_code(db_conn: psycopg.Connection[Any], cm_id: str) -> str:
    row = db_conn.execute(
        "SELECT payload->>'code' AS code FROM outgoing_messages "
        "WHERE contact_method_id = %s AND kind = 'verification' ORDER BY id DESC LIMIT 1",
        (cm_id,),
    ).fetchone()
    assert row is not None
    return str(row["code"])


def my_methods(db_conn: psycopg.Connection[Any], user_id: str) -> list[dict[str, Any]]:
    return contact_methods.list_contact_methods(db_conn, user_id, None, 100)


def test_without_a_session_the_profile_redirects_to_sign_in(client: Any) -> None:
    response = client.get("/profile")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=%2Fprofile"


def test_details_are_saved_and_a_bad_zone_is_a_422_page(
    client: Any, csrf: str, me: dict[str, Any]
) -> None:
    saved = post(
        client, "/profile", csrf, name="Ada L", email=me["email"], time_zone="Europe/Paris"
    )
    assert saved.status_code == 303 and saved.headers["Location"] == "/profile?done=details"
    html = profile(client)
    assert 'value="Ada L"' in html and "<option selected>Europe/Paris</option>" in html
    assert "Your details are saved." in client.get("/profile?done=details").get_data(as_text=True)
    refused = post(client, "/profile", csrf, name="Ada", email=me["email"], time_zone="Mars/Base")
    assert refused.status_code == 422
    assert "time_zone" in refused.get_data(as_text=True)


def test_a_webhook_is_added_verified_tested_disabled_and_deleted(
    client: Any, csrf: str, me: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    added = post(client, "/profile/contact-methods", csrf, name="Hook", type="webhook",
                 address="http://127.0.0.1:9/hook")  # fmt: skip
    assert added.status_code == 200  # the signing secret, shown once on this answer
    [method] = my_methods(db_conn, me["id"])
    [secret] = re.findall(r'id="secret" class="secret" type="text" value="([^"]+)"',
                          added.get_data(as_text=True))  # fmt: skip
    assert len(secret) >= 32 and added.headers["Cache-Control"] == "no-store"
    assert secret not in profile(client)
    path = f"/profile/contact-methods/{method['id']}"

    not_it = "000000" if queued_code(db_conn, method["id"]) != "000000" else "111111"
    wrong = post(client, f"{path}/verify", csrf, code=not_it)
    assert wrong.status_code == 422 and "wrong code" in wrong.get_data(as_text=True)
    assert post(client, f"{path}/test", csrf).status_code == 409  # not verified yet
    verified = post(client, f"{path}/verify", csrf, code=queued_code(db_conn, method["id"]))
    assert verified.headers["Location"] == "/profile?done=verified"
    assert my_methods(db_conn, me["id"])[0]["verified"] is True

    assert post(client, f"{path}/test", csrf).headers["Location"] == "/profile?done=test-sent"
    assert post(client, f"{path}/disable", csrf).status_code == 303
    assert my_methods(db_conn, me["id"])[0]["disabled"] is True
    assert post(client, f"{path}/test", csrf).status_code == 409
    assert post(client, f"{path}/enable", csrf).status_code == 303
    assert (
        post(client, f"{path}/delete", csrf).headers["Location"] == "/profile?done=method-deleted"
    )
    assert my_methods(db_conn, me["id"]) == []
    assert post(client, f"{path}/delete", csrf).status_code == 404


def test_a_refused_address_is_a_422_page(client: Any, csrf: str) -> None:
    refused = post(client, "/profile/contact-methods", csrf, name="x", type="email", address="nope")
    assert refused.status_code == 422 and "address" in refused.get_data(as_text=True)


def test_notification_rules_are_listed_added_and_deleted(
    client: Any, csrf: str, me: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    method = contact_methods.create_contact_method(
        db_conn, me["id"], "Work mail", "email", "ada@example.com", False
    )
    rules = "/profile/notification-rules"
    added = post(client, rules, csrf, contact_method_id=method["id"], delay_minutes="2")
    assert added.headers["Location"] == "/profile?done=rule-added"
    assert "Work mail\n    after 2 minutes" in profile(client)
    assert (
        post(client, rules, csrf, contact_method_id=method["id"], delay_minutes="2").status_code
        == 409
    )
    assert (
        post(client, rules, csrf, contact_method_id=method["id"], delay_minutes="soon").status_code
        == 422
    )
    assert post(client, rules, csrf, contact_method_id="x", delay_minutes="1").status_code == 422
    [rule] = re.findall(r"/profile/notification-rules/([0-9a-f-]{36})/delete", profile(client))
    assert post(client, f"{rules}/{rule}/delete", csrf).status_code == 303
    assert "No notification rules" in profile(client)


def test_nobody_sees_or_reaches_another_users_contact_methods(
    client: Any, csrf: str, other: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    html = profile(client)
    assert "secret-other@example.com" not in html and "Other&#39;s pager" not in html
    theirs = f"/profile/contact-methods/{other['method']['id']}"
    for action in ("verify", "send-verification", "test", "disable", "enable", "delete"):
        forged = post(client, f"{theirs}/{action}", csrf, code="123456")
        assert forged.status_code == 404, (action, forged.status_code)
        assert "secret-other@example.com" not in forged.get_data(as_text=True)
    rule = post(client, "/profile/notification-rules", csrf,
                contact_method_id=other["method"]["id"], delay_minutes="0")  # fmt: skip
    assert rule.status_code == 422
    [still] = my_methods(db_conn, other["id"])
    assert still["disabled"] is False
    # The API refuses the same person the same way (SELF): 403 on another user's methods.
    assert client.get(f"/profile/{other['id']}").status_code == 404


def test_every_profile_form_needs_the_csrf_token(
    client: Any, csrf: str, me: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    method = contact_methods.create_contact_method(
        db_conn, me["id"], "Mail", "email", "ada@example.com", False
    )
    some = str(uuid.uuid4())
    forms = [
        "/profile", "/profile/contact-methods", f"/profile/contact-methods/{method['id']}/delete",
        f"/profile/contact-methods/{method['id']}/disable", "/profile/notification-rules",
        f"/profile/notification-rules/{some}/delete", "/profile/calendar-subscriptions",
        f"/profile/calendar-subscriptions/{some}/revoke", "/profile/sessions/revoke-others",
        f"/profile/sessions/{some}/revoke", "/profile/api-keys", f"/profile/api-keys/{some}/revoke",
    ]  # fmt: skip
    for path in forms:
        for token in ({}, {"csrf_token": "forged"}):
            refused = client.post(path, data={"name": "x", "scope": "read", **token})
            assert refused.status_code == 403, (path, refused.status_code)
    assert my_methods(db_conn, me["id"])[0]["disabled"] is False


def test_the_calendar_url_is_shown_once_and_revoked(
    client: Any, csrf: str, me: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    created = post(client, "/profile/calendar-subscriptions", csrf)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    [url] = re.findall(r'value="(http[^"]+/calendar/[^"]+\.ics)"', created.get_data(as_text=True))
    feed_path = "/calendar/" + url.split("/calendar/", 1)[1]
    assert client.get(feed_path).status_code == 200
    html = profile(client)
    assert url.rsplit("/", 1)[1] not in html
    [feed] = calendar_subscriptions.list_subscriptions(db_conn, "user_id", me["id"], None, 10)
    revoked = post(client, f"/profile/calendar-subscriptions/{feed['id']}/revoke", csrf)
    assert revoked.headers["Location"] == "/profile?done=feed-revoked"
    assert client.get(feed_path).status_code == 404
    assert (
        post(client, f"/profile/calendar-subscriptions/{uuid.uuid4()}/revoke", csrf).status_code
        == 404
    )


def test_a_personal_key_is_shown_once_capped_and_revoked(
    client: Any, csrf: str, me: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    created = post(client, "/profile/api-keys", csrf, name="laptop", scope="write")
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    [key] = re.findall(r'value="(klx_[^"]+)"', created.get_data(as_text=True))
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert key not in profile(client) and "laptop" in profile(client)
    wider = post(client, "/profile/api-keys", csrf, name="root", scope="admin")
    assert wider.status_code == 403  # a user's session acts with write: no admin key
    [row] = api_keys.list_api_keys(db_conn, None, 10, (me["id"], frozenset()))
    assert post(client, f"/profile/api-keys/{row['id']}/revoke", csrf).status_code == 303
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_someone_elses_key_cannot_be_revoked_from_here(
    client: Any, csrf: str, other: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    theirs = api_keys.create_api_key(db_conn, "theirs", "read", other["id"])
    assert post(client, f"/profile/api-keys/{theirs['id']}/revoke", csrf).status_code == 404
    assert api_keys.get_api_key(db_conn, theirs["id"])["revoked_at"] is None  # type: ignore[index]
    assert "theirs" not in profile(client)


def test_sessions_are_listed_and_others_signed_out(
    client: Any, csrf: str, me: dict[str, Any], db_conn: psycopg.Connection[Any], web_app: Any
) -> None:
    elsewhere = web_app.test_client()
    assert page_sign_in(elsewhere, me).status_code == 303
    live = sessions.list_sessions(db_conn, me["id"])
    assert len(live) == 2 and "This session" in profile(client)
    assert post(client, "/profile/sessions/revoke-others", csrf).status_code == 303
    assert elsewhere.get("/profile").status_code == 303  # signed out: to the sign-in page
    assert len(sessions.list_sessions(db_conn, me["id"])) == 1
    assert post(client, f"/profile/sessions/{live[0]['id']}/revoke", csrf).status_code in (303, 404)


def test_changes_are_audited_under_the_api_action_names(
    client: Any, csrf: str, me: dict[str, Any], db_conn: psycopg.Connection[Any]
) -> None:
    post(client, "/profile", csrf, name="Ada Audit", email=me["email"], time_zone="UTC")
    hook = {"name": "Hook", "type": "webhook", "address": "http://127.0.0.1:9/a"}
    post(client, "/profile/contact-methods", csrf, **hook)
    [method] = my_methods(db_conn, me["id"])
    post(client, f"/profile/contact-methods/{method['id']}/disable", csrf)
    rows = db_conn.execute(
        "SELECT actor_type, actor_id, action, target_type, target_id FROM audit_events ORDER BY id"
    ).fetchall()
    seen = [(r["actor_type"], r["actor_id"], r["action"], r["target_type"], r["target_id"])
            for r in rows]  # fmt: skip
    who = ("user", me["id"])
    assert (*who, "update_user", "users", me["id"]) in seen, seen
    assert (*who, "create_contact_method", "contact_methods", method["id"]) in seen, seen
    assert (*who, "update_contact_method", "contact_methods", method["id"]) in seen, seen
