"""Twilio provider (SMS and voice) against a local fake of Twilio's REST API."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from app.providers.base import AlertView, Delivery, DeliveryError, Links, ProviderCheckFailed
from app.providers.formatting import fits_one_segment
from app.providers.twilio import TwilioProvider
from config.settings import TwilioSettings
from tests.support.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    INVALID_NUMBER,
    UNSUBSCRIBED_NUMBER,
    Failure,
)
from tests.support.net import Tarpit, closed_port

PUBLIC_URL = "https://klaxon.example.com"
TO = "+15551234567"


def provider(api_url: str, token: str = AUTH_TOKEN) -> TwilioProvider:
    return TwilioProvider(TwilioSettings(ACCOUNT_SID, token, FROM_NUMBER, api_url), PUBLIC_URL)


def alert(summary: str = "disk full on db-1") -> AlertView:
    return AlertView(12, summary, "/var is full", "triggered", "svc", "Database", datetime.now(UTC))


def sms(**overrides: object) -> Delivery:
    fields: dict[str, object] = {
        "message_id": 77,
        "kind": "alert",
        "dest_type": "sms",
        "address": TO,
        "subject": "[Klaxon] Alert #12: disk full on db-1",
        "text": "Alert #12: disk full on db-1",
        "alert": alert(),
        "links": Links(f"{PUBLIC_URL}/actions/a", f"{PUBLIC_URL}/actions/c"),
        "reply_code": 3,
    }
    fields.update(overrides)
    return Delivery(**fields)  # type: ignore[arg-type]


def test_sms_is_sent_with_auth_reply_code_and_status_callback(fake_twilio):
    sent = provider(fake_twilio.base_url).send(sms(), timeout=5)

    [request] = fake_twilio.messages()
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = request.form()
    assert form["To"] == TO and form["From"] == FROM_NUMBER
    assert form["Body"] == "Klaxon #12: disk full on db-1 - reply 3a to ack, 3c to close"
    assert form["StatusCallback"] == f"{PUBLIC_URL}/api/v2/twilio/status"
    assert sent.provider_message_id is not None and sent.provider_message_id.startswith("SM")
    assert sent.delivered is False


def test_long_summaries_are_cut_to_one_segment_keeping_the_reply_code(fake_twilio):
    provider(fake_twilio.base_url).send(sms(alert=alert("x" * 400), reply_code=1234), timeout=5)
    body = fake_twilio.messages()[0].form()["Body"]
    assert body.endswith("... - reply 1234a to ack, 1234c to close")
    assert body.startswith("Klaxon #12: xxx")
    assert len(body) == 160 and fits_one_segment(body)


def test_non_gsm_summaries_fit_a_ucs2_segment(fake_twilio):
    provider(fake_twilio.base_url).send(sms(alert=alert("диск заполнен " * 10)), timeout=5)
    body = fake_twilio.messages()[0].form()["Body"]
    assert body.endswith("reply 3a to ack, 3c to close") and len(body) <= 70


def test_verification_and_status_update_sms(fake_twilio):
    twilio = provider(fake_twilio.base_url)
    twilio.send(
        sms(kind="verification", code="123456", alert=None, links=None, reply_code=None),
        timeout=5,
    )
    twilio.send(sms(kind="status_update", status="acknowledged", reply_code=None), timeout=5)
    bodies = [r.form()["Body"] for r in fake_twilio.messages()]
    assert bodies == ["Klaxon code: 123456", "Klaxon #12 acknowledged: disk full on db-1"]


def test_voice_call_reads_the_alert_and_gathers_a_key(fake_twilio):
    sent = provider(fake_twilio.base_url).send(sms(dest_type="voice"), timeout=5)

    [request] = fake_twilio.calls()
    assert request.path.endswith("/Calls.json")
    form = request.form()
    assert form["To"] == TO and form["StatusCallback"] == f"{PUBLIC_URL}/api/v2/twilio/status"
    twiml = ElementTree.fromstring(form["Twiml"])
    gather = twiml.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC_URL}/api/v2/twilio/voice?message_id=77"
    said = gather.findtext("Say") or ""
    assert "disk full on db-1" in said and "Press 4 to acknowledge, or 6 to close" in said
    assert sent.provider_message_id is not None and sent.provider_message_id.startswith("CA")


def test_voice_verification_reads_the_digits_slowly(fake_twilio):
    provider(fake_twilio.base_url).send(
        sms(dest_type="voice", kind="verification", code="4071", alert=None, links=None),
        timeout=5,
    )
    twiml = ElementTree.fromstring(fake_twilio.calls()[0].form()["Twiml"])
    assert twiml.find("Gather") is None
    assert "4. 0. 7. 1." in "".join(twiml.itertext())


def test_voice_escapes_the_summary(fake_twilio):
    provider(fake_twilio.base_url).send(sms(dest_type="voice", alert=alert("a < b & c")), timeout=5)
    twiml = ElementTree.fromstring(fake_twilio.calls()[0].form()["Twiml"])
    assert "a < b & c" in "".join(twiml.itertext())


@pytest.mark.parametrize("number", [INVALID_NUMBER, UNSUBSCRIBED_NUMBER, "555-1234"])
def test_unreachable_numbers_are_permanent(fake_twilio, number):
    with pytest.raises(DeliveryError) as caught:
        provider(fake_twilio.base_url).send(sms(address=number), timeout=5)
    assert caught.value.permanent is True
    assert "21211" in str(caught.value) or "21610" in str(caught.value)


def test_wrong_credentials_are_permanent_and_secret_free(fake_twilio):
    with pytest.raises(DeliveryError) as caught:
        provider(fake_twilio.base_url, token="wrong-token").send(sms(), timeout=5)
    assert caught.value.permanent is True
    assert "refused the credentials" in str(caught.value)
    assert "wrong-token" not in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [Failure(500, 20500, "An internal server error has occurred"), Failure(503, 20503, "down")],
)
def test_server_errors_are_transient(fake_twilio, failure):
    fake_twilio.fail_next(failure)
    with pytest.raises(DeliveryError) as caught:
        provider(fake_twilio.base_url).send(sms(), timeout=5)
    assert caught.value.permanent is False
    assert str(failure.status) in str(caught.value)
    # The next send goes through.
    provider(fake_twilio.base_url).send(sms(), timeout=5)


def test_rate_limit_is_transient_with_retry_after(fake_twilio):
    fake_twilio.fail_next(Failure(429, 20429, "Too Many Requests", retry_after="4"))
    with pytest.raises(DeliveryError) as caught:
        provider(fake_twilio.base_url).send(sms(), timeout=5)
    assert caught.value.permanent is False
    assert caught.value.retry_after == 4
    assert "20429" in str(caught.value)


def test_hanging_api_and_tarpit_time_out_within_the_deadline(fake_twilio):
    fake_twilio.fail_next(Failure(hang=True))
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        provider(fake_twilio.base_url).send(sms(), timeout=0.7)
    assert time.monotonic() - started < 2.0
    assert caught.value.permanent is False

    with Tarpit() as tarpit:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            provider(f"http://127.0.0.1:{tarpit.port}").send(sms(), timeout=0.7)
        assert time.monotonic() - started < 2.0
        assert "did not answer within 0.7s" in str(caught.value)


def test_unreachable_api_is_transient():
    with pytest.raises(DeliveryError) as caught:
        provider(f"http://127.0.0.1:{closed_port()}").send(sms(), timeout=2)
    assert caught.value.permanent is False


def test_check_passes_with_good_credentials_and_reports_twilios_answer_otherwise(fake_twilio):
    provider(fake_twilio.base_url).check(timeout=5)
    [request] = fake_twilio.requests(f"/Accounts/{ACCOUNT_SID}.json")
    assert request.method == "GET"

    with pytest.raises(ProviderCheckFailed) as failed:
        provider(fake_twilio.base_url, token="wrong-token").check(timeout=5)
    message = str(failed.value)
    assert "401" in message and "20003" in message and "Authenticate" in message
    assert "wrong-token" not in message

    with Tarpit() as tarpit:
        started = time.monotonic()
        with pytest.raises(ProviderCheckFailed) as failed:
            provider(f"http://127.0.0.1:{tarpit.port}").check(timeout=0.7)
        assert time.monotonic() - started < 2.0
        assert "did not answer within 0.7s" in str(failed.value)
