"""Twilio's webhooks: SMS replies act on alerts, STOP/START, status callbacks, voice keypad.

Requests are signed here with the tests' own reference signer (tests.support.inbound), which
the unit tests check against Twilio's documented example.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

import pytest

from app.alerts import store
from app.alerts.store import Actor
from app.messages import create, reply_codes
from tests.support.inbound import (
    alert_state,
    make_alert,
    make_contact_method,
    make_user,
    twilio_sign,
)

PUBLIC_URL = "https://klaxon.example.com"
AUTH_TOKEN = "twilio-auth-token-0123456789"
NUMBER = "+15557654321"
XML = '<?xml version="1.0" encoding="UTF-8"?>'


@pytest.fixture
def twilio_client(settings_for):
    from app import create_app

    app = create_app(
        settings_for(
            KLAXON_PUBLIC_URL=PUBLIC_URL,
            TWILIO_ACCOUNT_SID="AC0123456789abcdef0123456789abcdef",
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM_NUMBER="+15550001111",
        )
    )
    app.config["TESTING"] = True
    yield app.test_client()
    app.extensions["klaxon"].stop()


def post(client, path: str, params: dict[str, str], query: dict[str, str] | None = None, *,
         signature: str | None = None, token: str = AUTH_TOKEN):  # fmt: skip
    qs = f"?{urlencode(query)}" if query else ""
    if signature is None:
        signature = twilio_sign(token, f"{PUBLIC_URL}{path}{qs}", params)
    return client.post(f"{path}{qs}", data=params, headers={"X-Twilio-Signature": signature})


def sms(client, body: str, sender: str = NUMBER, sid: str | None = None, **kwargs):
    """An inbound SMS; each is a new message (its own MessageSid) unless `sid` is given."""
    sid = sid or "SM" + secrets.token_hex(16)
    params = {"From": sender, "To": "+15550001111", "Body": body, "MessageSid": sid}
    return post(client, "/api/v2/twilio/sms", params, **kwargs)


def reply_of(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    return response.get_data(as_text=True)


@pytest.fixture
def paged(db_conn, make_service):
    """A user with an SMS number who was paged about one alert as code 1."""
    user = make_user(db_conn)
    method = make_contact_method(db_conn, user["id"], "sms", NUMBER)
    alert_id = make_alert(db_conn, make_service()["id"], "db-1 disk full")
    assert reply_codes.allocate(db_conn, method, alert_id) == 1
    return {"user_id": str(user["id"]), "method": method, "alert_id": alert_id}


@pytest.mark.parametrize("body", ["1a", "1A", "1 a", "a1", " 1a\n", "1ack"])
def test_a_signed_reply_acknowledges_the_alert_sent_as_that_code(
    twilio_client, db_conn, paged, body
):
    answer = reply_of(sms(twilio_client, body))

    assert answer == (
        f"{XML}<Response><Message>Klaxon: Acknowledged alert 1 (#{paged['alert_id']}): "
        "db-1 disk full</Message></Response>"
    )
    status, log = alert_state(db_conn, paged["alert_id"])
    assert status == "acknowledged"
    assert log[-1] == {
        "event": "acknowledged",
        "actor_type": "user",
        "actor_id": paged["user_id"],
        "meta": {"via": "sms", "contact_method_id": paged["method"]},
    }


def test_a_replayed_message_acts_once(twilio_client, db_conn, paged):
    sid = "SM" + secrets.token_hex(16)
    first = reply_of(sms(twilio_client, "1a", sid=sid))
    assert "Acknowledged alert 1" in first
    logged = alert_state(db_conn, paged["alert_id"])
    # Twilio retrying, or a captured request replayed: the same signed MessageSid is answered
    # with nothing (no second SMS back) and changes nothing.
    replay = reply_of(sms(twilio_client, "1a", sid=sid))
    assert replay == f"{XML}<Response/>"
    assert alert_state(db_conn, paged["alert_id"]) == logged
    # A new message with the same words is a new request: it is answered.
    assert "is already acknowledged" in reply_of(sms(twilio_client, "1a"))


def test_a_replayed_stop_after_start_does_not_stop_again(twilio_client, db_conn, paged):
    sid = "SM" + secrets.token_hex(16)
    sms(twilio_client, "STOP", sid=sid)
    sms(twilio_client, "START")
    sms(twilio_client, "STOP", sid=sid)
    stopped = db_conn.execute(
        "SELECT stopped_at FROM contact_methods WHERE id = %s", (paged["method"],)
    ).fetchone()
    assert stopped == {"stopped_at": None}


def test_seen_message_sids_are_pruned_after_some_days(twilio_client, db_conn, paged):
    db_conn.execute(
        "INSERT INTO twilio_inbound_messages (message_sid, received_at) "
        "VALUES ('SMold', now() - interval '4 days'), ('SMrecent', now() - interval '1 day')"
    )
    sms(twilio_client, "HELP")
    left = db_conn.execute(
        "SELECT message_sid FROM twilio_inbound_messages WHERE message_sid LIKE 'SM%%' "
        "AND length(message_sid) < 10"
    ).fetchall()
    assert left == [{"message_sid": "SMrecent"}]


@pytest.mark.parametrize("body", ["1c", "1 C", "c1", "1close"])
def test_a_c_reply_closes(twilio_client, db_conn, paged, body):
    assert "Closed alert 1" in reply_of(sms(twilio_client, body))
    assert alert_state(db_conn, paged["alert_id"])[0] == "closed"


def test_the_sender_number_is_matched_case_insensitively_and_per_number(
    twilio_client, db_conn, paged
):
    other = make_contact_method(db_conn, make_user(db_conn, "Bob")["id"], "sms")
    answer = reply_of(sms(twilio_client, "1a", sender=_address(db_conn, other)))
    assert "no alert with code 1" in answer
    assert alert_state(db_conn, paged["alert_id"])[0] == "triggered"


def _address(db_conn, method_id: str) -> str:
    row = db_conn.execute("SELECT address FROM contact_methods WHERE id = %s", (method_id,))
    return str(row.fetchone()["address"])


@pytest.mark.parametrize(
    "signature", ["", "bm90IGEgc2lnbmF0dXJl", None], ids=["missing", "garbage", "wrong-key"]
)
def test_a_bad_signature_is_refused_with_403_and_changes_nothing(
    twilio_client, db_conn, paged, signature
):
    before = alert_state(db_conn, paged["alert_id"])
    if signature is None:
        response = sms(twilio_client, "1a", token="not-the-auth-token")
    elif signature == "":
        params = {"From": NUMBER, "Body": "1a"}
        response = twilio_client.post("/api/v2/twilio/sms", data=params)
    else:
        response = sms(twilio_client, "1a", signature=signature)

    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"
    assert alert_state(db_conn, paged["alert_id"]) == before


def test_a_signature_for_other_parameters_is_refused(twilio_client, db_conn, paged):
    signed_for = {"From": NUMBER, "To": "+15550001111", "Body": "1c", "MessageSid": "SM" + "0" * 32}
    signature = twilio_sign(AUTH_TOKEN, f"{PUBLIC_URL}/api/v2/twilio/sms", signed_for)
    assert sms(twilio_client, "1a", signature=signature).status_code == 403
    assert alert_state(db_conn, paged["alert_id"])[0] == "triggered"


def test_an_unknown_code_gets_a_helpful_reply(twilio_client, db_conn, paged):
    answer = reply_of(sms(twilio_client, "7a"))
    assert answer == (
        f"{XML}<Response><Message>Klaxon: no alert with code 7 for this number. "
        "Reply e.g. 1a to acknowledge or 1c to close alert 1.</Message></Response>"
    )
    assert alert_state(db_conn, paged["alert_id"])[0] == "triggered"


def test_a_reply_that_is_not_a_command_says_how_to_reply(twilio_client, paged):
    answer = reply_of(sms(twilio_client, "on my way"))
    assert "not understood" in answer and "1a to acknowledge" in answer


def test_acknowledging_a_closed_alert_says_it_is_closed(twilio_client, db_conn, paged):
    store.set_status(db_conn, paged["alert_id"], "closed", Actor("system"))
    before = alert_state(db_conn, paged["alert_id"])
    answer = reply_of(sms(twilio_client, "1a"))
    assert f"alert 1 (#{paged['alert_id']}) is already closed" in answer
    assert alert_state(db_conn, paged["alert_id"]) == before


def test_stop_stops_the_numbers_sms_and_voice_methods_and_start_resumes(
    twilio_client, db_conn, paged
):
    voice = make_contact_method(db_conn, paged["user_id"], "voice", NUMBER)
    bystander = make_contact_method(db_conn, paged["user_id"], "sms")

    def stopped() -> dict[str, bool]:
        rows = db_conn.execute("SELECT id::text AS id, stopped_at FROM contact_methods").fetchall()
        return {r["id"]: r["stopped_at"] is not None for r in rows}

    assert reply_of(sms(twilio_client, "STOP")) == f"{XML}<Response/>"
    assert stopped() == {paged["method"]: True, voice: True, bystander: False}
    assert reply_of(sms(twilio_client, "Unsubscribe")) == f"{XML}<Response/>"

    assert "receive alerts on this number again" in reply_of(sms(twilio_client, "start"))
    assert stopped() == {paged["method"]: False, voice: False, bystander: False}


def test_help_explains_klaxon_and_how_to_reply(twilio_client, paged):
    for sender in (NUMBER, "+15550009999"):
        answer = reply_of(sms(twilio_client, "HELP", sender=sender))
        assert "Klaxon on-call alerts" in answer and "1a" in answer and "STOP" in answer


def test_an_unknown_number_gets_a_polite_reply(twilio_client, db_conn, paged):
    answer = reply_of(sms(twilio_client, "1a", sender="+15550009999"))
    assert "not set up to receive alerts" in answer
    assert alert_state(db_conn, paged["alert_id"])[0] == "triggered"


def test_twilio_not_configured_is_404(client):
    response = client.post("/api/v2/twilio/sms", data={"From": NUMBER, "Body": "1a"})
    assert response.status_code == 404


# -------------------------------------------------------------------------- status callbacks


def voice_method(db_conn, paged) -> str:
    """The paged user's voice method on the same number (made on first use)."""
    row = db_conn.execute(
        "SELECT id::text AS id FROM contact_methods WHERE type = 'voice' AND address = %s",
        (NUMBER,),
    ).fetchone()
    return row["id"] if row else make_contact_method(db_conn, paged["user_id"], "voice", NUMBER)


def sent_message(db_conn, paged, dest: str = "sms") -> tuple[int, str]:
    """A message the worker has handed to Twilio: (its id, Twilio's SID)."""
    method = paged["method"] if dest == "sms" else voice_method(db_conn, paged)
    message_id = create.to_contact_method(
        db_conn, "alert", method, f"test:{secrets.token_hex(4)}", max_attempts=3,
        alert_id=paged["alert_id"],
    )  # fmt: skip
    sid = ("SM" if dest == "sms" else "CA") + secrets.token_hex(16)
    db_conn.execute(
        "UPDATE outgoing_messages SET status = 'sending', attempts = 1 WHERE id = %s", (message_id,)
    )
    db_conn.execute(
        "UPDATE outgoing_messages SET status = 'sent', provider_message_id = %s, sent_at = now() "
        "WHERE id = %s",
        (sid, message_id),
    )
    assert message_id is not None
    return message_id, sid


def message_row(db_conn, message_id: int) -> dict:
    return db_conn.execute(
        "SELECT status, last_error, delivered_at, failed_at FROM outgoing_messages WHERE id = %s",
        (message_id,),
    ).fetchone()


def history(db_conn, message_id: int) -> list[str]:
    rows = db_conn.execute(
        "SELECT status FROM message_events WHERE message_id = %s ORDER BY id", (message_id,)
    ).fetchall()
    return [r["status"] for r in rows]


def test_a_delivered_callback_marks_the_message_delivered(twilio_client, db_conn, paged):
    message_id, sid = sent_message(db_conn, paged)
    for state in ("sent", "delivered", "delivered"):  # intermediate and repeated callbacks
        params = {"MessageSid": sid, "MessageStatus": state, "AccountSid": "AC1"}
        assert post(twilio_client, "/api/v2/twilio/status", params).status_code == 204
    row = message_row(db_conn, message_id)
    assert row["status"] == "delivered" and row["delivered_at"] is not None
    assert history(db_conn, message_id) == ["pending", "sending", "sent", "delivered"]


def test_an_undelivered_callback_fails_the_message_with_the_error_code(
    twilio_client, db_conn, paged
):
    message_id, sid = sent_message(db_conn, paged)
    params = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post(twilio_client, "/api/v2/twilio/status", params).status_code == 204
    row = message_row(db_conn, message_id)
    assert row["status"] == "failed" and row["failed_at"] is not None
    assert row["last_error"] == "twilio: undelivered (error 30003)"
    _, log = alert_state(db_conn, paged["alert_id"])
    assert log[-1]["event"] == "notification_failed"
    assert log[-1]["meta"]["message_id"] == str(message_id)


def test_a_completed_call_is_delivered_and_a_busy_one_failed(twilio_client, db_conn, paged):
    answered, answered_sid = sent_message(db_conn, paged, "voice")
    busy, busy_sid = sent_message(db_conn, paged, "voice")
    for sid, state in ((answered_sid, "completed"), (busy_sid, "busy")):
        params = {"CallSid": sid, "CallStatus": state}
        assert post(twilio_client, "/api/v2/twilio/status", params).status_code == 204
    assert message_row(db_conn, answered)["status"] == "delivered"
    assert message_row(db_conn, busy)["status"] == "failed"


def test_an_unsigned_status_callback_is_refused(twilio_client, db_conn, paged):
    message_id, sid = sent_message(db_conn, paged)
    params = {"MessageSid": sid, "MessageStatus": "failed"}
    response = post(twilio_client, "/api/v2/twilio/status", params, signature="forged=")
    assert response.status_code == 403
    assert message_row(db_conn, message_id)["status"] == "sent"


# ------------------------------------------------------------------------------ voice keypad


def press(client, message_id: int, digits: str, retry: bool = False):
    query = {"message_id": str(message_id), **({"retry": "1"} if retry else {})}
    params = {"CallSid": "CA" + "1" * 32, "Digits": digits, "From": "+15550001111"}
    return post(client, "/api/v2/twilio/voice", params, query)


@pytest.mark.parametrize(("digit", "status"), [("4", "acknowledged"), ("6", "closed")])
def test_a_keypad_press_acts_as_the_messages_user(twilio_client, db_conn, paged, digit, status):
    message_id, _ = sent_message(db_conn, paged, "voice")
    answer = reply_of(press(twilio_client, message_id, digit))
    assert answer == (
        f"{XML}<Response><Say>Alert {paged['alert_id']} {status}. Goodbye.</Say>"
        "<Hangup/></Response>"
    )
    state, log = alert_state(db_conn, paged["alert_id"])
    assert state == status
    assert log[-1]["actor_type"] == "user" and log[-1]["actor_id"] == paged["user_id"]
    assert log[-1]["meta"]["via"] == "voice" and log[-1]["meta"]["message_id"] == str(message_id)


def test_another_key_reprompts_once_then_says_goodbye(twilio_client, db_conn, paged):
    message_id, _ = sent_message(db_conn, paged, "voice")
    before = alert_state(db_conn, paged["alert_id"])

    first = reply_of(press(twilio_client, message_id, "9"))
    second = reply_of(press(twilio_client, message_id, "9", retry=True))

    action = f"{PUBLIC_URL}/api/v2/twilio/voice?message_id={message_id}&amp;retry=1"
    assert f'<Gather numDigits="1" timeout="10" method="POST" action="{action}">' in first
    assert "Press 4 to acknowledge, or 6 to close" in first
    assert "<Gather" not in second and "Goodbye" in second
    assert alert_state(db_conn, paged["alert_id"]) == before


def test_a_keypad_press_with_a_tampered_message_id_is_refused(twilio_client, db_conn, paged):
    message_id, _ = sent_message(db_conn, paged, "voice")
    params = {"Digits": "4"}
    signature = twilio_sign(
        AUTH_TOKEN, f"{PUBLIC_URL}/api/v2/twilio/voice?message_id={message_id + 1}", params
    )
    response = post(
        twilio_client, "/api/v2/twilio/voice", params, {"message_id": str(message_id)},
        signature=signature,
    )  # fmt: skip
    assert response.status_code == 403
    assert alert_state(db_conn, paged["alert_id"])[0] == "triggered"
