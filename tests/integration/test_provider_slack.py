"""Slack provider against a local fake of Slack's Web API."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from app.providers.base import AlertView, Delivery, DeliveryError, Links, ProviderCheckFailed
from app.providers.slack import SlackProvider
from config.settings import SlackSettings
from tests.support.fakes.slack import ARCHIVED, BOT_TOKEN, CHANNEL, MEMBER, Failure
from tests.support.net import Tarpit

ACK = "https://klaxon.example.com/actions/ack-token.abc"
CLOSE = "https://klaxon.example.com/actions/close-token.def"


def provider(api_url: str, token: str = BOT_TOKEN) -> SlackProvider:
    return SlackProvider(SlackSettings(token, api_url))


def delivery(**overrides: object) -> Delivery:
    fields: dict[str, object] = {
        "message_id": 5,
        "kind": "alert",
        "dest_type": "slack",
        "address": CHANNEL,
        "subject": "[Klaxon] Alert #3: api <down> & out",
        "text": "Alert #3: api <down> & out",
        "alert": AlertView(
            3, "api <down> & out", "p99 > 5s", "triggered", "svc", "API", datetime.now(UTC)
        ),
        "links": Links(ACK, CLOSE),
    }
    fields.update(overrides)
    return Delivery(**fields)  # type: ignore[arg-type]


def test_alert_is_posted_with_buttons_links_and_fallback_text(fake_slack):
    sent = provider(fake_slack.api_url).send(delivery(), timeout=5)

    [request] = fake_slack.posts()
    assert request.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    body = request.json()
    assert body["channel"] == CHANNEL
    assert body["text"] == "Alert #3: api &lt;down&gt; &amp; out"
    assert body["unfurl_links"] is False
    blocks = body["blocks"]
    summary = blocks[0]
    assert "api &lt;down&gt; &amp; out" in summary["text"]["text"]
    assert any("API" in field["text"] for field in summary["fields"])
    assert any(b["type"] == "section" and "p99 &gt; 5s" in b["text"]["text"] for b in blocks)
    [actions] = [b for b in blocks if b["type"] == "actions"]
    buttons = {e["action_id"]: e for e in actions["elements"]}
    assert buttons["klaxon_acknowledge"]["text"]["text"] == "Acknowledge"
    assert buttons["klaxon_acknowledge"]["value"] == "ack-token.abc"
    assert buttons["klaxon_close"]["text"]["text"] == "Close"
    assert buttons["klaxon_close"]["value"] == "close-token.def"
    [context] = [b for b in blocks if b["type"] == "context"]
    links = context["elements"][0]["text"]
    assert f"<{ACK}|" in links and f"<{CLOSE}|" in links
    assert sent.provider_message_id is not None and "." in sent.provider_message_id


def test_member_id_opens_a_dm(fake_slack):
    sent = provider(fake_slack.api_url).send(delivery(address=MEMBER), timeout=5)
    assert sent.provider_message_id
    assert fake_slack.posts()[0].json()["channel"] == MEMBER


def test_verification_has_no_buttons(fake_slack):
    provider(fake_slack.api_url).send(
        delivery(kind="verification", text="Klaxon code: 123456", code="123456", alert=None,
                 links=None),
        timeout=5,
    )  # fmt: skip
    body = fake_slack.posts()[0].json()
    assert body["text"] == "Klaxon code: 123456"
    assert [b["type"] for b in body["blocks"]] == ["section"]


@pytest.mark.parametrize(
    ("address", "token", "error"),
    [
        ("C0UNKNOWN", BOT_TOKEN, "channel_not_found"),
        (ARCHIVED, BOT_TOKEN, "is_archived"),
        (CHANNEL, "xoxb-wrong", "invalid_auth"),
    ],
)
def test_permanent_errors(fake_slack, address, token, error):
    with pytest.raises(DeliveryError) as caught:
        provider(fake_slack.api_url, token).send(delivery(address=address), timeout=5)
    assert caught.value.permanent is True
    assert error in str(caught.value)
    assert "xoxb" not in str(caught.value)


@pytest.mark.parametrize("error", ["not_in_channel", "account_inactive"])
def test_injected_permanent_errors(fake_slack, error):
    fake_slack.fail_next(Failure(error))
    with pytest.raises(DeliveryError) as caught:
        provider(fake_slack.api_url).send(delivery(), timeout=5)
    assert caught.value.permanent is True and error in str(caught.value)


def test_rate_limit_is_transient_with_retry_after(fake_slack):
    fake_slack.fail_next(Failure("ratelimited", status=429, retry_after="30"))
    with pytest.raises(DeliveryError) as caught:
        provider(fake_slack.api_url).send(delivery(), timeout=5)
    assert caught.value.permanent is False
    assert caught.value.retry_after == 30
    assert "ratelimited" in str(caught.value)


@pytest.mark.parametrize(
    "failure", [Failure("internal_error", status=500), Failure("service_unavailable", 503)]
)
def test_server_errors_are_transient(fake_slack, failure):
    fake_slack.fail_next(failure)
    with pytest.raises(DeliveryError) as caught:
        provider(fake_slack.api_url).send(delivery(), timeout=5)
    assert caught.value.permanent is False
    assert str(failure.status) in str(caught.value)


def test_hang_and_tarpit_time_out_within_the_deadline(fake_slack):
    fake_slack.fail_next(Failure(hang=True))
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        provider(fake_slack.api_url).send(delivery(), timeout=0.7)
    assert time.monotonic() - started < 2.0
    assert caught.value.permanent is False

    with Tarpit() as tarpit:
        started = time.monotonic()
        with pytest.raises(ProviderCheckFailed) as failed:
            provider(f"http://127.0.0.1:{tarpit.port}/api").check(timeout=0.7)
        assert time.monotonic() - started < 2.0
        assert "did not answer within 0.7s" in str(failed.value)


def test_check_uses_auth_test(fake_slack):
    provider(fake_slack.api_url).check(timeout=5)
    [request] = fake_slack.requests("/auth.test")
    assert request.headers["authorization"] == f"Bearer {BOT_TOKEN}"

    with pytest.raises(ProviderCheckFailed) as failed:
        provider(fake_slack.api_url, "xoxb-wrong").check(timeout=5)
    assert "invalid_auth" in str(failed.value)
    assert "xoxb-wrong" not in str(failed.value)
