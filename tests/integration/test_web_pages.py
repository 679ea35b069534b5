"""The web app's pages through Flask's test client on real Postgres and Redis (README, Web app):
sign-in and its refusals, the redirect without a session, CSRF, the list's filters and its
cheap refresh, actions logged "via web" as the user, bulk actions, safe details, headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from app.alerts import store
from app.escalation import policies
from app.http.page_headers import WEB_APP_CSP
from tests.support.signin import PASSWORD, make_user


@pytest.fixture
def user(db_conn: psycopg.Connection[Any]) -> dict[str, Any]:
    return make_user(db_conn)


@pytest.fixture
def service(make_service: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_service("checkout")


def raise_alert(
    conn: psycopg.Connection[Any], service: dict[str, Any], summary: str, **kw: Any
) -> int:
    return store.raise_alert(conn, service["id"], summary, **kw).alert_id


def page_sign_in(client: Any, user: dict[str, Any], next_path: str = "") -> Any:
    return client.post(
        "/login", data={"email": user["email"], "password": PASSWORD, "next": next_path}
    )


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.fixture
def signed_in(client: Any, user: dict[str, Any]) -> str:
    """Sign `user` in through the page; the session's CSRF token, read from a page."""
    assert page_sign_in(client, user).status_code == 303
    return csrf_of(client.get("/alerts").get_data(as_text=True))


def log_of(conn: psycopg.Connection[Any], alert_id: int) -> list[dict[str, Any]]:
    return store.alert_log(conn, alert_id, None, 100)


def test_a_page_without_a_session_redirects_to_sign_in_with_next(client: Any) -> None:
    response = client.get("/alerts?status=closed")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=%2Falerts%3Fstatus%3Dclosed"
    fragment = client.get("/alerts/rows", headers={"HX-Request": "true"})
    assert fragment.status_code == 204
    assert fragment.headers["HX-Redirect"].startswith("/login?next=")


def test_sign_in_goes_to_next_or_the_list(client: Any, user: dict[str, Any]) -> None:
    assert page_sign_in(client, user, "/alerts/7").headers["Location"] == "/alerts/7"
    client.delete_cookie("klaxon_session")
    assert page_sign_in(client, user, "//evil.example/x").headers["Location"] == "/alerts"
    form = client.get("/login?next=/alerts/9")
    assert form.status_code == 303 and form.headers["Location"] == "/alerts/9"


def test_a_wrong_password_is_a_401_page_and_forgot_password_is_offered(
    client: Any, user: dict[str, Any]
) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'href="/auth/password-reset"' in page.get_data(as_text=True)
    refused = client.post("/login", data={"email": user["email"], "password": "nope-nope"})
    assert refused.status_code == 401
    assert "Wrong email or password." in refused.get_data(as_text=True)
    assert client.post("/login", data={"email": ""}).status_code == 422


def test_pages_send_the_security_headers(client: Any, signed_in: str) -> None:
    for path in ("/login", "/alerts"):
        headers = client.get(path).headers
        assert headers["Content-Security-Policy"] == WEB_APP_CSP
        assert "unsafe" not in WEB_APP_CSP
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Cache-Control"] == "no-store"


def test_a_form_post_without_the_csrf_token_is_refused(
    client: Any, signed_in: str, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full")
    refused = client.post(f"/alerts/{alert_id}/acknowledge", data={})
    assert refused.status_code == 403
    assert "CSRF" in refused.get_data(as_text=True)
    assert store.alert_status(db_conn, alert_id) == "triggered"
    assert client.post("/logout", data={}).status_code == 403


def test_acknowledging_from_a_page_is_logged_via_web_as_the_user(
    client: Any, signed_in: str, user: dict[str, Any], db_conn: psycopg.Connection[Any],
    service: dict[str, Any],
) -> None:  # fmt: skip
    alert_id = raise_alert(db_conn, service, "disk full")
    done = client.post(
        f"/alerts/{alert_id}/acknowledge",
        data={"csrf_token": signed_in, "back": f"/alerts/{alert_id}"},
    )
    assert done.status_code == 303
    assert done.headers["Location"].startswith(f"/alerts/{alert_id}?did=acknowledge&changed=1")
    entry = log_of(db_conn, alert_id)[-1]
    assert (entry["event"], entry["actor_type"], entry["actor_id"]) == (
        "acknowledged", "user", user["id"]
    )  # fmt: skip
    assert entry["meta"] == {"via": "web"}
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"acknowledged by {user['name']} via web" in page
    assert "Acknowledged 1 alert." in page


def test_the_htmx_header_carries_the_csrf_token_too(
    client: Any, signed_in: str, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(db_conn, service, "disk full")
    done = client.post(f"/alerts/{alert_id}/escalate", headers={"X-CSRF-Token": signed_in})
    assert done.status_code == 303
    entry = log_of(db_conn, alert_id)[-1]
    assert (entry["event"], entry["meta"]) == ("escalation_requested", {"via": "web"})


def test_bulk_close_closes_the_selected_and_skips_what_cannot(
    client: Any, signed_in: str, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    first, second, third = (raise_alert(db_conn, service, f"a{i}") for i in range(3))
    store.set_status(db_conn, third, "closed", store.Actor("system"))
    done = client.post(
        "/alerts/bulk",
        data={"csrf_token": signed_in, "action": "close", "alert_id": [first, second, third],
              "back": "/alerts?status=all"},
    )  # fmt: skip
    assert done.status_code == 303
    assert "changed=2&skipped=1" in done.headers["Location"]
    assert {store.alert_status(db_conn, i) for i in (first, second)} == {"closed"}
    acked = client.post(
        "/alerts/bulk", data={"csrf_token": signed_in, "action": "acknowledge", "alert_id": third}
    )
    assert "changed=0&skipped=1" in acked.headers["Location"]


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"action": "delete", "alert_id": "1"}, "action"),
        ({"action": "close"}, "select at least one alert"),
        ({"action": "close", "alert_id": "x1"}, "must be alert ids"),
        ({"action": "close", "alert_id": [str(i) for i in range(1, 102)]}, "at most 100"),
    ],
)
def test_a_bad_bulk_form_is_a_422_page(
    client: Any, signed_in: str, form: dict[str, Any], says: str
) -> None:
    refused = client.post("/alerts/bulk", data={"csrf_token": signed_in, **form})
    assert refused.status_code == 422
    assert says in refused.get_data(as_text=True)


def test_the_list_filters_by_status_service_text_and_my_services(
    client: Any, signed_in: str, user: dict[str, Any], db_conn: psycopg.Connection[Any],
    make_service: Callable[..., dict[str, Any]],
) -> None:  # fmt: skip
    mine, other = make_service("mine"), make_service("other")
    policy = policies.create_policy(
        db_conn,
        {"name": "reach me", "description": "", "repeat_count": 0},
        [{"delay_minutes": 5, "targets": [{"type": "user", "id": user["id"]}]}],
    )
    db_conn.execute(
        "UPDATE services SET escalation_policy_id = %s WHERE id = %s", (policy["id"], mine["id"])
    )
    a = raise_alert(db_conn, mine, "database slow")
    b = raise_alert(db_conn, other, "queue backlog")
    c = raise_alert(db_conn, other, "queue closed")
    store.set_status(db_conn, c, "closed", store.Actor("system"))

    def shown(query: str) -> list[int]:
        html = client.get(f"/alerts?{query}").get_data(as_text=True)
        return [int(i) for i in re.findall(r'data-alert-id="(\d+)"', html)]

    assert shown("") == [b, a]  # open alerts, newest first
    assert shown("status=closed") == [c]
    assert shown("status=all") == [c, b, a]
    assert shown(f"status=all&service={other['id']}") == [c, b]
    assert shown("status=all&q=queue") == [c, b]
    assert shown("status=all&mine=1") == [a]
    assert shown("status=bogus&service=not-a-uuid&before=x") == [b, a]  # unknown: no filter


def test_the_list_pages_by_cursor(
    client: Any, signed_in: str, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    ids = [raise_alert(db_conn, service, f"alert {i}") for i in range(52)]
    html = client.get("/alerts").get_data(as_text=True)
    assert len(re.findall(r'data-alert-id="', html)) == 50
    older = re.search(r'href="/alerts\?([^"]+)">Older alerts', html)
    assert older
    rest = client.get("/alerts?" + older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert [int(i) for i in re.findall(r'data-alert-id="(\d+)"', rest)] == [ids[1], ids[0]]


def test_the_refresh_is_204_until_an_alert_changes(
    client: Any, signed_in: str, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    html = client.get("/alerts").get_data(as_text=True)
    version = re.search(r'data-version="(\d+)"', html)
    assert version
    poll = f"/alerts/rows?version={version.group(1)}"
    assert client.get(poll).status_code == 204
    alert_id = raise_alert(db_conn, service, "new one")
    fresh = client.get(poll)
    assert fresh.status_code == 200
    assert f'data-alert-id="{alert_id}"' in fresh.get_data(as_text=True)
    new_version = re.search(r'data-version="(\d+)"', fresh.get_data(as_text=True))
    assert new_version and new_version.group(1) != version.group(1)
    store.set_status(db_conn, alert_id, "acknowledged", store.Actor("system"))
    assert client.get(f"/alerts/rows?version={new_version.group(1)}").status_code == 200


def test_details_are_markdown_without_raw_html(
    client: Any, signed_in: str, db_conn: psycopg.Connection[Any], service: dict[str, Any]
) -> None:
    alert_id = raise_alert(
        db_conn, service, "<b>bold</b> summary",
        details="**load** is high\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))",
        dedup="disk-1",
    )  # fmt: skip
    html = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert "<strong>load</strong>" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert "&lt;b&gt;bold&lt;/b&gt; summary" in html
    assert "user:disk-1" in html


def test_an_unknown_alert_is_a_404_page(client: Any, signed_in: str) -> None:
    missing = client.get("/alerts/999999")
    assert missing.status_code == 404
    assert "no alert with id 999999" in missing.get_data(as_text=True)


def test_sign_out_ends_the_session(client: Any, signed_in: str) -> None:
    assert client.post("/logout", data={"csrf_token": signed_in}).status_code == 303
    assert client.get("/alerts").status_code == 303


def test_the_sign_in_page_offers_the_identity_provider_and_keeps_next(
    settings_for: Callable[..., Any],
) -> None:
    from app import create_app
    from tests.support.fakes.oidc_idp import CLIENT_ID, CLIENT_SECRET, FakeIdp

    idp = FakeIdp().start()
    app = create_app(
        settings_for(
            KLAXON_OIDC_ISSUER=idp.issuer,
            KLAXON_OIDC_CLIENT_ID=CLIENT_ID,
            KLAXON_OIDC_CLIENT_SECRET=CLIENT_SECRET,
            KLAXON_OIDC_NAME="Example SSO",
        )
    )
    try:
        page = app.test_client().get("/login?next=/alerts/5").get_data(as_text=True)
        assert "Sign in with Example SSO" in page
        assert 'href="/auth/oidc/start?next=%2Falerts%2F5"' in page
    finally:
        app.extensions["klaxon"].stop()
        idp.stop()


def test_without_oidc_the_sign_in_page_has_no_provider_button(client: Any) -> None:
    assert "Sign in with" not in client.get("/login").get_data(as_text=True)


def test_the_sign_in_page_keeps_the_sign_in_limits(
    settings_for: Callable[..., Any], user: dict[str, Any]
) -> None:
    from app import create_app

    app = create_app(settings_for(KLAXON_LIMIT_SIGNIN_PER_ACCOUNT="2/minute"))
    try:
        client = app.test_client()
        for _ in range(2):
            assert (
                client.post("/login", data={"email": user["email"], "password": "no"}).status_code
                == 401
            )
        limited = page_sign_in(client, user)  # the right password, past the limit
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) > 0
        assert "Too many sign-in attempts" in limited.get_data(as_text=True)
    finally:
        app.extensions["klaxon"].stop()


def test_a_sign_in_another_site_started_is_refused(client: Any, user: dict[str, Any]) -> None:
    refused = client.post(
        "/login",
        data={"email": user["email"], "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert refused.status_code == 403
    assert client.get_cookie("klaxon_session") is None
