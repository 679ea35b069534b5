"""Slack buttons: signed requests act on the button's alert; forged or stale ones are refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.alerts import store
from app.alerts.store import Actor
from app.messages import links
from app.messages.links import ActionLink
from tests.conftest import SECRET_KEY
from tests.support.inbound import alert_state, make_alert, make_user

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_USER = "U0KLAXON1"


@pytest.fixture
def slack_client(settings_for):
    from app import create_app

    app = create_app(
        settings_for(SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SIGNING_SECRET)
    )
    app.config["TESTING"] = True
    yield app.test_client()
    app.extensions["klaxon"].stop()


@pytest.fixture
def world(db_conn, make_service):
    user = make_user(db_conn)
    return {
        "user_id": str(user["id"]),
        "alert_id": make_alert(db_conn, make_service()["id"], "queue backlog"),
    }


def sign(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    """Slack's documented scheme, written here independently of app.http.slack."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def press(client, action_id: str, value: str, *, age: float = 0, secret: str = SIGNING_SECRET,
          kind: str = "block_actions"):  # fmt: skip
    payload = {
        "type": kind,
        "user": {"id": SLACK_USER, "username": "ada"},
        "actions": [{"action_id": action_id, "value": value, "type": "button"}],
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time() - age))
    return client.post(
        "/api/v2/slack/actions",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(body, timestamp, secret),
        },
    )


def token(world, action: str, user: bool = True) -> str:
    link = ActionLink(world["alert_id"], action, world["user_id"] if user else None, "slack")
    return links.make_token(SECRET_KEY, link)


def test_a_signed_acknowledge_press_acts_as_the_links_user(slack_client, db_conn, world):
    response = press(slack_client, "klaxon_acknowledge", token(world, "acknowledge"))

    assert response.status_code == 200
    assert response.get_json() == {
        "text": f"Acknowledged by <@{SLACK_USER}>",
        "replace_original": False,
    }
    status, log = alert_state(db_conn, world["alert_id"])
    assert status == "acknowledged"
    assert log[-1] == {
        "event": "acknowledged",
        "actor_type": "user",
        "actor_id": world["user_id"],
        "meta": {"via": "slack", "slack_user": SLACK_USER},
    }


def test_a_channel_button_records_the_slack_user_as_actor(slack_client, db_conn, world):
    response = press(slack_client, "klaxon_close", token(world, "close", user=False))
    assert response.get_json()["text"] == f"Closed by <@{SLACK_USER}>"
    status, log = alert_state(db_conn, world["alert_id"])
    assert status == "closed"
    assert (log[-1]["actor_type"], log[-1]["actor_id"]) == ("user", SLACK_USER)


def test_pressing_again_says_it_is_already_done(slack_client, db_conn, world):
    press(slack_client, "klaxon_close", token(world, "close"))
    before = alert_state(db_conn, world["alert_id"])
    again = press(slack_client, "klaxon_acknowledge", token(world, "acknowledge"))
    assert again.get_json()["text"] == f"Alert #{world['alert_id']} is already closed."
    assert alert_state(db_conn, world["alert_id"]) == before


@pytest.mark.parametrize(
    ("secret", "age"),
    [("not-the-signing-secret", 0), (SIGNING_SECRET, 6 * 60), (SIGNING_SECRET, -6 * 60)],
    ids=["bad-signature", "stale-timestamp", "future-timestamp"],
)
def test_forged_or_replayed_requests_are_refused(slack_client, db_conn, world, secret, age):
    before = alert_state(db_conn, world["alert_id"])
    response = press(slack_client, "klaxon_acknowledge", token(world, "acknowledge"),
                     age=age, secret=secret)  # fmt: skip
    assert response.status_code == 403
    assert alert_state(db_conn, world["alert_id"]) == before


def test_a_missing_signature_is_refused(slack_client, world):
    response = slack_client.post("/api/v2/slack/actions", data={"payload": "{}"})
    assert response.status_code == 403


class LongAgoSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 30 * 86400


def test_an_expired_button_says_so_and_changes_nothing(slack_client, db_conn, world):
    link = [world["alert_id"], "acknowledge", world["user_id"], "slack"]
    old = URLSafeTimedSerializer(SECRET_KEY, salt=links.SALT, signer=LongAgoSigner).dumps(link)
    before = alert_state(db_conn, world["alert_id"])

    response = press(slack_client, "klaxon_acknowledge", old)

    assert response.status_code == 200
    assert response.get_json()["response_type"] == "ephemeral"
    assert "expired" in response.get_json()["text"]
    assert alert_state(db_conn, world["alert_id"]) == before


def test_a_button_whose_token_names_another_action_is_refused(slack_client, db_conn, world):
    before = alert_state(db_conn, world["alert_id"])
    response = press(slack_client, "klaxon_acknowledge", token(world, "close"))
    assert "not valid" in response.get_json()["text"]
    assert alert_state(db_conn, world["alert_id"]) == before


def test_other_interactions_are_accepted_and_ignored(slack_client, db_conn, world):
    before = alert_state(db_conn, world["alert_id"])
    assert press(slack_client, "something_else", "x").status_code == 200
    assert (
        press(
            slack_client, "klaxon_close", token(world, "close"), kind="view_submission"
        ).status_code
        == 200
    )
    assert alert_state(db_conn, world["alert_id"]) == before


def test_no_signing_secret_is_404(settings_for, world):
    from app import create_app

    app = create_app(settings_for(SLACK_BOT_TOKEN="xoxb-test-token"))
    try:
        response = press(app.test_client(), "klaxon_close", token(world, "close"))
        assert response.status_code == 404
    finally:
        app.extensions["klaxon"].stop()


def test_closing_through_slack_after_an_api_acknowledge(slack_client, db_conn, world):
    store.set_status(db_conn, world["alert_id"], "acknowledged", Actor("api_key", "k"))
    response = press(slack_client, "klaxon_close", token(world, "close"))
    assert response.get_json()["text"] == f"Closed by <@{SLACK_USER}>"
    assert alert_state(db_conn, world["alert_id"])[0] == "closed"


# https://api.slack.com/authentication/verifying-requests-from-slack (the worked example)
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = "1531420618"
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow"
    b"&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner"
    b"&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_both_signers_match_slacks_documented_example():
    from app.http.slack import slack_signature

    assert slack_signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY) == DOC_SIGNATURE
    assert sign(DOC_BODY, DOC_TIMESTAMP, DOC_SECRET) == DOC_SIGNATURE


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ('{"type": "block_actions", "user": "U1", "actions": "klaxon_close"}', 200),
        ("[1, 2]", 400),
        ("not json", 400),
    ],
    ids=["odd-shapes-ignored", "not-an-object", "not-json"],
)
def test_a_signed_but_malformed_payload_is_answered_without_a_500(slack_client, payload, status):
    body = urlencode({"payload": payload}).encode()
    timestamp = str(int(time.time()))
    response = slack_client.post(
        "/api/v2/slack/actions",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(body, timestamp),
        },
    )
    assert response.status_code == status
