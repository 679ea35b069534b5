"""Acknowledge/close links: GET only shows, POST acts; expired and tampered links are refused."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.alerts import store
from app.alerts.store import Actor
from app.messages import links
from app.messages.links import ActionLink
from config.gunicorn_logging import redact_path
from tests.conftest import SECRET_KEY
from tests.support.inbound import alert_state, make_alert, make_user

SAFE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


@pytest.fixture
def world(db_conn, make_service):
    service = make_service(name="payments")
    user = make_user(db_conn)
    alert_id = make_alert(db_conn, service["id"], "disk full on db-1")
    return {"alert_id": alert_id, "user_id": str(user["id"])}


def path_for(link: ActionLink) -> str:
    return links.PATH + links.make_token(SECRET_KEY, link)


def assert_safe_headers(response) -> None:
    for name, value in SAFE_HEADERS.items():
        assert response.headers[name] == value, name


def test_get_and_head_show_a_confirmation_and_change_nothing(client, db_conn, world):
    path = path_for(ActionLink(world["alert_id"], "acknowledge", world["user_id"], "email"))
    before = alert_state(db_conn, world["alert_id"])

    page = client.get(path)
    head = client.head(path)

    assert page.status_code == 200 and head.status_code == 200
    html = page.get_data(as_text=True)
    assert f"#{world['alert_id']}" in html
    assert "disk full on db-1" in html and "payments" in html and "triggered" in html
    assert '<form method="post">' in html and "Acknowledge alert" in html
    assert_safe_headers(page)
    assert_safe_headers(head)
    assert alert_state(db_conn, world["alert_id"]) == before
    assert before[0] == "triggered"


def test_post_acknowledges_as_the_links_user_and_logs_the_channel(client, db_conn, world):
    path = path_for(ActionLink(world["alert_id"], "acknowledge", world["user_id"], "sms"))

    response = client.post(path)

    assert response.status_code == 200
    assert f"Alert #{world['alert_id']} acknowledged" in response.get_data(as_text=True)
    assert_safe_headers(response)
    status, log = alert_state(db_conn, world["alert_id"])
    assert status == "acknowledged"
    assert log[-1] == {
        "event": "acknowledged",
        "actor_type": "user",
        "actor_id": world["user_id"],
        "meta": {"via": "sms", "link": True},
    }


def test_repeating_a_post_is_a_harmless_no_op(client, db_conn, world):
    path = path_for(ActionLink(world["alert_id"], "close", world["user_id"], "email"))
    assert client.post(path).status_code == 200
    after_first = alert_state(db_conn, world["alert_id"])

    again = client.post(path)

    assert again.status_code == 200
    assert "already closed" in again.get_data(as_text=True)
    assert alert_state(db_conn, world["alert_id"]) == after_first
    assert after_first[0] == "closed"
    assert [e["event"] for e in after_first[1]] == ["created", "closed"]


def test_a_closed_alert_cannot_be_acknowledged(client, db_conn, world):
    store.set_status(db_conn, world["alert_id"], "closed", Actor("system"))
    path = path_for(ActionLink(world["alert_id"], "acknowledge", world["user_id"], "email"))
    before = alert_state(db_conn, world["alert_id"])

    shown = client.get(path)
    refused = client.post(path)

    assert shown.status_code == 200 and "already closed" in shown.get_data(as_text=True)
    assert "<form" not in shown.get_data(as_text=True)
    assert refused.status_code == 409
    assert "already closed" in refused.get_data(as_text=True)
    assert alert_state(db_conn, world["alert_id"]) == before


def test_a_channel_link_acts_as_the_system(client, db_conn, world):
    path = path_for(ActionLink(world["alert_id"], "close", None, "slack"))
    assert client.post(path).status_code == 200
    _, log = alert_state(db_conn, world["alert_id"])
    assert log[-1]["actor_type"] == "system" and log[-1]["actor_id"] is None
    assert log[-1]["meta"] == {"via": "slack", "link": True}


class TenDaysAgoSigner(TimestampSigner):
    """Stamps tokens as if signed ten days ago (itsdangerous reads the time from here)."""

    def get_timestamp(self) -> int:
        return int(time.time()) - 10 * 86400


def test_an_expired_link_is_refused_with_410(client, db_conn, world):
    link = ActionLink(world["alert_id"], "acknowledge", world["user_id"], "email")
    signer = URLSafeTimedSerializer(SECRET_KEY, salt=links.SALT, signer=TenDaysAgoSigner)
    token = signer.dumps([link.alert_id, link.action, link.user_id, link.via])
    # well signed: only its age (beyond KLAXON_LINK_TTL, 3 days by default) makes it refused
    assert links.read_token(SECRET_KEY, token, 11 * 86400) == link
    before = alert_state(db_conn, world["alert_id"])

    for response in (client.get(links.PATH + token), client.post(links.PATH + token)):
        assert response.status_code == 410
        assert "expired" in response.get_data(as_text=True)
        assert_safe_headers(response)
    assert alert_state(db_conn, world["alert_id"]) == before


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature altered
        lambda t: "garbage",
        lambda t: links.make_token("another-secret-key-0123456789abcdef", _decoded(t)),
    ],
    ids=["altered", "garbage", "other-key"],
)
def test_a_tampered_link_is_refused_with_404(client, db_conn, world, mangle):
    good = links.make_token(
        SECRET_KEY, ActionLink(world["alert_id"], "close", world["user_id"], "email")
    )
    before = alert_state(db_conn, world["alert_id"])
    path = links.PATH + mangle(good)

    for response in (client.get(path), client.post(path)):
        assert response.status_code == 404
        assert "not valid" in response.get_data(as_text=True)
        assert_safe_headers(response)
    assert alert_state(db_conn, world["alert_id"]) == before


def _decoded(token: str) -> ActionLink:
    return links.read_token(SECRET_KEY, token, 3600)


def test_database_down_answers_503_with_retry_after(settings_for, world):
    from app import create_app
    from tests.support.net import closed_port

    app = create_app(
        settings_for(
            DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/nothing",
            KLAXON_CHECK_TIMEOUT="1",
        )
    )
    try:
        path = path_for(ActionLink(world["alert_id"], "close", world["user_id"], "email"))
        client = app.test_client()
        for response in (client.get(path), client.post(path)):
            assert response.status_code == 503
            assert response.headers["Retry-After"]
            assert "Nothing was changed" in response.get_data(as_text=True)
            assert_safe_headers(response)
    finally:
        app.extensions["klaxon"].stop()


def test_access_log_hides_the_link_token():
    assert redact_path("/actions/eyJhbGciOi.abc.def") == "/actions/<id>"
