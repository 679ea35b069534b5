"""End to end through every provider: web (gunicorn), `klaxon engine` and `klaxon worker` as real
processes configured for SMTP, Twilio and Slack, each pointed at a local fake of that service.
A person verifies email, SMS, voice and Slack contact methods with the codes those fakes
received, is paged per their notification rules, and answers the way they would: an SMS reply,
a Slack button, a keypad press. A policy "minute" is shortened with KLAXON_MINUTE_SECONDS."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.platform.embedded import free_port
from tests.support.e2e import Http, raise_alert
from tests.support.fakes.recording import Request
from tests.support.fakes.slack import BOT_TOKEN, MEMBER, FakeSlack
from tests.support.fakes.smtp import FakeSmtp, Mail
from tests.support.fakes.twilio import FROM_NUMBER, FakeTwilio
from tests.support.http import get
from tests.support.inbound import twilio_sign
from tests.support.procs import KlaxonProcess
from tests.support.wait import wait_until
from tests.system.conftest import START_TIMEOUT, WEB

pytestmark = pytest.mark.system

MINUTE = 1.5  # seconds per policy/rule minute in these tests
PAGE_TIMEOUT = 20.0  # seconds a page may take to arrive, far beyond what it should
SIGNING_SECRET = "e2e-slack-signing-secret"
PHONE = "+15557654321"  # the person's mobile: an SMS and a voice contact method
EMAIL = "pat@example.com"
UNVERIFIED_EMAIL = "pat.unverified@example.com"
SMS_DELAY, VOICE_DELAY = 1, 3  # rule delays in minutes; email and Slack at 0
TWIML = "application/xml"


@dataclass
class World:
    api: Http  # admin API client
    web: Http  # unauthenticated client (what Twilio and Slack call)
    public_url: str
    smtp: FakeSmtp
    twilio: FakeTwilio
    slack: FakeSlack
    user: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name
    token: str = ""  # the service's integration key


@pytest.fixture
def world(
    klaxon_env: dict[str, str],
    spawn: Callable[..., KlaxonProcess],
    start_engine: Callable[..., KlaxonProcess],
    start_worker: Callable[..., KlaxonProcess],
    make_api_key: Callable[[str], str],
    smtp_server: FakeSmtp,
    fake_twilio: FakeTwilio,
    fake_slack: FakeSlack,
) -> World:
    """web, engine and worker configured for every provider, all sharing one KLAXON_PUBLIC_URL
    (the web's own address: Twilio signs the URL it calls, which is the public one)."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = {
        **klaxon_env,
        "KLAXON_MINUTE_SECONDS": str(MINUTE),
        "KLAXON_PUBLIC_URL": public_url,
        "KLAXON_ENGINE_CYCLE": "30",  # long: every prompt action must come from NOTIFY or due times
        "SMTP_URL": smtp_server.url(),
        "SMTP_FROM": "Klaxon <klaxon@example.com>",
        "TWILIO_ACCOUNT_SID": fake_twilio.sid,
        "TWILIO_AUTH_TOKEN": fake_twilio.token,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_URL": fake_twilio.base_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }
    web = spawn(WEB, {**env, "PORT": str(port)}, name="web")
    wait_until(
        lambda: not web.alive() or get(port, "/livez", timeout=2).status == 200,
        START_TIMEOUT,
        "web answering /livez",
    )
    assert web.alive(), f"web exited {web.popen.returncode}: {web.stderr()[-3000:]}"
    start_engine(env)
    start_worker(env)
    return World(
        Http(port, make_api_key("admin")),
        Http(port),
        public_url,
        smtp_server,
        fake_twilio,
        fake_slack,
    )


# ------------------------------------------------------------------ what each fake received


def mails_to(w: World, address: str, subject_prefix: str) -> list[Mail]:
    return [
        m
        for m in w.smtp.received()
        if address in m.rcpt_tos and str(m.message["subject"]).startswith(subject_prefix)
    ]


def sms_to(w: World, body_prefix: str) -> list[Request]:
    return [
        r
        for r in w.twilio.messages()
        if r.form()["To"] == PHONE and r.form()["Body"].startswith(body_prefix)
    ]


def calls_to(w: World, twiml_part: str) -> list[Request]:
    return [
        r for r in w.twilio.calls() if r.form()["To"] == PHONE and twiml_part in r.form()["Twiml"]
    ]


def slack_posts(w: World, text_part: str) -> list[Request]:
    return [
        r
        for r in w.slack.posts()
        if r.json()["channel"] == MEMBER and text_part in r.json()["text"]
    ]


def alert_mails(w: World, alert_id: str, address: str = EMAIL) -> list[Mail]:
    return mails_to(w, address, f"[Klaxon] Alert #{alert_id}:")


def alert_sms(w: World, alert_id: str) -> list[Request]:
    return sms_to(w, f"Klaxon #{alert_id}: ")


def alert_calls(w: World, alert_id: str) -> list[Request]:
    return calls_to(w, f"Alert {alert_id} on ")


def alert_posts(w: World, alert_id: str) -> list[Request]:
    return slack_posts(w, f"Alert #{alert_id} on ")


# ------------------------------------------------------------------------ verification codes


def code_by_email(w: World, address: str) -> str:
    (mail,) = wait_until(
        lambda: mails_to(w, address, "[Klaxon] Verification code"), PAGE_TIMEOUT, "code email"
    )
    found = re.search(r"verification code for .+ is (\d{6})\.", mail.part("text/plain"))
    assert found, mail.part("text/plain")
    return found.group(1)


def code_by_sms(w: World) -> str:
    (sms,) = wait_until(lambda: sms_to(w, "Klaxon code: "), PAGE_TIMEOUT, "code SMS")
    found = re.fullmatch(r"Klaxon code: (\d{6})", sms.form()["Body"])
    assert found, sms.form()
    return found.group(1)


def code_by_call(w: World) -> str:
    (call,) = wait_until(lambda: calls_to(w, "verification code is"), PAGE_TIMEOUT, "code call")
    twiml = call.form()["Twiml"]
    # The digits are read one by one ("1. 2. 3. …"), then once again.
    found = re.search(r"verification code is: ([0-9. ]+)</Say>", twiml)
    assert found, twiml
    digits = re.sub(r"\D", "", found.group(1))
    assert len(digits) == 6, twiml
    return digits


def code_by_slack(w: World) -> str:
    (post,) = wait_until(lambda: slack_posts(w, "verification code"), PAGE_TIMEOUT, "code post")
    found = re.search(r"verification code for .+ is (\d{6})\.", post.json()["text"])
    assert found, post.json()
    return found.group(1)


def add_method(w: World, name: str, type_: str, address: str, status_updates: bool) -> str:
    method = w.api.api(
        "POST",
        f"/users/{w.user['id']}/contact-methods",
        {"name": name, "type": type_, "address": address, "status_updates": status_updates},
        expect=201,
    )
    assert method["verified"] is False
    w.methods[name] = method
    return str(method["id"])


def verify(w: World, name: str, code: str) -> None:
    cm_id = w.methods[name]["id"]
    verified = w.api.api(
        "POST", f"/users/{w.user['id']}/contact-methods/{cm_id}/verify", {"code": code}
    )
    assert verified["verified"] is True, verified
    w.methods[name] = verified


def person_on_call(w: World) -> None:
    """Pat, with email, SMS, voice and Slack verified through each channel's own code, one more
    email never verified, and rules: email, Slack and the unverified email at once, SMS after
    SMS_DELAY, voice after VOICE_DELAY; one policy paging Pat; a service with a generic key."""
    w.user = w.api.api("POST", "/users", {"name": "Pat", "email": EMAIL}, expect=201)
    add_method(w, "email", "email", EMAIL, status_updates=True)
    add_method(w, "sms", "sms", PHONE, status_updates=True)
    add_method(w, "voice", "voice", PHONE, status_updates=True)
    add_method(w, "slack", "slack", MEMBER, status_updates=False)
    add_method(w, "unverified", "email", UNVERIFIED_EMAIL, status_updates=True)
    # A wrong code is refused and leaves the method unverified.
    wrong = "000000" if code_by_email(w, EMAIL) != "000000" else "111111"
    status, body, _ = w.api.call(
        "POST",
        f"/api/v1/users/{w.user['id']}/contact-methods/{w.methods['email']['id']}/verify",
        {"code": wrong},
    )
    assert status == 422, body
    verify(w, "email", code_by_email(w, EMAIL))
    verify(w, "sms", code_by_sms(w))
    verify(w, "voice", code_by_call(w))
    verify(w, "slack", code_by_slack(w))
    code_by_email(w, UNVERIFIED_EMAIL)  # its code went out; nobody confirms it
    for name, delay in (
        ("email", 0),
        ("slack", 0),
        ("unverified", 0),
        ("sms", SMS_DELAY),
        ("voice", VOICE_DELAY),
    ):
        w.api.api(
            "POST",
            f"/users/{w.user['id']}/notification-rules",
            {"contact_method_id": w.methods[name]["id"], "delay_minutes": delay},
            expect=201,
        )
    w.token = service_paging(w, [w.user["id"]])


def service_paging(w: World, user_ids: list[str]) -> str:
    """A service whose policy pages `user_ids` in one step; its generic integration key."""
    policy = w.api.api(
        "POST",
        "/escalation-policies",
        {
            "name": f"policy {len(user_ids)} {time.monotonic()}",
            # One step whose delay outlasts the test: no repeats, no second round of rules.
            "steps": [
                {
                    "delay_minutes": 60,
                    "targets": [{"type": "user", "id": user_id} for user_id in user_ids],
                }
            ],
        },
        expect=201,
    )
    service = w.api.api(
        "POST",
        "/services",
        {"name": f"service {policy['id']}", "escalation_policy_id": policy["id"]},
        expect=201,
    )
    key = w.api.api(
        "POST", f"/services/{service['id']}/integration-keys", {"type": "generic"}, expect=201
    )
    return str(key["token"])


# ------------------------------------------------------------------ what Twilio and Slack send


def twilio_post(
    w: World, path: str, params: dict[str, str], token: str | None = None
) -> tuple[int, str, dict[str, str]]:
    """POST `params` to `path` as Twilio does: signed over KLAXON_PUBLIC_URL + path + params."""
    signature = twilio_sign(token or w.twilio.token, w.public_url + path, params)
    status, body, headers = w.web.call(
        "POST",
        path,
        urlencode(params).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    text = body.decode() if isinstance(body, bytes) else json.dumps(body)
    return status, text, headers


def sms_reply(w: World, body: str, token: str | None = None) -> tuple[int, str, dict[str, str]]:
    """A new inbound SMS: each has its own MessageSid, as Twilio gives (a repeat acts once)."""
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": w.twilio.sid,
        "From": PHONE,
        "To": FROM_NUMBER,
        "Body": body,
        "NumMedia": "0",
    }
    return twilio_post(w, "/api/v2/twilio/sms", params, token)


def slack_press(
    w: World, action_id: str, value: str, timestamp: int, secret: str = SIGNING_SECRET
) -> tuple[int, Any]:
    """A signed block_actions request, as Slack sends when someone presses a button."""
    payload = {
        "type": "block_actions",
        "user": {"id": MEMBER, "username": "pat"},
        "team": {"id": "T0KLAXON"},
        "actions": [{"type": "button", "action_id": action_id, "value": value, "action_ts": "1.2"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    status, answer, _ = w.web.call(
        "POST",
        "/api/v2/slack/actions",
        body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature,
        },
    )
    return status, answer


def buttons(post: Request) -> dict[str, str]:
    """action_id -> value of the buttons in a Slack message."""
    return {
        element["action_id"]: element["value"]
        for block in post.json()["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    }


def log_entry(w: World, alert_id: str, event: str) -> dict[str, Any]:
    alert = w.api.api("GET", f"/alerts/{alert_id}")
    entries = [e for e in alert["log"] if e["event"] == event]
    assert len(entries) == 1, alert["log"]
    return dict(entries[0])


def metrics(w: World) -> dict[tuple[str, str], float]:
    """klaxon_outgoing_messages by (provider, status), as /metrics shows them."""
    status, body, _ = w.web.call("GET", "/metrics")
    assert status == 200, body
    return {
        (s.labels["provider"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == "klaxon_outgoing_messages"
    }


def unsettled(w: World) -> list[Any]:
    return [
        m
        for status in ("pending", "sending")
        for m in w.api.api("GET", f"/messages?status={status}")["items"]
    ]


# ---------------------------------------------------------------------------------------- tests


def test_sms_reply_acknowledges_stops_later_rules_and_close_notifies_opted_in_methods(
    world: World,
) -> None:
    w = world
    person_on_call(w)
    summary = "disk full on db-1"
    raised = time.time()
    alert_id = raise_alert(w.api.port, w.token, summary)

    # Delay 0: email and Slack at once, each with what a person needs to act.
    (mail,) = wait_until(lambda: alert_mails(w, alert_id), PAGE_TIMEOUT, "alert email")
    assert mail.message["subject"] == f"[Klaxon] Alert #{alert_id}: {summary}"
    text = mail.part("text/plain")
    assert summary in text
    links = dict(re.findall(r"^(Acknowledge|Close): (\S+)", text, re.MULTILINE))
    assert set(links) == {"Acknowledge", "Close"}, text
    for link in links.values():
        assert link.startswith(w.public_url + "/"), link
        assert html.escape(link) in mail.part("text/html")
    (post,) = wait_until(lambda: alert_posts(w, alert_id), PAGE_TIMEOUT, "Slack message")
    assert summary in post.json()["text"]
    assert set(buttons(post)) == {"klaxon_acknowledge", "klaxon_close"}
    assert all(buttons(post).values())

    # Delay 1: the SMS, not before its minute, with the code to reply with.
    (sms,) = wait_until(lambda: alert_sms(w, alert_id), PAGE_TIMEOUT, "alert SMS")
    assert sms.at - raised >= SMS_DELAY * MINUTE * 0.95, "the SMS rule's delay was not honoured"
    assert post.at < sms.at
    found = re.fullmatch(
        rf"Klaxon #{alert_id}: {summary} - reply (\d+)a to ack, (\d+)c to close",
        sms.form()["Body"],
    )
    assert found and found.group(1) == found.group(2), sms.form()["Body"]
    code = found.group(1)

    # Replies Klaxon cannot act on: a forged request, a code this number was never sent.
    status, body, _ = sms_reply(w, f"{code}a", token="not-the-auth-token")
    assert status == 403, body
    status, body, headers = sms_reply(w, "99a" if code != "99" else "98a")
    assert status == 200 and headers["content-type"].startswith(TWIML)
    assert "no alert with code" in body and "Reply e.g. 1a" in body, body
    assert w.api.api("GET", f"/alerts/{alert_id}")["status"] == "triggered"

    # The reply acknowledges, naming Pat and the SMS.
    status, body, headers = sms_reply(w, f"{code}a")
    assert status == 200 and headers["content-type"].startswith(TWIML)
    assert f"<Message>Klaxon: Acknowledged alert {code} (#{alert_id}): {summary}</Message>" in body
    assert w.api.api("GET", f"/alerts/{alert_id}")["status"] == "acknowledged"
    entry = log_entry(w, alert_id, "acknowledged")
    assert entry["actor_type"] == "user" and entry["actor_id"] == w.user["id"]
    assert entry["meta"]["via"] == "sms"

    status, body, _ = sms_reply(w, f"ack {code}")
    assert status == 200
    assert f"<Message>Klaxon: alert {code} (#{alert_id}) is already acknowledged.</Message>" in body
    assert (
        len(
            [
                e
                for e in w.api.api("GET", f"/alerts/{alert_id}")["log"]
                if e["event"] == "acknowledged"
            ]
        )
        == 1
    )

    # A control alert raised after the acknowledgement reaches its voice rule: by then the
    # acknowledged alert's voice rule would have been due too, had it not been stopped.
    control_raised = time.time()
    control = raise_alert(w.api.port, w.token, "control alert")
    (call,) = wait_until(lambda: alert_calls(w, control), PAGE_TIMEOUT, "control call")
    assert call.at - control_raised >= VOICE_DELAY * MINUTE * 0.95
    twiml = call.form()["Twiml"]
    assert "control alert" in twiml and "Press 4 to acknowledge, or 6 to close" in twiml
    assert alert_calls(w, alert_id) == []
    assert len(alert_sms(w, alert_id)) == 1
    # The unverified email had a rule at delay 0 but was never paged (only sent its code).
    assert mails_to(w, UNVERIFIED_EMAIL, "[Klaxon] Alert") == []

    # Close: status updates go to the methods that opted in AND were paged (email, SMS);
    # not to Slack (no opt-in), not to voice (never paged for this alert).
    w.api.api("POST", f"/alerts/{alert_id}/close")
    wait_until(
        lambda: mails_to(w, EMAIL, f"[Klaxon] Alert #{alert_id} closed:"),
        PAGE_TIMEOUT,
        "close notice by email",
    )
    wait_until(
        lambda: sms_to(w, f"Klaxon #{alert_id} closed: {summary}"),
        PAGE_TIMEOUT,
        "close notice by SMS",
    )

    # Twilio reports the alert SMS delivered, at the StatusCallback URL the SMS named.
    wait_until(lambda: not unsettled(w), PAGE_TIMEOUT, "every message sent")
    callback = sms.form()["StatusCallback"]
    assert callback == f"{w.public_url}/api/v2/twilio/status"
    sms_cm = w.methods["sms"]["id"]
    query = f"alert_id={alert_id}&kind=alert&contact_method_id={sms_cm}"
    (sms_page,) = w.api.api("GET", f"/messages?{query}")["items"]
    assert sms_page["status"] == "sent" and sms_page["provider_message_id"].startswith("SM")
    receipt = {
        "MessageSid": sms_page["provider_message_id"],
        "AccountSid": w.twilio.sid,
        "From": FROM_NUMBER,
        "To": PHONE,
        "MessageStatus": "delivered",
    }
    status, body, _ = twilio_post(w, callback[len(w.public_url) :], receipt)
    assert status == 204, body

    # The message log: every message of the alert, each with its history.
    page = w.api.api("GET", f"/messages?alert_id={alert_id}")
    assert page["next_cursor"] is None
    messages = page["items"]
    by_method = {m["id"]: name for name, m in w.methods.items()}
    pages = sorted(by_method[m["contact_method_id"]] for m in messages if m["kind"] == "alert")
    assert pages == ["email", "slack", "sms"]
    notices = {(by_method[m["contact_method_id"]], m["kind"]) for m in messages} - {
        (name, "alert") for name in pages
    }
    assert notices == {("email", "status_update"), ("sms", "status_update")}
    # One email/SMS per notice message (an acknowledged notice may precede the closed one).
    updates = [m for m in messages if m["kind"] == "status_update"]
    assert len(mails_to(w, EMAIL, f"[Klaxon] Alert #{alert_id} ")) == sum(
        1 for m in updates if m["dest_type"] == "email"
    )
    assert len(sms_to(w, f"Klaxon #{alert_id} ")) == sum(
        1 for m in updates if m["dest_type"] == "sms"
    )
    for message in messages:
        expected = ("delivered",) if message["id"] == sms_page["id"] else ("sent", "delivered")
        assert message["status"] in expected, message
        detail = w.api.api("GET", f"/messages/{message['id']}")
        history = [h["status"] for h in detail["history"]]
        assert history[0] == "pending" and "sending" in history, detail
        assert history[-1] == message["status"], detail
        assert detail["alert_id"] == str(alert_id)
    sent_at = {
        by_method[m["contact_method_id"]]: m["sent_at"] for m in messages if m["kind"] == "alert"
    }
    # Delay 0 went out before the delay-1 SMS (ISO 8601 UTC times sort as text).
    assert sent_at["email"] < sent_at["sms"] and sent_at["slack"] < sent_at["sms"], sent_at

    # /metrics counts messages by provider and status as the fakes saw them.
    twilio_requests = len(w.twilio.messages()) + len(w.twilio.calls())

    def consistent() -> bool:
        shown = metrics(w)
        sent = {
            provider: shown.get((provider, "sent"), 0) + shown.get((provider, "delivered"), 0)
            for provider in ("smtp", "twilio", "slack")
        }
        other = sum(v for (_, status), v in shown.items() if status not in ("sent", "delivered"))
        return (
            other == 0
            and shown.get(("twilio", "delivered")) == 1
            and sent
            == {
                "smtp": len(w.smtp.received()),
                "twilio": twilio_requests,
                "slack": len(w.slack.posts()),
            }
        )

    wait_until(consistent, PAGE_TIMEOUT, "/metrics agreeing with what the fakes received")


def test_slack_buttons_and_the_voice_keypad_act_on_alerts(world: World) -> None:
    w = world
    person_on_call(w)
    by_slack = raise_alert(w.api.port, w.token, "api latency high")
    raised = time.time()
    by_voice = raise_alert(w.api.port, w.token, "queue backlog")

    (post,) = wait_until(lambda: alert_posts(w, by_slack), PAGE_TIMEOUT, "Slack message")
    pressed = buttons(post)

    # A request signed with another secret is refused; so is a replayed (stale) one, even
    # though its signature is right.
    ack = pressed["klaxon_acknowledge"]
    status, body = slack_press(w, "klaxon_acknowledge", ack, int(time.time()), "other-secret")
    assert status == 403, body
    status, body = slack_press(w, "klaxon_acknowledge", ack, int(time.time()) - 600)
    assert status == 403, body
    assert w.api.api("GET", f"/alerts/{by_slack}")["status"] == "triggered"

    status, body = slack_press(w, "klaxon_acknowledge", ack, int(time.time()))
    assert status == 200 and body["text"] == f"Acknowledged by <@{MEMBER}>", body
    assert w.api.api("GET", f"/alerts/{by_slack}")["status"] == "acknowledged"
    entry = log_entry(w, by_slack, "acknowledged")
    assert entry["actor_id"] == w.user["id"] and entry["meta"]["via"] == "slack"

    status, body = slack_press(w, "klaxon_close", pressed["klaxon_close"], int(time.time()))
    assert status == 200 and body["text"] == f"Closed by <@{MEMBER}>", body
    assert w.api.api("GET", f"/alerts/{by_slack}")["status"] == "closed"
    assert log_entry(w, by_slack, "closed")["meta"]["via"] == "slack"

    # The other alert rings Pat's phone after the voice rule's delay; 6 on the keypad closes it.
    (call,) = wait_until(lambda: alert_calls(w, by_voice), PAGE_TIMEOUT, "voice call")
    assert call.at - raised >= VOICE_DELAY * MINUTE * 0.95
    twiml = call.form()["Twiml"]
    assert "queue backlog" in twiml
    found = re.search(r'<Gather [^>]*action="([^"]+)"', twiml)
    assert found, twiml
    action = html.unescape(found.group(1))
    assert action.startswith(f"{w.public_url}/api/v2/twilio/voice?message_id="), action
    path = action[len(w.public_url) :]
    call_params = {
        "CallSid": "CA" + "e" * 32,
        "AccountSid": w.twilio.sid,
        "From": FROM_NUMBER,
        "To": PHONE,
        "CallStatus": "in-progress",
        "Digits": "6",
    }
    status, body, _ = twilio_post(w, path, call_params, token="not-the-auth-token")
    assert status == 403, body
    status, body, _ = twilio_post(w, path, {**call_params, "Digits": "9"})
    assert status == 200 and "That key is not an option" in body, body
    found = re.search(r'<Gather [^>]*action="([^"]+)"', body)
    assert found, body
    retry = html.unescape(found.group(1))
    assert retry == f"{action}&retry=1", retry
    assert w.api.api("GET", f"/alerts/{by_voice}")["status"] == "triggered"
    status, body, headers = twilio_post(w, retry[len(w.public_url) :], call_params)
    assert status == 200 and headers["content-type"].startswith(TWIML)
    assert f"Alert {by_voice} closed" in body, body
    assert w.api.api("GET", f"/alerts/{by_voice}")["status"] == "closed"
    entry = log_entry(w, by_voice, "closed")
    assert entry["actor_id"] == w.user["id"] and entry["meta"]["via"] == "voice"
    # By the time the voice rule fired for the second alert, the first (closed through Slack
    # long before) would have rung too.
    assert alert_calls(w, by_slack) == []

    # Pat made both changes, so none of Pat's methods is told of them. A control alert closed
    # through the API (not by Pat) is announced to Pat's email: once that notice exists, the
    # status-update module has already handled Pat's earlier changes.
    control = raise_alert(w.api.port, w.token, "control alert")
    wait_until(
        lambda: mails_to(w, EMAIL, f"[Klaxon] Alert #{control}:"), PAGE_TIMEOUT, "control page"
    )
    w.api.api("POST", f"/alerts/{control}/close")
    wait_until(
        lambda: mails_to(w, EMAIL, f"[Klaxon] Alert #{control} closed:"),
        PAGE_TIMEOUT,
        "close notice for the control alert",
    )
    wait_until(lambda: not unsettled(w), PAGE_TIMEOUT, "every message sent")
    for alert_id in (by_slack, by_voice):
        notices = w.api.api("GET", f"/messages?alert_id={alert_id}&kind=status_update")["items"]
        assert notices == [], notices
    assert calls_to(w, "is now closed") == []


def test_sms_stop_silences_sms_and_voice_until_start(world: World) -> None:
    w = world
    person_on_call(w)
    # Quinn is paged with Pat, by email a minute after Pat's voice rule: Quinn's email proves
    # that Pat's voice rule was due before it.
    quinn = w.api.api("POST", "/users", {"name": "Quinn", "email": "q@example.com"}, expect=201)
    pat = w.user
    w.user = quinn
    add_method(w, "quinn", "email", "q@example.com", status_updates=False)
    verify(w, "quinn", code_by_email(w, "q@example.com"))
    w.user = pat
    w.api.api(
        "POST",
        f"/users/{quinn['id']}/notification-rules",
        {"contact_method_id": w.methods["quinn"]["id"], "delay_minutes": VOICE_DELAY + 1},
        expect=201,
    )
    token = service_paging(w, [pat["id"], quinn["id"]])

    status, body, _ = sms_reply(w, "stop")
    assert status == 200 and body.endswith("<Response/>"), body  # Twilio confirms STOP itself
    for name in ("sms", "voice"):  # a carrier opts out the number: its calls stop too
        method = w.api.api("GET", f"/users/{pat['id']}/contact-methods/{w.methods[name]['id']}")
        assert method["stopped"] is True, method
    status, body, _ = w.api.call(
        "POST", f"/api/v1/users/{pat['id']}/contact-methods/{w.methods['sms']['id']}/test"
    )
    assert status == 409, body

    silenced = raise_alert(w.api.port, token, "replication lag")
    wait_until(lambda: alert_mails(w, silenced, "q@example.com"), PAGE_TIMEOUT, "Quinn's email")
    assert alert_mails(w, silenced) and alert_posts(w, silenced)  # Pat's other methods: paged
    assert alert_sms(w, silenced) == [] and alert_calls(w, silenced) == []
    stopped_ids = {w.methods["sms"]["id"], w.methods["voice"]["id"]}
    logged = w.api.api("GET", f"/messages?alert_id={silenced}")["items"]
    assert not [m for m in logged if m["contact_method_id"] in stopped_ids], logged

    status, body, _ = sms_reply(w, "START")
    assert status == 200 and "you will receive alerts on this number again" in body, body
    resumed = raise_alert(w.api.port, token, "replication lag again")
    wait_until(lambda: alert_sms(w, resumed), PAGE_TIMEOUT, "SMS after START")
    wait_until(lambda: alert_calls(w, resumed), PAGE_TIMEOUT, "call after START")
